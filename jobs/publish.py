"""Publish the top-K lists of one run date to Redis under a new version, then flip the pointer.

Reads (run_date = D): topk_user, topk_query, topk_item, topk_fallback; catalog_clean (snapshot).
Writes Redis only (key layout in jobs/serving/keys.py, value codec in jobs/serving/codec.py):
version ``<D:%Y%m%d>-<6 hex attempt id>``; every list is one packed STRING; plus the in-stock SET,
item -> category and category-leaf HASHes and the version metadata.

Steps: take the publish lock -> unlink partial keys of earlier killed/failed publishes -> check the
tables (nulls, ranks 1..n, duplicate entities: DataError) -> register the version -> Spark
executors write the lists and the catalog in parallel (``mapInArrow``, pipelined batches of
``publish.batch_size``; the list writers read the top-K tables' Parquet files themselves) ->
verify: keys counted by SCAN per list type == table rows, executor
reports == table rows, a sample of ``publish.verify_sample`` lists per type decoded and compared
to the table -> mark ready -> flip the pointer (one Lua script) -> unlink versions beyond the last
``publish.keep_versions``. Killed at any point before the flip, readers keep the old version.

    ranklake publish --env local --run-date 2026-11-20
    ranklake publish --env local --run-date 2026-11-20 --rollback   # previous version, instantly
    spark-submit jobs/main.py publish --env emr --run-date 2026-11-20
"""
from __future__ import annotations

import argparse
import math
import os
import secrets
import sys
import time
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any

from jobs.common import columns as C
from jobs.common.cli import JobContext, run_module
from jobs.common.delta import TableFiles, read_table, table_exists, table_files, table_version
from jobs.common.errors import CheckFailed, DataError
from jobs.common.log import get_logger
from jobs.serving import codec, versions
from jobs.serving import keys as K
from jobs.serving.redis_conn import client, params_from_config
from jobs.serving.writer import STATS_DDL, TASK_KIND, catalog_writer, category_leaves, file_list_writer

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

log = get_logger("publish")
LIST_TABLES = {"user": "topk_user", "query": "topk_query", "item": "topk_item",
               "fallback": "topk_fallback"}
KIND = "kind"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rollback", action="store_true",
                   help="flip the pointer back to the previous published version and exit")


# --------------------------------------------------------------------------- transforms
def union_lists(frames: dict[str, DataFrame]) -> DataFrame:
    """One frame of every list to publish: kind, entity_id, items, source, model_version."""
    from pyspark.sql import functions as F

    out = None
    for kind, df in frames.items():
        part = df.withColumn(KIND, F.lit(kind))
        out = part if out is None else out.unionByName(part)
    return out.select(KIND, C.ENTITY_ID, C.ITEMS, C.SOURCE, C.MODEL_VERSION)


def list_stats(lists: DataFrame) -> DataFrame:
    """Per kind: rows, distinct entities, bad rows by reason, longest list, model versions."""
    from pyspark.sql import functions as F

    bad_item = F.exists(C.ITEMS, lambda x: x[C.ITEM_ID].isNull() | (x[C.ITEM_ID] == "")
                        | (F.instr(x[C.ITEM_ID], "\x1f") > 0) | x[C.SCORE].isNull() | F.isnan(x[C.SCORE]))
    ranks_ok = F.transform(C.ITEMS, lambda x: x[C.RANK]) == F.sequence(F.lit(1), F.size(C.ITEMS))
    n = F.size(C.ITEMS)
    return (lists.groupBy(KIND)
            .agg(F.count(F.lit(1)).alias("rows"),
                 F.countDistinct(C.ENTITY_ID).alias("entities"),
                 F.sum(F.col(C.ENTITY_ID).isNull().cast("int")).alias("null_entity"),
                 F.sum(F.col(C.ITEMS).isNull().cast("int")).alias("null_items"),
                 F.sum(F.when(n > 0, bad_item.cast("int")).otherwise(0)).alias("bad_items"),
                 F.sum(F.when(n > 0, (~ranks_ok).cast("int")).otherwise(0)).alias("bad_ranks"),
                 F.sum((~F.col(C.SOURCE).isin(*C.LIST_SOURCES)).cast("int")).alias("bad_source"),
                 F.sum((n == 0).cast("int")).alias("empty"),
                 F.max(n).alias("max_len"),
                 F.sort_array(F.collect_set(C.MODEL_VERSION)).alias("model_versions"),
                 # bounded: one fallback list per category
                 F.collect_set(F.when(F.col(KIND) == "fallback", F.col(C.ENTITY_ID))).alias("fb_ids"))
            .select(KIND, "rows", "entities", "null_entity", "null_items", "bad_items", "bad_ranks",
                    "bad_source", "empty", "max_len", "model_versions", "fb_ids"))


