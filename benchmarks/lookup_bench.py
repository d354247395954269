"""P5: lookup latency and throughput over HTTP vs a raw Redis GET loop, same box, same run.

Two ways to run it:

* inside the suite (``benchmarks.run``, group P5): on the lists the pipeline published;
* standalone, no Spark: ``python -m benchmarks.lookup_bench`` starts its own redis-server, loads a
  synthetic version through the publisher's own executor writers (100k users, 2k queries, 5k items,
  K = 50, 5% of the items out of stock, category fallbacks) and writes
  ``benchmarks/results/lookup_http.json`` (BENCHMARKS.md shows it as size ``lookup_http``).

The lookup service (``python -m jobs.serving.app``: one uvicorn process with uvloop + httptools,
or ``--workers 2``) listens on 127.0.0.1:<free port>. The load generator (benchmarks/loadgen.py:
asyncio protocols, one pre-built request per path, minimal response parsing) runs in this process.
Requests mix /v1/recommend (50%), /v1/rank (30%) and /v1/similar (20%); 10% of the entities have
no list of their own (fallback chain). The reference is a raw ``GET`` of the same list keys over
the same unix socket, sent by the same load generator: the floor of one Redis round trip from
this client. Phases:

1. open loop at 1000 rps (latency from the *scheduled* send time: no coordinated omission):
   p50/p95/p99/max, achieved rate, errors; the same for the raw Redis GET;
2. closed loop at 32 connections: max requests/s, HTTP and raw Redis GET;
3. (``--long-seconds``) one long open-loop run at 1000 rps: errors must be zero.

CPU seconds of the client (this process), the server process tree and redis-server are sampled
per phase, next to the whole machine's busy time (the box is shared: "other" is everyone else).
"""
from __future__ import annotations

import argparse
import os
import random
import subprocess  # noqa: S404 - fixed argv, no shell
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import psutil

from benchmarks import loadgen
from benchmarks.common import BenchError, Figure, Target, paired, say, single

RATE = 1000.0
CONCURRENCY = 32
MIX = (("recommend", "user_id", "user", 5), ("rank", "query", "query", 3),
       ("similar", "item_id", "item", 2))
MISS_SHARE = 0.1  # requests for entities without a list of their own (fallback chain)
ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- request set
def sample_entities(r: Any, version: str, per_kind: int = 2000) -> dict[str, list[str]]:
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


def request_paths(ents: dict[str, list[str]], n: int = 10000, seed: int = 0) -> list[str]:
    """``n`` request paths in the endpoint mix, shuffled (every time window sees the same mix)."""
    rnd = random.Random(seed)
    weights = [w for *_, w in MIX]
    paths = []
    for _ in range(n):
        ep, param, kind, _ = rnd.choices(MIX, weights)[0]
        ids = ents.get(kind) or []
        if not ids:
            continue
        if rnd.random() < MISS_SHARE:
            x = {"user": "new-user-", "query": "unseen query ", "item": "new-item-"}[kind] + str(
                rnd.randrange(10**6))
        else:
            x = rnd.choice(ids)
        paths.append(f"/v1/{ep}?{param}={urllib.parse.quote(x)}&k=10")
    if not paths:
        raise BenchError("P5: no published lists to look up")
    return paths


# --------------------------------------------------------------------------- the service
@dataclass
class Service:
    proc: subprocess.Popen[bytes]
    port: int

    def tree(self) -> list[psutil.Process]:
        try:
            p = psutil.Process(self.proc.pid)
            return [p, *p.children(recursive=True)]
        except psutil.Error:
            return []


