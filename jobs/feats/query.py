"""Query and query x item features as of a date.

query: search volume (sessions, long window), distinct items engaged (all history), length.
query x item: impressions/clicks under that query (long window), smoothed CTR / add-to-cart /
purchase rates, and a position-normalised CTR (clicks over expected clicks, COEC-style, with the
examination prior 1/log2(1 + position); a null position counts as position 1).
"""
from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.common import columns as C
from jobs.feats.base import (
    DAY,
    Priors,
    Windows,
    feature_ts,
    smoothed,
    windowed,
    with_grade_counts,
)

Q_KEYS = (C.QUERY,)
QI_KEYS = (C.QUERY, C.ITEM_ID)
Q_OUTPUT = (C.QUERY, C.AS_OF_DATE, C.FEATURE_TS, *C.QUERY_FEATURES)
QI_OUTPUT = (C.QUERY, C.ITEM_ID, C.AS_OF_DATE, C.FEATURE_TS, *C.QUERY_ITEM_FEATURES)


def query_length(query: Column) -> tuple[Column, Column]:
    """(tokens, characters) of a normalised query; shared with assemble (query text is known
    even for a query never seen before)."""
    tokens = F.when(F.length(query) > 0, F.size(F.split(query, " "))).otherwise(F.lit(0))
    return tokens.cast("double"), F.length(query).cast("double")


def _search(events: DataFrame) -> DataFrame:
    return events.filter(F.col(C.QUERY).isNotNull()).transform(with_grade_counts)


def transform_query(events: DataFrame, *, windows: Windows, as_of: date | None = None,
                    requests: DataFrame | None = None) -> DataFrame:
    ev = _search(events)
    engaged = ev.filter(F.col(C.EVENT_TYPE).isin(C.CLICK, C.ADD_TO_CART, C.PURCHASE))
    first_eng = (engaged.groupBy(C.QUERY, C.ITEM_ID).agg(F.min(DAY).alias(DAY))
                 .groupBy(C.QUERY, DAY).agg(F.count("*").alias("new_items")))
    sessions = ev.groupBy(C.QUERY, DAY).agg(F.countDistinct(C.SESSION_ID).alias("sessions"))
    dly = (sessions.join(first_eng, on=[C.QUERY, DAY], how="full")
           .select(C.QUERY, DAY, F.coalesce("sessions", F.lit(0)).alias("sessions"),
                   F.coalesce("new_items", F.lit(0)).alias("new_items")))
    agg = windowed(dly, Q_KEYS, {"q_volume": ("sessions", windows.long),
                                 "q_distinct_items": ("new_items", None)},
                   as_of=as_of, requests=requests)
    n_tok, n_chr = query_length(F.col(C.QUERY))
    return (agg.withColumn("q_len_tokens", n_tok).withColumn("q_len_chars", n_chr)
            .withColumn(C.FEATURE_TS, feature_ts(F.col(C.AS_OF_DATE)))
            .select(*Q_KEYS, C.AS_OF_DATE, C.FEATURE_TS,
                    *[F.col(c).cast("double").alias(c) for c in C.QUERY_FEATURES]))


def examination(position: Column) -> Column:
    return F.lit(1.0) / F.log2(F.coalesce(position, F.lit(1)).cast("double") + F.lit(1.0))


def transform_query_item(events: DataFrame, *, windows: Windows, priors: Priors,
                         as_of: date | None = None, requests: DataFrame | None = None) -> DataFrame:
    ev = _search(events).withColumn(
        "exp_click", F.when(F.col("n_impr") == 1, F.lit(priors.ctr) * examination(F.col(C.POSITION))))
    dly = (ev.groupBy(C.QUERY, C.ITEM_ID, DAY)
           .agg(*[F.sum(c).alias(c) for c in ("n_impr", "n_click", "n_atc", "n_purchase")],
                F.coalesce(F.sum("exp_click"), F.lit(0.0)).alias("exp_click")))
    w = windows.long
    agg = windowed(dly, QI_KEYS, {
        "qi_impr": ("n_impr", w), "qi_clicks": ("n_click", w), "atc": ("n_atc", w),
        "purchase": ("n_purchase", w), "exp_click": ("exp_click", w)}, as_of=as_of, requests=requests)
    k = priors.strength * priors.ctr
    return (agg
            .withColumn("qi_ctr", smoothed(F.col("qi_clicks"), F.col("qi_impr"), priors.ctr,
                                           priors.strength))
            .withColumn("qi_atc_rate", smoothed(F.col("atc"), F.col("qi_impr"), priors.atc,
                                                priors.strength))
            .withColumn("qi_purchase_rate", smoothed(F.col("purchase"), F.col("qi_impr"),
                                                     priors.purchase, priors.strength))
            .withColumn("qi_pos_norm_ctr", (F.col("qi_clicks") + F.lit(k))
                        / (F.col("exp_click") + F.lit(k)))
            .withColumn(C.FEATURE_TS, feature_ts(F.col(C.AS_OF_DATE)))
            .select(*QI_KEYS, C.AS_OF_DATE, C.FEATURE_TS,
                    *[F.col(c).cast("double").alias(c) for c in C.QUERY_ITEM_FEATURES]))
