"""Feast FileSources over the per-run Parquet exports of the feature tables.

Feast 0.67's file offline store (dask) reads a directory with ``dd.read_parquet``: on a Delta
table it would read every Parquet file ever written, including files that later versions removed
(until vacuum), and it does not know the ``as_of_date`` hive folders. The DuckDB offline store
reads Delta but needs ``ibis``, which the jobs venv does not have. So ``ranklake feast materialize``
(jobs/feast_ops.py) first exports the current Delta version of each feature table to
``<lake>/feast/<table>/`` (Spark, overwrite) and Feast reads that export.

The root comes from $RANKLAKE_FEAST_SOURCE_ROOT (set by jobs/feast_ops.py from config) so the
same repo serves every env.
"""
from __future__ import annotations

import os

from feast import FileSource
from feast.data_format import ParquetFormat

TIMESTAMP = "feature_ts"  # jobs.common.columns.FEATURE_TS: valid from as_of_date + 1 day
TABLES = ("features_user", "features_item", "features_query", "features_query_item",
          "features_user_item", "features_user_category")


def source_root() -> str:
    return os.environ.get("RANKLAKE_FEAST_SOURCE_ROOT", os.path.abspath("lake/feast"))


def build_sources(root: str) -> dict[str, FileSource]:
    return {t: FileSource(name=f"{t}_source", path=f"{root.rstrip('/')}/{t}",
                          file_format=ParquetFormat(), timestamp_field=TIMESTAMP)
            for t in TABLES}


SOURCES = build_sources(source_root())
