"""P5: lookup latency and throughput over HTTP vs a raw Redis GET loop on the same keys.

The lookup service (``python -m jobs.serving.app``: FastAPI on uvicorn, one process, the published
lists of the pipeline run) listens on 127.0.0.1:<free port>; the load generator (benchmarks/
loadgen.py) runs in this process. Requests mix /v1/recommend (50%), /v1/rank (30%) and /v1/similar
(20%) over entities sampled from the published version. Reference: ``GET`` of the same list keys
with redis.asyncio over the same unix socket, same concurrency / same rate.
Phases: open loop at 1000 rps (p50/p99 per window, errors), closed loop at fixed concurrency
(max rps). Client and server share the machine's cores, so the max rps is a floor.
"""
from __future__ import annotations

import os
import random
import subprocess  # noqa: S404 - fixed argv, no shell
import sys
import time
import urllib.parse
import urllib.request
from collections import Counter
from typing import Any

from benchmarks import loadgen
from benchmarks.common import BenchError, Target, paired, say, single
from benchmarks.context import Bench, free_port

RATE = 1000.0
CONCURRENCY = 32
MIX = (("recommend", "user_id", "user", 5), ("rank", "query", "query", 3),
       ("similar", "item_id", "item", 2))


def sample_entities(r: Any, version: str, per_kind: int = 1000) -> dict[str, list[str]]:
    from jobs.serving import keys as K

    out: dict[str, list[str]] = {}
    for kind in ("user", "query", "item"):
        prefix = K.version_prefix(version) + K.KIND_TAGS[kind] + ":"
        ids = []
        for key in r.scan_iter(match=prefix + "*", count=2000):
            ids.append(key.decode()[len(prefix):])
            if len(ids) >= per_kind:
                break
        out[kind] = sorted(ids)
    return out


def request_paths(ents: dict[str, list[str]]) -> list[str]:
    paths = []
    for ep, param, kind, weight in MIX:
        ids = ents.get(kind) or []
        for x in ids[: 200 * weight]:
            paths.append(f"/v1/{ep}?{param}={urllib.parse.quote(x)}&k=10")
    if not paths:
        raise BenchError("P5: no published lists to look up")
    random.Random(0).shuffle(paths)  # every time window sees the same endpoint mix
    return paths


