"""The small dimension tables of the synthetic world as Spark DataFrames (built on the driver;
their size is bounded by items/users/queries in the config, never by events)."""
from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from jobs.common import columns as C
from jobs.gen import vocab
from jobs.gen.world import World

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

CATALOG_SCHEMA = (f"{C.ITEM_ID} string, {C.TITLE} string, {C.CATEGORY} string, {C.BRAND} string, "
                  f"{C.PRICE} double, {C.IN_STOCK} boolean, {C.CREATED_AT} timestamp")
USERS_SCHEMA = f"{C.USER_ID} string, {C.SEGMENT} string, {C.SIGNUP_DATE} date"
JUDGMENTS_SCHEMA = f"{C.QUERY} string, {C.ITEM_ID} string, {C.GRADE} int"
JUDGED_QUERIES = 50


def _frame(spark: SparkSession, table: pa.Table, schema: str) -> DataFrame:
    return spark.createDataFrame(table.to_pandas(), schema=schema)


def catalog_frame(spark: SparkSession, w: World) -> DataFrame:
    t = pa.table({C.ITEM_ID: pa.array(list(w.item_ids), pa.string()),
                  C.TITLE: pa.array(w.item_title, pa.string()),
                  C.CATEGORY: pa.array(w.item_category, pa.string()),
                  C.BRAND: pa.array(w.item_brand, pa.string()),
                  C.PRICE: pa.array(np.round(w.item_price, 2), pa.float64()),
                  C.IN_STOCK: pa.array(w.item_in_stock, pa.bool_()),
                  C.CREATED_AT: pa.array(w.item_created_us, pa.timestamp("us", tz="UTC"))})
    return _frame(spark, t, CATALOG_SCHEMA).select(
        C.ITEM_ID, C.TITLE, C.CATEGORY, C.BRAND, C.PRICE, C.IN_STOCK, C.CREATED_AT)


def users_frame(spark: SparkSession, w: World, normal_users: int) -> DataFrame:
    """Every user incl. bots (a bot looks like any casual user in the attributes)."""
    seg = np.array(vocab.SEGMENTS, dtype=object)[w.user_segment].copy()
    seg[normal_users:] = "casual"
    start = w.p.start_date
    signup = [start + timedelta(days=int(d)) for d in w.user_signup_day]
    t = pa.table({C.USER_ID: pa.array(list(w.user_ids), pa.string()),
                  C.SEGMENT: pa.array(list(seg), pa.string()),
                  C.SIGNUP_DATE: pa.array(signup, pa.date32())})
    return _frame(spark, t, USERS_SCHEMA).select(C.USER_ID, C.SEGMENT, C.SIGNUP_DATE)


def judgment_rows(w: World, seed: int) -> list[tuple[str, str, int]]:
    """Graded judgments for the most popular queries: their top-10 candidates + 5 random items.
    grade = 3 / 2 / 1 / 0 for true query utility >= 0.8 / 0.6 / 0.4 / below."""
    rng = np.random.default_rng([seed, 60])
    rows: list[tuple[str, str, int]] = []
    for q in np.argsort(-w.query_pop, kind="stable")[:JUDGED_QUERIES]:
        items = [int(i) for i in w.query_cand[q][:10] if i >= 0]
        items += [int(i) for i in rng.choice(len(w.item_ids), min(5, len(w.item_ids)), replace=False)]
        items = sorted(set(items))
        util = w.query_utility(np.full(len(items), q), np.array(items, np.int64))
        for i, u in zip(items, util):
            grade = 3 if u >= 0.8 else 2 if u >= 0.6 else 1 if u >= 0.4 else 0
            rows.append((w.query_text[q], str(w.item_ids[i]), grade))
    return rows


def judgments_frame(spark: SparkSession, w: World, seed: int) -> DataFrame:
    rows = judgment_rows(w, seed)
    return spark.createDataFrame(rows, JUDGMENTS_SCHEMA).select(C.QUERY, C.ITEM_ID, C.GRADE)
