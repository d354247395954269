"""A small, cheap load generator for 127.0.0.1 only (asyncio protocols; uvloop when installed).

The client shares the machine's 2 cores with the server, so it must cost as little CPU per request
as possible: no coroutine, no StreamReader, no HTTP library per request. Each connection is an
``asyncio.Protocol`` that writes one pre-built request, parses only the status line and the
``content-length`` of the answer, and on completion immediately writes the next request (HTTP/1.1
keep-alive, one request in flight per connection, no pipelining). The same machinery speaks RESP
for the raw Redis reference (``GET key``), so both sides of a comparison pay the same client cost.

* ``closed_loop``: ``concurrency`` connections, each sending its next request as soon as the
  previous one answered, for ``seconds``: the maximum rate at that concurrency.
* ``open_loop``: requests are *scheduled* at a fixed ``rate`` (request i at t0 + i/rate) whatever
  the server does; a due request goes to an idle connection, else to a new one (up to
  ``max_connections``), else waits in a queue. Latency is measured from the scheduled time, so a
  stalled server shows up as latency instead of silently slowing the client down (no coordinated
  omission). The achieved rate is reported next to the asked one.

Every request that does not answer with the expected status within ``timeout_s`` (or whose
connection breaks) is an error; errors are counted, never retried.
"""
from __future__ import annotations

import asyncio
import collections
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

LOCAL = ("127.0.0.1", "localhost", "::1")


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests
    finished_at: list[float] = field(default_factory=list)  # seconds since start
    errors: int = 0
    elapsed: float = 0.0
    first_error: str = ""
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    scheduled: int = 0  # requests asked for (open loop)
    connections: int = 0  # connections opened

    @property
    def requests(self) -> int:
        return len(self.latencies) + self.errors

    @property
    def rps(self) -> float:
        """Successful answers per second of the phase."""
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def pct_ms(self, q: float, lo: float = 0.0, hi: float = float("inf")) -> float | None:
        if lo <= 0 and hi == float("inf"):
            lat = self.latencies
        else:
            lat = [x for x, t in zip(self.latencies, self.finished_at) if lo <= t < hi]
        return float(np.percentile(lat, q) * 1000) if lat else None

    def window_pcts(self, q: float, window_s: float) -> list[float]:
        out, t = [], 0.0
        while t < self.elapsed:
            v = self.pct_ms(q, t, t + window_s)
            if v is not None:
                out.append(v)
            t += window_s
        return out

    def summary(self) -> dict[str, float | int | None]:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 3)

        return {"requests": self.requests, "ok": len(self.latencies), "errors": self.errors,
                "achieved_rps": round(self.rps, 1), "elapsed_s": round(self.elapsed, 3),
                "p50_ms": r(self.pct_ms(50)), "p95_ms": r(self.pct_ms(95)),
                "p99_ms": r(self.pct_ms(99)), "p999_ms": r(self.pct_ms(99.9)),
                "max_ms": r(max(self.latencies) * 1000 if self.latencies else None),
                "connections": self.connections,
                "statuses": {str(k): v for k, v in sorted(self.statuses.items())}}


# --------------------------------------------------------------------------- wire formats
def http_requests(host: str, paths: Sequence[str], headers: dict[str, str] | None = None) -> list[bytes]:
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    return [f"GET {p} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode() for p in paths]


def resp_get_requests(keys: Sequence[str]) -> list[bytes]:
    out = []
    for k in keys:
        kb = k.encode()
        out.append(b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(kb), kb))
    return out


