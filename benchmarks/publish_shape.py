"""Standalone P4 + P6 on synthetic top-K tables of a chosen shape (default: the 10M run's).

    python -m benchmarks.publish_shape [--users 411285 --queries 20000 --items 6033 --k 50]

Rebuilding the 10M lake takes ~47 minutes of this 2-core box (topk alone ~32 min); the publish
figures only depend on the lists. So this writes topk_user/query/item/fallback for one run date
through the real topk writer path (Spark -> ``jobs.common.delta`` with the ``serving_value``
column the topk stage adds) plus a catalog, then measures exactly what ``benchmarks.run``'s P4
group measures: ``ranklake publish`` (the real stage, repeated; keys/s of its list-writing job)
against ``redis-cli --pipe`` of the same keys and values into the same server, and P6 memory.
Results: ``benchmarks/results/publish_shape.json`` (BENCHMARKS.md shows it as size
``publish_shape``). Item ids, scores and list lengths are synthetic (K items per list, ids of
the 10M catalogue's length), so bytes per list match the pipeline's (~700 B at K=50).
"""
from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from benchmarks.common import say


def write_tables(b: Any, users: int, queries: int, items: int, k: int, n_catalog: int,
                 user_files: int) -> dict[str, int]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyspark.sql import functions as F

    from jobs.common import columns as C
    from jobs.common.delta import write_table, write_table_result
    from jobs.topk import serving_value

    rng = np.random.default_rng(7)
    ids = np.array([f"i{i:07d}" for i in range(n_catalog)], dtype=object)
    gen = pa.scalar(1_795_000_000_000_000, pa.timestamp("us", tz="UTC"))
    raw = b.scratch / "raw"
    counts = {}
    for table, n, prefix, source in (("topk_user", users, "u", "personalized"),
                                     ("topk_query", queries, "q", "query"),
                                     ("topk_item", items, "i", "personalized"),
                                     ("topk_fallback", 1, "", "fallback")):
        pick = rng.integers(0, n_catalog, n * k)
        items_arr = pa.ListArray.from_arrays(
            pa.array(np.arange(n + 1, dtype=np.int32) * k),
            pa.StructArray.from_arrays(
                [pa.array(np.tile(np.arange(1, k + 1, dtype=np.int32), n)),
                 pa.array(ids[pick], pa.string()),
                 pa.array(-np.sort(-rng.random((n, k)), axis=1).ravel())],
                names=[C.RANK, C.ITEM_ID, C.SCORE]))
        ents = ["global"] if table == "topk_fallback" else [f"{prefix}{i:08d}" for i in range(n)]
        out = raw / table
        out.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table({C.ENTITY_ID: pa.array(ents), C.ITEMS: items_arr,
                                 C.SOURCE: pa.array([source] * n), C.MODEL_VERSION: ["bench"] * n,
                                 C.GENERATED_AT: pa.array([gen] * n)}), out / "part.parquet")
        df = (b.spark.read.parquet(str(out)).withColumn(C.RUN_DATE, F.lit(b.run_date))
              .select(C.ENTITY_ID, C.ITEMS, C.SOURCE, C.MODEL_VERSION, C.RUN_DATE, C.GENERATED_AT))
        if table == "topk_user":
            df = df.repartition(user_files)
        res = write_table_result(df, b.cfg, table, mode="replace",
                                 partitions={C.RUN_DATE: [b.run_date]}, derived=serving_value())
        counts[table] = res.rows
        say(f"  {table}: {res.rows:,} lists in {res.files} files")
    cat = pa.table({C.ITEM_ID: pa.array(ids, pa.string()), "title": [f"t {i}" for i in range(n_catalog)],
                    C.CATEGORY: [f"c{i % 20}/l{i % 400}" for i in range(n_catalog)],
                    "brand": ["b"] * n_catalog, "price": np.ones(n_catalog),
                    C.IN_STOCK: np.ones(n_catalog, bool), "created_at": pa.array([gen] * n_catalog)})
    pq.write_table(cat, raw / "catalog.parquet")
    write_table(b.spark.read.parquet(str(raw / "catalog.parquet")), b.cfg, "catalog_clean")
    return counts


def main(argv: list[str] | None = None) -> int:
    from benchmarks import report
    from benchmarks.common import machine_info
    from benchmarks.context import Bench, Profile
    from benchmarks.publish_bench import publish_and_memory

    p = argparse.ArgumentParser(prog="python -m benchmarks.publish_shape", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--users", type=int, default=411_285, help="user lists (10M run: 411,285)")
    p.add_argument("--queries", type=int, default=20_000)
    p.add_argument("--items", type=int, default=6_033)
    p.add_argument("--k", type=int, default=50)
    p.add_argument("--catalog", type=int, default=20_000, help="items in the catalogue")
    p.add_argument("--user-files", type=int, default=16, help="files of topk_user (10M: 16)")
    p.add_argument("--repeats", type=int, default=3,
                   help="timed repeats; publishes and --pipe loads: repeats + 2 each")
    p.add_argument("--out", default=str(report.RESULTS / "publish_shape.json"))
    p.add_argument("--no-report", action="store_true", help="do not regenerate BENCHMARKS.md")
    a = p.parse_args(argv)
    machine = machine_info()
    say(f"P4 standalone: load average {machine['load_avg_1_5_15']} on {machine['cores']} cores")
    t0 = time.monotonic()
    profile = Profile("publish_shape", 0, a.users, a.catalog, a.queries, 2, a.repeats,
                      a.repeats - 1, 0, 0, 0.0, 0)
    b = Bench(profile)
    status, error = "ok", ""
    try:
        b.prepare_lake()
        b.sampler.start()
        b.start_redis()
        t = time.monotonic()
        counts = write_tables(b, a.users, a.queries, a.items, a.k, a.catalog, a.user_files)
        say(f"P4: synthetic top-K tables written in {time.monotonic() - t:.1f}s")
        publish_and_memory(b, None)
    except Exception as exc:  # noqa: BLE001 - the figures so far are still written
        status, error = "failed", f"{type(exc).__name__}: {exc}"
        say(f"FAILED: {error}")
        counts = {}
    finally:
        try:
            b.close()
        except Exception as exc:  # noqa: BLE001
            say(f"shutdown: {exc}")
    doc = {"size": "publish_shape", "status": status, "error": error, "groups": ["P4", "P6"],
           "wall_s": round(time.monotonic() - t0, 1), "machine": machine,
           "profile": {"users": a.users, "queries": a.queries, "items": a.items, "k": a.k,
                       "catalog": a.catalog, "user_files": a.user_files, "repeats": a.repeats},
           "notes": [f"standalone P4/P6 (`python -m benchmarks.publish_shape`) on synthetic top-K "
                     f"tables of the 10M run's shape ({a.users:,} user, {a.queries:,} query, "
                     f"{a.items:,} item lists of K={a.k}, topk_user in {a.user_files} files), "
                     f"written by the topk writer path (serving_value stored); the real publish "
                     f"stage, {a.repeats + 2} runs, vs as many redis-cli --pipe loads of the same keys and "
                     f"values (medians; the first two publishes grow Redis to two versions)"],
           "info": {"tables": counts}, "figures": [f.to_dict() for f in b.figures]}
    report.save_standalone(doc, a.out, regenerate=not a.no_report)
    return 0 if status == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
