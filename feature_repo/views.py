"""Feature views over the feature tables. ttl = 1 day: a snapshot (as_of_date X, feature_ts =
X + 1 day) is valid for lookups in [X + 1 day, X + 2 days) and never older, matching the Spark
as-of join (a row on day d reads snapshot d - 1 and nothing else)."""
from __future__ import annotations

from datetime import timedelta

from feast import FeatureView, Field, FileSource
from feast.types import Float64, String

from feature_repo import entities as E
from feature_repo.sources import SOURCES
from jobs.common import columns as C
from jobs.feats.user_item import UA_TABLE_FEATURES, UI_TABLE_FEATURES

TTL = timedelta(days=1)


def _fields(names) -> list[Field]:
    return [Field(name=n, dtype=Float64) for n in names]


def build_views(sources: dict[str, FileSource]) -> dict[str, FeatureView]:
    spec = {
        "user_features": ([E.user], "features_user", _fields(C.USER_FEATURES)),
        "item_features": ([E.item], "features_item",
                          [Field(name=C.CATEGORY, dtype=String), Field(name=C.BRAND, dtype=String),
                           *_fields(C.ITEM_FEATURES)]),
        "query_features": ([E.query], "features_query", _fields(C.QUERY_FEATURES)),
        "query_item_features": ([E.query, E.item], "features_query_item",
                                _fields(C.QUERY_ITEM_FEATURES)),
        "user_item_features": ([E.user, E.item], "features_user_item",
                               _fields(UI_TABLE_FEATURES)),
        "user_affinity_features": ([E.user, E.affinity], "features_user_category",
                                   _fields(UA_TABLE_FEATURES)),
    }
    return {name: FeatureView(name=name, entities=ents, ttl=TTL, schema=schema, online=True,
                              source=sources[table], tags={"table": table})
            for name, (ents, table, schema) in spec.items()}


VIEWS = build_views(SOURCES)
user_features = VIEWS["user_features"]
item_features = VIEWS["item_features"]
query_features = VIEWS["query_features"]
query_item_features = VIEWS["query_item_features"]
user_item_features = VIEWS["user_item_features"]
user_affinity_features = VIEWS["user_affinity_features"]