def start_service(b: Bench) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {**os.environ, "REDIS_URL": b.redis.url, "RANKLAKE_HOME": str(b.lake)}
    argv = [sys.executable, "-m", "jobs.serving.app", "--env", "local", "--host", "127.0.0.1",
            "--port", str(port)]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,  # noqa: S603
                            stderr=subprocess.PIPE)
    b.own_pid(proc.pid)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode()[-800:] if proc.stderr else ""
            raise BenchError(f"lookup service exited with {proc.returncode}: {err}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:  # noqa: S310
                if resp.status == 200:
                    return proc, port
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise BenchError("lookup service did not become healthy within 120 s")


def stop_service(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


async def _http_open(port: int, paths: list[str], seconds: float, cap: int,
                     codes: Counter[int]) -> loadgen.Result:
    pool = loadgen.HttpPool("127.0.0.1", port)

    async def do(i: int) -> bool:
        status = await pool.get(paths[i % len(paths)])
        codes[status] += 1
        return status == 200

    try:
        return await loadgen.open_loop(do, RATE, seconds, cap)
    finally:
        pool.close()


async def _http_closed(port: int, paths: list[str], seconds: float, cap: int,
                       codes: Counter[int] | None = None) -> loadgen.Result:
    conns: list[loadgen.HttpConn] = []
    seen = codes if codes is not None else Counter()

    def make():  # noqa: ANN202
        conn = loadgen.HttpConn("127.0.0.1", port)
        conns.append(conn)

        async def do(i: int) -> bool:
            status = await conn.get(paths[(i * 7919) % len(paths)])
            seen[status] += 1
            return status == 200
        return do

    try:
        return await loadgen.closed_loop(make, CONCURRENCY, seconds, cap)
    finally:
        for c in conns:
            c.close()


async def _redis(url: str, keys: list[str], seconds: float, cap: int, rate: float | None) -> loadgen.Result:
    import redis.asyncio as aioredis

    r = aioredis.Redis.from_url(url, max_connections=CONCURRENCY * 4)

    async def do(i: int) -> bool:
        return await r.get(keys[(i * 7919) % len(keys)]) is not None

    try:
        if rate:
            return await loadgen.open_loop(do, rate, seconds, cap)
        return await loadgen.closed_loop(lambda: do, CONCURRENCY, seconds, cap)
    finally:
        await r.aclose()


def run(b: Bench) -> None:
    from jobs.serving import keys as K
    from jobs.serving import versions

    r = b.redis.client()
    version = versions.current(r)
    if not version:
        raise BenchError("P5: nothing published (no current list version)")
    ents = sample_entities(r, version)
    r.close()
    paths = request_paths(ents)
    keys = [K.list_key(version, kind, e) for kind in ("user", "query", "item") for e in ents[kind]]
    p = b.profile
    fixed_s = p.http_seconds
    window = max(2.0, fixed_s / 6)
    max_s = max(3.0, min(10.0, fixed_s / 4))
    cap = p.http_requests
    proc, port = start_service(b)
    try:
        say(f"P5: service on 127.0.0.1:{port}; {len(paths)} request paths; warm-up")
        loadgen.run(_http_closed(port, paths, 1.0, 2000))
        say(f"P5: HTTP open loop at {RATE:.0f} rps for {fixed_s:.0f}s")
        codes: Counter[int] = Counter()
        http_fixed = loadgen.run(_http_open(port, paths, fixed_s, cap, codes))
        say(f"P5: raw Redis GET open loop at {RATE:.0f} rps for {min(fixed_s, 10):.0f}s")
        redis_fixed = loadgen.run(_redis(b.redis.url, keys, min(fixed_s, 10.0), cap, RATE))
        http_max, redis_max = [], []
        for i in range(p.repeats):
            h = loadgen.run(_http_closed(port, paths, max_s, cap, codes))
            rr = loadgen.run(_redis(b.redis.url, keys, max_s, cap, None))
            http_max.append(h.rps)
            redis_max.append(rr.rps)
            say(f"  max rps [{i + 1}/{p.repeats}] HTTP {h.rps:,.0f} (errors {h.errors}), "
                f"raw Redis GET {rr.rps:,.0f}")
            if h.errors:
                http_fixed.errors += h.errors
                http_fixed.first_error = http_fixed.first_error or h.first_error
    finally:
        stop_service(proc)
    p99s, rp99s = http_fixed.window_pcts(99, window), redis_fixed.window_pcts(99, window)
    b.add(paired("P5.http_p99_ms_at_1000rps", "P5", f"lookup p99 over HTTP at {RATE:.0f} rps",
                 "ms", p99s, "raw Redis GET at the same rate", rp99s, higher_is_better=False,
                 target=Target("<=", 3.0, "value", "p99 <= 3 ms at 1000 rps"),
                 note=f"p99 per {window:.0f}s window over {fixed_s:.0f}s; whole phase p99 "
                      f"{http_fixed.pct_ms(99) or float('nan'):.2f} ms, achieved "
                      f"{http_fixed.rps:,.0f} rps"))
    b.add(paired("P5.http_p50_ms_at_1000rps", "P5", f"lookup p50 over HTTP at {RATE:.0f} rps",
                 "ms", http_fixed.window_pcts(50, window), "raw Redis GET at the same rate",
                 redis_fixed.window_pcts(50, window), higher_is_better=False))
    b.add(paired("P5.http_max_rps", "P5", f"lookup max rps over HTTP ({CONCURRENCY} connections)",
                 "req/s", http_max, "raw Redis GET loop, same concurrency", redis_max,
                 higher_is_better=True, target=Target(">=", 3000, "value", ">= 3000 rps on 2 cores"),
                 note="one uvicorn process; the load generator shares the cores"))
    err = single("P5.http_errors", "P5", f"errors during the HTTP phases ({len(http_fixed.latencies):,}"
                 " requests at fixed rate + max-rps phases)", "errors", [float(http_fixed.errors)],
                 target=Target("<=", 0, "value", "zero errors"),
                 note=(f"HTTP status counts {dict(sorted(codes.items()))}; "
                       + (http_fixed.first_error[:200] or "")))
    b.add(err)
    b.info["p5"] = {"request_paths": len(paths), "fixed_rate_s": fixed_s, "max_rps_phase_s": max_s,
                    "fixed_rate_requests": len(http_fixed.latencies), "concurrency": CONCURRENCY}
