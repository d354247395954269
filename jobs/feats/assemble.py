"""Joins feature snapshots onto (list_type, entity, item, as_of_date) rows: the ONE code path for
training rows (as_of_date = row date - 1) and serving candidates (as_of_date = run date).

Each family applies only to its list type; elsewhere the column is null ("not applicable"):
user/ui/affinity -> user lists, query/qi -> query lists, item-item -> item lists, text -> query and
item lists (item lists use the anchor's title as the query), item + context -> all. A pair with no
history gets the family's "unseen" default (counts 0, rates = prior mean) -- the same whether the
row is for training or serving, since both go through this function.
"""
from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.common import columns as C
from jobs.feats import context, query, text
from jobs.feats.base import Priors
from jobs.feats.item import TREND_EPS
from jobs.feats.user_item import brand_key, category_key, price_band_key

UID, QRY, ANCHOR = "_uid", "_q", "_anchor"
CAT, BRAND = "_cat", "_brand"


@dataclass(frozen=True)
class FeatureTables:
    """Snapshots (with as_of_date) of every family, plus the text vocabulary and the catalog."""

    user: DataFrame
    item: DataFrame
    query: DataFrame
    query_item: DataFrame
    user_item: DataFrame
    affinity: DataFrame
    idf: DataFrame
    catalog: DataFrame


def _defaults(p: Priors) -> dict[str, float | None]:
    zero = {c: 0.0 for c in C.FEATURE_COLUMNS if "_impr" in c or "_clicks" in c}
    return {**zero, "u_purchases_long": 0.0, "u_ctr": p.ctr, "u_cvr": p.cvr,
            "i_ctr": p.ctr, "i_atc_rate": p.atc, "i_purchase_rate": p.purchase, "i_trend": 0.0,
            "q_volume": 0.0, "q_distinct_items": 0.0, "qi_ctr": p.ctr, "qi_atc_rate": p.atc,
            "qi_purchase_rate": p.purchase, "qi_pos_norm_ctr": 1.0, "ui_atc": 0.0,
            "ui_purchases": 0.0, "uc_share": 0.0, "uc_clicks": 0.0, "ub_share": 0.0,
            "up_share": 0.0}


def _applies(lists: tuple[str, ...]) -> Column:
    return F.col(C.LIST_TYPE).isin(*lists)


def _snap(df: DataFrame, keys: dict[str, str], cols: dict[str, str]) -> DataFrame:
    """Select keys (renamed) + as_of_date + feature columns (renamed) from a snapshot table."""
    return df.select(*[F.col(k).alias(v) for k, v in keys.items()], C.AS_OF_DATE,
                     *[F.col(k).alias(v) for k, v in cols.items()])


