"""The one registry of tables: name -> relative path, partition columns, owner stage.

Paths are relative to ``lake.root`` from config (a local directory or ``s3://``); use
``table_path(cfg, name)``. Nothing else in the code base spells a table path.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from jobs.common import columns as C
from jobs.common.config import join

if TYPE_CHECKING:
    from jobs.common.config import Settings


@dataclass(frozen=True)
class TableSpec:
    name: str
    path: str
    partition_by: tuple[str, ...] = ()
    description: str = ""


_SPECS = [
    # raw landing zone (generate / import)
    TableSpec("raw_events", "raw/events", (C.INGEST_DATE,), "events as they arrived"),
    TableSpec("raw_catalog", "raw/catalog", (), "item catalog snapshot"),
    TableSpec("raw_users", "raw/users", (), "user attributes (segment, signup)"),
    TableSpec("judgments", "raw/judgments", (), "explicit relevance judgments (query, item, grade)"),
    TableSpec("truth_utility", "raw/truth_utility", (C.ENTITY_TYPE,),
              "synthetic data only: true utility of (entity, item) for the oracle"),
    TableSpec("truth_dirty", "raw/truth_dirty", (),
              "synthetic data only: every injected bad raw_events row and its reason code"),
    # validate
    TableSpec("interactions_clean", "tables/interactions_clean", (C.EVENT_DATE,)),
    TableSpec("interactions_quarantine", "tables/interactions_quarantine", (C.EVENT_DATE,)),
    TableSpec("catalog_clean", "tables/catalog_clean", ()),
    TableSpec("catalog_quarantine", "tables/catalog_quarantine", (C.RUN_DATE,)),
    TableSpec("validation_results", "tables/validation_results", (C.RUN_DATE,)),
    # features
    TableSpec("features_user", "tables/features_user", (C.AS_OF_DATE,)),
    TableSpec("features_item", "tables/features_item", (C.AS_OF_DATE,)),
    TableSpec("features_query", "tables/features_query", (C.AS_OF_DATE,)),
    TableSpec("features_query_item", "tables/features_query_item", (C.AS_OF_DATE,)),
    TableSpec("features_user_item", "tables/features_user_item", (C.AS_OF_DATE,)),
    TableSpec("features_user_category", "tables/features_user_category", (C.AS_OF_DATE,)),
    TableSpec("training_set", "tables/training_set", (C.RUN_DATE,)),
    TableSpec("feature_drift", "tables/feature_drift", (C.RUN_DATE,)),
    TableSpec("features_text_idf", "tables/features_text_idf", (C.RUN_DATE,),
              "text vocabulary + IDFs fitted on the run's training window"),
    # top-K lists (contract for downstream teams)
    TableSpec("topk_user", "tables/topk_user", (C.RUN_DATE,)),
    TableSpec("topk_query", "tables/topk_query", (C.RUN_DATE,)),
    TableSpec("topk_item", "tables/topk_item", (C.RUN_DATE,)),
    TableSpec("topk_fallback", "tables/topk_fallback", (C.RUN_DATE,)),
]
TABLES: dict[str, TableSpec] = {t.name: t for t in _SPECS}


def spec(name: str) -> TableSpec:
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown table '{name}'; known: {', '.join(sorted(TABLES))}") from None


def table_path(cfg: Settings, name: str) -> str:
    return join(cfg.lake.root, spec(name).path)
