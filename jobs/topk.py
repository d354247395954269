"""Precompute top-K lists per user, query and item with the champion model.

Reads  interactions_clean (event_date in the ``topk.history_days`` days ending with D),
       catalog_clean, the feature tables as of D (through ``jobs.features.assemble``) and the
       champion model (``jobs.registry.load_champion``).
Writes topk_user, topk_query, topk_item and topk_fallback, partition ``run_date = D``, with
       ``mode="replace"``: a rerun replaces that date only; older dates stay readable.
       Columns (docs/TOPK_CONTRACT.md): entity_id, items array<struct<rank,item_id,score>>
       sorted by rank (at most topk.k), source (personalized|query|fallback), model_version,
       run_date, generated_at.

Who gets a list: every user and every query seen in the window (users/queries without an
engagement get a ``fallback`` list: recency-weighted, category-aware popularity), every in-stock
item. topk_fallback holds the 'global' list and one per category (top level and leaf) for the
serving fallback chain.

Stages (run record): prepare (shared candidate sources), score (the candidates of every list type
through one feature assembly and one scoring pass), lists_<type> (rules, cold start, write,
summary), fallback_table, summary. The candidate and feature plans are large; planning them once
and materialising their results (jobs.common.spark.materialize) keeps driver-side planning out of
the many small jobs that follow. On the test lake that halved the stage's CPU time (one assembly
per list type and a read-back per table before).

    ranklake topk --env local --run-date 2026-11-20
    spark-submit jobs/main.py topk --env emr --run-date 2026-11-20
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import partial, reduce
from typing import Any, Callable

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs import candidates as cand
from jobs import rules
from jobs.common import columns as C
from jobs.common.cli import JobContext, run_module
from jobs.common.config import ConfigError, TopkConf
from jobs.common.delta import Derived, read_table, table_version, write_table_result
from jobs.common.log import get_logger
from jobs.common.spark import materialize
from jobs.scoring import ShippedModel, score_frame, ship_model
from jobs.topk_lists import (
    fallback_lists,
    fallback_table,
    list_summary,
    rank_personalized,
    with_contract_columns,
)

log = get_logger("topk")
TABLE = {"user": "topk_user", "query": "topk_query", "item": "topk_item"}
SOURCE = {"user": "personalized", "query": "query", "item": "personalized"}
Assemble = Callable[[DataFrame], DataFrame]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--list-types", default=None,
                   help="comma-separated subset of user,query,item (default: topk.list_types)")


@dataclass
class Inputs:
    """The shared building blocks every list type draws on."""

    events: DataFrame
    catalog: DataFrame
    stock_pop: DataFrame
    popular: DataFrame
    trending: DataFrame
    cat_pop: DataFrame
    covis: DataFrame
    fbt: DataFrame


def prepare(events: DataFrame, catalog: DataFrame, *, run_date: date, conf: TopkConf,
            grades: dict[str, int]) -> Inputs:
    n = conf.candidates_per_source
    stock_pop = materialize(cand.in_stock_popularity(cand.item_popularity(
        events, run_date=run_date, half_life_days=conf.popularity_half_life_days, grades=grades),
        catalog))
    return Inputs(
        events=events, catalog=catalog, stock_pop=stock_pop,
        popular=materialize(cand.popular_items(stock_pop, n)),
        trending=materialize(cand.trending_items(events, catalog, run_date=run_date,
                                          recent_days=conf.trending_days,
                                          history_days=conf.history_days, n=n, grades=grades)),
        cat_pop=materialize(cand.category_popular(stock_pop, n)),
        covis=materialize(cand.covisitation(events, session_max_items=conf.session_max_items, n=n)),
        fbt=materialize(cand.bought_together(events, basket_max_items=conf.session_max_items, n=n)))


def entities_and_candidates(list_type: str, inp: Inputs, conf: TopkConf,
                            grades: dict[str, int]) -> tuple[DataFrame, DataFrame, DataFrame]:
    """(all entities, personalised candidates, entity categories for the cold-start lists)."""
    n, ev, cat = conf.candidates_per_source, inp.events, inp.catalog
    if list_type == "user":
        everyone = ev.where(F.col(C.USER_ID).isNotNull()).select(
            F.col(C.USER_ID).alias(C.ENTITY_ID)).distinct()
        cands = cand.user_candidates(
            ev, cat, neighbours=inp.covis.unionByName(inp.fbt), cat_pop=inp.cat_pop,
            trending=inp.trending, popular=inp.popular, n=n, recent_items=conf.recent_items_per_user,
            top_categories=conf.top_categories)
        # a user without engagement still has impressions: their categories steer the fallback
        cats = cand.user_top_categories(ev, cat, n=conf.top_categories, types=C.EVENT_TYPES)
        return everyone, cands, cats
    if list_type == "query":
        everyone = cand.search_queries(ev)
        engaged = cand.query_engaged(ev, everyone, n=n, grades=grades)
        matched = cand.text_match(everyone, cat, inp.stock_pop, n)
        cands = cand.query_candidates(engaged, matched, cat, cat_pop=inp.cat_pop, n=n,
                                      top_categories=conf.top_categories)
        return everyone, cands, cand.item_categories(matched, cat, conf.top_categories)
    if list_type == "item":
        everyone = cat.where(F.col(C.IN_STOCK)).select(F.col(C.ITEM_ID).alias(C.ENTITY_ID)).distinct()
        cands = cand.item_candidates(inp.covis, inp.fbt, cat, inp.cat_pop)
        cats = cat.where(F.col(C.IN_STOCK)).select(F.col(C.ITEM_ID).alias(C.ENTITY_ID), C.CATEGORY,
                                                   F.lit(1).alias(C.WEIGHT))
        return everyone, cands, cats
    raise ConfigError(f"unknown list type '{list_type}': expected user, query or item")


def to_pairs(cands: DataFrame, list_type: str) -> DataFrame:
    """Candidates -> the pairs frame jobs.features.assemble expects."""
    query = F.col(C.ENTITY_ID) if list_type == "query" else F.lit(None).cast("string")
    return cands.select(F.lit(list_type).alias(C.LIST_TYPE), C.ENTITY_ID, C.ITEM_ID, query.alias(C.QUERY))


@dataclass
class Scored:
    """Every list type's scored candidates and entities (list_type column), and per list type the
    entity categories its cold-start lists use."""

    pairs: DataFrame  # list_type, entity_id, item_id, score
    entities: DataFrame  # list_type, entity_id
    cats: dict[str, DataFrame]


def score_candidates(types: list[str], inp: Inputs, *, assemble: Assemble, shipped: ShippedModel,
                     conf: TopkConf, grades: dict[str, int]) -> Scored:
    """One feature assembly and one scoring pass over the union of all list types' candidates
    (features and scores are per pair, so this equals scoring each list type on its own).
    The assembly reads its pairs several times (text features, a dozen joins): they are kept
    first, so the candidate generators are not planned once per read."""
    parts = {lt: entities_and_candidates(lt, inp, conf, grades) for lt in types}
    pairs = materialize(reduce(DataFrame.unionByName, [to_pairs(c, lt) for lt, (_, c, _) in parts.items()]))
    entities = reduce(DataFrame.unionByName, [e.select(F.lit(lt).alias(C.LIST_TYPE), C.ENTITY_ID)
                                              for lt, (e, _, _) in parts.items()])
    return Scored(materialize(score_frame(assemble(pairs), shipped)), materialize(entities),
                  {lt: cats for lt, (_, _, cats) in parts.items()})


def of_type(df: DataFrame, list_type: str) -> DataFrame:
    return df.where(F.col(C.LIST_TYPE) == list_type).drop(C.LIST_TYPE)


def build_lists(list_type: str, sc: Scored, inp: Inputs, *, shipped: ShippedModel,
                conf: TopkConf, run_date: date, generated_at: datetime) -> DataFrame:
    """One list type's scored candidates and entities -> its lists in the contract schema."""
    bought = (rules.recent_purchases(inp.events, run_date=run_date, days=conf.exclude_bought_days)
              if list_type == "user" else None)
    rule_kw = dict(run_date=run_date, k=conf.k, max_per_category=conf.max_per_category_top10,
                   freshness_boost=conf.freshness_boost, freshness_days=conf.freshness_days,
                   bought=bought)
    # the personalised lists are used twice below (who is cold, the union): kept, not recomputed
    personal = materialize(rank_personalized(of_type(sc.pairs, list_type), inp.catalog, **rule_kw)
                    .withColumn(C.SOURCE, F.lit(SOURCE[list_type])))
    cold = of_type(sc.entities, list_type).join(personal.select(C.ENTITY_ID), on=C.ENTITY_ID,
                                                how="left_anti")
    fallback = fallback_lists(cold, sc.cats[list_type], inp.stock_pop, inp.cat_pop, inp.popular,
                              inp.catalog, exclude_self=list_type == "item", **rule_kw)
    fallback = fallback.withColumn(C.SOURCE, F.lit("fallback"))
    return with_contract_columns(personal.unionByName(fallback), model_version=shipped.version,
                                 run_date=run_date, generated_at=generated_at)


