"""The lookup client: one Redis round trip per request, one version per response.

A Lua script (atomic on the server) reads the pointer once, walks the candidate keys of the
fallback chain **of that version only**, returns the first list found plus the in-stock flag of
each of its items; Python decodes it, removes out-of-stock and excluded items and takes the first
k of what is left (the precomputed lists hold K >= max k candidates, so the list refills from its
own next candidates). A reader therefore never sees two versions in one response, and a version
being written is never read (the pointer only moves after verification).

Chains (most specific first; ``@c:`` = the item's category list, ``@l:`` = a category whose
normalised leaf equals the query or one of its tokens):
    recommend  u:<user>                                 -> f:global
    rank       q:<each jobs.common.text.query_variants>  -> @l:<query/tokens> -> f:global
    similar    i:<item>                                 -> @c:<item>          -> f:global
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from jobs.common.text import normalize_query, query_variants
from jobs.serving import codec
from jobs.serving import keys as K
from jobs.serving.versions import meta as read_meta

if TYPE_CHECKING:
    import redis

    from jobs.serving.redis_conn import RedisParams

LOOKUP_LUA = """
local ver = redis.call('GET', KEYS[1])
if not ver then return {} end
local base = ARGV[1] .. ver .. ':'
for i = 2, #ARGV do
  local s = ARGV[i]
  local tag = string.sub(s, 1, 3)
  if tag == '@c:' or tag == '@l:' then
    local h = (tag == '@c:') and 'itemcat' or 'catleaf'
    local cat = redis.call('HGET', base .. h, string.sub(s, 4))
    if cat then s = 'f:' .. cat else s = nil end
  end
  if s then
    local blob = redis.call('GET', base .. s)
    if blob then
      local n = string.byte(blob, 3) * 256 + string.byte(blob, 4)
      local ids = {}
      for id in string.gmatch(string.sub(blob, 5 + 4 * n), '[^\\31]+') do ids[#ids + 1] = id end
      local flags = ''
      if #ids > 0 then
        local m = redis.call('SMISMEMBER', base .. 'instock', unpack(ids))
        local t = {}
        for j = 1, #m do if m[j] == 1 then t[j] = '1' else t[j] = '0' end end
        flags = table.concat(t)
      end
      return {ver, i - 1, blob, flags, s}
    end
  end
end
return {ver, 0}
"""
GLOBAL = "f:global"
PRIMARY_KIND = {"recommend": "user", "rank": "query", "similar": "item"}


class NoListVersion(LookupError):
    """Nothing has been published yet (no pointer)."""


@dataclass(frozen=True)
class Item:
    item_id: str
    score: float
    rank: int


@dataclass
class Result:
    items: list[Item]
    list_version: str
    model_version: str | None
    source: str
    matched: str | None  # the key suffix that answered, e.g. "q:red shoes" or "f:global"
    fallback: bool  # answered by a later step of the chain than the entity's own list
    removed: int = 0  # out-of-stock / excluded items skipped
    meta: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"items": [{"item_id": i.item_id, "score": i.score, "rank": i.rank} for i in self.items],
                "list_version": self.list_version, "model_version": self.model_version,
                "source": self.source}


def chain(endpoint: str, entity: str) -> list[str]:
    """Candidate key suffixes for one request (see the module docstring)."""
    if endpoint == "recommend":
        return [K.list_suffix("user", entity), GLOBAL]
    if endpoint == "similar":
        return [K.list_suffix("item", entity), f"@c:{entity}", GLOBAL]
    if endpoint == "rank":
        norm = normalize_query(entity) or ""
        out = [K.list_suffix("query", v) for v in query_variants(norm)] if norm else []
        leaves = [norm, *[t for t in norm.split() if t != norm][:10]]
        return out + [f"@l:{t}" for t in leaves if t] + [GLOBAL]
    raise ValueError(f"unknown endpoint {endpoint!r}")


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else v


def finish(raw: Sequence[Any], endpoint: str, k: int, exclude: frozenset[str],
           meta: dict[str, Any]) -> Result:
    """Turn the script's answer into a filtered, re-ranked result."""
    if not raw:
        raise NoListVersion("no list version has been published")
    version = _s(raw[0])
    mv = meta.get("model_versions") or {}
    if len(raw) < 3:  # pointer exists but not even the global fallback list: empty answer
        return Result([], version, mv.get("fallback"), "fallback", None, True, meta=meta)
    idx, blob, flags, matched = int(raw[1]), raw[2], _s(raw[3]), _s(raw[4])
    source, ids, scores = codec.decode(blob)
    kept: list[Item] = []
    removed = 0
    for pos, (item, score) in enumerate(zip(ids, scores)):
        if (flags and flags[pos] != "1") or item in exclude:
            removed += 1
            continue
        kept.append(Item(item, round(score, 6), len(kept) + 1))
        if len(kept) == k:
            break
    primary = idx == 1 or (endpoint == "rank" and matched.startswith("q:"))
    kind = K.TAG_KINDS.get(matched[:1], "fallback")
    return Result(kept, version, mv.get(kind), source if primary else "fallback", matched,
                  not primary, removed, meta)


class _MetaCache:
    """Version metadata is immutable once a version is ready: cache it per version."""

    def __init__(self) -> None:
        self._cache: dict[str, dict[str, Any]] = {}

    def get(self, version: str) -> dict[str, Any] | None:
        return self._cache.get(version)

    def put(self, version: str, meta: dict[str, Any]) -> dict[str, Any]:
        if len(self._cache) > 16:
            self._cache.clear()
        self._cache[version] = meta
        return meta


class LookupClient:
    """Synchronous client (scripts, smoke checks, tests). ``lookup(endpoint, entity, k)``."""

    def __init__(self, params: RedisParams, **redis_kw: Any) -> None:
        from jobs.serving.redis_conn import client

        self.redis: redis.Redis = client(params, **redis_kw)
        self._script = self.redis.register_script(LOOKUP_LUA)
        self._meta = _MetaCache()

    def meta(self, version: str) -> dict[str, Any]:
        return self._meta.get(version) or self._meta.put(version, read_meta(self.redis, version))

    def lookup(self, endpoint: str, entity: str, k: int = 10,
               exclude: Sequence[str] = ()) -> Result:
        raw = self._script(keys=[K.POINTER], args=[K.VERSION_BASE, *chain(endpoint, entity)])
        meta = self.meta(_s(raw[0])) if raw else {}
        return finish(raw, endpoint, k, frozenset(exclude), meta)

    def recommend(self, user_id: str, k: int = 10, exclude: Sequence[str] = ()) -> Result:
        return self.lookup("recommend", user_id, k, exclude)

    def rank(self, query: str, k: int = 10, exclude: Sequence[str] = ()) -> Result:
        return self.lookup("rank", query, k, exclude)

    def similar(self, item_id: str, k: int = 10, exclude: Sequence[str] = ()) -> Result:
        return self.lookup("similar", item_id, k, exclude)

    def close(self) -> None:
        self.redis.close()


class AsyncLookupClient:
    """The same lookups on redis.asyncio, for the HTTP app's event loop."""

    def __init__(self, params: RedisParams, **redis_kw: Any) -> None:
        from jobs.serving.redis_conn import async_client

        self.redis = async_client(params, **redis_kw)
        self._script = self.redis.register_script(LOOKUP_LUA)
        self._meta = _MetaCache()

    async def meta(self, version: str) -> dict[str, Any]:
        cached = self._meta.get(version)
        if cached is not None:
            return cached
        raw = {_s(k): _s(v) for k, v in (await self.redis.hgetall(K.meta_key(version))).items()}
        import json

        for f in ("counts", "model_versions", "k", "inputs"):
            if f in raw:
                raw[f] = json.loads(raw[f])
        return self._meta.put(version, raw) if raw.get("status") == "ready" else raw

    async def current(self) -> str | None:
        v = await self.redis.get(K.POINTER)
        return _s(v) if v is not None else None

    async def lookup(self, endpoint: str, entity: str, k: int = 10,
                     exclude: Sequence[str] = ()) -> Result:
        raw = await self._script(keys=[K.POINTER], args=[K.VERSION_BASE, *chain(endpoint, entity)])
        meta = await self.meta(_s(raw[0])) if raw else {}
        return finish(raw, endpoint, k, frozenset(exclude), meta)

    async def close(self) -> None:
        await self.redis.aclose()


def age_seconds(meta: dict[str, Any]) -> float | None:
    ts = meta.get("published_at_epoch")
    return round(time.time() - float(ts), 1) if ts else None