def join_features(rows: DataFrame, t: FeatureTables, *, priors: Priors, k1: float = 1.2,
                  b: float = 0.75) -> DataFrame:
    """rows: list_type, entity_id, item_id, as_of_date, ctx_ts (+ any passthrough columns).
    Returns the passthrough columns + every FEATURE_COLUMNS column (double)."""
    passthrough = [c for c in rows.columns if c not in (C.AS_OF_DATE, C.CTX_TS)]
    lt, ent = F.col(C.LIST_TYPE), F.col(C.ENTITY_ID)
    titles = t.catalog.select(F.col(C.ITEM_ID).alias(ANCHOR), F.col(C.TITLE).alias("_a_title"))
    df = (rows.withColumn(UID, F.when(lt == "user", ent))
          .withColumn(QRY, F.when(lt == "query", ent))
          .withColumn(ANCHOR, F.when(lt == "item", ent))
          .join(titles, on=ANCHOR, how="left")
          .withColumn(text.QTEXT, F.when(lt == "query", ent).when(lt == "item", F.col("_a_title"))))
    # text pairs come from this small plan, not from the joined frame below: text.transform reads
    # its input several times, and a dozen feature joins under it would be planned once per read
    txt = text.transform(df.select(text.QTEXT, C.ITEM_ID), t.catalog, t.idf, k1=k1, b=b)
    same = {c: c for c in C.ITEM_FEATURES}
    df = df.join(_snap(t.item, {C.ITEM_ID: C.ITEM_ID}, {**same, C.CATEGORY: CAT, C.BRAND: BRAND}),
                 on=[C.ITEM_ID, C.AS_OF_DATE], how="left")
    ufe = [c for c in C.USER_FEATURES]
    df = df.join(_snap(t.user, {C.USER_ID: UID}, {c: c for c in ufe}), on=[UID, C.AS_OF_DATE],
                 how="left")
    df = df.join(_snap(t.query, {C.QUERY: QRY}, {"q_volume": "q_volume",
                                                   "q_distinct_items": "q_distinct_items"}),
                 on=[QRY, C.AS_OF_DATE], how="left")
    df = df.join(_snap(t.query_item, {C.QUERY: QRY, C.ITEM_ID: C.ITEM_ID},
                       {c: c for c in C.QUERY_ITEM_FEATURES}),
                 on=[QRY, C.ITEM_ID, C.AS_OF_DATE], how="left")
    ui = ("ui_impr", "ui_clicks", "ui_atc", "ui_purchases", "ui_recency_days")
    df = df.join(_snap(t.user_item, {C.USER_ID: UID, C.ITEM_ID: C.ITEM_ID}, {c: c for c in ui}),
                 on=[UID, C.ITEM_ID, C.AS_OF_DATE], how="left")
    for name, key_col, cols in (
            ("_kc", category_key(F.col(CAT)), {"aff_share": "uc_share", "aff_clicks": "uc_clicks"}),
            ("_kb", brand_key(F.col(BRAND)), {"aff_share": "ub_share"}),
            ("_kp", price_band_key(F.col("i_price")), {"aff_share": "up_share"})):
        df = df.withColumn(name, key_col).join(
            _snap(t.affinity, {C.USER_ID: UID, C.AFFINITY_KEY: name}, cols),
            on=[UID, name, C.AS_OF_DATE], how="left")
    df = df.join(_snap(t.item, {C.ITEM_ID: ANCHOR}, {C.CATEGORY: "_a_cat", C.BRAND: "_a_brand",
                                                     "i_price": "_a_price"}),
                 on=[ANCHOR, C.AS_OF_DATE], how="left")
    df = df.join(txt, on=[text.QTEXT, C.ITEM_ID], how="left")
    q_tok, q_chr = query.query_length(F.col(QRY))
    df = (df.withColumn("q_len_tokens", q_tok).withColumn("q_len_chars", q_chr)
          .withColumn("ui_price_ratio", F.col("i_price") / F.col("u_mean_price"))
          .withColumn("ii_same_category", (F.col(CAT) == F.col("_a_cat")).cast("double"))
          .withColumn("ii_same_brand", (F.col(BRAND) == F.col("_a_brand")).cast("double"))
          .withColumn("ii_price_ratio", F.col("i_price") / F.col("_a_price"))
          .withColumn(C.LIST_TYPE_CODE, F.coalesce(*[F.when(lt == k, F.lit(v)) for k, v in
                                                     C.LIST_TYPE_CODES.items()]))
          .transform(context.with_context(F.col(C.CTX_TS))))
    return df.select(*passthrough, *_final_columns(priors))


def _final_columns(priors: Priors) -> list[Column]:
    defaults = _defaults(priors)
    scope = {**{c: ("user",) for c in (*C.USER_FEATURES, *C.USER_ITEM_FEATURES)},
             **{c: ("query",) for c in (*C.QUERY_FEATURES, *C.QUERY_ITEM_FEATURES)},
             **{c: ("item",) for c in C.ITEM_ITEM_FEATURES},
             **{c: ("query", "item") for c in C.TEXT_FEATURES}}
    out = []
    for c in C.FEATURE_COLUMNS:
        col = F.col(c).cast("double")
        if defaults.get(c) is not None:
            col = F.coalesce(col, F.lit(float(defaults[c])))
        if c in scope:
            col = F.when(_applies(scope[c]), col)
        out.append(col.alias(c))
    return out


assert TREND_EPS > 0  # i_trend's unseen default 0.0 == log((0 + eps) / (0 + eps))
