"""Item features as of a date: impressions/clicks over short/mid/long windows, smoothed CTR,
add-to-cart and purchase rates, trending score (mid vs long window click rate), price, age and
stock status from the catalog snapshot. Every catalog item gets a row, with or without events."""
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

KEYS = (C.ITEM_ID,)
ATTRS = (C.CATEGORY, C.BRAND)  # kept in the table for the affinity / item-item joins
OUTPUT = (C.ITEM_ID, C.AS_OF_DATE, C.FEATURE_TS, *ATTRS, *C.ITEM_FEATURES)
TREND_EPS = 0.1  # clicks/day added to both rates so a cold item's trend is ~0, not +-inf


def daily(events: DataFrame) -> DataFrame:
    return (events.transform(with_grade_counts)
            .groupBy(C.ITEM_ID, DAY)
            .agg(*[F.sum(c).alias(c) for c in ("n_impr", "n_click", "n_atc", "n_purchase")])
            .select(*KEYS, DAY, "n_impr", "n_click", "n_atc", "n_purchase"))


def transform(events: DataFrame, catalog: DataFrame, *, windows: Windows, priors: Priors,
              as_of: date | None = None, requests: DataFrame | None = None) -> DataFrame:
    dly = daily(events)
    sums = {f"i_impr_{n}": ("n_impr", w) for n, w in windows.items()}
    sums |= {f"i_clicks_{n}": ("n_click", w) for n, w in windows.items()}
    sums |= {"atc_long": ("n_atc", windows.long), "purchase_long": ("n_purchase", windows.long)}
    agg = windowed(dly, KEYS, sums, as_of=as_of, requests=requests, keep_without_history=True,
                   extra_keys=catalog)  # every catalog item gets a row
    cat = catalog.select(C.ITEM_ID, C.CATEGORY, C.BRAND, C.PRICE, C.IN_STOCK, C.CREATED_AT)
    mid_rate = F.col("i_clicks_mid") / F.lit(float(windows.mid))
    long_rate = F.col("i_clicks_long") / F.lit(float(windows.long))
    return (agg.join(cat, on=C.ITEM_ID, how="left")
            .withColumn("i_ctr", smoothed(F.col("i_clicks_long"), F.col("i_impr_long"),
                                          priors.ctr, priors.strength))
            .withColumn("i_atc_rate", smoothed(F.col("atc_long"), F.col("i_impr_long"),
                                               priors.atc, priors.strength))
            .withColumn("i_purchase_rate", smoothed(F.col("purchase_long"), F.col("i_impr_long"),
                                                    priors.purchase, priors.strength))
            .withColumn("i_trend", F.log((mid_rate + TREND_EPS) / (long_rate + TREND_EPS)))
            .withColumn("i_price", F.col(C.PRICE))
            .withColumn("i_age_days", days_since(F.col(C.CREATED_AT), F.col(C.AS_OF_DATE)))
            .withColumn("i_in_stock", F.col(C.IN_STOCK).cast("double"))
            .withColumn(C.FEATURE_TS, feature_ts(F.col(C.AS_OF_DATE)))
            .select(*KEYS, C.AS_OF_DATE, C.FEATURE_TS, *ATTRS,
                    *[F.col(c).cast("double").alias(c) for c in C.ITEM_FEATURES]))
