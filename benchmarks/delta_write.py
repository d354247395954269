"""S: Delta write with the parallel writer (jobs.common.delta.write_table) vs Spark's own
``df.write.parquet`` of the same DataFrame.

The input is persisted (DISK_ONLY, so 10M rows never need executor heap) and counted before any
timing, so both sides time the write path only: ours = tasks write Parquet with pyarrow + the
driver commits one Delta transaction; Spark's = its Parquet writer + the commit protocol
(``_SUCCESS``), no Delta log. Both write the same partitioning (``ingest_date``).
small: a synthetic frame (``spark.range``) shaped like raw events; 1M/10M: the generated events.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from benchmarks.common import paired, rates, say, timed
from benchmarks.context import Bench


def synthetic_events(spark, rows: int):  # noqa: ANN001, ANN201
    from pyspark.sql import functions as F

    return spark.range(rows, numPartitions=spark.sparkContext.defaultParallelism * 2).select(
        F.format_string("e%010d", F.col("id")).alias("event_id"),
        F.format_string("u%07d", F.col("id") % 50_000).alias("user_id"),
        F.format_string("s%09d", (F.col("id") / 8).cast("long")).alias("session_id"),
        F.when(F.col("id") % 3 == 0, F.lit(None)).otherwise(
            F.format_string("query %d", F.col("id") % 997)).alias("query"),
        F.format_string("i%06d", (F.col("id") * 7919) % 20_000).alias("item_id"),
        F.element_at(F.array(*[F.lit(x) for x in ("impression", "impression", "impression", "click",
                                                  "add_to_cart", "purchase")]),
                     (F.col("id") % 6 + 1).cast("int")).alias("event_type"),
        (F.lit(1_790_000_000) + F.col("id") * 13 % 2_592_000).cast("timestamp").alias("ts"),
        (F.col("id") % 10 + 1).cast("int").alias("position"),
        F.date_add(F.lit("2026-10-22").cast("date"), (F.col("id") % 30).cast("int")).alias("ingest_date"),
    )


def run(b: Bench) -> None:
    from pyspark import StorageLevel

    from jobs.common.delta import read_table, write_table
    from jobs.common.tables import table_path

    spark, p = b.spark, b.profile
    if p.delta_rows:
        df, what = synthetic_events(spark, p.delta_rows), f"{p.delta_rows:,} synthetic event rows"
    else:
        df, what = read_table(spark, b.cfg, "raw_events"), f"the {p.events:,} generated events"
    df = df.persist(StorageLevel.DISK_ONLY)
    rows = df.count()
    say(f"delta write: {what} ({rows:,} rows) persisted")
    scfg = b.scratch_cfg()
    delta_dir = Path(table_path(scfg, "raw_events"))
    pq_dir = b.scratch / "spark_parquet_events"

    def ours() -> None:
        write_table(df, scfg, "raw_events", mode="overwrite")

    def theirs() -> None:
        df.write.mode("overwrite").partitionBy("ingest_date").parquet(f"file://{pq_dir}")

    try:
        # alternate the two so a change in the neighbours' load hits both alike
        ours_s, ref_s = [], []
        for i in range(p.repeats):
            ours_s += timed(ours, 1, f"delta write_table {i + 1}")
            ref_s += timed(theirs, 1, f"spark df.write.parquet {i + 1}")
    finally:
        df.unpersist()
        shutil.rmtree(delta_dir, ignore_errors=True)
        shutil.rmtree(pq_dir, ignore_errors=True)
    b.add(paired("S.delta_write_rows_per_s", "S", f"Delta write of {rows:,} rows (parallel writer)",
                 "rows/s", rates(rows, ours_s), "Spark df.write.parquet (same frame, same partitioning)",
                 rates(rows, ref_s), higher_is_better=True, target=None,
                 note="no target in the issue; ratio > 1 means faster than Spark's own writer"))
