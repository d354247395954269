"""Benchmark helpers for the validate stage: quarantine-filter throughput and GX suite overhead.

``benchmark_validate(spark, cfg, run_date)`` times, on the same data:
  * ``filter_s``: the plain Spark quarantine filter (flag every row, write to the ``noop`` sink,
    so no Delta IO is included) -> ``rows_per_s``;
  * ``gx_spark_<batch>_s``: the GX suite on the Spark frames (input and clean batches);
  * ``gx_pandas_sample_s``: the GX suite on a ``validate.gx_sample_rows`` pandas sample.
Data: the lake's ``raw_events`` of the window ending at ``run_date`` when present, else
``n_events`` synthetic rows built with ``spark.range`` (about 2% dirty).
"""
from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from pyspark.sql import functions as F

from jobs.common import columns as C
from jobs.common.delta import read_table, table_exists
from jobs.quality import filters as Q
from jobs.quality.rules import load_rules

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from jobs.common.config import Settings


def synthetic_events(spark: SparkSession, n: int, run_date: date, items: int = 1000,
                     users: int | None = None) -> DataFrame:
    """``n`` raw_events rows on ``run_date`` (~2% dirty: null users, bad positions, unknown
    items, odd event types), deterministic in ``n``."""
    users = users or max(1, n // 50)  # ~50 events per user-day: far below the bot threshold
    day0 = datetime(run_date.year, run_date.month, run_date.day, tzinfo=timezone.utc)
    types = F.array(*[F.lit(t) for t in C.EVENT_TYPES])
    idx = F.col("id")
    return spark.range(n).select(
        F.format_string("e%012d", idx).alias(C.EVENT_ID),
        F.when(idx % 211 == 0, F.lit(None)).otherwise(
            F.format_string("u%d", (idx * 7919) % users)).alias(C.USER_ID),
        F.format_string("s%d", (idx / 20).cast("long")).alias(C.SESSION_ID),
        F.when(idx % 3 == 0, F.lit(None)).otherwise(
            F.format_string("Query %d", idx % 997)).alias(C.QUERY),
        F.format_string("i%d", (idx * 31) % (items + (1 if n > 1000 else 0))).alias(C.ITEM_ID),
        F.when(idx % 307 == 0, F.lit("clik")).otherwise(
            F.element_at(types, (idx % 4 + 1).cast("int"))).alias(C.EVENT_TYPE),
        (F.lit(day0).cast("long") + (idx * 86399) % 86400).cast("timestamp").alias(C.TS),
        F.when(idx % 401 == 0, F.lit(0)).otherwise(idx % 20 + 1).cast("int").alias(C.POSITION),
        F.lit(run_date).alias(C.INGEST_DATE))


def _catalog_ids(spark: SparkSession, cfg: Settings, items: int) -> DataFrame:
    if table_exists(cfg, "catalog_clean"):
        return read_table(spark, cfg, "catalog_clean", columns=[C.ITEM_ID])
    return spark.range(items).select(F.format_string("i%d", F.col("id")).alias(C.ITEM_ID))


def benchmark_validate(spark: SparkSession, cfg: Settings, run_date: date,
                       n_events: int = 1_000_000, gx: bool = True) -> dict[str, Any]:
    """Timings (seconds) and rows/s of the quarantine filter vs the GX suites on the same rows."""
    from jobs.quality.gx_suite import run_suites

    rules = load_rules(cfg)["events"]
    out: dict[str, Any] = {"run_date": run_date.isoformat()}
    if table_exists(cfg, "raw_events"):
        lo = run_date - timedelta(days=cfg.validate_.window_days)
        raw = read_table(spark, cfg, "raw_events", filters=[(C.INGEST_DATE, ">", lo),
                                                            (C.INGEST_DATE, "<=", run_date)])
        out["source"] = "raw_events"
    else:
        raw = synthetic_events(spark, n_events, run_date)
        out["source"] = "synthetic"
    raw = raw.select(*Q.RAW_EVENT_COLUMNS).persist()
    out["rows"] = raw.count()  # materialise the input: timings below exclude reading it
    t0 = time.monotonic()
    flagged = Q.flag_events(Q.drop_exact_duplicates(raw, Q.RAW_EVENT_COLUMNS),
                            _catalog_ids(spark, cfg, 1000), rules=rules, run_date=run_date)
    flagged.write.format("noop").mode("overwrite").save()
    out["filter_s"] = round(time.monotonic() - t0, 3)
    out["rows_per_s"] = round(out["rows"] / max(out["filter_s"], 1e-9))
    flagged = flagged.persist()
    t0 = time.monotonic()
    out["reasons"] = {r[0]: r[1] for r in flagged.groupBy(C.REASON).count().collect()}
    out["filter_and_cache_s"] = round(time.monotonic() - t0, 3)
    if gx:
        clean = flagged.filter(F.col(C.REASON).isNull())
        _, times = run_suites({"events_input": (rules, flagged), "events_clean": (rules, clean)},
                              engine="spark", docs_dir=None)
        out["gx_spark_input_s"] = round(times["gx_events_input"], 3)
        out["gx_spark_clean_s"] = round(times["gx_events_clean"], 3)
        _, ptimes = run_suites({"events_input": (rules, flagged)}, engine="pandas",
                               docs_dir=None, sample_rows=cfg.validate_.gx_sample_rows)
        out["gx_pandas_sample_s"] = round(ptimes["gx_events_input"], 3)
        out["gx_sample_rows"] = min(out["rows"], cfg.validate_.gx_sample_rows)
        out["gx_spark_overhead_x"] = round(
            (out["gx_spark_input_s"] + out["gx_spark_clean_s"]) / max(out["filter_s"], 1e-9), 2)
    flagged.unpersist()
    raw.unpersist()
    return out
