"""Candidate generators of the top-K stage: pure DataFrame transforms, no IO, no now().

Inputs are ``interactions_clean`` rows of the history window (events through the end of the run
date D, ``topk.history_days`` long) and ``catalog_clean``. Every generator returns
``(entity_id, item_id[, weight])`` rows, at most ``n`` per entity and source, ordered for the
cut by (weight desc, item id asc) so the same data always gives the same candidates. Weights are
integer counts where possible; the one real-valued weight (recency-decayed popularity) is summed
over a sorted array so its value does not depend on Spark's partitioning.

Sources: user = neighbours (co-visitation + bought-together) of recently engaged items, popular
items of the user's top categories, trending, global popular; query = items engaged under the
query or any query sharing one of its normalised variants (jobs.common.text.query_variants),
title/category token matches, popular items of the query's categories; item = co-visitation,
bought-together, same-leaf-category popular.
"""
from __future__ import annotations

from datetime import date
from typing import Mapping

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.common import columns as C
from jobs.common.text import normalize_query_col

ENGAGED = (C.CLICK, C.ADD_TO_CART, C.PURCHASE)
BASKET = (C.ADD_TO_CART, C.PURCHASE)
_PW = "_pw"


def grade_col(grades: Mapping[str, int]) -> Column:
    """event_type -> integer engagement grade (0 for unknown types)."""
    expr = F.lit(0)
    for event_type, g in grades.items():
        expr = F.when(F.col(C.EVENT_TYPE) == event_type, F.lit(int(g))).otherwise(expr)
    return expr


def top_n(df: DataFrame, by: str, n: int, order: list[Column] | None = None) -> DataFrame:
    """Keep the n best rows per ``by``: weight desc, then item id asc (deterministic)."""
    order = order or [F.col(C.WEIGHT).desc(), F.col(C.ITEM_ID).asc()]
    w = Window.partitionBy(by).orderBy(*order).rowsBetween(Window.unboundedPreceding, Window.currentRow)
    return df.withColumn("_rn", F.row_number().over(w)).where(F.col("_rn") <= n).drop("_rn")


# --------------------------------------------------------------------------- item statistics
def item_popularity(events: DataFrame, *, run_date: date, half_life_days: float,
                    grades: Mapping[str, int]) -> DataFrame:
    """(item_id, popularity): sum of grade x 0.5^(age_days / half_life) over engaged events."""
    daily = (events.withColumn(C.WEIGHT, grade_col(grades)).where(F.col(C.WEIGHT) > 0)
             .groupBy(C.ITEM_ID, C.EVENT_DATE).agg(F.sum(C.WEIGHT).alias(C.WEIGHT)))
    age = F.datediff(F.lit(run_date), F.col(C.EVENT_DATE))
    return (daily.withColumn(_PW, F.col(C.WEIGHT) * F.pow(F.lit(0.5), age / F.lit(half_life_days)))
            .groupBy(C.ITEM_ID)
            .agg(F.array_sort(F.collect_list(F.struct(age.alias("a"), F.col(_PW).alias("p"))))
                 .alias("_arr"))
            .select(C.ITEM_ID, F.aggregate("_arr", F.lit(0.0), lambda acc, x: acc + x["p"])
                    .alias(C.POPULARITY)))


def in_stock_popularity(popularity: DataFrame, catalog: DataFrame) -> DataFrame:
    """Every in-stock catalogue item with its popularity (0 when never engaged) and category."""
    return (catalog.where(F.col(C.IN_STOCK)).select(C.ITEM_ID, C.CATEGORY)
            .join(popularity, on=C.ITEM_ID, how="left")
            .select(C.ITEM_ID, C.CATEGORY, F.coalesce(F.col(C.POPULARITY), F.lit(0.0))
                    .alias(C.POPULARITY)))


def popular_items(stock_pop: DataFrame, n: int) -> DataFrame:
    """(item_id, weight=popularity) of the n most popular in-stock items (a small frame)."""
    return (stock_pop.select(C.ITEM_ID, F.col(C.POPULARITY).alias(C.WEIGHT))
            .orderBy(F.col(C.WEIGHT).desc(), F.col(C.ITEM_ID).asc()).limit(n))


def category_popular(stock_pop: DataFrame, n: int) -> DataFrame:
    """(category, item_id, weight): n most popular in-stock items per leaf category."""
    return top_n(stock_pop.select(C.CATEGORY, C.ITEM_ID, F.col(C.POPULARITY).alias(C.WEIGHT))
                 .where(F.col(C.CATEGORY).isNotNull()), C.CATEGORY, n)