def sample_lists(lists: DataFrame, rows: dict[str, int], per_kind: int, seed: str) -> DataFrame:
    """About ``per_kind`` non-empty lists per kind, chosen by hash (filter first: cheap at scale)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    mod = F.lit(1)
    for kind, n in rows.items():
        mod = F.when(F.col(KIND) == kind, F.lit(max(1, n // max(1, 2 * per_kind)))).otherwise(mod)
    h = F.xxhash64(C.ENTITY_ID, F.lit(seed))
    w = Window.partitionBy(KIND).orderBy(h, C.ENTITY_ID)
    return (lists.where((F.size(C.ITEMS) > 0) & (F.pmod(h, mod.cast("long")) == 0))
            .withColumn("_n", F.row_number().over(w)).where(F.col("_n") <= per_kind)
            .select(KIND, C.ENTITY_ID, C.ITEMS, C.SOURCE))


# --------------------------------------------------------------------------- checks
def check_stats(stats: list[dict[str, Any]], run_date: date) -> None:
    problems = []
    for s in stats:
        for reason in ("null_entity", "null_items", "bad_items", "bad_ranks", "bad_source"):
            if s[reason]:
                problems.append(f"{LIST_TABLES[s[KIND]]}: {s[reason]} rows with {reason}")
        dup = s["rows"] - s["null_entity"] - s["entities"]
        if dup:
            problems.append(f"{LIST_TABLES[s[KIND]]}: {dup} duplicate entity_id rows")
    if problems:
        raise DataError(f"run date {run_date}: cannot publish: " + "; ".join(problems))
    by = {s[KIND]: s for s in stats}
    if not any(by.get(k, {}).get("rows") for k in ("user", "query", "item")):
        raise DataError(f"run date {run_date}: topk_user/query/item have no lists; run topk first")


def verify_sample(r: Any, version: str, sample: list[Any]) -> int:
    """Decode each sampled list from Redis and compare it to the table row; return how many."""
    keys = [K.list_key(version, row[KIND], row[C.ENTITY_ID]) for row in sample]
    blobs = r.mget(keys) if keys else []
    bad = []
    for row, key, blob in zip(sample, keys, blobs):
        if blob is None:
            bad.append(f"{key}: missing")
            continue
        source, ids, scores = codec.decode(blob)
        want = sorted(row[C.ITEMS], key=lambda x: x[C.RANK])
        if (source != row[C.SOURCE] or ids != [x[C.ITEM_ID] for x in want]
                or not all(math.isclose(a, x[C.SCORE], rel_tol=1e-6, abs_tol=1e-30)
                           for a, x in zip(scores, want))):
            bad.append(f"{key}: differs from the table")
    if bad:
        raise CheckFailed(f"publish {version}: {len(bad)}/{len(sample)} sampled lists wrong: {bad[:3]}")
    return len(sample)


# --------------------------------------------------------------------------- run
def run(ctx: JobContext) -> None:
    cfg, rec, conf = ctx.cfg, ctx.rec, ctx.cfg.publish
    params = params_from_config(cfg).with_timeout(conf.write_timeout_s)
    r = client(params)
    if ctx.args.rollback:
        cur, prev = versions.rollback(r)
        rec.info.update(rolled_back_from=cur, current=prev)
        rec.count("current_version", prev)
        print(f"rolled back: {cur or '(none)'} -> {prev}")
        return
    run_date: date = ctx.run_date
    version = K.new_version(run_date, secrets.token_hex(3))
    rec.count("version", version)
    token = versions.acquire_lock(r, version, conf.lock_ttl_s)
    flipped = False
    try:
        with rec.stage("cleanup_partial"):
            rec.count("partial_versions_removed", len(versions.cleanup(r)))
        with rec.stage("read"):
            lists, files, catalog, inputs = _read_inputs(ctx, run_date)
            stats = [row.asDict() for row in list_stats(lists).collect()]
            check_stats(stats, run_date)
        by = {s[KIND]: s for s in stats}
        expected = {k: by[k]["rows"] - by[k]["empty"] if k in by else 0 for k in LIST_TABLES}
        versions.register(r, version, {"run_date": run_date.isoformat(), "inputs": inputs})
        r.sadd(K.instock_key(version), K.INSTOCK_SENTINEL)
        with rec.stage("write"):
            reported = _write(ctx.spark, files, catalog, params, version, conf, r)
            rec.info["write"] = reported
            versions.refresh_lock(r, token, conf.lock_ttl_s)
            fb_cats = by.get("fallback", {}).get("fb_ids") or []
            leaves = category_leaves([c for c in fb_cats if c != "global"])
            if leaves:
                r.hset(K.catleaf_key(version), mapping=leaves)
        with rec.stage("verify"):
            counted = versions.count_keys(r, version)
            _reconcile(expected, reported, counted, catalog, r, version)
            sample = sample_lists(lists, expected, conf.verify_sample, version).collect()
            rec.count("verified_sample", verify_sample(r, version, sample))
        if "global" not in fb_cats:
            raise DataError(f"topk_fallback for {run_date} has no 'global' list")
        now = datetime.now(timezone.utc)
        versions.mark_ready(r, version, {
            "published_at": now.isoformat(timespec="seconds"), "published_at_epoch": str(now.timestamp()),
            "counts": expected, "k": {k: by[k]["max_len"] or 0 for k in by},
            "model_versions": {k: ",".join(by[k]["model_versions"]) for k in by}})
        versions.refresh_lock(r, token, conf.lock_ttl_s)
        with rec.stage("flip"):
            previous = versions.flip(r, version, conf.keep_versions)
            flipped = True
        with rec.stage("cleanup_old"):
            removed = versions.cleanup(r)
        rec.info.update(previous_version=previous, removed_versions=sorted(removed),
                        history=versions.history(r))
        for kind, n in expected.items():
            rec.count(f"lists_{kind}", n)
        print(f"published {version} (previous {previous or '(none)'})")
    except BaseException:
        if not flipped:  # best effort; the next publish's cleanup catches what is left
            try:
                versions.unlink_version(r, version)
            except Exception:  # noqa: S110 - the original error matters more
                pass
        raise
    finally:
        versions.release_lock(r, token)
        r.close()


def _read_inputs(ctx: JobContext, run_date: date
                 ) -> tuple[DataFrame, dict[str, TableFiles], DataFrame, dict[str, Any]]:
    cfg, spark = ctx.cfg, ctx.spark
    frames, files, inputs = {}, {}, {}
    for kind, table in LIST_TABLES.items():
        if not table_exists(cfg, table):
            raise DataError(f"table '{table}' does not exist; run `ranklake topk` first")
        v = table_version(cfg, table)
        ctx.rec.read(table, v)
        inputs[table] = v
        flt = [(C.RUN_DATE, "=", run_date)]
        frames[kind] = read_table(spark, cfg, table, version=v, filters=flt)
        files[kind] = table_files(cfg, table, version=v, filters=flt)  # the writers read these
    if not table_exists(cfg, "catalog_clean"):
        raise DataError("table 'catalog_clean' does not exist; run `ranklake validate` first")
    v = table_version(cfg, "catalog_clean")
    ctx.rec.read("catalog_clean", v)
    inputs["catalog_clean"] = v
    catalog = read_table(spark, cfg, "catalog_clean", version=v,
                         columns=[C.ITEM_ID, C.CATEGORY, C.IN_STOCK])
    return union_lists(frames), files, catalog, inputs


def file_bins(files: dict[str, TableFiles], n: int) -> list[list[tuple[str, str]]]:
    """The (kind, path) of every list file, packed into at most ``n`` bins of about equal bytes
    (largest file first into the lightest bin): one bin per writer task, so no task ends long
    after the others. Files without a size in the log count as the mean size."""
    items = [(size, kind, rel) for kind, tf in files.items()
             for rel, size in zip(tf.paths, tf.sizes or [0] * len(tf.paths))]
    if not items:
        return []
    known = [s for s, _, _ in items if s]
    mean = sum(known) / len(known) if known else 1
    items = sorted(((s or mean, k, r) for s, k, r in items), key=lambda x: (-x[0], x[1], x[2]))
    bins: list[list[tuple[str, str]]] = [[] for _ in range(max(1, min(n, len(items))))]
    load = [0.0] * len(bins)
    for size, kind, rel in items:
        i = load.index(min(load))
        bins[i].append((kind, rel))
        load[i] += size
    return bins


def process_cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system, all threads) process ``pid`` has used so far, from Linux's
    /proc; None where that cannot be read (another OS, another host)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def redis_cpu_s(r: Any) -> float | None:
    """CPU seconds the Redis server has used so far (INFO cpu: main and background threads)."""
    try:
        info = r.info("cpu")
        return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])
    except Exception:  # noqa: BLE001 - a server that hides INFO (managed Redis): no figure
        return None


def _write(spark: Any, files: dict[str, TableFiles], catalog: DataFrame, params: Any, version: str,
           conf: Any, r: Any = None) -> dict[str, Any]:
    # CPU used while the lists are written, by who: the driver JVM (in local mode it also runs
    # the executors; with JIT compilation and GC it can take more CPU than our writers), Redis,
    # each writer task (in the task). A 2-core box is shared by all three.
    try:
        jvm_pid: int | None = int(spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid())
    except Exception:  # noqa: BLE001 - no py4j gateway to ask: no JVM figure
        jvm_pid = None

    def sample() -> tuple[float | None, float | None]:
        return (process_cpu_s(jvm_pid) if jvm_pid else None,
                redis_cpu_s(r) if r is not None else None)

    cpu0 = sample()
    t0 = time.monotonic()
    # the checks above read the lists through Spark; the writers read the same table versions'
    # Parquet files themselves (one row per file), so no list crosses from the JVM to Python.
    # Redis is single-threaded: more concurrent writers than cores buys nothing
    cores = spark.sparkContext.defaultParallelism
    bins = file_bins(files, cores)
    out_rows: list[Any] = []
    if bins:
        # one partition per bin, no shuffle: parallelize keeps the slices it is given. A plain
        # RDD job: one Python worker per task and no SQL plan (a DataFrame listing fed to
        # mapInArrow costs a second worker per task, 0.1-0.2 s of a 0.5 s job at 1M)
        out_rows = spark.sparkContext.parallelize(bins, len(bins)).mapPartitions(
            file_list_writer(files, params, version, conf.batch_size, conf.batch_sleep_s)
        ).collect()
    t_lists = time.monotonic() - t0
    cpu = {name: round(b - a, 3) for name, a, b in zip(("driver_jvm", "redis"), cpu0, sample())
           if a is not None and b is not None}
    if catalog.rdd.getNumPartitions() > cores:
        catalog = catalog.coalesce(cores)
    rows = out_rows + catalog.mapInArrow(catalog_writer(params, version, conf.batch_size),
                                         STATS_DDL).collect()
    out: dict[str, Any] = {}
    tasks = []
    for row in rows:
        if row["kind"] == TASK_KIND:
            tasks.append({"lists": row["keys"], "read_encode_s": row["prep_ms"] / 1000,
                          "send_s": row["send_ms"] / 1000, "idle_s": row["idle_ms"] / 1000,
                          "cpu_s": row["cpu_ms"] / 1000})
            continue
        a = out.setdefault(row["kind"], {"keys": 0, "bytes": 0, "max_len": 0})
        a["keys"] += row["keys"]
        a["bytes"] += row["bytes"]
        a["max_len"] = max(a["max_len"], row["max_len"])
    n = sum(v["keys"] for k, v in out.items() if k in LIST_TABLES)
    out["_timing"] = {"lists_s": round(t_lists, 3), "keys_per_s": round(n / max(t_lists, 1e-9)),
                      "tasks": tasks, "cpu_s": cpu}
    log.info("lists written: %d keys in %.2fs by %d task(s) (read+encode %s s, send %s s; CPU s: "
             "tasks %s%s)", n, t_lists, len(tasks),
             "/".join(f"{t['read_encode_s']:.2f}" for t in tasks),
             "/".join(f"{t['send_s']:.2f}" for t in tasks),
             "/".join(f"{t['cpu_s']:.2f}" for t in tasks),
             "".join(f", {k} {v:.2f}" for k, v in cpu.items()))
    return out


def _reconcile(expected: dict[str, int], reported: dict[str, Any], counted: dict[str, int],
               catalog: DataFrame, r: Any, version: str) -> None:
    from pyspark.sql import functions as F

    bad = [f"{k}: table {n}, executors {reported.get(k, {}).get('keys', 0)}, redis {counted.get(k, 0)}"
           for k, n in expected.items()
           if not (n == reported.get(k, {}).get("keys", 0) == counted.get(k, 0))]
    cat = catalog.agg(F.countDistinct(C.ITEM_ID).alias("items"),
                      F.countDistinct(F.when(F.col(C.IN_STOCK), F.col(C.ITEM_ID))).alias("stock"),
                      F.countDistinct(F.when(F.col(C.CATEGORY).isNotNull(), F.col(C.ITEM_ID))).alias("cat"),
                      ).first()
    if r.scard(K.instock_key(version)) != cat["stock"] + 1:
        bad.append(f"in-stock set: catalog {cat['stock']}, redis {r.scard(K.instock_key(version)) - 1}")
    if r.hlen(K.itemcat_key(version)) != cat["cat"]:
        bad.append(f"item categories: catalog {cat['cat']}, redis {r.hlen(K.itemcat_key(version))}")
    if bad:
        raise CheckFailed(f"publish {version}: counts do not reconcile: " + "; ".join(bad))


if __name__ == "__main__":
    sys.exit(run_module("publish"))
