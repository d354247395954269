"""User x item history and user affinities (category / brand / price band) as of a date.

features_user_item: impressions, clicks, add-to-carts, purchases of the pair in the long window and
days since the pair's last event. features_user_category: per (user, affinity_key) the engaged
events (click/add-to-cart/purchase) and clicks in the long window and the key's share of the user's
engaged events within its facet; ``affinity_key`` is ``category=<path>``, ``brand=<brand>`` or
``price_band=<n>`` so one table and one Feast view serve all three affinities.
"""
from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.common import columns as C
from jobs.feats.base import (
    DAY,
    HIST,
    Windows,
    days_since,
    feature_ts,
    price_band,
    windowed,
    with_grade_counts,
)

UI_KEYS = (C.USER_ID, C.ITEM_ID)
UI_TABLE_FEATURES = ("ui_impr", "ui_clicks", "ui_atc", "ui_purchases", "ui_recency_days")
UI_OUTPUT = (C.USER_ID, C.ITEM_ID, C.AS_OF_DATE, C.FEATURE_TS, *UI_TABLE_FEATURES)
UA_KEYS = (C.USER_ID, C.AFFINITY_KEY)
UA_TABLE_FEATURES = ("aff_events", "aff_clicks", "aff_share")
UA_OUTPUT = (C.USER_ID, C.AFFINITY_KEY, C.AS_OF_DATE, C.FEATURE_TS, *UA_TABLE_FEATURES)
FACETS = ("category", "brand", "price_band")


def category_key(category: Column) -> Column:
    return F.concat(F.lit("category="), category)


def brand_key(brand: Column) -> Column:
    return F.concat(F.lit("brand="), brand)


def price_band_key(price: Column) -> Column:
    return F.concat(F.lit("price_band="), price_band(price).cast("string"))


def transform_user_item(events: DataFrame, *, windows: Windows, as_of: date | None = None,
                        requests: DataFrame | None = None) -> DataFrame:
    dly = (events.filter(F.col(C.USER_ID).isNotNull()).transform(with_grade_counts)
           .groupBy(*UI_KEYS, DAY)
           .agg(*[F.sum(c).alias(c) for c in ("n_impr", "n_click", "n_atc", "n_purchase")],
                F.max(C.TS).alias("last_ts")))
    w = windows.long
    agg = windowed(dly, UI_KEYS,
                   {"ui_impr": ("n_impr", w), "ui_clicks": ("n_click", w),
                    "ui_atc": ("n_atc", w), "ui_purchases": ("n_purchase", w)},
                   {"last_ts": ("last_ts", None)}, as_of=as_of, requests=requests)
    return (agg.withColumn("ui_recency_days", days_since(F.col("last_ts"), F.col(C.AS_OF_DATE)))
            .withColumn(C.FEATURE_TS, feature_ts(F.col(C.AS_OF_DATE)))
            .select(*UI_KEYS, C.AS_OF_DATE, C.FEATURE_TS,
                    *[F.col(c).cast("double").alias(c) for c in UI_TABLE_FEATURES]))


def transform_affinity(events: DataFrame, catalog: DataFrame, *, windows: Windows,
                       as_of: date | None = None, requests: DataFrame | None = None) -> DataFrame:
    cat = catalog.select(C.ITEM_ID, C.CATEGORY, C.BRAND, C.PRICE)
    engaged = (events.filter(F.col(C.USER_ID).isNotNull()
                             & F.col(C.EVENT_TYPE).isin(C.CLICK, C.ADD_TO_CART, C.PURCHASE))
               .transform(with_grade_counts)
               .join(cat, on=C.ITEM_ID, how="inner")
               .withColumn("_keys", F.array(category_key(F.col(C.CATEGORY)),
                                            brand_key(F.col(C.BRAND)),
                                            price_band_key(F.col(C.PRICE))))
               .withColumn(C.AFFINITY_KEY, F.explode("_keys"))
               .filter(F.col(C.AFFINITY_KEY).isNotNull()))
    dly = (engaged.groupBy(*UA_KEYS, DAY)
           .agg(F.count("*").alias("n_eng"), F.sum("n_click").alias("n_click")))
    agg = windowed(dly, UA_KEYS, {"aff_events": ("n_eng", windows.long),
                                  "aff_clicks": ("n_click", windows.long)},
                   as_of=as_of, requests=requests)
    # the facet total comes from its own as-of aggregate, not from the requested keys, so a
    # share does not depend on which other keys happened to be requested (windowed() requests
    # it for the (user, facet) of every key the call above requested)
    facet = F.split(F.col(C.AFFINITY_KEY), "=").getItem(0)
    fkeys = (C.USER_ID, "_facet")
    facet_requests = (None if requests is None else
                      requests.withColumn("_facet", facet).select(*fkeys, C.AS_OF_DATE))
    totals = windowed(
        dly.withColumn("_facet", facet).groupBy(*fkeys, DAY).agg(F.sum("n_eng").alias("n_eng")),
        fkeys, {"_total": ("n_eng", windows.long)}, as_of=as_of,
        requests=facet_requests).drop(HIST)
    return (agg.withColumn("_facet", facet)
            .join(totals, on=[*fkeys, C.AS_OF_DATE], how="left")
            .withColumn("aff_share", F.when(F.col("_total") > 0, F.col("aff_events") / F.col("_total"))
                        .otherwise(F.lit(0.0)))
            .withColumn(C.FEATURE_TS, feature_ts(F.col(C.AS_OF_DATE)))
            .select(*UA_KEYS, C.AS_OF_DATE, C.FEATURE_TS,
                    *[F.col(c).cast("double").alias(c) for c in UA_TABLE_FEATURES]))