def read_inputs(ctx: JobContext) -> tuple[DataFrame, DataFrame]:
    d, days = ctx.run_date, ctx.cfg.topk.history_days
    start = d - timedelta(days=days - 1)
    events = read_table(ctx.spark, ctx.cfg, "interactions_clean",
                        filters=[(C.EVENT_DATE, ">=", start), (C.EVENT_DATE, "<=", d)])
    catalog = read_table(ctx.spark, ctx.cfg, "catalog_clean")
    for name in ("interactions_clean", "catalog_clean"):
        ctx.rec.read(name, table_version(ctx.cfg, name))
    return events, catalog


def per_type(df: DataFrame) -> dict[str, int]:
    """Rows per list type (a handful of result rows)."""
    return {r[C.LIST_TYPE]: int(r["count"]) for r in df.groupBy(C.LIST_TYPE).count().collect()}


def produce(ctx: JobContext, model: Any, assemble: Assemble,
            generated_at: datetime | None = None) -> dict[str, Any]:
    """read -> candidates -> features -> score -> rules -> write, for every configured list type."""
    cfg, d, conf, rec = ctx.cfg, ctx.run_date, ctx.cfg.topk, ctx.rec
    wanted = getattr(ctx.args, "list_types", None)
    types = [t.strip() for t in wanted.split(",")] if wanted else list(conf.list_types)
    generated_at = generated_at or datetime.now(timezone.utc).replace(microsecond=0)
    grades = dict(cfg.features.label_grades)
    with rec.stage("prepare"):
        events, catalog = read_inputs(ctx)
        events, catalog = events.cache(), catalog.cache()
        inp = prepare(events, catalog, run_date=d, conf=conf, grades=grades)
        shipped = ship_model(ctx.spark, model)
        rec.count("model_version", shipped.version)
        rec.count("events_in_window", events.count())
        rec.count("catalog_items", catalog.count())
    done: list[DataFrame] = []
    if types:  # (an empty topk.list_types writes the fallback table only)
        with rec.stage("score"):
            sc = score_candidates(types, inp, assemble=assemble, shipped=shipped, conf=conf,
                                  grades=grades)
            pairs, totals = per_type(sc.pairs), per_type(sc.entities)
            for lt in types:
                log.info("%s: %d candidate pairs", lt, pairs.get(lt, 0))
    for i, lt in enumerate(types, 1):
        with rec.stage(f"lists_{lt}"):
            log.info("[%d/%d] %s lists: %d entities to rank", i, len(types), lt, totals.get(lt, 0))
            lists = materialize(build_lists(lt, sc, inp, shipped=shipped, conf=conf, run_date=d,
                                            generated_at=generated_at))
            write_lists(ctx, lt, lists, total=totals.get(lt, 0), step=f"[{i}/{len(types)}]")
            done.append(lists)
    with rec.stage("fallback_table"):
        fb = fallback_table(inp.stock_pop, inp.catalog, inp.popular, run_date=d, k=conf.k,
                            n=conf.candidates_per_source, max_per_category=conf.max_per_category_top10,
                            freshness_boost=conf.freshness_boost, freshness_days=conf.freshness_days)
        fb = with_contract_columns(fb.withColumn(C.SOURCE, F.lit("fallback")),
                                   model_version=shipped.version, run_date=d, generated_at=generated_at)
        res = write_table_result(fb, cfg, "topk_fallback", mode="replace", partitions={C.RUN_DATE: [d]},
                                 derived=serving_value())
        rec.wrote("topk_fallback", res.version, res.rows)
    with rec.stage("summary"):
        rec.count("catalogue_coverage", coverage(done, catalog))
    # materialised frames go with their last reference (garbage collection); caches explicitly
    for frame in (events, catalog):
        frame.unpersist()
    return rec.counts


