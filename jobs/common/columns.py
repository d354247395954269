"""Every column name used by more than one module. Refer to columns by these constants.

Sections are owned by stages; add a name in the section of the stage that produces it.
"""
from __future__ import annotations

# ---- raw events / clean interactions (ingest, generate, import, validate) ----
EVENT_ID = "event_id"
USER_ID = "user_id"
SESSION_ID = "session_id"
QUERY = "query"  # raw query text (nullable: browse sessions have none)
ITEM_ID = "item_id"
EVENT_TYPE = "event_type"
TS = "ts"  # event timestamp, UTC, micro-seconds
POSITION = "position"  # 1-based slot in the shown list (nullable)
EVENT_DATE = "event_date"  # date(ts) in UTC; partition column of event tables
INGEST_DATE = "ingest_date"  # date the raw batch landed; partition column of raw_events

# canonical event types, weakest to strongest engagement
IMPRESSION, CLICK, ADD_TO_CART, PURCHASE = "impression", "click", "add_to_cart", "purchase"
EVENT_TYPES = (IMPRESSION, CLICK, ADD_TO_CART, PURCHASE)

# ---- catalog / users / judgments ----
TITLE = "title"
CATEGORY = "category"  # category path "root/child/leaf"
BRAND = "brand"
PRICE = "price"
IN_STOCK = "in_stock"
CREATED_AT = "created_at"
SEGMENT = "segment"
SIGNUP_DATE = "signup_date"
GRADE = "grade"

# ---- synthetic ground truth (generator only; used for the oracle) ----
ENTITY_TYPE = "entity_type"  # "user" | "query"
ENTITY_ID = "entity_id"
UTILITY = "utility"
INJECTED_REASON = "injected_reason"  # truth_dirty: reason code of an injected bad row

# ---- validation ----
QUERY_NORM = "query_norm"  # normalised query text (trim, lower, collapse spaces)
REASON = "reason"
RUN_DATE = "run_date"
RULE_VERSION = "rule_version"

# ---- features / training sets ----
AS_OF_DATE = "as_of_date"
LIST_TYPE = "list_type"  # "query" | "user" | "item"
GROUP_ID = "group_id"
LABEL = "label"
SPLIT = "split"  # "train" | "validation" | "test"
SPLITS = ("train", "validation", "test")
LIST_TYPE_CODE = "list_type_code"  # query=0, user=1, item=2 (numeric model feature)
LIST_TYPE_CODES = {"query": 0, "user": 1, "item": 2}
ANCHOR_ITEM_ID = "anchor_item_id"  # item lists: the item the list is anchored on
FEATURE_TS = "feature_ts"  # feature tables: valid-from time = as_of_date + 1 day 00:00 UTC (Feast)
CTX_TS = "ctx_ts"  # time the list is shown (training: group start; serving: start of D+1)
AFFINITY_KEY = "affinity_key"  # "category=<path>" | "brand=<brand>" | "price_band=<n>"
# Model features (all double, nullable = "not applicable / unseen", e.g. query features on user
# lists). Windows: short/mid/long = features.windows_days (default 1/7/30 days). Computed by
# jobs/feats/*; assembled identically for training rows and serving (jobs.features.assemble).
USER_FEATURES = (
    "u_impr_short", "u_impr_mid", "u_impr_long", "u_clicks_short", "u_clicks_mid",
    "u_clicks_long", "u_purchases_long", "u_ctr", "u_cvr", "u_recency_days", "u_tenure_days",
    "u_segment_code", "u_mean_price")
ITEM_FEATURES = (
    "i_impr_short", "i_impr_mid", "i_impr_long", "i_clicks_short", "i_clicks_mid",
    "i_clicks_long", "i_ctr", "i_atc_rate", "i_purchase_rate", "i_trend", "i_price",
    "i_age_days", "i_in_stock")
QUERY_FEATURES = ("q_volume", "q_distinct_items", "q_len_tokens", "q_len_chars")
QUERY_ITEM_FEATURES = ("qi_impr", "qi_clicks", "qi_ctr", "qi_atc_rate", "qi_purchase_rate",
                       "qi_pos_norm_ctr")
TEXT_FEATURES = ("txt_bm25_title", "txt_bm25_category", "txt_tfidf_title", "txt_tfidf_category")
USER_ITEM_FEATURES = ("ui_impr", "ui_clicks", "ui_atc", "ui_purchases", "ui_recency_days",
                      "ui_price_ratio", "uc_share", "uc_clicks", "ub_share", "up_share")
ITEM_ITEM_FEATURES = ("ii_same_category", "ii_same_brand", "ii_price_ratio")
CONTEXT_FEATURES = ("ctx_hour_sin", "ctx_hour_cos", "ctx_dow_sin", "ctx_dow_cos")
FEATURE_COLUMNS: tuple[str, ...] = (
    LIST_TYPE_CODE, *USER_FEATURES, *ITEM_FEATURES, *QUERY_FEATURES, *QUERY_ITEM_FEATURES,
    *TEXT_FEATURES, *USER_ITEM_FEATURES, *ITEM_ITEM_FEATURES, *CONTEXT_FEATURES)

# ---- top-K lists (contract for downstream teams) ----
ITEMS = "items"  # array<struct<rank:int, item_id:string, score:double>>
RANK = "rank"
SCORE = "score"
SOURCE = "source"  # personalized | query | fallback
MODEL_VERSION = "model_version"
GENERATED_AT = "generated_at"
SERVING_VALUE = "serving_value"  # binary: items + source in the Redis value codec (jobs/serving/codec.py)
LIST_SOURCES = ("personalized", "query", "fallback")
# topk internals (candidates -> scoring -> rules)
NEIGHBOR_ID = "neighbor_id"  # co-visitation / bought-together partner of item_id
WEIGHT = "weight"  # candidate-generator strength (integer counts where possible: deterministic)
POPULARITY = "popularity"  # recency-weighted engagement (grade x half-life decay)
TIER = "tier"  # 0 = eligible for the top 10 under the category cap, 1 = deferred
FALLBACK_GLOBAL = "global"  # topk_fallback entity_id of the catalogue-wide list