def trending_items(events: DataFrame, catalog: DataFrame, *, run_date: date, recent_days: int,
                   history_days: int, n: int, grades: Mapping[str, int]) -> DataFrame:
    """(item_id, weight): in-stock items whose last-``recent_days`` engagement most exceeds their
    share of the whole window ((recent + 1) / (expected + 1), integer counts in)."""
    g = grade_col(grades)
    recent = F.col(C.EVENT_DATE) > F.date_sub(F.lit(run_date), recent_days)
    sums = (events.withColumn(C.WEIGHT, g).where(F.col(C.WEIGHT) > 0).groupBy(C.ITEM_ID)
            .agg(F.sum(F.when(recent, F.col(C.WEIGHT)).otherwise(0)).alias("_r"),
                 F.sum(C.WEIGHT).alias("_t")))
    score = (F.col("_r") + 1.0) / (F.col("_t") * (recent_days / history_days) + 1.0)
    return (sums.where(F.col("_r") > 0)
            .join(catalog.where(F.col(C.IN_STOCK)).select(C.ITEM_ID), on=C.ITEM_ID, how="inner")
            .select(C.ITEM_ID, score.alias(C.WEIGHT))
            .orderBy(F.col(C.WEIGHT).desc(), F.col(C.ITEM_ID).asc()).limit(n))


# --------------------------------------------------------------------------- item neighbours
def _last_items(events: DataFrame, key: str, types: tuple[str, ...], max_items: int) -> DataFrame:
    """(key, item_id): the ``max_items`` most recently engaged distinct items per key."""
    eng = (events.where(F.col(key).isNotNull() & F.col(C.EVENT_TYPE).isin(*types))
           .groupBy(key, C.ITEM_ID).agg(F.max(C.TS).alias(C.TS)))
    return top_n(eng, key, max_items, [F.col(C.TS).desc(), F.col(C.ITEM_ID).asc()]).select(key, C.ITEM_ID)


def _pair_counts(baskets: DataFrame, key: str, n: int) -> DataFrame:
    a = baskets.select(key, C.ITEM_ID)
    b = baskets.select(key, F.col(C.ITEM_ID).alias(C.NEIGHBOR_ID))
    pairs = (a.join(b, on=key, how="inner").where(F.col(C.ITEM_ID) != F.col(C.NEIGHBOR_ID))
             .groupBy(C.ITEM_ID, C.NEIGHBOR_ID).agg(F.count(F.lit(1)).alias(C.WEIGHT)))
    return top_n(pairs, C.ITEM_ID, n, [F.col(C.WEIGHT).desc(), F.col(C.NEIGHBOR_ID).asc()]).select(
        C.ITEM_ID, C.NEIGHBOR_ID, C.WEIGHT)


def covisitation(events: DataFrame, *, session_max_items: int, n: int) -> DataFrame:
    """(item_id, neighbor_id, weight=#sessions engaging both); per session only its last items."""
    return _pair_counts(_last_items(events, C.SESSION_ID, ENGAGED, session_max_items), C.SESSION_ID, n)


def bought_together(events: DataFrame, *, basket_max_items: int, n: int) -> DataFrame:
    """(item_id, neighbor_id, weight=#users who carted/bought both in the window)."""
    return _pair_counts(_last_items(events, C.USER_ID, BASKET, basket_max_items), C.USER_ID, n)


# --------------------------------------------------------------------------- per-entity sources
def _union(*frames: DataFrame) -> DataFrame:
    out = frames[0].select(C.ENTITY_ID, C.ITEM_ID)
    for f in frames[1:]:
        out = out.unionByName(f.select(C.ENTITY_ID, C.ITEM_ID))
    return out.distinct()


def engaged_users(events: DataFrame) -> DataFrame:
    """Users with at least one click/cart/purchase in the window: they get personalised lists."""
    return (events.where(F.col(C.USER_ID).isNotNull() & F.col(C.EVENT_TYPE).isin(*ENGAGED))
            .select(F.col(C.USER_ID).alias(C.ENTITY_ID)).distinct())