def parse_http(buf: bytearray) -> tuple[int, int] | None:
    """(status, bytes consumed) of the first complete HTTP/1.1 response in ``buf``, else None."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buf[:end]).lower()
    i = head.find(b"\r\ncontent-length:")
    if i < 0:
        raise ValueError("response without content-length")
    j = head.find(b"\r\n", i + 17)
    length = int(head[i + 17:j if j > 0 else len(head)])
    total = end + 4 + length
    if len(buf) < total:
        return None
    return int(head[9:12]), total


def parse_resp_bulk(buf: bytearray) -> tuple[int, int] | None:
    """(200 for a value / 404 for nil / 500 for an error reply, bytes consumed) of one RESP
    reply to GET, else None."""
    end = buf.find(b"\r\n")
    if end < 0:
        return None
    kind = buf[0]
    if kind == 36:  # '$'
        n = int(buf[1:end])
        if n < 0:
            return 404, end + 2
        total = end + 2 + n + 2
        return (200, total) if len(buf) >= total else None
    if kind in (43, 45, 58):  # '+' '-' ':'
        return (500 if kind == 45 else 200), end + 2
    raise ValueError(f"unexpected RESP reply {bytes(buf[:20])!r}")


Parser = Callable[[bytearray], "tuple[int, int] | None"]


# --------------------------------------------------------------------------- the client
class _Conn(asyncio.Protocol):
    __slots__ = ("gen", "transport", "buf", "started", "busy", "closed")

    def __init__(self, gen: _Gen) -> None:
        self.gen = gen
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.started = 0.0  # latency origin of the request in flight
        self.busy = False
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, req: bytes, origin: float) -> None:
        self.started, self.busy = origin, True
        self.transport.write(req)  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        try:
            parsed = self.gen.parse(buf)
        except ValueError as exc:
            self.fail(f"bad response: {exc}")
            return
        if parsed is None:
            return
        status, used = parsed
        del buf[:used]
        self.busy = False
        self.gen.done(self, status)

    def fail(self, why: str) -> None:
        if self.busy:
            self.busy = False
            self.gen.error(why)
        self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self.transport is not None:
                self.transport.close()
            self.gen.lost(self)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed:
            self.closed = True
            if self.busy:
                self.busy = False
                self.gen.error(f"connection lost: {exc!r}")
            self.gen.lost(self)


class _Gen:
    """Shared state of one phase (a set of connections to one server)."""

    def __init__(self, target: tuple[str, int] | str, requests: Sequence[bytes], parse: Parser,
                 ok_status: int, timeout_s: float) -> None:
        if isinstance(target, tuple) and target[0] not in LOCAL:
            raise ValueError("the load generator only targets localhost")
        self.target, self.requests, self.parse = target, requests, parse
        self.ok_status, self.timeout_s = ok_status, timeout_s
        self.res = Result()
        self.t0 = 0.0
        self.deadline = float("inf")
        self.next_req = 0
        self.conns: set[_Conn] = set()
        self.idle: list[_Conn] = []
        self.queue: collections.deque[float] = collections.deque()  # scheduled times waiting
        self.closed_loop = False
        self.loop = asyncio.get_running_loop()
        self.finished = self.loop.create_future()
        self.outstanding = 0
        self.stop_sending = False

    async def connect(self) -> _Conn:
        if isinstance(self.target, str):
            _, proto = await self.loop.create_unix_connection(lambda: _Conn(self), self.target)
        else:
            _, proto = await self.loop.create_connection(lambda: _Conn(self), *self.target)
        self.conns.add(proto)
        self.res.connections += 1
        return proto

    def request(self) -> bytes:
        i = self.next_req
        self.next_req = i + 1
        return self.requests[i % len(self.requests)]

    def done(self, conn: _Conn, status: int) -> None:
        now = time.perf_counter()
        res = self.res
        res.statuses[status] += 1
        if status == self.ok_status:
            res.latencies.append(now - conn.started)
            res.finished_at.append(now - self.t0)
        else:
            res.errors += 1
            res.first_error = res.first_error or f"status {status}"
        self.outstanding -= 1
        self.next_for(conn, now)

    def next_for(self, conn: _Conn, now: float) -> None:
        if self.closed_loop:
            if now < self.deadline and not self.stop_sending:
                self.outstanding += 1
                conn.send(self.request(), now)
            else:
                self.check_finished()
            return
        if self.queue:
            conn.send(self.request(), self.queue.popleft())
        else:
            self.idle.append(conn)
            self.check_finished()

    def error(self, why: str) -> None:
        self.res.errors += 1
        self.res.first_error = self.res.first_error or why
        self.outstanding -= 1
        self.check_finished()

    def lost(self, conn: _Conn) -> None:
        self.conns.discard(conn)
        if conn in self.idle:
            self.idle.remove(conn)
        if self.closed_loop and not self.stop_sending and time.perf_counter() < self.deadline:
            self.loop.create_task(self._replace())
        self.check_finished()

    async def _replace(self) -> None:
        try:
            conn = await self.connect()
        except OSError as exc:
            self.res.first_error = self.res.first_error or f"connect: {exc!r}"
            await asyncio.sleep(0.01)
            self.check_finished()
            return
        self.next_for(conn, time.perf_counter())

    def check_finished(self) -> None:
        if self.stop_sending and self.outstanding <= 0 and not self.queue and not self.finished.done():
            self.finished.set_result(None)

    def reap(self) -> None:
        """Requests in flight for longer than the timeout: errors; their connections are closed."""
        now = time.perf_counter()
        for c in list(self.conns):
            if c.busy and now - c.started > self.timeout_s:
                c.fail(f"timeout after {self.timeout_s}s")
        if self.queue and now - self.queue[0] > self.timeout_s:
            while self.queue and now - self.queue[0] > self.timeout_s:
                self.queue.popleft()
                self.error(f"not sent within {self.timeout_s}s (no free connection)")

    def close(self) -> None:
        for c in list(self.conns):
            c.closed = True
            if c.transport is not None:
                c.transport.close()
        self.conns.clear()


async def _reaper(g: _Gen) -> None:
    while not g.finished.done():
        await asyncio.sleep(0.05)
        g.reap()


async def closed_loop(target: tuple[str, int] | str, requests: Sequence[bytes], concurrency: int,
                      seconds: float, *, parse: Parser = parse_http, ok_status: int = 200,
                      timeout_s: float = 5.0) -> Result:
    g = _Gen(target, requests, parse, ok_status, timeout_s)
    g.closed_loop = True
    conns = [await g.connect() for _ in range(concurrency)]
    g.t0 = time.perf_counter()
    g.deadline = g.t0 + seconds
    for c in conns:
        g.next_for(c, g.t0)
    reaper = asyncio.ensure_future(_reaper(g))
    await asyncio.sleep(seconds)
    g.stop_sending = True
    g.check_finished()
    try:
        await asyncio.wait_for(asyncio.shield(g.finished), timeout_s + 1)
    except TimeoutError:
        pass
    reaper.cancel()
    g.res.elapsed = time.perf_counter() - g.t0
    g.close()
    return g.res


async def open_loop(target: tuple[str, int] | str, requests: Sequence[bytes], rate: float,
                    seconds: float, *, parse: Parser = parse_http, ok_status: int = 200,
                    connections: int = 16, max_connections: int = 256,
                    timeout_s: float = 5.0) -> Result:
    g = _Gen(target, requests, parse, ok_status, timeout_s)
    for _ in range(connections):
        g.idle.append(await g.connect())
    n = int(rate * seconds)
    g.res.scheduled = n
    reaper = asyncio.ensure_future(_reaper(g))
    opening = 0

    async def open_one() -> None:
        nonlocal opening
        try:
            conn = await g.connect()
        except OSError as exc:
            g.res.first_error = g.res.first_error or f"connect: {exc!r}"
            return
        finally:
            opening -= 1
        g.next_for(conn, time.perf_counter())

    g.t0 = t0 = time.perf_counter()
    i = 0
    while i < n:
        now = time.perf_counter()
        due = min(n, int((now - t0) * rate) + 1)  # every request scheduled at or before now
        while i < due:
            scheduled = t0 + i / rate
            i += 1
            g.outstanding += 1
            if g.idle:
                g.idle.pop().send(g.request(), scheduled)
            else:
                g.queue.append(scheduled)
                if len(g.conns) + opening < max_connections:
                    opening += 1
                    g.loop.create_task(open_one())
        if i < n:
            delay = t0 + i / rate - time.perf_counter()
            await asyncio.sleep(max(delay, 0.0))
    g.stop_sending = True
    g.check_finished()
    try:
        await asyncio.wait_for(asyncio.shield(g.finished), timeout_s + 1)
    except TimeoutError:
        g.res.errors += len(g.queue)
        g.queue.clear()
    reaper.cancel()
    g.res.elapsed = max(time.perf_counter() - t0, n / rate)
    g.close()
    return g.res


def run(coro):  # noqa: ANN001, ANN201 - an awaitable of a Result
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:
        return asyncio.run(coro)
