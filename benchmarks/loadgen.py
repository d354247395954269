"""A small, bounded load generator (asyncio; uvloop when installed) for 127.0.0.1 only.

* ``closed_loop``: ``concurrency`` workers, each issuing its next request when the previous one
  answered, until ``seconds`` pass or ``max_requests`` are done: the maximum rate.
* ``open_loop``: requests scheduled at a fixed ``rate``; latency is measured from the *scheduled*
  send time, so a stalled server shows up as latency instead of silently slowing the client
  (no coordinated omission).
HTTP/1.1 keep-alive over raw asyncio streams: a client costs far less CPU than httpx, which
matters when client and server share 2 cores.
"""
from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable

import numpy as np

_CL = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)  # seconds
    finished_at: list[float] = field(default_factory=list)  # seconds since start
    errors: int = 0
    elapsed: float = 0.0
    first_error: str = ""

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def pct_ms(self, q: float, lo: float = 0.0, hi: float = float("inf")) -> float | None:
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


class HttpConn:
    def __init__(self, host: str, port: int) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the load generator only targets localhost")
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        m = _CL.search(head)
        if not m:
            raise RuntimeError("response without content-length")
        await self.reader.readexactly(int(m.group(1)))
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class HttpPool:
    """Idle keep-alive connections; a new one when none is idle (at most ``limit``)."""

    def __init__(self, host: str, port: int, limit: int = 256) -> None:
        self.host, self.port, self.limit = host, port, limit
        self.idle: list[HttpConn] = []
        self.opened = 0
        self.sem = asyncio.Semaphore(limit)

    async def get(self, path: str) -> int:
        async with self.sem:
            conn = self.idle.pop() if self.idle else HttpConn(self.host, self.port)
            try:
                status = await conn.get(path)
            except Exception:
                conn.close()
                raise
            self.idle.append(conn)
            return status

    def close(self) -> None:
        for c in self.idle:
            c.close()
        self.idle.clear()


Request = Callable[[int], Awaitable[bool]]  # request number -> ok?


async def closed_loop(make_worker: Callable[[], Request], concurrency: int, seconds: float,
                      max_requests: int) -> Result:
    res = Result()
    t0 = time.perf_counter()
    deadline = t0 + seconds
    counter = iter(range(max_requests))

    async def worker() -> None:
        do = make_worker()
        for i in counter:
            if time.perf_counter() >= deadline:
                return
            s = time.perf_counter()
            try:
                ok = await do(i)
            except Exception as exc:  # noqa: BLE001 - counted as an error
                ok = False
                res.first_error = res.first_error or f"{type(exc).__name__}: {exc}"
            e = time.perf_counter()
            if ok:
                res.latencies.append(e - s)
                res.finished_at.append(e - t0)
            else:
                res.errors += 1

    await asyncio.gather(*[worker() for _ in range(concurrency)])
    res.elapsed = time.perf_counter() - t0
    return res


async def open_loop(do: Request, rate: float, seconds: float, max_requests: int,
                    timeout_s: float = 30.0) -> Result:
    res = Result()
    n = min(max_requests, int(rate * seconds))
    t0 = time.perf_counter()

    async def one(i: int, scheduled: float) -> None:
        try:
            ok = await asyncio.wait_for(do(i), timeout_s)
        except Exception as exc:  # noqa: BLE001 - counted as an error
            ok = False
            res.first_error = res.first_error or f"{type(exc).__name__}: {exc}"
        e = time.perf_counter()
        if ok:
            res.latencies.append(e - scheduled)
            res.finished_at.append(e - t0)
        else:
            res.errors += 1

    tasks = []
    for i in range(n):
        scheduled = t0 + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(i, scheduled)))
    await asyncio.gather(*tasks)
    res.elapsed = max(time.perf_counter() - t0, n / rate)
    return res


def run(coro: Awaitable[Result]) -> Result:
    try:
        import uvloop

        return uvloop.run(coro)  # type: ignore[arg-type]
    except ImportError:
        return asyncio.run(coro)  # type: ignore[arg-type]