def user_top_categories(events: DataFrame, catalog: DataFrame, *, n: int,
                        types: tuple[str, ...] = ENGAGED) -> DataFrame:
    """(entity_id=user, category, weight=#events): the user's n most engaged leaf categories."""
    cats = (events.where(F.col(C.USER_ID).isNotNull() & F.col(C.EVENT_TYPE).isin(*types))
            .join(catalog.select(C.ITEM_ID, C.CATEGORY), on=C.ITEM_ID, how="inner")
            .where(F.col(C.CATEGORY).isNotNull())
            .groupBy(F.col(C.USER_ID).alias(C.ENTITY_ID), C.CATEGORY)
            .agg(F.count(F.lit(1)).alias(C.WEIGHT)))
    return top_n(cats, C.ENTITY_ID, n, [F.col(C.WEIGHT).desc(), F.col(C.CATEGORY).asc()])


def neighbour_candidates(anchors: DataFrame, neighbours: DataFrame, n: int) -> DataFrame:
    """(entity_id, item_id, weight): items next to the entity's anchor items, summed weights."""
    return top_n(anchors.join(neighbours, on=C.ITEM_ID, how="inner")
                 .groupBy(C.ENTITY_ID, F.col(C.NEIGHBOR_ID).alias(C.ITEM_ID))
                 .agg(F.sum(C.WEIGHT).alias(C.WEIGHT)), C.ENTITY_ID, n)


def category_candidates(entity_cats: DataFrame, cat_pop: DataFrame, n: int) -> DataFrame:
    """(entity_id, item_id, weight=popularity): popular items of the entity's categories."""
    return top_n(entity_cats.select(C.ENTITY_ID, C.CATEGORY).join(cat_pop, on=C.CATEGORY, how="inner")
                 .groupBy(C.ENTITY_ID, C.ITEM_ID).agg(F.max(C.WEIGHT).alias(C.WEIGHT)), C.ENTITY_ID, n)


def user_candidates(events: DataFrame, catalog: DataFrame, *, neighbours: DataFrame,
                    cat_pop: DataFrame, trending: DataFrame, popular: DataFrame, n: int,
                    recent_items: int, top_categories: int) -> DataFrame:
    users = engaged_users(events)
    recent = _last_items(events, C.USER_ID, ENGAGED, recent_items).withColumnRenamed(C.USER_ID, C.ENTITY_ID)
    near = neighbour_candidates(recent, neighbours, n)
    cats = category_candidates(user_top_categories(events, catalog, n=top_categories), cat_pop, n)
    return _union(near, cats, users.crossJoin(F.broadcast(trending.select(C.ITEM_ID))),
                  users.crossJoin(F.broadcast(popular.select(C.ITEM_ID)))).select(C.ENTITY_ID, C.ITEM_ID)


def query_variants_col(q: Column) -> Column:
    """Spark twin of jobs.common.text.query_variants (tested against it): array, first = q."""
    tokens = F.split(q, " ")
    singular = F.array_join(F.transform(tokens, lambda t: F.when(
        (F.length(t) > 3) & t.endswith("s"), t.substr(F.lit(1), F.length(t) - 1)).otherwise(t)), " ")
    ordered = F.array_join(F.array_sort(tokens), " ")
    ordered_singular = F.array_join(F.array_sort(F.split(singular, " ")), " ")
    return F.filter(F.array_distinct(F.array(q, singular, ordered, ordered_singular)),
                    lambda v: v != F.lit(""))


def search_queries(events: DataFrame) -> DataFrame:
    """(entity_id=normalised query) seen in the window, empty strings excluded."""
    return (events.where(F.col(C.QUERY).isNotNull() & (F.col(C.QUERY) != ""))
            .select(F.col(C.QUERY).alias(C.ENTITY_ID)).distinct())


def query_engaged(events: DataFrame, queries: DataFrame, *, n: int,
                  grades: Mapping[str, int]) -> DataFrame:
    """(entity_id, item_id, weight): items engaged under the query or any query sharing one of its
    variant keys (each related query counted once)."""
    keys = queries.select(C.ENTITY_ID, F.explode(query_variants_col(F.col(C.ENTITY_ID))).alias("_k"))
    related = (keys.join(keys.withColumnRenamed(C.ENTITY_ID, "_rel"), on="_k", how="inner")
               .select(C.ENTITY_ID, "_rel").distinct())
    eng = (events.where(F.col(C.QUERY).isNotNull() & F.col(C.EVENT_TYPE).isin(*ENGAGED))
           .withColumn(C.WEIGHT, grade_col(grades))
           .groupBy(F.col(C.QUERY).alias("_rel"), C.ITEM_ID).agg(F.sum(C.WEIGHT).alias(C.WEIGHT)))
    return top_n(related.join(eng, on="_rel", how="inner").groupBy(C.ENTITY_ID, C.ITEM_ID)
                 .agg(F.sum(C.WEIGHT).alias(C.WEIGHT)), C.ENTITY_ID, n)


