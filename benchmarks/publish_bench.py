"""P4 publish keys/s vs ``redis-cli --pipe`` of the same payload; P6 Redis memory per list.

P4 ours: ``ranklake publish`` (the pipeline's run + reruns, each a new version; repeats + 2 runs
in all, the same count of --pipe loads): keys/s of its list-writing Spark job as the publisher
reports it (each task streams its files' stored ``serving_value`` bytes as pipelined MSETs).
Reference: the very same (key, value) pairs -- encoded by the same codec
inside Spark tasks into a RESP file beforehand, keys of the same length under a ``bk:`` prefix --
loaded with ``redis-cli --pipe`` into the same server; the keys are unlinked between repeats.
P6: ``MEMORY USAGE`` of a sample of the published list keys, and the server's ``used_memory``
growth during one ``--pipe`` load, each over the payload bytes (key + value).
"""
from __future__ import annotations

import os
import statistics
import subprocess  # noqa: S404 - fixed argv, no shell
import time
from pathlib import Path
from typing import Any, Iterator

from benchmarks.common import BenchError, Target, paired, redis_binary, say, single
from benchmarks.context import Bench
from benchmarks.pipeline import run_stage

BENCH_VERSION = "20261120-bench0"  # same length as a real version: same key lengths


def _resp(*parts: bytes) -> bytes:
    out = [b"*%d\r\n" % len(parts)]
    for p in parts:
        out.append(b"$%d\r\n%s\r\n" % (len(p), p))
    return b"".join(out)