def serving_value() -> Derived:
    """The writer tasks add ``serving_value`` (the Redis value of each list) to every topk_* row:
    encoded once here, in the tasks that write the files, and streamed as stored by publish.
    Stored without snappy (it hardly compresses: float32 scores; measured 25% on synthetic
    lists) and as DELTA_LENGTH_BYTE_ARRAY (all lengths, then the values back to back) instead of
    a failed dictionary and PLAIN pages (a length before each value): read back 5x faster, 0.008
    vs 0.042 s per 25k lists of 50 (1M: 50k lists in two writer tasks). Spark's vectorized
    reader (3.3+), delta-rs, DuckDB and Polars read it (tests/publish/test_stored_values.py)."""
    import pyarrow as pa

    from jobs.serving.writer import serving_values

    return Derived((pa.field(C.SERVING_VALUE, pa.binary()),), serving_values, uncompressed=True,
                   encoding="DELTA_LENGTH_BYTE_ARRAY")


def write_lists(ctx: JobContext, list_type: str, lists: DataFrame, *, total: int, step: str) -> None:
    """Replace partition D of the list type's table with (materialised) ``lists``; record the
    rows written and the table summary (from ``lists`` itself: no read-back)."""
    rec, d = ctx.rec, ctx.run_date
    res = write_table_result(lists, ctx.cfg, TABLE[list_type], mode="replace",
                             partitions={C.RUN_DATE: [d]}, derived=serving_value())
    rec.wrote(TABLE[list_type], res.version, res.rows)
    log.info("%s %s lists: %d/%d entities done", step, list_type, res.rows, total)
    rec.count(f"{list_type}_entities_total", total)
    for key, value in list_summary(lists, k=ctx.cfg.topk.k).items():
        rec.count(f"{list_type}_{key}", value)


def coverage(lists: list[DataFrame], catalog: DataFrame) -> float:
    """Share of in-stock catalogue items appearing in at least one of ``lists`` (one job)."""
    if not lists:
        return 0.0
    stock = catalog.where(F.col(C.IN_STOCK)).select(C.ITEM_ID).distinct()
    items = reduce(DataFrame.unionByName, [
        df.select(F.explode(C.ITEMS).alias("_i")).select(F.col(f"_i.{C.ITEM_ID}").alias(C.ITEM_ID))
        for df in lists]).distinct().withColumn("_hit", F.lit(1))
    [row] = stock.join(items, on=C.ITEM_ID, how="left").agg(
        F.count(F.lit(1)).alias("total"), F.count("_hit").alias("hit")).collect()
    return round(row["hit"] / row["total"], 4) if row["total"] else 0.0


def run(ctx: JobContext) -> dict[str, Any]:
    from jobs.features import assemble
    from jobs.registry import load_champion

    model = load_champion(ctx.cfg)
    return produce(ctx, model, partial(assemble, ctx.spark, ctx.cfg, as_of=ctx.run_date))


if __name__ == "__main__":
    sys.exit(run_module("topk"))
