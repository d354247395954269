"""Builders for the publish/serving tests: contract-schema topk_* and catalog_clean tables."""
from __future__ import annotations

import argparse
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from pyspark.sql import types as T

from jobs.common import runlog
from jobs.common.cli import JobContext
from jobs.common.config import Settings, load_config
from jobs.common.delta import write_table, write_table_result
from tests.serving.data import Lists, catalog_for, dataset  # noqa: F401 - re-exported

ITEMS_T = T.ArrayType(T.StructType([T.StructField("rank", T.IntegerType()),
                                    T.StructField("item_id", T.StringType()),
                                    T.StructField("score", T.DoubleType())]))
TOPK_SCHEMA = T.StructType([
    T.StructField("entity_id", T.StringType()), T.StructField("items", ITEMS_T),
    T.StructField("source", T.StringType()), T.StructField("model_version", T.StringType()),
    T.StructField("run_date", T.DateType()), T.StructField("generated_at", T.TimestampType())])
CATALOG_SCHEMA = T.StructType([
    T.StructField("item_id", T.StringType()), T.StructField("title", T.StringType()),
    T.StructField("category", T.StringType()), T.StructField("brand", T.StringType()),
    T.StructField("price", T.DoubleType()), T.StructField("in_stock", T.BooleanType()),
    T.StructField("created_at", T.TimestampType())])
GEN_AT = datetime(2030, 1, 1, tzinfo=timezone.utc)


def make_cfg(root: Path, redis_url: str, *overrides: str) -> Settings:
    return load_config("test", [f"lake.root={root}", f"redis.url={redis_url}", *overrides])


def _rows(lists: Lists, source: str, model: str, d: date) -> list[tuple[Any, ...]]:
    return [(ent, [(i + 1, item, float(score)) for i, (item, score) in enumerate(items)], source, model,
             d, GEN_AT) for ent, items in lists.items()]


def write_topk(spark, cfg: Settings, by_date: dict[date, dict[str, Lists]], model: str = "m1",
               derived: Any = None) -> None:
    """One Delta write per table for all dates (``replace`` of exactly those run_date partitions).
    ``derived``: a jobs.common.delta.Derived for the writer (the topk stage's ``serving_value``);
    None writes the contract columns only, as tables written before that column existed."""
    sources = {"topk_user": "personalized", "topk_query": "query", "topk_item": "personalized",
               "topk_fallback": "fallback"}
    kinds = {"topk_user": "user", "topk_query": "query", "topk_item": "item", "topk_fallback": "fallback"}
    for table, source in sources.items():
        rows = [r for d, data in by_date.items() for r in _rows(data[kinds[table]], source, model, d)]
        df = spark.createDataFrame(rows, TOPK_SCHEMA)
        write_table_result(df, cfg, table, mode="replace", partitions={"run_date": list(by_date)},
                           derived=derived)


def write_catalog(spark, cfg: Settings, items: dict[str, tuple[str | None, bool]]) -> None:
    rows = [(i, f"t {i}", cat, "b", 1.0, stock, GEN_AT) for i, (cat, stock) in items.items()]
    write_table(spark.createDataFrame(rows, CATALOG_SCHEMA), cfg, "catalog_clean", mode="overwrite")


def publish(cfg: Settings, spark, d: date, rollback: bool = False) -> runlog.RunRecord:
    args = argparse.Namespace(env="test", conf=[], run_date=d, rollback=rollback)
    rec = runlog.new_record(cfg, "publish", d)
    from jobs import publish as pub

    pub.run(JobContext(cfg=cfg, args=args, run_date=d, rec=rec, _spark=spark))
    return rec
