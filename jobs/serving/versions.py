"""Version management in Redis: register, lock, flip, rollback, cleanup (no Spark).

A publish registers its version in ``rl:versions`` *before* writing any of its keys, so a publish
killed mid-way leaves a registered version that is neither current nor in the history: the next
publish's ``cleanup`` finds it and unlinks its keys. The pointer flip and the rollback are single
Lua scripts (atomic on the server): readers see the old version or the new one, never a mix.
"""
from __future__ import annotations

import json
import os
import socket
import time
from typing import TYPE_CHECKING, Any

from jobs.common.errors import ConcurrentWriteError, RanklakeError
from jobs.serving import keys as K

if TYPE_CHECKING:
    import redis

# flip: only to a version whose meta says ready; push it on the history and trim the history
_FLIP = """
local status = redis.call('HGET', KEYS[3], 'status')
if status ~= 'ready' then return redis.error_reply('version ' .. ARGV[1] .. ' is not ready') end
local prev = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1])
redis.call('LREM', KEYS[2], 0, ARGV[1])
redis.call('LPUSH', KEYS[2], ARGV[1])
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[2]) - 1)
return prev
"""
# rollback: the next ready version after the current one in the history; drop the current
_ROLLBACK = """
local cur = redis.call('GET', KEYS[1])
local hist = redis.call('LRANGE', KEYS[2], 0, -1)
local seen = (cur == false)
for _, v in ipairs(hist) do
  if seen and v ~= cur then
    if redis.call('HGET', ARGV[1] .. v .. ':meta', 'status') == 'ready' then
      redis.call('SET', KEYS[1], v)
      if cur then redis.call('LREM', KEYS[2], 0, cur) end
      return {cur or '', v}
    end
  end
  if v == cur then seen = true end
end
return redis.error_reply('no earlier version to roll back to (history: ' .. table.concat(hist, ',') .. ')')
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class PublishLocked(ConcurrentWriteError):
    pass


class RollbackError(RanklakeError):
    pass


def _s(v: Any) -> str | None:
    return v.decode() if isinstance(v, bytes) else v


def current(r: redis.Redis) -> str | None:
    return _s(r.get(K.POINTER))


def history(r: redis.Redis) -> list[str]:
    return [_s(v) for v in r.lrange(K.HISTORY, 0, -1)]


def registered(r: redis.Redis) -> list[str]:
    return [_s(v) for v in r.zrange(K.VERSIONS, 0, -1)]


def meta(r: redis.Redis, version: str) -> dict[str, Any]:
    raw = {_s(k): _s(v) for k, v in r.hgetall(K.meta_key(version)).items()}
    for f in ("counts", "model_versions", "k", "inputs"):
        if f in raw:
            raw[f] = json.loads(raw[f])
    return raw


def acquire_lock(r: redis.Redis, version: str, ttl_s: int) -> str:
    """Take the publish lock; a holder on this host whose process is gone is taken over."""
    me = f"{socket.gethostname()}:{os.getpid()}:{version}"
    if r.set(K.LOCK, me, nx=True, ex=ttl_s):
        return me
    holder = _s(r.get(K.LOCK)) or ""
    host, _, rest = holder.partition(":")
    pid = rest.split(":", 1)[0]
    if host == socket.gethostname() and pid.isdigit() and not _alive(int(pid)):
        # compare-and-set: only replace the dead holder's value
        if r.eval("if redis.call('GET',KEYS[1])==ARGV[1] then redis.call('SET',KEYS[1],ARGV[2],"
                  "'EX',ARGV[3]) return 1 end return 0", 1, K.LOCK, holder, me, ttl_s):
            return me
    raise PublishLocked(f"another publish holds the lock ({holder}); retry when it has finished")


def refresh_lock(r: redis.Redis, token: str, ttl_s: int) -> None:
    if _s(r.get(K.LOCK)) != token:
        raise PublishLocked("lost the publish lock (expired or taken over); aborting")
    r.expire(K.LOCK, ttl_s)


def release_lock(r: redis.Redis, token: str) -> None:
    r.eval(_RELEASE, 1, K.LOCK, token)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def register(r: redis.Redis, version: str, fields: dict[str, Any]) -> None:
    r.zadd(K.VERSIONS, {version: int(time.time() * 1000)})
    r.hset(K.meta_key(version), mapping={"status": "writing", **_encode(fields)})


def _encode(fields: dict[str, Any]) -> dict[str, str]:
    return {k: v if isinstance(v, str) else json.dumps(v, sort_keys=True) for k, v in fields.items()}


def mark_ready(r: redis.Redis, version: str, fields: dict[str, Any]) -> None:
    r.hset(K.meta_key(version), mapping={**_encode(fields), "status": "ready"})


def flip(r: redis.Redis, version: str, keep: int) -> str | None:
    """Point readers at ``version`` in one atomic step; return the previous version."""
    return _s(r.eval(_FLIP, 3, K.POINTER, K.HISTORY, K.meta_key(version), version, keep))


def rollback(r: redis.Redis) -> tuple[str, str]:
    import redis as redis_mod

    try:
        cur, prev = r.eval(_ROLLBACK, 2, K.POINTER, K.HISTORY, K.VERSION_BASE)
    except redis_mod.ResponseError as exc:
        raise RollbackError(str(exc)) from None
    return _s(cur) or "", _s(prev)


def count_keys(r: redis.Redis, version: str, scan_count: int = 5000) -> dict[str, int]:
    """Keys of ``version`` per list type, counted by SCAN (independent of what writers reported)."""
    counts = {k: 0 for k in K.KIND_TAGS}
    for key in r.scan_iter(match=K.version_prefix(version) + "*", count=scan_count):
        kind = K.kind_of(_s(key), version)
        if kind:
            counts[kind] += 1
    return counts


def unlink_version(r: redis.Redis, version: str, batch: int = 1000) -> int:
    """UNLINK every key of ``version`` (SCAN by prefix, never KEYS); return how many."""
    n = 0
    chunk: list[bytes] = []
    for key in r.scan_iter(match=K.version_prefix(version) + "*", count=5000):
        chunk.append(key)
        if len(chunk) >= batch:
            n += r.unlink(*chunk)
            chunk = []
    if chunk:
        n += r.unlink(*chunk)
    r.zrem(K.VERSIONS, version)
    return n


def cleanup(r: redis.Redis, keep_also: tuple[str, ...] = ()) -> dict[str, int]:
    """Unlink every registered version that is neither current, in the history, nor ``keep_also``."""
    keep = {current(r), *history(r), *keep_also}
    return {v: unlink_version(r, v) for v in registered(r) if v not in keep}
