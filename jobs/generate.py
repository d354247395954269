"""Generate a synthetic but realistic e-commerce dataset into the raw tables.

Writes (all overwrite, one Delta commit each):
  raw_catalog, raw_users, judgments      built on the driver (bounded by items/users/queries)
  raw_events   (partition ingest_date)   built by Spark tasks, one chunk = one day x user block
  truth_dirty                            every injected bad raw_events row + its reason code
  truth_utility (partition entity_type)  true utility of every impressed (user|query, item)

Same seed + same parameters => identical tables. Each task derives its random stream from
(seed, chunk id) and rebuilds the small latent "world" from the parameters, so the driver never
holds events. See jobs/gen/ for the model (utility, position bias, dirty-row codes).

    ranklake generate --env local [--events 1000000 --days 30 --seed 7 --dirty-fraction 0.02]
    spark-submit jobs/main.py generate --env emr --events 10000000
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from typing import TYPE_CHECKING, Iterator

import pyarrow as pa

from jobs.common import columns as C
from jobs.common.cli import run_module
from jobs.common.delta import write_table_result
from jobs.common.log import get_logger
from jobs.gen.chunk import SPARK_SCHEMA, ChunkSpec, GenParams, build_chunk
from jobs.gen.plan import GenSettings, Plan, make_plan
from jobs.gen.tables import catalog_frame, judgments_frame, users_frame
from jobs.gen.world import get_world

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from jobs.common.cli import JobContext
    from jobs.common.config import Settings

log = get_logger("generate")
RAW_EVENT_COLUMNS = [C.EVENT_ID, C.USER_ID, C.SESSION_ID, C.QUERY, C.ITEM_ID, C.EVENT_TYPE, C.TS,
                     C.POSITION, C.INGEST_DATE]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--events", type=int, help="total raw events (default generate.events)")
    p.add_argument("--days", type=int, help="days of events ending at generate.end_date")
    p.add_argument("--seed", type=int)
    p.add_argument("--users", type=int)
    p.add_argument("--items", type=int)
    p.add_argument("--queries", type=int)
    p.add_argument("--dirty-fraction", type=float)
    p.add_argument("--bot-users", type=int)
    p.add_argument("--fast-bot-users", type=int, help="bots under the daily cap that click too fast")
    p.add_argument("--end-date", type=date.fromisoformat, help="last event day, YYYY-MM-DD")


def settings(cfg: Settings, args: argparse.Namespace | None = None) -> GenSettings:
    g = cfg.generate
    over = {k: getattr(args, k, None) for k in ("events", "days", "seed", "users", "items", "queries",
                                               "dirty_fraction", "bot_users", "fast_bot_users",
                                               "end_date")}
    val = {k: (v if v is not None else getattr(g, k)) for k, v in over.items()}
    end = val["end_date"] if isinstance(val["end_date"], date) else date.fromisoformat(val["end_date"])
    return GenSettings(seed=val["seed"], events=val["events"], days=val["days"], users=val["users"],
                       items=val["items"], queries=val["queries"], dirty_fraction=val["dirty_fraction"],
                       bot_users=val["bot_users"], end_date=end, chunk_rows=g.chunk_rows,
                       list_size=g.list_size, search_share=g.search_share,
                       late_fraction=g.late_fraction, odd_case_fraction=g.odd_case_fraction,
                       zipf_alpha=g.zipf_alpha, bot_threshold=cfg.validate_.bot_max_events_per_day,
                       max_age_days=cfg.validate_.max_event_age_days,
                       fast_bot_users=val["fast_bot_users"],
                       click_limit=cfg.validate_.bot_max_clicks_per_window,
                       click_window_s=cfg.validate_.bot_click_window_seconds)


def _chunk_fn(gp: GenParams, chunks: tuple[ChunkSpec, ...]):
    def gen(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for cid in batch.column(0).to_pylist():
                t0 = time.monotonic()
                table = build_chunk(gp, chunks[cid])
                get_logger("generate").info("chunk %d/%d (day %d, block %d): %d events in %.1fs", cid + 1,
                                            len(chunks), chunks[cid].day, chunks[cid].block, table.num_rows,
                                            time.monotonic() - t0)
                yield from table.to_batches(max_chunksize=65_536)
    return gen


def generated_events(spark, plan: Plan) -> DataFrame:  # noqa: ANN001
    """Every raw event plus the generator's hidden columns (_reason, _qn, _uu, _uq)."""
    n = len(plan.chunks)
    # ~1M events per task: few tasks for small data, bounded memory for big data
    events = sum(c.n_base for c in plan.chunks)
    parts = min(n, max(spark.sparkContext.defaultParallelism, -(-events // 1_000_000)))
    return spark.range(n, numPartitions=parts).mapInArrow(_chunk_fn(plan.params, plan.chunks),
                                                          SPARK_SCHEMA)


def transform_events(gen: DataFrame) -> DataFrame:
    return gen.select(*RAW_EVENT_COLUMNS)


def transform_dirty(gen: DataFrame) -> DataFrame:
    from pyspark.sql import functions as F

    return gen.where(F.col("_reason").isNotNull()).select(
        C.EVENT_ID, F.col("_reason").alias(C.INJECTED_REASON), C.INGEST_DATE)


def transform_truth(gen: DataFrame) -> DataFrame:
    """Utility of every impressed (user, item) and (normalised query, item) of clean rows."""
    from pyspark.sql import functions as F

    imp = gen.where(F.col("_reason").isNull()
                    & (F.lower(F.trim(F.col(C.EVENT_TYPE))) == F.lit(C.IMPRESSION)))
    users = imp.select(F.lit("user").alias(C.ENTITY_TYPE), F.col(C.USER_ID).alias(C.ENTITY_ID), C.ITEM_ID,
                       F.col("_uu").alias(C.UTILITY))
    queries = imp.where(F.col("_qn").isNotNull()).select(
        F.lit("query").alias(C.ENTITY_TYPE), F.col("_qn").alias(C.ENTITY_ID), C.ITEM_ID,
        F.col("_uq").alias(C.UTILITY))
    return (users.unionByName(queries)
            .groupBy(C.ENTITY_TYPE, C.ENTITY_ID, C.ITEM_ID).agg(F.max(C.UTILITY).alias(C.UTILITY))
            .select(C.ENTITY_TYPE, C.ENTITY_ID, C.ITEM_ID, C.UTILITY))


def dimension_frames(spark, plan: Plan, seed: int) -> dict[str, DataFrame]:  # noqa: ANN001
    world = get_world(plan.params.world)
    return {"raw_catalog": catalog_frame(spark, world),
            "raw_users": users_frame(spark, world, plan.normal_users),
            "judgments": judgments_frame(spark, world, seed)}


def event_frames(gen: DataFrame) -> dict[str, DataFrame]:
    return {"raw_events": transform_events(gen), "truth_dirty": transform_dirty(gen),
            "truth_utility": transform_truth(gen)}


def run(ctx: JobContext) -> None:
    from pyspark import StorageLevel

    cfg, rec, spark = ctx.cfg, ctx.rec, ctx.spark
    s = settings(cfg, ctx.args)
    t0 = time.monotonic()
    with rec.stage("plan"):
        plan = make_plan(s)
        world = get_world(plan.params.world)
    log.info("plan: %d events over %d days ending %s, %d chunks, %d users (+%d bots, +%d fast "
             "clickers), %d items, %d queries, %d dirty rows (%d from bots), seed %d", s.events,
             s.days, s.end_date, len(plan.chunks), plan.normal_users, plan.bots, plan.fast_bots,
             s.items, len(world.query_text), plan.dirty_rows, plan.bot_rows, s.seed)
    meta = {"seed": s.seed, "events": s.events, "days": s.days, "end_date": s.end_date.isoformat()}
    counts: dict[str, int] = {}

    def write(df: DataFrame, name: str) -> None:
        res = write_table_result(df, cfg, name, mode="overwrite", metadata=meta)
        rec.wrote(name, res.version, res.rows)
        rec.count(f"{name}_rows", res.rows)
        counts[name] = res.rows

    with rec.stage("dimensions"):
        for name, df in dimension_frames(spark, plan, s.seed).items():
            write(df, name)
    gen = generated_events(spark, plan).persist(StorageLevel.DISK_ONLY)
    try:
        frames = event_frames(gen)
        with rec.stage("events"):
            t1 = time.monotonic()
            write(frames["raw_events"], "raw_events")
            dt = time.monotonic() - t1
            rec.count("events_per_s", round(counts["raw_events"] / max(dt, 1e-9)))
        with rec.stage("truth"):
            write(frames["truth_dirty"], "truth_dirty")
            write(frames["truth_utility"], "truth_utility")
    finally:
        gen.unpersist()
    rows, dirty = counts["raw_events"], counts["truth_dirty"]
    rec.count("dirty_fraction", round(dirty / rows, 6) if rows else 0.0)
    if rows != s.events or dirty != plan.dirty_rows:
        log.warning("generated %d events / %d dirty, planned %d / %d (users hit the daily cap?)",
                    rows, dirty, s.events, plan.dirty_rows)
    log.info("generate done in %.1fs", time.monotonic() - t0)


if __name__ == "__main__":
    sys.exit(run_module("generate"))
