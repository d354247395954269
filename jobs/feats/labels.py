"""Training groups and graded labels from clean interactions (or from a judgment list).

* query groups: one per (search session, normalised query); items = every item with an event in
  it; label = the strongest event's grade (features.label_grades, default purchase 3 >
  add_to_cart 2 > click 1 > impression 0).
* user groups: one per browse session (query null) with a user; same items/labels.
* item groups: anchor = the first clicked item of a browse session (earliest ts, ties by item_id);
  items = those impressed strictly after the anchor click (anchor excluded); label = strongest
  grade among their events after the anchor click.
Each row carries the group's start (``ctx_ts``: first event, or the anchor click) and its
``event_date`` = date(ctx_ts); features are read as of event_date - 1 (strictly before the group).
"""
from __future__ import annotations

from datetime import date
from typing import Mapping

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.common import columns as C
from jobs.common.text import normalize_query_col

OUTPUT = (C.LIST_TYPE, C.GROUP_ID, C.ENTITY_ID, C.ITEM_ID, C.LABEL, C.EVENT_DATE, C.CTX_TS)


def grade(event_type: Column, grades: Mapping[str, int]) -> Column:
    expr = F.lit(None).cast("int")
    for name, g in grades.items():
        expr = F.when(event_type == name, F.lit(int(g))).otherwise(expr)
    return expr


def _finish(df: DataFrame, list_type: str) -> DataFrame:
    start = F.min(C.TS).over(Window.partitionBy(C.GROUP_ID)
                             .rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing))
    return (df.withColumn(C.CTX_TS, start)
            .groupBy(C.GROUP_ID, C.ENTITY_ID, C.ITEM_ID, C.CTX_TS)
            .agg(F.max("_grade").alias(C.LABEL))
            .select(F.lit(list_type).alias(C.LIST_TYPE), C.GROUP_ID, C.ENTITY_ID, C.ITEM_ID,
                    F.col(C.LABEL).cast("int").alias(C.LABEL),
                    F.to_date(C.CTX_TS).alias(C.EVENT_DATE), C.CTX_TS))


def transform(events: DataFrame, *, start: date, end: date, grades: Mapping[str, int],
              min_group_size: int = 2) -> DataFrame:
    """All groups whose start lies in [start, end), with >= min_group_size items."""
    ev = (events.filter(F.col(C.EVENT_TYPE).isin(*grades.keys()))
          .withColumn("_grade", grade(F.col(C.EVENT_TYPE), grades)))
    query = (ev.filter(F.col(C.QUERY).isNotNull())
             .withColumn(C.GROUP_ID, F.concat_ws("|", F.lit("q"), C.SESSION_ID, C.QUERY))
             .withColumn(C.ENTITY_ID, F.col(C.QUERY))
             .transform(lambda d: _finish(d, "query")))
    browse = ev.filter(F.col(C.QUERY).isNull() & F.col(C.USER_ID).isNotNull())
    user = (browse.withColumn(C.GROUP_ID, F.concat_ws("|", F.lit("u"), C.SESSION_ID, C.USER_ID))
            .withColumn(C.ENTITY_ID, F.col(C.USER_ID))
            .transform(lambda d: _finish(d, "user")))
    first_click = Window.partitionBy(C.SESSION_ID, C.USER_ID).orderBy(C.TS, C.ITEM_ID)
    anchors = (browse.filter(F.col(C.EVENT_TYPE) == C.CLICK)
               .withColumn("_rn", F.row_number().over(first_click)).filter(F.col("_rn") == 1)
               .select(C.SESSION_ID, C.USER_ID, F.col(C.ITEM_ID).alias(C.ANCHOR_ITEM_ID),
                       F.col(C.TS).alias("_anchor_ts")))
    after = (browse.join(anchors, on=[C.SESSION_ID, C.USER_ID], how="inner")
             .filter((F.col(C.TS) > F.col("_anchor_ts"))
                     & (F.col(C.ITEM_ID) != F.col(C.ANCHOR_ITEM_ID))))
    impressed = (after.filter(F.col(C.EVENT_TYPE) == C.IMPRESSION)
                 .select(C.SESSION_ID, C.USER_ID, C.ITEM_ID).distinct())
    item = (after.join(impressed, on=[C.SESSION_ID, C.USER_ID, C.ITEM_ID], how="left_semi")
            .withColumn(C.GROUP_ID, F.concat_ws("|", F.lit("i"), C.SESSION_ID, C.USER_ID))
            .withColumn(C.ENTITY_ID, F.col(C.ANCHOR_ITEM_ID))
            .withColumn(C.TS, F.col("_anchor_ts"))  # the group starts at the anchor click
            .transform(lambda d: _finish(d, "item")))
    rows = query.unionByName(user).unionByName(item)
    size = F.count("*").over(Window.partitionBy(C.GROUP_ID)
                             .rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing))
    return (rows.filter((F.col(C.EVENT_DATE) >= F.lit(start)) & (F.col(C.EVENT_DATE) < F.lit(end)))
            .withColumn("_size", size).filter(F.col("_size") >= min_group_size)
            .select(*OUTPUT))


def with_judgment_labels(rows: DataFrame, judgments: DataFrame) -> DataFrame:
    """Query rows take the judged grade (max per query/item); unjudged query rows are dropped
    (the caller counts them). User and item rows keep their interaction labels."""
    j = (judgments.select(normalize_query_col(F.col(C.QUERY)).alias(C.ENTITY_ID), C.ITEM_ID,
                          F.col(C.GRADE).cast("int").alias("_jgrade"))
         .groupBy(C.ENTITY_ID, C.ITEM_ID).agg(F.max("_jgrade").alias("_jgrade"))
         .withColumn(C.LIST_TYPE, F.lit("query")))
    return (rows.join(j, on=[C.LIST_TYPE, C.ENTITY_ID, C.ITEM_ID], how="left")
            .filter((F.col(C.LIST_TYPE) != "query") | F.col("_jgrade").isNotNull())
            .withColumn(C.LABEL, F.coalesce(F.col("_jgrade"), F.col(C.LABEL)))
            .select(*OUTPUT))
