"""Inline data, a tiny LightGBM lambdarank model and a feature stand-in for the topk tests."""
from __future__ import annotations

from argparse import Namespace
from datetime import date, datetime, timezone

import numpy as np
import pytest

from jobs.common import columns as C

D = date(2026, 11, 20)
GEN_AT = datetime(2026, 11, 21, 3, 0, tzinfo=timezone.utc)
GRADES = {"purchase": 3, "add_to_cart": 2, "click": 1, "impression": 0}


def ts(day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=timezone.utc)


# item, title, category, brand, price, in_stock, created_at
CATALOG = [
    ("i1", "Red Running Shoes", "a/x/l1", "b1", 50.0, True, datetime(2026, 1, 1, tzinfo=timezone.utc)),
    ("i2", "Blue running shoe", "a/x/l1", "b1", 40.0, True, datetime(2026, 1, 1, tzinfo=timezone.utc)),
    ("i3", "red shirt", "a/x/l2", "b2", 20.0, True, datetime(2026, 2, 1, tzinfo=timezone.utc)),
    ("i4", "green hat", "a/y/l3", "b2", 15.0, True, datetime(2026, 11, 15, tzinfo=timezone.utc)),
    ("i5", "coffee mug", "b/z/l4", "b3", 9.0, True, datetime(2026, 3, 1, tzinfo=timezone.utc)),
    ("i6", "tea mug", "b/z/l4", "b3", 8.0, False, datetime(2026, 3, 1, tzinfo=timezone.utc)),
    ("i7", "steel kettle", "b/z/l5", "b3", 30.0, True, datetime(2026, 4, 1, tzinfo=timezone.utc)),
    ("i8", "trail shoes", "a/x/l1", "b1", 70.0, True, datetime(2026, 5, 1, tzinfo=timezone.utc)),
    ("i9", None, "b/z/l5", "b3", 12.0, True, datetime(2026, 5, 1, tzinfo=timezone.utc)),
]
CATALOG_SCHEMA = ("item_id string, title string, category string, brand string, price double, "
                  "in_stock boolean, created_at timestamp")

# event_id, user, session, query (normalised), item, type, ts, position, event_date
_E = [
    ("u1", "s1", None, "i1", "click", ts(19, 10)), ("u1", "s1", None, "i2", "click", ts(19, 11)),
    ("u1", "s1", None, "i2", "purchase", ts(19, 12)),
    ("u2", "s2", None, "i1", "click", ts(20, 9)), ("u2", "s2", None, "i3", "click", ts(20, 10)),
    ("u2", "s2", None, "i3", "add_to_cart", ts(20, 11)),
    ("u3", "s3", "running shoes", "i1", "impression", ts(18)),
    ("u3", "s3", "running shoes", "i8", "impression", ts(18)),
    ("u3", "s3", "running shoes", "i1", "click", ts(18, 13)),
    ("u4", "s4", "running shoe", "i2", "click", ts(20, 8)),
    ("u5", "s5", None, "i5", "impression", ts(20, 7)),
    (None, "s6", None, "i7", "click", ts(17)),
    ("u1", "s7", "mug", "i5", "impression", ts(16)),
    ("u6", "s8", None, "i7", "purchase", ts(1, 9)),  # Nov 1: outside a 7-day window
]
EVENTS = [(f"e{n}", u, s, q, i, t, when, None, when.date()) for n, (u, s, q, i, t, when) in enumerate(_E)]
EVENTS_SCHEMA = ("event_id string, user_id string, session_id string, query string, item_id string, "
                 "event_type string, ts timestamp, position int, event_date date")


@pytest.fixture(scope="session")
def catalog_df(spark):
    return spark.createDataFrame(CATALOG, CATALOG_SCHEMA)


@pytest.fixture(scope="session")
def events_df(spark):
    return spark.createDataFrame(EVENTS, EVENTS_SCHEMA)


class TinyModel:
    """Same attributes as jobs.registry's Model: version, booster, feature_columns, predict."""

    def __init__(self, booster, feature_columns, version="test-v1"):
        self.booster, self.feature_columns, self.version = booster, list(feature_columns), version
        self.metadata = {"version": version}

    def predict(self, frame):
        return self.booster.predict(frame[self.feature_columns].to_numpy(dtype=np.float64))


def train_tiny_model(seed: int = 3, groups: int = 60, per_group: int = 12) -> TinyModel:
    import lightgbm as lgb

    rng = np.random.default_rng(seed)
    feats = list(C.FEATURE_COLUMNS)
    x = rng.normal(size=(groups * per_group, len(feats)))
    x[:, 0] = rng.integers(0, 3, size=len(x))  # list_type_code
    y = np.clip((x[:, 1] + x[:, 5] + rng.normal(scale=0.5, size=len(x))).round(), 0, 3).astype(int)
    ds = lgb.Dataset(x, label=y, group=[per_group] * groups, feature_name=feats)
    booster = lgb.train({"objective": "lambdarank", "num_leaves": 7, "learning_rate": 0.2,
                         "min_data_in_leaf": 5, "verbose": -1, "seed": seed, "deterministic": True,
                         "num_threads": 1}, ds, num_boost_round=15)
    return TinyModel(booster, feats)


@pytest.fixture(scope="session")
def tiny_model():
    return train_tiny_model()


def standin_assemble(pairs):
    """Stand-in for jobs.features.assemble: every FEATURE_COLUMNS column, deterministic per pair,
    with some nulls (the production path calls the real assemble)."""
    from pyspark.sql import functions as F

    codes = F.create_map(*[x for kv in C.LIST_TYPE_CODES.items() for x in (F.lit(kv[0]), F.lit(kv[1]))])
    cols = []
    for n, name in enumerate(C.FEATURE_COLUMNS):
        if name == C.LIST_TYPE_CODE:
            cols.append(codes[F.col(C.LIST_TYPE)].cast("double").alias(name))
            continue
        h = F.abs(F.xxhash64(C.ENTITY_ID, C.ITEM_ID, F.lit(name)))
        val = (h % 1000).cast("double") / 250.0 - 2.0
        cols.append(F.when(h % 11 == n % 11, F.lit(None).cast("double")).otherwise(val).alias(name))
    return pairs.select("*", *cols)


def run_topk(spark, cfg, model, run_date, list_types=None):
    from jobs import topk
    from jobs.common import runlog
    from jobs.common.cli import JobContext

    rec = runlog.new_record(cfg, "topk", run_date)
    ctx = JobContext(cfg=cfg, args=Namespace(list_types=list_types), run_date=run_date, rec=rec,
                     _spark=spark)
    topk.produce(ctx, model, standin_assemble, generated_at=GEN_AT)
    return rec


@pytest.fixture(scope="session")
def lake(spark, tmp_root, tiny_model):
    """A private lake with the inline inputs and one full topk run for D (shared by the modules)."""
    from jobs.common.config import load_config
    from jobs.common.delta import write_table

    cfg = load_config("test", [f"lake.root={tmp_root / 'topk_lake'}"])
    write_table(spark.createDataFrame(EVENTS, EVENTS_SCHEMA), cfg, "interactions_clean")
    write_table(spark.createDataFrame(CATALOG, CATALOG_SCHEMA), cfg, "catalog_clean")
    rec = run_topk(spark, cfg, tiny_model, D)
    return cfg, rec