def build_payload(b: Bench) -> tuple[Path, int, int]:
    """RESP file of SET <key> <packed list> for every list of the run date (built in Spark tasks)."""
    import pyarrow as pa

    from jobs.common import columns as C
    from jobs.common.delta import read_table
    from jobs.publish import LIST_TABLES, union_lists
    from jobs.serving import keys as K

    frames = {k: read_table(b.spark, b.cfg, t, filters=[(C.RUN_DATE, "=", b.run_date)])
              for k, t in LIST_TABLES.items()}
    lists = union_lists(frames).select("kind", C.ENTITY_ID, C.ITEMS, C.SOURCE)
    out_dir = b.scratch / "resp"
    out_dir.mkdir(parents=True, exist_ok=True)
    prefix = "bk:" + K.version_prefix(BENCH_VERSION)[3:]

    def write(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from pyspark import TaskContext

        from jobs.serving import keys as K2
        from jobs.serving.writer import encode_batch

        ctx = TaskContext.get()
        path = out_dir / f"part-{ctx.partitionId() if ctx else 0:05d}.resp"
        n = nbytes = 0
        with open(path, "wb") as fh:
            for batch in batches:
                for kind, ent, blob, _ in encode_batch(batch):
                    key = (prefix + K2.list_suffix(kind, ent)).encode()
                    fh.write(_resp(b"SET", key, blob))
                    n += 1
                    nbytes += len(key) + len(blob)
        yield pa.RecordBatch.from_pylist([{"path": str(path), "keys": n, "bytes": nbytes}])

    rows = lists.mapInArrow(write, "path string, keys long, bytes long").collect()
    payload = b.scratch / "payload.resp"
    with open(payload, "wb") as out:
        for r in sorted(rows, key=lambda r: r["path"]):
            with open(r["path"], "rb") as fh:
                while chunk := fh.read(1 << 20):
                    out.write(chunk)
            os.unlink(r["path"])
    return payload, sum(r["keys"] for r in rows), sum(r["bytes"] for r in rows)


def _unlink_prefix(r: Any, pattern: str) -> None:
    batch = []
    for key in r.scan_iter(match=pattern, count=5000):
        batch.append(key)
        if len(batch) >= 5000:
            r.unlink(*batch)
            batch = []
    if batch:
        r.unlink(*batch)


def pipe_load(b: Bench, payload: Path, keys: int) -> float:
    cli = redis_binary("redis-cli")
    with open(payload, "rb") as fh:
        t0 = time.perf_counter()
        res = subprocess.run([cli, "-s", str(b.redis.sock), "--pipe"], stdin=fh,  # noqa: S603
                             capture_output=True, text=True, timeout=3600)
        dt = time.perf_counter() - t0
    tail = (res.stdout + res.stderr).strip().splitlines()[-1:] or [""]
    if res.returncode != 0 or f"errors: 0, replies: {keys}" not in tail[0]:
        raise BenchError(f"redis-cli --pipe failed (exit {res.returncode}): {tail[0]}")
    return dt


def publish_and_memory(b: Bench, first_publish: dict[str, Any] | None) -> None:
    r = b.redis.client()
    ours: list[float] = []
    stage_rates: list[float] = []
    # steady state, as a daily publish sees it: the first publishes grow Redis to two versions'
    # worth of memory (cold page faults in the server); from then on each one reuses what the
    # previous cleanup freed. So both sides get the same number of runs (medians), and each
    # --pipe load also follows an unlink of its previous load
    runs = b.profile.repeats + 2
    records = [first_publish] if first_publish else []
    for _ in range(runs - len(records)):
        records.append(run_stage(b, "publish")[2])
    timings = []
    for rec in records:
        timing = rec["info"]["write"]["_timing"]
        timings.append(timing)
        ours.append(float(timing["keys_per_s"]))
        n = sum(v for k, v in rec["counts"].items() if k.startswith("lists_"))
        stage_rates.append(n / rec["duration_s"] if rec["duration_s"] else 0.0)
    say("P4: building the redis-cli --pipe payload of the same lists")
    payload, keys, nbytes = build_payload(b)
    ref: list[float] = []
    pattern = "bk:*"
    mem_growth = None
    for i in range(runs):
        _unlink_prefix(r, pattern)
        before = int(r.info("memory")["used_memory"])
        dt = pipe_load(b, payload, keys)
        after = int(r.info("memory")["used_memory"])
        mem_growth = after - before if mem_growth is None else mem_growth
        ref.append(keys / dt)
        say(f"  redis-cli --pipe [{i + 1}/{runs}] {keys:,} keys in {dt:.2f}s")
    _unlink_prefix(r, pattern)
    size_mb = payload.stat().st_size / 2**20
    payload.unlink()
    b.add(paired("P4.publish_keys_per_s", "P4", f"publish {keys:,} lists (list-writing Spark job)",
                 "keys/s", ours, "redis-cli --pipe, same keys/values", ref, higher_is_better=True,
                 target=Target(">=", 0.5, "ratio", "ours >= 0.5 x redis-cli --pipe"),
                 note=f"whole publish stage: {max(stage_rates):,.0f} keys/s (lock, checks, verify, "
                      f"flip); RESP payload {size_mb:.1f} MiB", payload_bytes=nbytes,
                 cause=publish_cause(timings, keys, keys / statistics.median(ref))))
    memory(b, r, keys, nbytes, mem_growth)
    r.close()


def publish_cause(timings: list[dict[str, Any]], keys: int, ref_s: float) -> str:
    """Where the list-writing job's time goes, from the per-task timings of the median run."""
    runs = sorted(timings, key=lambda t: t["lists_s"])
    t = runs[(len(runs) - 1) // 2]
    tasks = t.get("tasks") or []
    if not tasks:
        return f"job {t['lists_s']:.2f} s (no per-task timing recorded)"
    task_s = max(x["send_s"] + x["idle_s"] for x in tasks)
    return (f"median run: job {t['lists_s']:.2f} s for {keys:,} keys, of which the slowest of "
            f"{len(tasks)} writer tasks took {task_s:.2f} s (sending while Redis applies the "
            f"MSETs {max(x['send_s'] for x in tasks):.2f} s, waiting for its own reads "
            f"{max(x['idle_s'] for x in tasks):.2f} s; reading + encoding in a thread "
            f"{max(x['read_encode_s'] for x in tasks):.2f} s) and Spark's job start and finish "
            f"{max(t['lists_s'] - task_s, 0):.2f} s; {_cpu_split(t)}redis-cli --pipe streams the "
            f"prebuilt buffer in {ref_s:.2f} s with the server alone on a core")


def _cpu_split(t: dict[str, Any]) -> str:
    """'CPU during the job: ...; ' from the publisher's own accounting (empty if not recorded)."""
    cpu = t.get("cpu_s") or {}
    tasks = [x["cpu_s"] for x in t.get("tasks") or [] if "cpu_s" in x]
    if not cpu and not tasks:
        return ""
    parts = [f"writer tasks {' + '.join(f'{x:.2f}' for x in tasks)}"] if tasks else []
    parts += [f"{k.replace('_', ' ')} {v:.2f}" for k, v in cpu.items()]
    return f"CPU seconds used during the job on {os.cpu_count()} cores: {', '.join(parts)}; "


def memory(b: Bench, r: Any, keys: int, nbytes: int, growth: int | None) -> None:
    from jobs.serving import keys as K
    from jobs.serving import versions

    version = versions.current(r)
    if not version:
        raise BenchError("P6: nothing published (no current list version)")
    sample, per_key = [], []
    for key in r.scan_iter(match=K.version_prefix(version) + "u:*", count=1000):
        sample.append(key)
        if len(sample) >= 2000:
            break
    for key in sample:
        used = r.memory_usage(key, samples=0)
        val = r.strlen(key)
        per_key.append(used / (len(key) + val))
    if not per_key:
        raise BenchError(f"P6: no user list keys under {version}")
    per_key.sort()
    fig = single("P6.redis_memory_per_list", "P6", "Redis memory per list / payload bytes", "x",
                 per_key, target=Target("<=", 1.3, "value", "<= 1.3 x payload"),
                 note=f"MEMORY USAGE of {len(per_key)} user lists / (key + value bytes); "
                      + (f"used_memory growth of a --pipe load: {growth / nbytes:.2f}x payload "
                         f"({keys:,} keys)" if growth and nbytes else ""))
    fig.value = {k: v for k, v in fig.value.items() if k != "samples"}  # type: ignore[union-attr]
    b.add(fig)


def encodings(b: Bench) -> None:
    """P6 (informational): bytes in Redis per list for the packed codec vs JSON / hash / zset,
    from the publish engineer's helper (benchmarks/publish_lookup.py). It FLUSHES the server, so
    it runs last, after P5."""
    from benchmarks.publish_lookup import encodings as measure

    n = 2000 if b.profile.name == "small" else 5000
    out = measure(b.redis.url, n=n, k=b.cfg.topk.k)
    packed = out["packed"]
    fig = single("P6.encoding_packed_overhead", "P6",
                 f"packed codec: Redis bytes / payload bytes ({n:,} synthetic lists of {b.cfg.topk.k})",
                 "x", [packed["overhead_x"]], target=Target("<=", 1.3, "value", "<= 1.3 x payload"),
                 note="; ".join(f"{k}: {v['redis_bytes_per_list']:.0f} B/list ({v['overhead_x']}x of "
                                f"{v['payload_bytes_per_list']:.0f} B)" for k, v in out.items()),
                 encodings=out)
    b.add(fig)
