"""Every Redis key ranklake uses: built here only, by the publisher and by the lookup client.

Layout (``<v>`` is a list version such as ``20261120-3fa9c2``: run date + a random attempt id, so
every publish attempt writes a fresh, never-served key space):

    rl:current                 STRING  the served version (the one pointer readers follow)
    rl:history                 LIST    flipped versions, newest first (rollback targets)
    rl:versions                ZSET    every version ever registered (score = ms); cleanup source
    rl:publish:lock            STRING  "host:pid:version" of the running publisher
    rl:v:<v>:meta              HASH    run_date, published_at, status, model versions, counts, K
    rl:v:<v>:u:<user_id>       STRING  packed list (jobs.serving.codec)
    rl:v:<v>:q:<norm query>    STRING
    rl:v:<v>:i:<item_id>       STRING
    rl:v:<v>:f:<global|cat>    STRING  fallback lists
    rl:v:<v>:instock           SET     in-stock item ids (+ a sentinel, so an empty set exists)
    rl:v:<v>:itemcat           HASH    item_id -> category (similar-items fallback)
    rl:v:<v>:catleaf           HASH    normalised category leaf -> category (query fallback)

All keys of a version share the prefix ``rl:v:<v>:`` so a version is removed by one
``SCAN MATCH rl:v:<v>:*`` + ``UNLINK`` sweep. Note for Redis Cluster: the lookup Lua script
touches keys it derives from the pointer, which standalone / replicated Redis (ElastiCache
non-cluster mode) allows; cluster mode would need a hash tag ``{<v>}`` per version and a pointer
read before the script.
"""
from __future__ import annotations

import re
from datetime import date

PREFIX = "rl:"
POINTER = PREFIX + "current"
HISTORY = PREFIX + "history"
VERSIONS = PREFIX + "versions"
LOCK = PREFIX + "publish:lock"
VERSION_BASE = PREFIX + "v:"

# list type -> one-letter key tag; the tags never collide with the per-version metadata names
KIND_TAGS = {"user": "u", "query": "q", "item": "i", "fallback": "f"}
TAG_KINDS = {v: k for k, v in KIND_TAGS.items()}
INSTOCK_SENTINEL = "\x00"
_VERSION_RE = re.compile(r"^\d{8}-[0-9a-f]{4,16}$")


def new_version(run_date: date, attempt: str) -> str:
    return f"{run_date:%Y%m%d}-{attempt}"


def is_version(value: str) -> bool:
    return bool(_VERSION_RE.match(value))


def version_run_date(version: str) -> date:
    d = version.split("-", 1)[0]
    return date(int(d[:4]), int(d[4:6]), int(d[6:8]))


def version_prefix(version: str) -> str:
    return f"{VERSION_BASE}{version}:"


def list_suffix(kind: str, entity: str) -> str:
    return f"{KIND_TAGS[kind]}:{entity}"


def list_key(version: str, kind: str, entity: str) -> str:
    return version_prefix(version) + list_suffix(kind, entity)


def meta_key(version: str) -> str:
    return version_prefix(version) + "meta"


def instock_key(version: str) -> str:
    return version_prefix(version) + "instock"


def itemcat_key(version: str) -> str:
    return version_prefix(version) + "itemcat"


def catleaf_key(version: str) -> str:
    return version_prefix(version) + "catleaf"


def kind_of(key: str, version: str) -> str | None:
    """The list type of a version's list key (None for metadata/catalog keys)."""
    rest = key[len(version_prefix(version)):]
    return TAG_KINDS.get(rest[:1]) if rest[1:2] == ":" else None
