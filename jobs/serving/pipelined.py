"""A lean asyncio Redis connection for the lookup hot path (no Spark; hiredis parses replies).

Why not redis.asyncio for every lookup: per command it takes a pooled connection, arms an
``asyncio.timeout``, runs the retry wrapper, writes and reads through a StreamReader: ~100 us of
Python per request on this box, more than the Lua script costs in Redis. Here every event loop
keeps **one multiplexed connection**: a command is appended to a write buffer and a future to a
FIFO; all commands issued in the same loop iteration leave in one ``write`` (auto-pipelining),
and replies, which Redis sends in command order, resolve the futures in that order.

Correctness rules:
* one reply per command, in order: a reply with no command waiting, an unparsable reply, a lost
  connection or a timed-out command fails **every** pending command and closes the connection
  (the next command reconnects), so a reply can never be handed to the wrong request;
* a caller that gave up (cancelled) still owns its FIFO slot; its reply is dropped;
* the oldest pending command older than ``socket_timeout_s`` fails everything pending with
  ``redis.TimeoutError`` (checked by one timer while commands are pending, not one per command);
  connecting (and AUTH/SELECT) is bounded by the same timeout, so a dead or frozen server gives
  an error within about the timeout, never a hang;
* errors are redis-py's own classes (``ConnectionError``, ``TimeoutError``, ``ResponseError``), so
  callers handle them exactly as before.

Plain ``redis://`` (TCP) and ``unix://`` URLs only, with password/username/db from the URL or
``RedisParams``; for ``rediss://`` (TLS), or without the hiredis package, the lookup client keeps
using redis.asyncio.
"""
from __future__ import annotations

import asyncio
import collections
import hashlib
from typing import TYPE_CHECKING, Any, Sequence

import redis.exceptions as rex

try:
    import hiredis
except ImportError:  # without hiredis the lookup client stays on redis.asyncio
    hiredis = None

if TYPE_CHECKING:
    from jobs.serving.redis_conn import RedisParams

Arg = bytes | str | int


def supports(url: str) -> bool:
    return hiredis is not None and url.startswith(("redis://", "unix://"))


