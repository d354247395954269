"""The lookup client: one Redis round trip per request, one version per response.

A Lua script (atomic on the server) reads the pointer once, walks the candidate keys of the
fallback chain **of that version only**, returns the first list found plus the in-stock flags of
its leading items: it checks ids in rank order (one SMISMEMBER per round) until ``need`` =
k + len(exclude) of them are in stock or the list ends, since at most len(exclude) of those can be
excluded; Python decodes the list, removes out-of-stock and excluded items and takes the first k
of what is left (the precomputed lists hold K >= max k candidates, so the list refills from its
own next candidates) and never reads past the checked ids. A reader therefore never sees two
versions in one response, and a version being written is never read (the pointer only moves
after verification).

Chains (most specific first; ``@c:`` = the item's category list, ``@l:`` = a category whose
normalised leaf equals the query or one of its tokens):
    recommend  u:<user>                                 -> f:global
    rank       q:<each jobs.common.text.query_variants>  -> @l:<query/tokens> -> f:global
    similar    i:<item>                                 -> @c:<item>          -> f:global
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Sequence

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
local need = tonumber(ARGV[2])
for i = 3, #ARGV do
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
      local pos, len, done, ok = 5 + 4 * n, #blob, 0, 0
      local stock, flags = base .. 'instock', {}
      while done < n and ok < need do
        local ids = {}
        while #ids < need - ok and done + #ids < n do
          local e = string.find(blob, '\\31', pos, true) or (len + 1)
          ids[#ids + 1] = string.sub(blob, pos, e - 1)
          pos = e + 1
        end
        local m = redis.call('SMISMEMBER', stock, unpack(ids))
        for j = 1, #m do
          if m[j] == 1 then flags[#flags + 1] = '1'; ok = ok + 1 else flags[#flags + 1] = '0' end
        end
        done = done + #ids
      end
      return {ver, i - 2, blob, table.concat(flags), s}
    end
  end
end
return {ver, 0}
"""
GLOBAL = "f:global"
_POINTER_KEYS = [K.POINTER]
PRIMARY_KIND = {"recommend": "user", "rank": "query", "similar": "item"}


class NoListVersion(LookupError):
    """Nothing has been published yet (no pointer)."""


class Item(NamedTuple):  # a tuple: ~10 per response, built on the hot path
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
        return {"items": [{"item_id": i, "score": s, "rank": r} for i, s, r in self.items],
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
    checked = len(flags)  # the script checked the stock of the first `checked` ids only
    for pos, item in enumerate(ids):
        if pos >= checked:
            break
        if flags[pos] != "1" or item in exclude:
            removed += 1
            continue
        kept.append(Item(item, round(scores[pos], 6), len(kept) + 1))
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
        excl = frozenset(exclude)
        raw = self._script(keys=_POINTER_KEYS, args=[K.VERSION_BASE, k + len(excl), *chain(endpoint, entity)])
        meta = self.meta(_s(raw[0])) if raw else {}
        return finish(raw, endpoint, k, excl, meta)

    def recommend(self, user_id: str, k: int = 10, exclude: Sequence[str] = ()) -> Result:
        return self.lookup("recommend", user_id, k, exclude)

    def rank(self, query: str, k: int = 10, exclude: Sequence[str] = ()) -> Result:
        return self.lookup("rank", query, k, exclude)

    def similar(self, item_id: str, k: int = 10, exclude: Sequence[str] = ()) -> Result:
        return self.lookup("similar", item_id, k, exclude)

    def close(self) -> None:
        self.redis.close()


class AsyncLookupClient:
    """The same lookups for the HTTP app's event loop: the script runs on one multiplexed,
    auto-pipelined connection (jobs.serving.pipelined; redis.asyncio for TLS URLs or without
    hiredis), /health and the version metadata use a redis.asyncio pool."""

    def __init__(self, params: RedisParams, **redis_kw: Any) -> None:
        from jobs.serving import pipelined
        from jobs.serving.redis_conn import async_client

        self.redis = async_client(params, **redis_kw)  # /health, metadata
        # the lookups: one multiplexed, auto-pipelined connection (redis.asyncio for TLS URLs)
        self.fast = pipelined.PipelinedRedis(params) if pipelined.supports(params.url) else None
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
        excl = exclude if isinstance(exclude, frozenset) else frozenset(exclude)
        args = [K.VERSION_BASE, k + len(excl), *chain(endpoint, entity)]
        if self.fast is not None:
            raw = await self.fast.evalsha(LOOKUP_LUA, _POINTER_KEYS, args)
        else:
            raw = await self._script(keys=_POINTER_KEYS, args=args)
        meta = (self._meta.get(_s(raw[0])) or await self.meta(_s(raw[0]))) if raw else {}
        return finish(raw, endpoint, k, excl, meta)

    async def close(self) -> None:
        if self.fast is not None:
            await self.fast.aclose()
        await self.redis.aclose()


def age_seconds(meta: dict[str, Any]) -> float | None:
    ts = meta.get("published_at_epoch")
    return round(time.time() - float(ts), 1) if ts else None
