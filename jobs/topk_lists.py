"""List assembly for the top-K stage (split from jobs/topk.py): personalised ranking, cold-start
lists, the topk_fallback table, the contract columns and the per-table summary. Pure transforms.

Cold start ("category-aware, recency-weighted popularity"): an entity without engagement history
gets the popular items of its categories (a user's impressed categories, a query's text-matched
categories, an item's own leaf category) scored 1 + popularity/max, followed by globally popular
items scored popularity/(2 max), so an unpopular own-category item still precedes them.
Popularity is the half-life-decayed engagement of jobs.candidates.item_popularity. The same
business rules as for model-scored lists then apply.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs import candidates as cand
from jobs import rules
from jobs.common import columns as C

_MAX = "_max_pop"


def rank_personalized(scored: DataFrame, catalog: DataFrame, **rule_kw: Any) -> DataFrame:
    """Model-scored (entity_id, item_id, score) -> (entity_id, items) with the business rules."""
    return rules.apply_rules(scored.select(C.ENTITY_ID, C.ITEM_ID, C.SCORE), catalog, **rule_kw)


def _max_pop(stock_pop: DataFrame) -> DataFrame:
    return stock_pop.agg(F.max(C.POPULARITY).alias(_MAX))


def _norm(weight: str) -> F.Column:
    return F.when(F.col(_MAX) > 0, F.col(weight) / F.col(_MAX)).otherwise(F.lit(0.0))


def cold_start_scores(entities: DataFrame, entity_cats: DataFrame, stock_pop: DataFrame,
                      cat_pop: DataFrame, popular: DataFrame) -> DataFrame:
    """(entity_id, item_id, score): own-category popular items first, then global popular."""
    mx = F.broadcast(_max_pop(stock_pop))
    in_cat = (entities.join(entity_cats.select(C.ENTITY_ID, C.CATEGORY), on=C.ENTITY_ID, how="inner")
              .join(cat_pop, on=C.CATEGORY, how="inner").crossJoin(mx)
              .select(C.ENTITY_ID, C.ITEM_ID, (F.lit(1.0) + _norm(C.WEIGHT)).alias(C.SCORE)))
    glob = (entities.crossJoin(F.broadcast(popular.crossJoin(mx)))
            .select(C.ENTITY_ID, C.ITEM_ID, (F.lit(0.5) * _norm(C.WEIGHT)).alias(C.SCORE)))
    return (in_cat.unionByName(glob).groupBy(C.ENTITY_ID, C.ITEM_ID)
            .agg(F.max(C.SCORE).alias(C.SCORE)).select(C.ENTITY_ID, C.ITEM_ID, C.SCORE))


def fallback_lists(entities: DataFrame, entity_cats: DataFrame, stock_pop: DataFrame,
                   cat_pop: DataFrame, popular: DataFrame, catalog: DataFrame,
                   exclude_self: bool = False, **rule_kw: Any) -> DataFrame:
    """(entity_id, items) cold-start lists for ``entities`` (after the business rules).
    ``exclude_self``: entities are items (similar-item lists never contain their anchor)."""
    scored = cold_start_scores(entities, entity_cats, stock_pop, cat_pop, popular)
    if exclude_self:
        scored = scored.where(F.col(C.ENTITY_ID) != F.col(C.ITEM_ID))
    return rules.apply_rules(scored, catalog, **rule_kw)


def fallback_table(stock_pop: DataFrame, catalog: DataFrame, popular: DataFrame, *,
                   run_date: date, k: int, n: int, max_per_category: int, freshness_boost: float,
                   freshness_days: int) -> DataFrame:
    """(entity_id, items): 'global' plus one list per top-level and per leaf category."""
    mx = F.broadcast(_max_pop(stock_pop))
    glob = popular.crossJoin(mx).select(F.lit(C.FALLBACK_GLOBAL).alias(C.ENTITY_ID), C.ITEM_ID,
                                        _norm(C.WEIGHT).alias(C.SCORE))
    pop = stock_pop.where(F.col(C.CATEGORY).isNotNull())
    leaf = pop.select(F.col(C.CATEGORY).alias(C.ENTITY_ID), C.ITEM_ID, F.col(C.POPULARITY).alias(C.WEIGHT))
    top = pop.select(F.split(C.CATEGORY, "/").getItem(0).alias(C.ENTITY_ID), C.ITEM_ID,
                     F.col(C.POPULARITY).alias(C.WEIGHT))
    per_cat = (cand.top_n(leaf.unionByName(top).distinct(), C.ENTITY_ID, n).crossJoin(mx)
               .select(C.ENTITY_ID, C.ITEM_ID, _norm(C.WEIGHT).alias(C.SCORE)))
    return rules.apply_rules(glob.unionByName(per_cat), catalog, run_date=run_date, k=k,
                             max_per_category=max_per_category, freshness_boost=freshness_boost,
                             freshness_days=freshness_days, bought=None)


def with_contract_columns(lists: DataFrame, *, model_version: str, run_date: date,
                          generated_at: datetime) -> DataFrame:
    """(entity_id, items, source) -> the topk_* table schema (docs/TOPK_CONTRACT.md)."""
    return lists.select(
        F.col(C.ENTITY_ID).cast("string").alias(C.ENTITY_ID), C.ITEMS,
        F.col(C.SOURCE).cast("string").alias(C.SOURCE),
        F.lit(model_version).cast("string").alias(C.MODEL_VERSION),
        F.lit(run_date).cast("date").alias(C.RUN_DATE),
        F.lit(generated_at).cast("timestamp").alias(C.GENERATED_AT))


def list_summary(lists: DataFrame, *, k: int) -> dict[str, Any]:
    """Entities, fallback share and list-length distribution of one written table (one row)."""
    n = F.size(C.ITEMS)
    row = lists.agg(
        F.count(F.lit(1)).alias("entities"),
        F.sum(F.when(F.col(C.SOURCE) == "fallback", 1).otherwise(0)).alias("fallback"),
        F.min(n).alias("len_min"), F.percentile_approx(n, 0.5).alias("len_p50"),
        F.max(n).alias("len_max"), F.avg(n).alias("len_mean"),
        F.sum(F.when(n < k, 1).otherwise(0)).alias("short")).first()
    entities = int(row["entities"] or 0)
    return {"entities": entities, "fallback_lists": int(row["fallback"] or 0),
            "fallback_share": round((row["fallback"] or 0) / entities, 4) if entities else 0.0,
            "list_len": {"min": row["len_min"], "p50": row["len_p50"], "max": row["len_max"],
                         "mean": round(row["len_mean"] or 0.0, 2),
                         f"shorter_than_{k}": int(row["short"] or 0)}}
