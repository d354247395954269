"""Publish a version into Redis without Spark, through the publisher's own executor writers and
version functions (the Spark orchestration itself is tested in tests/publish)."""
from __future__ import annotations

import secrets
import time
from datetime import date, datetime, timezone
from typing import Sequence

import pyarrow as pa

from jobs.serving import keys as K
from jobs.serving import versions
from jobs.serving.redis_conn import RedisParams, client
from jobs.serving.writer import catalog_writer, category_leaves, list_writer

ITEMS = pa.list_(pa.struct([("rank", pa.int32()), ("item_id", pa.string()), ("score", pa.float64())]))
LISTS = pa.schema([("kind", pa.string()), ("entity_id", pa.string()), ("items", ITEMS),
                   ("source", pa.string())])
CATALOG = pa.schema([("item_id", pa.string()), ("category", pa.string()), ("in_stock", pa.bool_())])


def load_version(params: RedisParams, run_date: date, data: dict[str, dict[str, Sequence]],
                 catalog: dict[str, tuple[str | None, bool]], *, sources: dict[str, str] | None = None,
                 model: str = "m1", keep: int = 3, published_at: datetime | None = None) -> str:
    version = K.new_version(run_date, secrets.token_hex(3))
    r = client(params)
    versions.register(r, version, {"run_date": run_date.isoformat()})
    r.sadd(K.instock_key(version), K.INSTOCK_SENTINEL)
    src = {"user": "personalized", "query": "query", "item": "personalized", "fallback": "fallback",
           **(sources or {})}
    rows = [{"kind": kind, "entity_id": ent, "source": src[kind],
             "items": [{"rank": i + 1, "item_id": it, "score": s} for i, (it, s) in enumerate(items)]}
            for kind, lists in data.items() for ent, items in lists.items()]
    list(list_writer(params, version, 7)(iter([pa.RecordBatch.from_pylist(rows, LISTS)])))
    cat_rows = [{"item_id": i, "category": c, "in_stock": s} for i, (c, s) in catalog.items()]
    list(catalog_writer(params, version, 7)(iter([pa.RecordBatch.from_pylist(cat_rows, CATALOG)])))
    leaves = category_leaves([e for e in data.get("fallback", {}) if e != "global"])
    if leaves:
        r.hset(K.catleaf_key(version), mapping=leaves)
    at = published_at or datetime.now(timezone.utc)
    counts = {kind: len(lists) for kind, lists in data.items()}
    versions.mark_ready(r, version, {
        "published_at": at.isoformat(timespec="seconds"), "published_at_epoch": str(at.timestamp()),
        "counts": counts, "k": {kind: max((len(v) for v in lists.values()), default=0)
                               for kind, lists in data.items()},
        "model_versions": {kind: model for kind in data}})
    versions.flip(r, version, keep)
    r.close()
    time.sleep(0)
    return version
