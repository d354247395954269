"""`ranklake features` end to end on a small clean dataset: splits, reconciliation, no train/serve
skew (assemble == training rows), judgments, drift between two runs."""
from __future__ import annotations

import argparse
import math
from datetime import date, timedelta

import pytest
from pyspark.sql import functions as F

from jobs import drift as drift_job
from jobs.common import cli
from jobs.common import columns as C
from jobs.common.cli import JobContext
from jobs.common.config import load_config
from jobs.common.delta import read_table, write_table
from jobs.common.errors import CheckFailed
from jobs.common.runlog import RunRecord
from jobs.features import assemble
from tests.features.data import catalog_rows, event_rows, write_clean

pytestmark = pytest.mark.e2e
D = date(2026, 11, 20)
OVERRIDES = ["features.train_days=6", "features.validation_days=2", "features.test_days=2",
             "features.windows_days=[1,3,7]"]


@pytest.fixture(scope="module")
def stage_cfg(spark):
    cfg = load_config("test", OVERRIDES)
    write_clean(spark, cfg, event_rows(D - timedelta(days=12), 13), catalog_rows())
    return cfg


def _run(cfg, spark, run_date, labels=None):
    return cli.execute("features", argparse.Namespace(run_date=run_date, labels=labels), cfg, spark)


def test_features_stage_and_no_skew(spark, stage_cfg):
    assert _run(stage_cfg, spark, D) == 0
    ts = read_table(spark, stage_cfg, "training_set", filters=[(C.RUN_DATE, "=", D)])
    assert set(ts.columns) >= {*C.FEATURE_COLUMNS, C.LIST_TYPE, C.GROUP_ID, C.SPLIT, C.LABEL}
    per = {(r[C.LIST_TYPE], r[C.SPLIT]) for r in ts.select(C.LIST_TYPE, C.SPLIT).distinct().collect()}
    assert {lt for lt, _ in per} == {"query", "user", "item"}
    assert {s for _, s in per} == {"train", "validation", "test"}
    assert ts.groupBy(C.GROUP_ID).agg(F.countDistinct(C.SPLIT).alias("n")).filter("n > 1").count() == 0
    bounds = ts.groupBy(C.SPLIT).agg(F.min(C.EVENT_DATE).alias("lo"), F.max(C.EVENT_DATE).alias("hi"))
    assert {r[C.SPLIT]: (r["lo"], r["hi"]) for r in bounds.collect()} == {
        "train": (D - timedelta(days=10), D - timedelta(days=5)),
        "validation": (D - timedelta(days=4), D - timedelta(days=3)),
        "test": (D - timedelta(days=2), D - timedelta(days=1))}
    # serving assembly over the same pairs and snapshot == the training rows (no skew)
    day = D - timedelta(days=3)
    rows = ts.filter(F.col(C.EVENT_DATE) == F.lit(day))
    pairs = rows.select(C.LIST_TYPE, C.ENTITY_ID, C.ITEM_ID, C.GROUP_ID)
    served = assemble(spark, stage_cfg, pairs, day - timedelta(days=1), idf_run_date=D)
    feats = [c for c in C.FEATURE_COLUMNS if not c.startswith("ctx_")]  # ctx = show time
    a = {(r[C.GROUP_ID], r[C.ITEM_ID]): r for r in rows.collect()}
    b = {(r[C.GROUP_ID], r[C.ITEM_ID]): r for r in served.collect()}
    assert a.keys() == b.keys() and a
    for k in a:
        for c in feats:
            x, y = a[k][c], b[k][c]
            assert (x is None and y is None) or math.isclose(x, y, rel_tol=1e-12), (k, c, x, y)
    # serving snapshot D: features as of the run date (every user with history)
    snap = read_table(spark, stage_cfg, "features_user", filters=[(C.AS_OF_DATE, "=", D)])
    assert snap.count() == 6


def test_judgment_labels_and_drift(spark, stage_cfg):
    judg = spark.createDataFrame([("Red Shoes", "i01", 3), ("hat", "i02", 1)],
                                 "query string, item_id string, grade int")
    write_table(judg, stage_cfg, "judgments", mode="overwrite")
    d2 = D + timedelta(days=1)
    assert _run(stage_cfg, spark, d2, labels="judgments") == 0
    ts = read_table(spark, stage_cfg, "training_set", filters=[(C.RUN_DATE, "=", d2)])
    q = {(r[C.ENTITY_ID], r[C.ITEM_ID], r[C.LABEL])
         for r in ts.filter(F.col(C.LIST_TYPE) == "query").collect()}
    assert q <= {("red shoes", "i01", 3), ("hat", "i02", 1)}
    drift = read_table(spark, stage_cfg, "feature_drift", filters=[(C.RUN_DATE, "=", d2)])
    got = {r["feature"]: r for r in drift.collect()}
    assert set(got) == set(C.FEATURE_COLUMNS)
    assert all(r["reference_run_date"] == D and r["status"] in ("ok", "warn") for r in got.values())
    # the same two runs with a zero threshold and features.psi_fail: the drift step fails the run
    # naming the drifted features, after storing every feature's PSI with status fail/ok
    drifted = sorted(f for f, r in got.items() if r["psi"] > 0)
    assert drifted  # the second run's window differs, so some features moved
    strict = load_config("test", [*OVERRIDES, "features.psi_threshold=0.0", "features.psi_fail=true"])
    rec = RunRecord("features", d2.isoformat(), "test", "2026-11-21T00:00:00+00:00")
    with pytest.raises(CheckFailed, match=rf"PSI > 0.0 for {len(drifted)} feature\(s\): "):
        drift_job.run(JobContext(strict, argparse.Namespace(), d2, rec, spark))
    again = {r["feature"]: r["status"] for r in read_table(
        spark, strict, "feature_drift", filters=[(C.RUN_DATE, "=", d2)]).collect()}
    assert again == {f: "fail" if f in drifted else "ok" for f in got}
