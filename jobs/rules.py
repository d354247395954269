"""Business rules applied after scoring, each a pure DataFrame transform (no IO, no now()).

A scored frame has ``entity_id, item_id, score`` plus the item attributes the rules need
(``category, created_at, in_stock``, attached by :func:`with_item_attributes`). Order of
application (see :func:`apply_rules`): drop out-of-stock -> drop recently bought -> freshness boost
-> category cap in the top 10 -> rank with the deterministic tie-break (score desc, item id asc)
and keep the top k as ``items: array<struct<rank, item_id, score>>``.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.common import columns as C

_CAT_RANK, _OPEN_RANK = "_cat_rank", "_open_rank"
NO_CATEGORY = "__none__"  # items without a category form one group for the cap


def order_cols() -> list[Column]:
    """The one tie-break: tier, then score desc, then item id asc."""
    return [F.col(C.TIER).asc(), F.col(C.SCORE).desc_nulls_last(), F.col(C.ITEM_ID).asc()]


def _window(*partition: str, order: list[Column]) -> Window:
    return (Window.partitionBy(*partition).orderBy(*order)
            .rowsBetween(Window.unboundedPreceding, Window.currentRow))


def with_item_attributes(scored: DataFrame, catalog: DataFrame) -> DataFrame:
    """Attach category/created_at/in_stock; items missing from the catalogue get in_stock null."""
    attrs = catalog.select(C.ITEM_ID, C.CATEGORY, C.CREATED_AT, C.IN_STOCK)
    return scored.join(attrs, on=C.ITEM_ID, how="left").select(
        C.ENTITY_ID, C.ITEM_ID, C.SCORE, C.CATEGORY, C.CREATED_AT, C.IN_STOCK)


def filter_in_stock(df: DataFrame) -> DataFrame:
    """Drop out-of-stock items (and items the catalogue does not know: in_stock null)."""
    return df.where(F.coalesce(F.col(C.IN_STOCK), F.lit(False)))


def recent_purchases(events: DataFrame, *, run_date: date, days: int) -> DataFrame:
    """(entity_id=user, item_id) bought in the ``days`` days ending with run_date."""
    return (events.where((F.col(C.EVENT_TYPE) == C.PURCHASE) & F.col(C.USER_ID).isNotNull()
                         & (F.col(C.EVENT_DATE) > F.date_sub(F.lit(run_date), days))
                         & (F.col(C.EVENT_DATE) <= F.lit(run_date)))
            .select(F.col(C.USER_ID).alias(C.ENTITY_ID), C.ITEM_ID).distinct())


def filter_recently_bought(df: DataFrame, bought: DataFrame) -> DataFrame:
    """Drop (entity, item) pairs present in ``bought``."""
    return df.join(bought.select(C.ENTITY_ID, C.ITEM_ID), on=[C.ENTITY_ID, C.ITEM_ID],
                   how="left_anti").select(*df.columns)


def with_freshness_boost(df: DataFrame, *, run_date: date, boost: float, days: int) -> DataFrame:
    """Add ``boost`` to the score of items created in the ``days`` days ending with run_date."""
    end = datetime.combine(run_date + timedelta(days=1), time(0), tzinfo=timezone.utc)
    start = end - timedelta(days=days)
    fresh = (F.col(C.CREATED_AT) >= F.lit(start)) & (F.col(C.CREATED_AT) < F.lit(end))
    return df.withColumn(C.SCORE, F.when(fresh, F.col(C.SCORE) + F.lit(float(boost)))
                         .otherwise(F.col(C.SCORE))).select(*df.columns)


def with_category_cap(df: DataFrame, *, max_per_category: int, top_n: int = 10) -> DataFrame:
    """Adds ``tier``: at most ``max_per_category`` items of one category in the first ``top_n``.

    Greedy over the score order: an item enters the top ``top_n`` only if fewer than
    ``max_per_category`` of its category are already there; deferred items (tier 1) follow in score
    order. The list is never shortened: when too few other categories exist, deferred items fill it.
    """
    cat = F.coalesce(F.col(C.CATEGORY), F.lit(NO_CATEGORY))
    base = [F.col(C.SCORE).desc_nulls_last(), F.col(C.ITEM_ID).asc()]
    # one shuffle by entity serves all three windows (entity,cat), (entity,open), (entity) below
    ranked = df.repartition(C.ENTITY_ID).withColumn("_cat", cat).withColumn(
        _CAT_RANK, F.row_number().over(_window(C.ENTITY_ID, "_cat", order=base)))
    open_ = F.col(_CAT_RANK) <= max_per_category
    ranked = ranked.withColumn("_open", open_.cast("int")).withColumn(
        _OPEN_RANK, F.row_number().over(_window(C.ENTITY_ID, "_open", order=base)))
    tier = F.when(open_ & (F.col(_OPEN_RANK) <= top_n), F.lit(0)).otherwise(F.lit(1))
    return ranked.withColumn(C.TIER, tier).select(*df.columns, C.TIER)


def rank_lists(df: DataFrame, *, k: int) -> DataFrame:
    """(entity_id, items): top k by (tier, score desc, item id asc), items sorted by rank.
    Frames without ``tier`` rank by score alone."""
    if C.TIER not in df.columns:
        df = df.withColumn(C.TIER, F.lit(0))
    ranked = df.withColumn(C.RANK, F.row_number().over(_window(C.ENTITY_ID, order=order_cols())))
    item = F.struct(F.col(C.RANK).cast("int").alias(C.RANK), F.col(C.ITEM_ID).alias(C.ITEM_ID),
                    F.col(C.SCORE).cast("double").alias(C.SCORE))
    return (ranked.where(F.col(C.RANK) <= k).groupBy(C.ENTITY_ID)
            .agg(F.array_sort(F.collect_list(item)).alias(C.ITEMS))  # structs sort by rank first
            .select(C.ENTITY_ID, C.ITEMS))


def apply_rules(scored: DataFrame, catalog: DataFrame, *, run_date: date, k: int,
                max_per_category: int, freshness_boost: float, freshness_days: int,
                bought: DataFrame | None = None) -> DataFrame:
    """scored (entity_id, item_id, score) -> (entity_id, items) with every rule applied."""
    df = filter_in_stock(with_item_attributes(scored, catalog))
    if bought is not None:
        df = filter_recently_bought(df, bought)
    df = with_freshness_boost(df, run_date=run_date, boost=freshness_boost, days=freshness_days)
    return rank_lists(with_category_cap(df, max_per_category=max_per_category), k=k)
