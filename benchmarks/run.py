"""The benchmark suite: ``python -m benchmarks.run --size small|1M|10M [--only P1,P3] [--reuse]``.

    make bench SIZE=small     # smoke run (~20k events), part of `make test`; figures not asserted
    make bench SIZE=1M        # the figures BENCHMARKS.md reports (and SIZE=10M)

Order: S generate (ranklake generate into $RANKLAKE_BENCH_HOME/<size>/lake, default
/tmp/ranklake-bench) -> S Delta write vs Spark parquet -> P1 validate..publish (+ validation and
DuckDB feature figures) -> P2 training -> P3 scoring -> P4 publish vs redis-cli --pipe + P6 memory
-> P5 HTTP lookup -> Q quality. Results: benchmarks/results/<size>.json (a run with --only merges
into the existing file), then BENCHMARKS.md is regenerated from every results file.
Exit codes: 0 done (targets are reported, not asserted), 1 a benchmark failed or a reference tool
is missing (the message says which); partial results are still written, marked failed.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable

from benchmarks import report
from benchmarks.common import BenchError, machine_info, say
from benchmarks.context import PROFILES, Bench

GROUP_ORDER = ("S", "P1", "P2", "P3", "P4", "P5", "P6", "Q")
NEEDS_PIPELINE = {"P1", "P2", "P3", "P4", "P5", "P6", "Q"}


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", choices=list(PROFILES), default="small")
    p.add_argument("--only", default="", help=f"comma-separated groups of {','.join(GROUP_ORDER)}")
    p.add_argument("--reuse", action="store_true",
                   help="reuse this size's lake if it was generated with the same profile")
    p.add_argument("--resume-at", choices=["validate", "features", "train", "topk", "publish"],
                   default=None, help="with --reuse: continue the pipeline at this stage (after a "
                                      "failure); earlier stages keep their figures")
    p.add_argument("--stop-after", choices=["validate", "features", "train", "topk", "publish"],
                   default=None, help="end the P1 pipeline after this stage (e.g. validate and the "
                                      "feature snapshot at 10M without the later stages); only "
                                      "with groups S and P1")
    p.add_argument("--no-report", action="store_true", help="do not regenerate BENCHMARKS.md")
    p.add_argument("--from-lake", default=None, metavar="DIR",
                   help="smoke runs only (make test): adopt the finished lake of the Airflow "
                        "end-to-end test instead of generating and running every stage again; "
                        "P1 figures then come from that run's records")
    ns = p.parse_args(argv)
    if ns.from_lake and ns.size != "small":
        p.error("--from-lake is for the small smoke run only: figures at 1M/10M come from this run")
    only = [g.strip().upper() for g in ns.only.split(",") if g.strip()]
    bad = [g for g in only if g not in GROUP_ORDER]
    if bad:
        p.error(f"unknown group(s) {bad}; choose from {','.join(GROUP_ORDER)}")
    ns.groups = only or list(GROUP_ORDER)
    if ns.stop_after and ns.stop_after != "publish" and set(ns.groups) - {"S", "P1"}:
        p.error("--stop-after before publish leaves no lists: use it with --only S,P1")
    return ns


def preflight(groups: list[str]) -> None:
    """Every reference tool the selected groups need, before anything long starts."""
    from benchmarks.common import redis_binary, require_module

    require_module("psutil", "memory sampling")
    if set(groups) & NEEDS_PIPELINE:
        redis_binary("redis-server")
    if "P1" in groups:
        require_module("duckdb", "P1 feature-build reference")
    if "P2" in groups or "P3" in groups:
        require_module("lightgbm", "P2/P3 raw references")
    if "P4" in groups or "P6" in groups:
        redis_binary("redis-cli")


def execute(b: Bench, groups: list[str], resume_at: str | None = None,
            from_lake: str | None = None, stop_after: str | None = None) -> None:
    from benchmarks import delta_write, features_duckdb, lookup_bench, model_bench, pipeline
    from benchmarks import publish_bench as pub

    done = b.prepare_lake()
    b.sampler.start()
    publish_rec = None
    say("starting Spark (not counted in any stage)")
    _ = b.spark
    if from_lake:
        say(f"adopting the finished end-to-end lake {from_lake} (no generate, no P1 stage runs)")
        recs = pipeline.from_lake(b, Path(from_lake).resolve())
        done = "pipeline"  # publish keys/s are measured here (P4), not taken from the e2e run
        assert recs["publish"]
        b.mark_complete("pipeline")
    if not done:
        pipeline.generate(b)
        b.mark_complete("generate")
    if "S" in groups:
        delta_write.run(b)
    if set(groups) & NEEDS_PIPELINE and not from_lake:
        if done != "pipeline" or "P1" in groups:
            recs = pipeline.pipeline(b, resume_at if done and resume_at else "validate",
                                     stop_after or "publish")
            if "publish" in recs:
                publish_rec = recs["publish"]
                b.mark_complete("pipeline")
        else:
            b.start_redis()
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("P1", lambda: features_duckdb.run(b)),
        ("P2", lambda: model_bench.training(b)),
        ("P3", lambda: model_bench.scoring(b)),
    ]
    for g, fn in steps:
        if g in groups:
            say(f"== {g}")
            fn()
    if {"P4", "P5", "P6"} & set(groups):
        say("== P4 + P6")
        pub.publish_and_memory(b, publish_rec)  # also (re)publishes the lists P5 reads
    if "P5" in groups:
        say("== P5")
        lookup_bench.run(b)
    if "Q" in groups:
        model_bench.quality(b)
    if "P6" in groups:
        pub.encodings(b)  # flushes Redis: last


def save(b: Bench, groups: list[str], machine: dict[str, Any], status: str, error: str,
         wall: float, merge: bool) -> None:
    report.RESULTS.mkdir(parents=True, exist_ok=True)
    path = report.RESULTS / f"{b.profile.name}.json"
    figures = [f.to_dict() for f in b.figures]
    if merge and path.exists():
        old = json.loads(path.read_text())
        ids = {f["id"] for f in figures}
        figures = [f for f in old.get("figures", []) if f["id"] not in ids] + figures
    doc = {"size": b.profile.name, "status": status, "error": error, "groups": groups,
           "wall_s": round(wall, 1), "machine": machine, "profile": b.stamp()["profile"],
           "overrides": b.overrides(), "info": b.info, "figures": figures}
    path.write_text(json.dumps(doc, indent=2, default=str))
    say(f"results: {path}")


def main(argv: list[str] | None = None) -> int:
    ns = parse(argv)
    b = Bench(PROFILES[ns.size], reuse=ns.reuse)
    machine = machine_info()
    say(f"size {ns.size}: {b.profile.events:,} events, groups {','.join(ns.groups)}, lake {b.lake}; "
        f"load average {machine['load_avg_1_5_15']} on {machine['cores']} cores")
    t0 = time.monotonic()
    status, error, code = "ok", "", 0
    try:
        preflight(ns.groups)
        execute(b, ns.groups, ns.resume_at, ns.from_lake, ns.stop_after)
    except BenchError as exc:
        status, error, code = "failed", str(exc), 1
        print(f"benchmarks: FAILED: {exc}", file=sys.stderr)
    except Exception as exc:  # noqa: BLE001 - any failure must end the run loudly, with a trace
        status, error, code = "failed", f"{type(exc).__name__}: {exc}", 1
        traceback.print_exc()
        print(f"benchmarks: FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
    finally:
        try:
            b.close()
        except Exception as exc:  # noqa: BLE001 - e.g. the JVM died (OOM): the figures so far are
            # still saved below; losing a 10M run's stage figures to a failed spark.stop() is worse
            if status == "ok":
                status, error, code = "failed", f"shutdown: {type(exc).__name__}: {exc}", 1
            print(f"benchmarks: shutdown failed: {type(exc).__name__}: {exc}", file=sys.stderr)
    wall = time.monotonic() - t0
    first = error.strip().splitlines()[0] if error.strip() else ""
    save(b, ns.groups, machine, status, first[:500], wall, merge=bool(ns.only or ns.reuse))
    if not ns.no_report:
        say(f"wrote {report.write()}")
    say(f"done in {wall:.0f}s ({status})")
    return code


if __name__ == "__main__":
    sys.exit(main())