def start_service(redis_url: str, lake: Path, workers: int = 1,
                  own_pid: Callable[[int], None] | None = None) -> Service:
    from benchmarks.context import free_port

    port = free_port()
    env = {**os.environ, "REDIS_URL": redis_url, "RANKLAKE_HOME": str(lake)}
    env.pop("RANKLAKE_API_KEY", None)
    argv = [sys.executable, "-m", "jobs.serving.app", "--env", "local", "--host", "127.0.0.1",
            "--port", str(port), "--workers", str(workers)]
    proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,  # noqa: S603
                            stderr=subprocess.PIPE)
    if own_pid:
        own_pid(proc.pid)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode()[-800:] if proc.stderr else ""
            raise BenchError(f"lookup service exited with {proc.returncode}: {err}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:  # noqa: S310
                if resp.status == 200:
                    svc = Service(proc, port)
                    if workers > 1:  # every worker up (each answers /health itself)
                        while len(svc.tree()) < workers + 1 and time.monotonic() < deadline:
                            time.sleep(0.2)
                        time.sleep(1.0)
                    return svc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise BenchError("lookup service did not become healthy within 120 s")


def stop_service(svc: Service) -> None:
    proc = svc.proc
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


# --------------------------------------------------------------------------- CPU accounting
def _cpu(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            continue
    return total


class CpuSplit:
    """CPU seconds of client / server / redis-server, and the whole machine's busy seconds."""

    def __init__(self, server: Callable[[], list[psutil.Process]], redis_pid: int | None) -> None:
        self.server, self.redis_pid = server, redis_pid

    def _sample(self) -> dict[str, float]:
        me = psutil.Process()
        t = me.cpu_times()
        redis = [psutil.Process(self.redis_pid)] if self.redis_pid else []
        m = psutil.cpu_times()
        busy = m.user + m.nice + m.system + getattr(m, "irq", 0) + getattr(m, "softirq", 0) + getattr(
            m, "steal", 0)
        return {"client": t.user + t.system, "server": _cpu(self.server()), "redis": _cpu(redis),
                "machine": busy, "wall": time.perf_counter()}

    def __enter__(self) -> CpuSplit:
        self.t0 = self._sample()
        self.load0 = os.getloadavg()[0]
        return self

    def __exit__(self, *exc: object) -> None:
        t1 = self._sample()
        d = {k: t1[k] - self.t0[k] for k in t1}
        wall = d.pop("wall")
        d["other"] = max(0.0, d["machine"] - d["client"] - d["server"] - d["redis"])
        self.seconds = d  # CPU seconds per part
        self.cores = {k: round(v / wall, 2) for k, v in d.items()}  # cores busy on average
        self.wall = wall
        self.load1 = os.getloadavg()[0]

    def text(self) -> str:
        c = self.cores
        return (f"client {c['client']:.2f} + server {c['server']:.2f} + redis {c['redis']:.2f} "
                f"+ other {c['other']:.2f} cores (machine {c['machine']:.2f} of {psutil.cpu_count()})")

    def per_request_us(self, part: str, requests: int) -> float:
        return self.seconds[part] / requests * 1e6 if requests else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {"cores_busy": self.cores, "wall_s": round(self.wall, 2),
                "load_avg_1m": [round(self.load0, 2), round(self.load1, 2)]}


# --------------------------------------------------------------------------- the phases
def redis_target(url: str) -> tuple[str, int] | str:
    u = urllib.parse.urlparse(url)
    if u.scheme == "unix":
        return u.path
    if u.scheme == "redis" and not u.password:
        return (u.hostname or "127.0.0.1", u.port or 6379)
    raise BenchError(f"P5: the raw Redis reference needs a local unix:// or redis:// URL, got {u.scheme}")


@dataclass
class Measured:
    fixed: list[loadgen.Result] = field(default_factory=list)
    fixed_ref: list[loadgen.Result] = field(default_factory=list)
    fixed_cpu: list[CpuSplit] = field(default_factory=list)
    maxed: list[loadgen.Result] = field(default_factory=list)
    maxed_ref: list[loadgen.Result] = field(default_factory=list)
    maxed_cpu: list[CpuSplit] = field(default_factory=list)
    maxed_ref_cpu: list[CpuSplit] = field(default_factory=list)
    long: loadgen.Result | None = None
    long_cpu: CpuSplit | None = None
    workers: int = 1


def measure(svc: Service, redis_url: str, redis_pid: int | None, paths: list[str], keys: list[str],
            *, fixed_s: float, max_s: float, repeats: int, long_s: float, workers: int) -> Measured:
    http = loadgen.http_requests("127.0.0.1", paths)
    gets = loadgen.resp_get_requests(keys)
    target, rtarget = ("127.0.0.1", svc.port), redis_target(redis_url)

    def cpu() -> CpuSplit:
        return CpuSplit(svc.tree, redis_pid)

    rparse = {"parse": loadgen.parse_resp_bulk}
    m = Measured(workers=workers)
    say(f"P5: {workers} worker(s) on 127.0.0.1:{svc.port}; {len(paths)} request paths; warm-up")
    loadgen.run(loadgen.closed_loop(target, http, 8, 2.0))
    for i in range(repeats):
        with cpu() as c:
            h = loadgen.run(loadgen.open_loop(target, http, RATE, fixed_s))
        m.fixed.append(h)
        m.fixed_cpu.append(c)
        rr = loadgen.run(loadgen.open_loop(rtarget, gets, RATE, fixed_s, **rparse))
        m.fixed_ref.append(rr)
        say(f"  {RATE:.0f} rps [{i + 1}/{repeats}] HTTP p50 {h.pct_ms(50) or 0:.2f} p99 "
            f"{h.pct_ms(99) or 0:.2f} max {max(h.latencies, default=0) * 1e3:.1f} ms, achieved "
            f"{h.rps:,.0f} rps, errors {h.errors} | raw GET p50 {rr.pct_ms(50) or 0:.2f} p99 "
            f"{rr.pct_ms(99) or 0:.2f} ms | {c.text()}")
    for i in range(repeats):
        with cpu() as c:
            h = loadgen.run(loadgen.closed_loop(target, http, CONCURRENCY, max_s))
        with cpu() as rc:
            rr = loadgen.run(loadgen.closed_loop(rtarget, gets, CONCURRENCY, max_s, **rparse))
        m.maxed.append(h)
        m.maxed_ref.append(rr)
        m.maxed_cpu.append(c)
        m.maxed_ref_cpu.append(rc)
        say(f"  max rps [{i + 1}/{repeats}] HTTP {h.rps:,.0f} (p50 {h.pct_ms(50) or 0:.2f} ms, "
            f"errors {h.errors}; {c.text()}) | raw GET {rr.rps:,.0f} ({rc.text()})")
    if long_s:
        say(f"P5: long run: {RATE:.0f} rps for {long_s:.0f}s")
        with cpu() as c:
            m.long = loadgen.run(loadgen.open_loop(target, http, RATE, long_s))
        m.long_cpu = c
        lr = m.long
        say(f"  long run: {lr.requests:,} requests, errors {lr.errors}, p50 {lr.pct_ms(50) or 0:.2f} "
            f"p99 {lr.pct_ms(99) or 0:.2f} max {max(lr.latencies, default=0) * 1e3:.1f} ms, achieved "
            f"{lr.rps:,.0f} rps | {c.text()}")
    return m


def _codes(results: list[loadgen.Result]) -> dict[int, int]:
    total: Counter[int] = Counter()
    for r in results:
        total.update(r.statuses)
    return dict(sorted(total.items()))


def _cpu_cause(c: CpuSplit, res: loadgen.Result) -> str:
    """What the CPU split says about a phase (used as the cause of a missed target)."""
    n = res.requests
    free = max(0.0, psutil.cpu_count() - c.cores["other"])
    return (f"CPU-bound on the shared 2-core box: other processes kept {c.cores['other']:.2f} cores "
            f"busy (load avg {c.load0:.1f}), leaving ~{free:.2f} for client {c.cores['client']:.2f} + "
            f"server {c.cores['server']:.2f} + Redis {c.cores['redis']:.2f}; per request: server "
            f"{c.per_request_us('server', n):.0f} us, client {c.per_request_us('client', n):.0f} us, "
            f"Redis {c.per_request_us('redis', n):.0f} us of CPU")


def _with_cause(fig: Figure, cause: str) -> Figure:
    if fig.status == "miss":
        fig.extra["cause"] = cause
    return fig


def figures(m: Measured, suffix: str = "") -> list[Figure]:
    """The P5 figures of one measurement (``suffix`` tells apart the 2-worker variant)."""
    w = f"{m.workers} uvicorn worker{'s' if m.workers > 1 else ''}"

    def fid(name: str) -> str:
        return f"P5.{name}{suffix}"

    p99 = [h.pct_ms(99) for h in m.fixed]
    worst = max(range(len(m.fixed)), key=lambda i: m.fixed[i].pct_ms(99) or 0)
    ref_p99 = ", ".join(f"{r.pct_ms(99) or 0:.1f}" for r in m.fixed_ref)
    fixed_cause = (f"worst phase p99 {m.fixed[worst].pct_ms(99) or 0:.1f} ms at "
                   f"{m.fixed[worst].rps:,.0f} rps achieved (raw Redis GET at the same rate, same "
                   f"run: p99 {ref_p99} ms); " + _cpu_cause(m.fixed_cpu[worst], m.fixed[worst]))
    out = [
        paired(fid("http_p99_ms_at_1000rps"), "P5", f"lookup p99 over HTTP at {RATE:.0f} rps ({w})",
               "ms", [x for x in p99 if x is not None], "raw Redis GET at the same rate",
               [x for x in (r.pct_ms(99) for r in m.fixed_ref) if x is not None],
               higher_is_better=False, target=Target("<=", 3.0, "value", "p99 <= 3 ms at 1000 rps"),
               note=(f"open loop, latency from the scheduled send time; {len(m.fixed)} x "
                     f"{m.fixed[0].elapsed:.0f}s phases, p99 of each phase; achieved "
                     + ", ".join(f"{h.rps:,.0f}" for h in m.fixed) + " rps; p95 "
                     + ", ".join(f"{h.pct_ms(95) or 0:.2f}" for h in m.fixed) + " ms; max "
                     + ", ".join(f"{max(h.latencies, default=0) * 1e3:.1f}" for h in m.fixed)
                     + f" ms; CPU {m.fixed_cpu[0].text()}")),
        paired(fid("http_p50_ms_at_1000rps"), "P5", f"lookup p50 over HTTP at {RATE:.0f} rps ({w})",
               "ms", [h.pct_ms(50) for h in m.fixed if h.latencies], "raw Redis GET at the same rate",
               [r.pct_ms(50) for r in m.fixed_ref if r.latencies], higher_is_better=False),
        paired(fid("http_max_rps"), "P5", f"lookup max rps over HTTP ({CONCURRENCY} connections, {w})",
               "req/s", [h.rps for h in m.maxed], "raw Redis GET loop, same client, same concurrency",
               [r.rps for r in m.maxed_ref], higher_is_better=True,
               target=Target(">=", 3000, "value", ">= 3000 rps on 2 cores"),
               note=(f"closed loop, {m.maxed[0].elapsed:.0f}s phases; the load generator shares the "
                     f"2 cores; CPU at max rps: {m.maxed_cpu[0].text()}; raw GET loop: "
                     f"{m.maxed_ref_cpu[0].text()}")),
    ]
    out[0] = _with_cause(out[0], fixed_cause)
    best = max(range(len(m.maxed)), key=lambda i: m.maxed[i].rps)
    out[2] = _with_cause(out[2], _cpu_cause(m.maxed_cpu[best], m.maxed[best]))
    errs = sum(h.errors for h in m.fixed + m.maxed)
    n = sum(h.requests for h in m.fixed + m.maxed)
    first = next((h.first_error for h in m.fixed + m.maxed if h.first_error), "")
    out.append(_with_cause(single(
        fid("http_errors"), "P5", f"errors during the HTTP phases ({n:,} requests, {w})", "errors",
        [float(errs)], target=Target("<=", 0, "value", "zero errors"),
        note=f"HTTP status counts {_codes(m.fixed + m.maxed)}" + (f"; {first[:200]}" if first else "")),
        f"first error: {first[:200]}"))
    if m.long is not None:
        lr = m.long
        out.append(_with_cause(single(fid("http_long_errors"), "P5",
                          f"errors in a {lr.elapsed:.0f}s load at {RATE:.0f} rps ({w})", "errors",
                          [float(lr.errors)], target=Target("<=", 0, "value", "zero errors"),
                          note=(f"{lr.requests:,} requests, achieved {lr.rps:,.0f} rps, p50 "
                                f"{lr.pct_ms(50) or 0:.2f} p95 {lr.pct_ms(95) or 0:.2f} p99 "
                                f"{lr.pct_ms(99) or 0:.2f} p99.9 {lr.pct_ms(99.9) or 0:.2f} max "
                                f"{max(lr.latencies, default=0) * 1e3:.1f} ms; status counts "
                                f"{_codes([lr])}; CPU {m.long_cpu.text() if m.long_cpu else '?'}"
                                + (f"; {lr.first_error[:200]}" if lr.first_error else ""))),
            f"first error: {lr.first_error[:200]}; "
            + (_cpu_cause(m.long_cpu, lr) if m.long_cpu else "")))
    return out


def info(m: Measured) -> dict[str, Any]:
    return {"workers": m.workers, "rate": RATE, "concurrency": CONCURRENCY,
            "fixed": [h.summary() for h in m.fixed], "fixed_ref": [r.summary() for r in m.fixed_ref],
            "fixed_cpu": [c.to_dict() for c in m.fixed_cpu],
            "max": [h.summary() for h in m.maxed], "max_ref": [r.summary() for r in m.maxed_ref],
            "max_cpu": [c.to_dict() for c in m.maxed_cpu],
            "max_ref_cpu": [c.to_dict() for c in m.maxed_ref_cpu],
            "long": m.long.summary() if m.long else None,
            "long_cpu": m.long_cpu.to_dict() if m.long_cpu else None}


# --------------------------------------------------------------------------- inside the suite
def run(b: Any) -> None:
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
    fixed_s = max(2.0, p.http_seconds)
    max_s = max(3.0, min(10.0, p.http_seconds / 2))
    long_s = 0.0 if p.name == "small" else 60.0
    redis_pid = b.redis.proc.pid if b.redis.proc else None
    for workers in (1, 2):
        svc = start_service(b.redis.url, b.lake, workers, b.own_pid)
        try:
            m = measure(svc, b.redis.url, redis_pid, paths, keys, fixed_s=fixed_s, max_s=max_s,
                        repeats=p.repeats, long_s=long_s if workers == 1 else 0.0, workers=workers)
        finally:
            stop_service(svc)
        for f in figures(m, "" if workers == 1 else "_2workers"):
            b.add(f)
        b.info[f"p5_{workers}w"] = info(m)


# --------------------------------------------------------------------------- standalone

def load_synthetic(url: str, users: int, queries: int, items: int, k: int = 50,
                   out_of_stock: float = 0.05, seed: int = 1) -> tuple[str, dict[str, list[str]]]:
    """Publish one synthetic version with the publisher's executor writers + version functions
    (no Spark). Returns (version, entities per kind)."""
    from datetime import date, datetime, timezone

    import numpy as np
    import pyarrow as pa

    from jobs.serving import keys as K
    from jobs.serving import versions
    from jobs.serving.redis_conn import RedisParams, client
    from jobs.serving.writer import catalog_writer, category_leaves, list_writer

    rng = np.random.default_rng(seed)
    item_ids = [f"item{j:06d}" for j in range(items)]
    tops = ["home", "fashion", "garden", "sports", "toys", "books", "beauty", "tech"]
    cats = [f"{t}/{t}{m}/leaf{t}{m}{x}" for t in tops for m in range(4) for x in range(5)]
    item_cat = [cats[j % len(cats)] for j in range(items)]
    vocab = ["red", "blue", "shoes", "jeans", "lamp", "desk", "chair", "ball", "kids", "wool",
             "cotton", "light", "dark", "small", "large", "running", "garden", "hose", "book", "pen"]
    qs: set[str] = set()
    while len(qs) < queries:
        qs.add(" ".join(rng.choice(vocab, size=int(rng.integers(1, 4)), replace=False)))
    ents = {"user": [f"user{u:07d}" for u in range(users)], "query": sorted(qs),
            "item": item_ids[:], "fallback": ["global", *sorted(set(tops) | set(cats))]}
    src = {"user": "personalized", "query": "query", "item": "personalized", "fallback": "fallback"}
    item_t = pa.list_(pa.struct([("rank", pa.int32()), ("item_id", pa.string()),
                                 ("score", pa.float64())]))
    schema = pa.schema([("kind", pa.string()), ("entity_id", pa.string()), ("items", item_t),
                        ("source", pa.string())])
    ids_arr = pa.array(item_ids)
    primes = [p for p in (7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47) if items % p]

    def batch(kind: str, names: list[str]) -> pa.RecordBatch:
        n = len(names)
        start = rng.integers(0, items, n)[:, None]
        stride = np.array(primes)[rng.integers(0, len(primes), n)][:, None]
        idx = ((start + stride * np.arange(k)[None, :]) % items).ravel()  # k distinct items
        score = (np.sort(rng.random((n, k)), axis=1)[:, ::-1] * 10).ravel()
        rank = np.tile(np.arange(1, k + 1, dtype=np.int32), n)
        flat = pa.StructArray.from_arrays([pa.array(rank), ids_arr.take(pa.array(idx)),
                                           pa.array(score)], fields=list(item_t.value_type))
        lists = pa.ListArray.from_arrays(pa.array(np.arange(0, n * k + 1, k, dtype=np.int32)), flat,
                                         type=item_t)
        return pa.RecordBatch.from_arrays([pa.array([kind] * n), pa.array(names), lists,
                                           pa.array([src[kind]] * n)], schema=schema)

    params = RedisParams(url, socket_timeout_s=30)
    r = client(params)
    version = K.new_version(date(2099, 1, 1), f"{int(rng.integers(0, 2**24)):06x}")
    versions.register(r, version, {"run_date": "2099-01-01"})
    r.sadd(K.instock_key(version), K.INSTOCK_SENTINEL)
    write = list_writer(params, version, 1000)
    for kind, names in ents.items():
        for lo in range(0, len(names), 20000):
            list(write(iter([batch(kind, names[lo:lo + 20000])])))
    stock = rng.random(items) >= out_of_stock
    cat = pa.RecordBatch.from_pydict({"item_id": item_ids, "category": item_cat,
                                      "in_stock": stock.tolist()})
    list(catalog_writer(params, version, 1000)(iter([cat])))
    r.hset(K.catleaf_key(version), mapping=category_leaves(cats))
    now = datetime.now(timezone.utc)
    versions.mark_ready(r, version, {
        "published_at": now.isoformat(timespec="seconds"), "published_at_epoch": str(now.timestamp()),
        "counts": {kind: len(v) for kind, v in ents.items()}, "k": {kind: k for kind in ents},
        "model_versions": {kind: "synthetic" for kind in ents}})
    versions.flip(r, version, 2)
    r.close()
    return version, ents


def main(argv: list[str] | None = None) -> int:
    from benchmarks import report
    from benchmarks.common import machine_info
    from benchmarks.context import RedisServer
    from jobs.serving import keys as K

    p = argparse.ArgumentParser(prog="python -m benchmarks.lookup_bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--users", type=int, default=100_000)
    p.add_argument("--queries", type=int, default=2_000)
    p.add_argument("--items", type=int, default=5_000)
    p.add_argument("--seconds", type=float, default=10.0, help="each fixed-rate phase")
    p.add_argument("--max-seconds", type=float, default=5.0, help="each max-rps phase")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--long-seconds", type=float, default=60.0, help="the long run (0: skip)")
    p.add_argument("--workers", default="1,2", help="comma-separated uvicorn worker counts to measure")
    p.add_argument("--out", default=str(report.RESULTS / "lookup_http.json"))
    p.add_argument("--no-report", action="store_true", help="do not regenerate BENCHMARKS.md")
    a = p.parse_args(argv)
    machine = machine_info()
    say(f"P5 standalone: load average {machine['load_avg_1_5_15']} on {machine['cores']} cores")
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ranklake-p5-") as tmp:
        server = RedisServer(Path(tmp) / "redis").start()
        try:
            t = time.monotonic()
            version, ents = load_synthetic(server.url, a.users, a.queries, a.items)
            say(f"P5: synthetic version {version} loaded in {time.monotonic() - t:.1f}s "
                f"({', '.join(f'{k} {len(v):,}' for k, v in ents.items())})")
            known = {k: ents[k] for k in ("user", "query", "item")}
            paths = request_paths(known)
            rnd = random.Random(1)
            keys = [K.list_key(version, kind, rnd.choice(known[kind])) for kind in
                    rnd.choices(["user", "query", "item"], [5, 3, 2], k=10000)]
            figs: list[Figure] = []
            infos: dict[str, Any] = {}
            for workers in [int(x) for x in a.workers.split(",") if x.strip()]:
                svc = start_service(server.url, Path(tmp) / "lake", workers)
                try:
                    m = measure(svc, server.url, server.proc.pid if server.proc else None, paths,
                                keys, fixed_s=a.seconds, max_s=a.max_seconds, repeats=a.repeats,
                                long_s=a.long_seconds if workers == 1 else 0.0, workers=workers)
                finally:
                    stop_service(svc)
                figs += figures(m, "" if workers == 1 else f"_{workers}workers")
                infos[f"p5_{workers}w"] = info(m)
        finally:
            server.stop()
    for f in figs:
        say(f"{f.id}: {f.value and f.value.get('median')} {f.unit} [{f.status}]")
    doc = {"size": "lookup_http", "status": "ok", "error": "", "groups": ["P5"],
           "wall_s": round(time.monotonic() - t0, 1), "machine": machine,
           "profile": {"users": a.users, "queries": a.queries, "items": a.items, "k": 50,
                       "seconds": a.seconds, "max_seconds": a.max_seconds, "repeats": a.repeats,
                       "long_seconds": a.long_seconds, "miss_share": MISS_SHARE},
           "notes": [f"standalone P5 (`python -m benchmarks.lookup_bench`) on a "
                     f"synthetic version ({a.users:,} users, {a.queries:,} queries, {a.items:,} "
                     f"items, K=50, 5% out of stock, {MISS_SHARE:.0%} of requests on the fallback "
                     "chain); client, server and Redis share the 2 cores with whatever else runs "
                     "(CPU split in each figure's note; 'other' = the rest of the machine). The "
                     "small P5 rows of the 2026-12-01T22:01 run measured the service before its "
                     "fast path (FastAPI routing + pydantic + redis.asyncio per request)"],
           "info": infos, "figures": [f.to_dict() for f in figs]}
    report.save_standalone(doc, a.out, regenerate=not a.no_report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