def pack(args: Sequence[Arg]) -> bytes:
    """One command as a RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = b"%d" % a
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class _Protocol(asyncio.Protocol):
    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self.loop, self.timeout = loop, timeout
        self.tick = max(0.005, min(0.05, timeout / 4))
        self.reader = hiredis.Reader(replyError=rex.ResponseError, protocolError=rex.InvalidResponse)
        self.pending: collections.deque[tuple[asyncio.Future[Any], float]] = collections.deque()
        self.out: list[bytes] = []
        self.flush_scheduled = False
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.watchdog: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------------ sending
    def call(self, packed: bytes) -> asyncio.Future[Any]:
        if self.closed:
            raise rex.ConnectionError("Redis connection closed")
        fut = self.loop.create_future()
        self.pending.append((fut, self.loop.time()))
        self.out.append(packed)
        if not self.flush_scheduled:
            self.flush_scheduled = True
            self.loop.call_soon(self._flush)
        if self.watchdog is None:
            self.watchdog = self.loop.call_later(self.tick, self._check)
        return fut

    def _flush(self) -> None:
        self.flush_scheduled = False
        if self.out and not self.closed and self.transport is not None:
            data = self.out[0] if len(self.out) == 1 else b"".join(self.out)
            self.out.clear()
            self.transport.write(data)

    # ------------------------------------------------------------------ receiving
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        reader = self.reader
        try:
            reader.feed(data)
            while True:
                reply = reader.gets()
                if reply is False:
                    return
                if not self.pending:
                    raise rex.InvalidResponse("reply without a pending command")
                fut, _ = self.pending.popleft()
                if fut.done():  # the caller gave up; its reply is dropped
                    continue
                if isinstance(reply, rex.ResponseError):
                    fut.set_exception(reply)
                else:
                    fut.set_result(reply)
        except rex.RedisError as exc:
            self.fail(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(rex.ConnectionError(f"Redis connection lost: {exc!r}" if exc else
                                      "Connection closed by server."))

    # ------------------------------------------------------------------ failure
    def _check(self) -> None:
        self.watchdog = None
        if self.closed or not self.pending:
            return
        if self.loop.time() - self.pending[0][1] > self.timeout:
            self.fail(rex.TimeoutError("Timeout reading from Redis"))
        else:
            self.watchdog = self.loop.call_later(self.tick, self._check)

    def fail(self, exc: Exception) -> None:
        self.closed = True
        pending, self.pending = self.pending, collections.deque()
        for fut, _ in pending:
            if not fut.done():
                fut.set_exception(exc)
        self.out.clear()
        if self.watchdog is not None:
            self.watchdog.cancel()
            self.watchdog = None
        if self.transport is not None:
            self.transport.close()


class PipelinedRedis:
    """``await execute(*args)`` / ``await evalsha(script, keys, args)`` over one multiplexed
    connection of the running event loop (create and use it inside one loop)."""

    def __init__(self, params: RedisParams) -> None:
        from redis.asyncio.connection import parse_url

        if not supports(params.url):
            raise ValueError(f"PipelinedRedis supports redis:// and unix:// URLs, not {params.url!r}")
        opts = parse_url(params.url)
        self.path: str | None = opts.get("path")
        self.host, self.port = opts.get("host", "localhost"), int(opts.get("port") or 6379)
        self.db = int(opts.get("db") or 0)
        self.username = opts.get("username")
        self.password = opts.get("password") or params.password
        self.timeout = params.socket_timeout_s
        self._proto: _Protocol | None = None
        self._connecting: asyncio.Future[_Protocol] | None = None
        self._scripts: dict[str, tuple[bytes, bytes]] = {}

    async def _open(self) -> _Protocol:
        loop = asyncio.get_running_loop()

        def factory() -> _Protocol:
            return _Protocol(loop, self.timeout)

        proto: _Protocol | None = None
        try:
            if self.path:
                coro = loop.create_unix_connection(factory, self.path)
            else:
                coro = loop.create_connection(factory, self.host, self.port)
            _, proto = await asyncio.wait_for(coro, self.timeout)
            hello: list[list[Arg]] = []
            if self.password:
                hello.append(["AUTH", *([self.username] if self.username else []), self.password])
            if self.db:
                hello.append(["SELECT", self.db])
            for cmd in hello:
                await asyncio.wait_for(proto.call(pack(cmd)), self.timeout)
            return proto
        except BaseException as exc:
            if proto is not None:
                proto.fail(rex.ConnectionError("handshake failed"))
            if isinstance(exc, asyncio.TimeoutError):
                raise rex.TimeoutError("Timeout connecting to Redis") from None
            if isinstance(exc, OSError):
                raise rex.ConnectionError(f"Error connecting to Redis: {exc}") from None
            if isinstance(exc, rex.ResponseError):
                raise rex.AuthenticationError(str(exc)) from None
            raise

    async def _connection(self) -> _Protocol:
        if self._connecting is None:  # one connect attempt, shared by every waiting caller
            self._connecting = asyncio.ensure_future(self._open())
        fut = self._connecting
        try:
            proto = await asyncio.shield(fut)
        finally:
            if self._connecting is fut and fut.done():
                self._connecting = None
        self._proto = proto
        return proto

    async def execute(self, *args: Arg) -> Any:
        proto = self._proto
        if proto is None or proto.closed:
            proto = await self._connection()
        return await proto.call(pack(args))

    async def evalsha(self, script: str, keys: Sequence[Arg], args: Sequence[Arg]) -> Any:
        """EVALSHA, loading the script on NOSCRIPT (a restarted or flushed server)."""
        sha, body = self._scripts.get(script) or self._sha(script)
        try:
            return await self.execute(b"EVALSHA", sha, len(keys), *keys, *args)
        except rex.ResponseError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
        await self.execute(b"SCRIPT", b"LOAD", body)
        return await self.execute(b"EVALSHA", sha, len(keys), *keys, *args)

    def _sha(self, script: str) -> tuple[bytes, bytes]:
        body = script.encode()
        sha = hashlib.sha1(body, usedforsecurity=False).hexdigest().encode()  # Redis's script id
        entry = self._scripts[script] = (sha, body)
        return entry

    async def aclose(self) -> None:
        if self._proto is not None:
            self._proto.fail(rex.ConnectionError("client closed"))
            self._proto = None