def item_tokens(catalog: DataFrame) -> DataFrame:
    """(item_id, token): distinct normalised tokens of title and category path."""
    text = F.concat_ws(" ", F.col(C.TITLE), F.regexp_replace(F.col(C.CATEGORY), "/", " "))
    return (catalog.select(C.ITEM_ID, F.explode(F.array_distinct(F.split(normalize_query_col(text), " ")))
                           .alias("_tok")).where(F.col("_tok") != ""))


def text_match(queries: DataFrame, catalog: DataFrame, stock_pop: DataFrame, n: int) -> DataFrame:
    """(entity_id, item_id, weight=#query tokens (or their singular) in title/category);
    ties broken by popularity then item id."""
    q_tok = (queries.select(C.ENTITY_ID, F.explode(F.array_distinct(F.flatten(F.transform(
        F.slice(query_variants_col(F.col(C.ENTITY_ID)), 1, 2), lambda v: F.split(v, " ")))))
        .alias("_tok")))
    hits = (q_tok.join(item_tokens(catalog.where(F.col(C.IN_STOCK))), on="_tok", how="inner")
            .groupBy(C.ENTITY_ID, C.ITEM_ID).agg(F.count(F.lit(1)).alias(C.WEIGHT))
            .join(stock_pop.select(C.ITEM_ID, C.POPULARITY), on=C.ITEM_ID, how="left"))
    return top_n(hits, C.ENTITY_ID, n, [F.col(C.WEIGHT).desc(), F.col(C.POPULARITY).desc_nulls_last(),
                                        F.col(C.ITEM_ID).asc()]).select(C.ENTITY_ID, C.ITEM_ID, C.WEIGHT)


def item_categories(entity_items: DataFrame, catalog: DataFrame, n: int) -> DataFrame:
    """(entity_id, category, weight): the n leaf categories most present among entity items."""
    cats = (entity_items.join(catalog.select(C.ITEM_ID, C.CATEGORY), on=C.ITEM_ID, how="inner")
            .where(F.col(C.CATEGORY).isNotNull())
            .groupBy(C.ENTITY_ID, C.CATEGORY).agg(F.count(F.lit(1)).alias(C.WEIGHT)))
    return top_n(cats, C.ENTITY_ID, n, [F.col(C.WEIGHT).desc(), F.col(C.CATEGORY).asc()])


def query_candidates(engaged: DataFrame, matched: DataFrame, catalog: DataFrame, *,
                     cat_pop: DataFrame, n: int, top_categories: int) -> DataFrame:
    """Union of engaged-under-query, text matches and the query's categories' popular items,
    for queries with engagement history (the others get fallback lists)."""
    hist = engaged.select(C.ENTITY_ID).distinct()
    cats = item_categories(_union(engaged, matched), catalog, top_categories)
    return _union(engaged, matched, category_candidates(cats, cat_pop, n)).join(
        hist, on=C.ENTITY_ID, how="left_semi").select(C.ENTITY_ID, C.ITEM_ID)


def item_candidates(covis: DataFrame, fbt: DataFrame, catalog: DataFrame,
                    cat_pop: DataFrame) -> DataFrame:
    """(entity_id=anchor item, item_id) for in-stock anchors with co-visitation/bought-together
    neighbours: those, plus popular items of the anchor's leaf category (never the anchor)."""
    anchors = catalog.where(F.col(C.IN_STOCK)).select(F.col(C.ITEM_ID).alias(C.ENTITY_ID), C.CATEGORY)
    near = covis.unionByName(fbt).select(F.col(C.ITEM_ID).alias(C.ENTITY_ID),
                                         F.col(C.NEIGHBOR_ID).alias(C.ITEM_ID))
    with_hist = anchors.join(near.select(C.ENTITY_ID).distinct(), on=C.ENTITY_ID, how="left_semi")
    same_cat = with_hist.join(cat_pop, on=C.CATEGORY, how="inner")
    return (_union(near.join(with_hist, on=C.ENTITY_ID, how="left_semi"), same_cat)
            .where(F.col(C.ENTITY_ID) != F.col(C.ITEM_ID)).select(C.ENTITY_ID, C.ITEM_ID))
