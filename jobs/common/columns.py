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

# ---- top-K lists (contract for downstream teams) ----
ITEMS = "items"  # array<struct<rank:int, item_id:string, score:double>>
RANK = "rank"
SCORE = "score"
SOURCE = "source"  # personalized | query | fallback
MODEL_VERSION = "model_version"
GENERATED_AT = "generated_at"
LIST_SOURCES = ("personalized", "query", "fallback")
