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

    ranklake topk --env local --run-date 2026-11-20
    spark-submit jobs/main.py topk --env emr --run-date 2026-11-20
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import partial
from typing import Any, Callable

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs import candidates as cand
from jobs import rules
from jobs.common import columns as C
from jobs.common.cli import JobContext, run_module
from jobs.common.config import ConfigError, TopkConf
from jobs.common.delta import read_table, table_version, write_table
from jobs.common.log import get_logger
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
    """The shared, cached building blocks every list type draws on."""

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
    stock_pop = cand.in_stock_popularity(cand.item_popularity(
        events, run_date=run_date, half_life_days=conf.popularity_half_life_days, grades=grades),
        catalog).cache()
    return Inputs(
        events=events, catalog=catalog, stock_pop=stock_pop,
        popular=cand.popular_items(stock_pop, n).cache(),
        trending=cand.trending_items(events, catalog, run_date=run_date, recent_days=conf.trending_days,
                                     history_days=conf.history_days, n=n, grades=grades).cache(),
        cat_pop=cand.category_popular(stock_pop, n).cache(),
        covis=cand.covisitation(events, session_max_items=conf.session_max_items, n=n).cache(),
        fbt=cand.bought_together(events, basket_max_items=conf.session_max_items, n=n).cache())


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


def build_lists(list_type: str, inp: Inputs, *, assemble: Assemble, shipped: ShippedModel,
                conf: TopkConf, run_date: date, grades: dict[str, int],
                generated_at: datetime) -> tuple[DataFrame, DataFrame, list[DataFrame]]:
    """(lists in the contract schema, all entities, frames to unpersist) for one list type."""
    everyone, cands, cats = entities_and_candidates(list_type, inp, conf, grades)
    bought = (rules.recent_purchases(inp.events, run_date=run_date, days=conf.exclude_bought_days)
              if list_type == "user" else None)
    rule_kw = dict(run_date=run_date, k=conf.k, max_per_category=conf.max_per_category_top10,
                   freshness_boost=conf.freshness_boost, freshness_days=conf.freshness_days,
                   bought=bought)
    # candidates and personalised lists are each used twice below: persist, don't recompute
    cands = cands.persist()
    log.info("%s: %d candidate pairs", list_type, cands.count())
    scored = score_frame(assemble(to_pairs(cands, list_type)), shipped)
    personal = rank_personalized(scored, inp.catalog, **rule_kw).withColumn(
        C.SOURCE, F.lit(SOURCE[list_type])).persist()
    log.info("%s: %d personalised lists", list_type, personal.count())
    cold = everyone.join(personal.select(C.ENTITY_ID), on=C.ENTITY_ID, how="left_anti")
    fallback = fallback_lists(cold, cats, inp.stock_pop, inp.cat_pop, inp.popular, inp.catalog,
                              exclude_self=list_type == "item", **rule_kw)
    fallback = fallback.withColumn(C.SOURCE, F.lit("fallback"))
    lists = personal.unionByName(fallback)
    return with_contract_columns(lists, model_version=shipped.version, run_date=run_date,
                                 generated_at=generated_at), everyone, [cands, personal]


def read_inputs(ctx: JobContext) -> tuple[DataFrame, DataFrame]:
    d, days = ctx.run_date, ctx.cfg.topk.history_days
    start = d - timedelta(days=days - 1)
    events = read_table(ctx.spark, ctx.cfg, "interactions_clean",
                        filters=[(C.EVENT_DATE, ">=", start), (C.EVENT_DATE, "<=", d)])
    catalog = read_table(ctx.spark, ctx.cfg, "catalog_clean")
    for name in ("interactions_clean", "catalog_clean"):
        ctx.rec.read(name, table_version(ctx.cfg, name))
    return events, catalog


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
    for i, lt in enumerate(types, 1):
        with rec.stage(f"lists_{lt}"):
            lists, everyone, held = build_lists(lt, inp, assemble=assemble, shipped=shipped, conf=conf,
                                          run_date=d, grades=grades, generated_at=generated_at)
            total = everyone.count()
            log.info("[%d/%d] %s lists: %d entities to rank", i, len(types), lt, total)
            version = write_table(lists, cfg, TABLE[lt], mode="replace", partitions={C.RUN_DATE: [d]})
            written = read_table(ctx.spark, cfg, TABLE[lt], version=version,
                                 filters=[(C.RUN_DATE, "=", d)])
            done = written.count()
            rec.wrote(TABLE[lt], version, done)
            log.info("[%d/%d] %s lists: %d/%d entities done", i, len(types), lt, done, total)
            rec.count(f"{lt}_entities_total", total)
            for frame in held:
                frame.unpersist()
            for key, value in list_summary(written, k=conf.k).items():
                rec.count(f"{lt}_{key}", value)
    with rec.stage("fallback_table"):
        fb = fallback_table(inp.stock_pop, inp.catalog, inp.popular, run_date=d, k=conf.k,
                            n=conf.candidates_per_source, max_per_category=conf.max_per_category_top10,
                            freshness_boost=conf.freshness_boost, freshness_days=conf.freshness_days)
        fb = with_contract_columns(fb.withColumn(C.SOURCE, F.lit("fallback")),
                                   model_version=shipped.version, run_date=d, generated_at=generated_at)
        version = write_table(fb, cfg, "topk_fallback", mode="replace", partitions={C.RUN_DATE: [d]})
        rec.wrote("topk_fallback", version, None)
    with rec.stage("summary"):
        rec.count("catalogue_coverage", coverage(ctx, [TABLE[t] for t in types], catalog))
    for frame in (events, catalog, inp.stock_pop, inp.popular, inp.trending, inp.cat_pop, inp.covis,
                  inp.fbt):
        frame.unpersist()
    return rec.counts


def coverage(ctx: JobContext, tables: list[str], catalog: DataFrame) -> float:
    """Share of in-stock catalogue items appearing in at least one list of this run."""
    items = None
    for t in tables:
        df = read_table(ctx.spark, ctx.cfg, t, filters=[(C.RUN_DATE, "=", ctx.run_date)])
        ids = df.select(F.explode(C.ITEMS).alias("_i")).select(F.col(f"_i.{C.ITEM_ID}").alias(C.ITEM_ID))
        items = ids if items is None else items.unionByName(ids)
    stock = catalog.where(F.col(C.IN_STOCK)).select(C.ITEM_ID).distinct()
    total = stock.count()
    if items is None or total == 0:
        return 0.0
    return round(stock.join(items.distinct(), on=C.ITEM_ID, how="left_semi").count() / total, 4)


def run(ctx: JobContext) -> dict[str, Any]:
    from jobs.features import assemble
    from jobs.registry import load_champion

    model = load_champion(ctx.cfg)
    return produce(ctx, model, partial(assemble, ctx.spark, ctx.cfg, as_of=ctx.run_date))


if __name__ == "__main__":
    sys.exit(run_module("topk"))
