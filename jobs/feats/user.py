"""User features as of a date: activity over short/mid/long windows, smoothed CTR and conversion,
recency, tenure, segment code and the mean price of engaged items (price-band affinity lives in
jobs/feats/user_item.py)."""
from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.common import columns as C
from jobs.feats.base import (
    DAY,
    Priors,
    Windows,
    days_since,
    feature_ts,
    smoothed,
    windowed,
    with_grade_counts,
)

KEYS = (C.USER_ID,)
OUTPUT = (C.USER_ID, C.AS_OF_DATE, C.FEATURE_TS, *C.USER_FEATURES)


def daily(events: DataFrame, catalog: DataFrame) -> DataFrame:
    """One row per (user, day): event counts, last event time, price sum of engaged items."""
    engaged = F.col(C.EVENT_TYPE).isin(C.CLICK, C.ADD_TO_CART, C.PURCHASE)
    prices = catalog.select(C.ITEM_ID, C.PRICE)
    return (events.filter(F.col(C.USER_ID).isNotNull())
            .transform(with_grade_counts)
            .join(prices, on=C.ITEM_ID, how="left")
            .groupBy(C.USER_ID, DAY)
            .agg(F.sum("n_impr").alias("n_impr"), F.sum("n_click").alias("n_click"),
                 F.sum("n_purchase").alias("n_purchase"), F.max(C.TS).alias("last_ts"),
                 F.sum(F.when(engaged, F.col(C.PRICE))).alias("price_sum"),
                 F.sum(F.when(engaged & F.col(C.PRICE).isNotNull(), 1).otherwise(0))
                 .alias("price_n"))
            .select(*KEYS, DAY, "n_impr", "n_click", "n_purchase", "last_ts", "price_sum",
                    "price_n"))


def transform(events: DataFrame, catalog: DataFrame, users: DataFrame | None, *,
              windows: Windows, priors: Priors, as_of: date | None = None,
              requests: DataFrame | None = None) -> DataFrame:
    """Snapshot at ``as_of`` (every user with history) or for explicit ``requests``
    (user_id, as_of_date). ``users``: raw_users (user_id, segment, signup_date) or None."""
    dly = daily(events, catalog)
    sums = {f"u_impr_{n}": ("n_impr", w) for n, w in windows.items()}
    sums |= {f"u_clicks_{n}": ("n_click", w) for n, w in windows.items()}
    sums |= {"u_purchases_long": ("n_purchase", windows.long),
             "price_sum": ("price_sum", windows.long), "price_n": ("price_n", windows.long)}
    agg = windowed(dly, KEYS, sums, {"last_ts": ("last_ts", None)}, as_of=as_of, requests=requests)
    if users is None:
        users = agg.sparkSession.createDataFrame([], f"{C.USER_ID} string, {C.SEGMENT} string, "
                                                     f"{C.SIGNUP_DATE} date")
    attrs = (users.groupBy(C.USER_ID)
             .agg(F.min(C.SEGMENT).alias(C.SEGMENT), F.min(C.SIGNUP_DATE).alias(C.SIGNUP_DATE)))
    return (agg.join(attrs, on=C.USER_ID, how="left")
            .withColumn("u_ctr", smoothed(F.col("u_clicks_long"), F.col("u_impr_long"),
                                          priors.ctr, priors.strength))
            .withColumn("u_cvr", smoothed(F.col("u_purchases_long"), F.col("u_clicks_long"),
                                          priors.cvr, priors.strength))
            .withColumn("u_recency_days", days_since(F.col("last_ts"), F.col(C.AS_OF_DATE)))
            .withColumn("u_tenure_days",
                        F.datediff(F.date_add(F.col(C.AS_OF_DATE), 1), F.col(C.SIGNUP_DATE)))
            .withColumn("u_segment_code", segment_code(F.col(C.SEGMENT)))
            .withColumn("u_mean_price", F.when(F.col("price_n") > 0,
                                               F.col("price_sum") / F.col("price_n")))
            .withColumn(C.FEATURE_TS, feature_ts(F.col(C.AS_OF_DATE)))
            .select(*KEYS, C.AS_OF_DATE, C.FEATURE_TS,
                    *[F.col(c).cast("double").alias(c) for c in C.USER_FEATURES]))


def segment_code(segment):
    """Stable numeric code of a segment string (hash mod 1000; null stays null): the same
    segment gets the same code in every run without a fitted dictionary."""
    return F.when(segment.isNotNull(), F.pmod(F.xxhash64(segment), F.lit(1000)))
