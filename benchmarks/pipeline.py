"""Spine and P1: generate, then every pipeline stage (events -> lists in Redis), in this process.

Each stage runs through the real CLI entry (``jobs.common.cli.main``: the same code path as
``ranklake <stage>``) sharing this process's Spark session, while the memory sampler records the
peak RSS of the driver's Python, the Spark JVM and the Python workers. Stage timings come from the
wall clock here and the stage's own run record (sub-stages, counts). The pipeline runs once per
benchmark run (it is the data every later figure uses); its per-stage times are single samples.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from benchmarks.common import BenchError, Peaks, Target, say, single
from benchmarks.context import Bench

STAGES = ("validate", "features", "train", "topk", "publish")
MIB = 2**20


def run_stage(b: Bench, stage: str, extra: list[str] | None = None) -> tuple[float, Peaks, dict]:
    """Run ``ranklake <stage>`` in-process; fail loudly on a non-zero exit."""
    from jobs.common import cli, runlog

    argv = [stage, "--env", "local"]
    if cli.COMMANDS[stage][2]:
        argv += ["--run-date", b.run_date.isoformat()]
    for item in b.overrides():
        argv += ["--conf", item]
    argv += extra or []
    if not cli.available(stage):
        raise BenchError(f"stage '{stage}' is not built (module {cli.COMMANDS[stage][0]} missing)")
    say(f"stage {stage}: started ({b.profile.name})")
    with b.sampler.section() as peaks:
        t0 = time.perf_counter()
        code = cli.main(argv)
        wall = time.perf_counter() - t0
    if code != 0:
        raise BenchError(f"stage '{stage}' failed with exit code {code} (see its output above)")
    rec = runlog.load(b.cfg, stage, b.run_date if cli.COMMANDS[stage][2] else "adhoc")
    say(f"stage {stage}: {wall:.1f}s (CPU {peaks.cpu_s:.0f}s), peak RSS driver "
        f"{peaks.driver_py / MIB:.0f} MiB, JVM {peaks.jvm / MIB:.0f} MiB, "
        f"workers {peaks.workers_py / MIB:.0f} MiB")
    return wall, peaks, rec


def memory_figure(fid: str, group: str, what: str, peaks: Peaks) -> Any:
    m = peaks.mib()
    return single(fid, group, f"peak RSS during {what}: driver (Python)", "MiB", [m["driver_py"]],
                  note=f"JVM {m['jvm']:.0f} MiB, Python workers {m['workers_py']:.0f} MiB (sum of "
                       "RSS, shared pages counted per worker)", rss_mib=m)


def generate(b: Bench) -> None:
    """S: generate N events (rows/s, peak memory)."""
    wall, peaks, rec = run_stage(b, "generate")
    rows = int(rec["counts"].get("raw_events_rows", 0))
    if rows <= 0:
        raise BenchError("generate wrote no raw_events rows")
    ev_s = rec["stages"].get("events")
    b.add(single("S.generate_rows_per_s", "S", f"generate {rows:,} events (whole job)", "rows/s",
                 [rows / wall], note=(f"events stage alone: {rows / ev_s:,.0f} rows/s; " if ev_s else "")
                 + f"CPU {peaks.cpu_s:.0f}s", stages=rec["stages"], wall_s=wall, cpu_s=peaks.cpu_s))
    b.add(memory_figure("S.generate_rss", "S", "generate", peaks))
    b.info["generate"] = {"wall_s": round(wall, 2), "rows": rows, "stages": rec["stages"]}


def pipeline(b: Bench, start: str = STAGES[0], stop: str = STAGES[-1]) -> dict[str, dict[str, Any]]:
    """P1: every stage once, ``start`` to ``stop`` (a resumed run keeps the earlier stages'
    figures; a run that stops early has no events -> Redis total)."""
    b.start_redis()
    out: dict[str, dict[str, Any]] = {}
    total = cpu = 0.0
    for stage in STAGES[STAGES.index(start):STAGES.index(stop) + 1]:
        wall, peaks, rec = run_stage(b, stage)
        total += wall
        cpu += peaks.cpu_s
        out[stage] = rec
        stage_figures(b, stage, wall, rec, f"single run; CPU {peaks.cpu_s:.0f}s (process tree)",
                      cpu_s=peaks.cpu_s)
        b.add(memory_figure(f"P1.{stage}_rss", "P1", f"stage {stage}", peaks))
    if start != STAGES[0] or stop != STAGES[-1]:  # the total needs every stage of one run
        return out
    b.add(single("P1.total_s", "P1", "events -> lists in Redis (validate..publish)", "s", [total],
                 note=f"single run; CPU {cpu:.0f}s (process tree); scaling t(10M)/t(1M) is "
                      "computed across sizes below", events=b.profile.events, cpu_s=cpu))
    b.info["pipeline"] = {s: {"stages": r.get("stages", {}), "duration_s": r.get("duration_s")}
                          for s, r in out.items()}
    return out


def stage_figures(b: Bench, stage: str, wall: float, rec: dict[str, Any], origin: str,
                  **extra: Any) -> None:
    """P1 wall time of one stage (sub-stage times and counts from its run record)."""
    sub = ", ".join(f"{k} {v:.1f}s" for k, v in rec.get("stages", {}).items())
    b.add(single(f"P1.{stage}_s", "P1", f"stage {stage} wall time", "s", [wall],
                 note=f"{origin}; sub-stages: {sub}"[:400], stages=rec.get("stages", {}),
                 counts={k: v for k, v in rec.get("counts", {}).items()
                         if isinstance(v, (int, float, str))}, **extra))
    if stage == "validate":
        validation_figures(b, wall, rec)


def validation_figures(b: Bench, wall: float, rec: dict[str, Any]) -> None:
    rows = int(rec["counts"].get("rows_in", 0))
    b.add(single("P1.validate_rows_per_s", "P1", f"validation of {rows:,} raw events", "rows/s",
                 [rows / wall] if wall else [], note="whole stage incl. catalog, writes, GX, checks"))
    stages = rec.get("stages", {})
    gx = rec.get("info", {}).get("gx_seconds", stages.get("gx"))
    plain = stages.get("filter")
    if gx is None or not plain:
        b.add(single("P1.gx_overhead", "P1", "GX suite vs plain quarantine filters", "x", [],
                     note="validate run record has no gx/filter timings"))
        return
    fig = single("P1.gx_overhead", "P1", "GX suite time / plain Spark quarantine filter time",
                 "s", [gx], note=f"same run, same data; filter stage {plain:.1f}s "
                 "(flag + persist + count by reason); GX = every suite incl. Data Docs")
    fig.reference = {"name": "plain Spark quarantine filters", "median": plain, "min": plain,
                     "max": plain, "repeats": 1}
    fig.ratio, fig.ratio_def = round(gx / plain, 3), "GX / filters"
    b.add(fig)


def scaling_target() -> Target:
    return Target("<=", 10.0, "ratio", "t(10M)/t(1M) <= 10")


def from_lake(b: Bench, source: Path) -> dict[str, dict[str, Any]]:
    """The smoke run inside ``make test``: adopt the lake the Airflow end-to-end test just built
    (``--from-lake build/e2e-lake``) instead of running every stage a third time. P1 figures come
    from that run's own records (each stage a separate spark-submit there), marked as such; every
    later group runs here on that lake as usual."""
    from jobs.common import runlog

    done = source / "e2e-complete.json"
    if not done.exists():
        raise BenchError(f"--from-lake {source}: no finished end-to-end run there ({done.name} "
                         "missing); run the Airflow end-to-end test first or drop --from-lake")
    if b.lake.exists():
        shutil.rmtree(b.lake)
    shutil.copytree(source, b.lake, symlinks=True)
    b.start_redis()
    out: dict[str, dict[str, Any]] = {}
    total = 0.0
    for stage in STAGES:
        try:
            rec = runlog.load(b.cfg, stage, b.run_date)
        except (OSError, ValueError):
            rec = None
        # the e2e test's second run fails train at the gate on purpose: its record is the last
        if rec is None or (rec.get("status") != "ok" and stage != "train"):
            raise BenchError(f"--from-lake {source}: stage {stage} has no successful run record")
        wall = float(rec.get("duration_s") or 0.0)
        total += wall
        out[stage] = rec
        stage_figures(b, stage, wall, rec, f"from the Airflow e2e run's record ({source.name}, "
                      f"status {rec.get('status')})")
    b.add(single("P1.total_s", "P1", "events -> lists in Redis (validate..publish)", "s", [total],
                 note=f"from the Airflow e2e run's records ({source.name})", events=None))
    b.info["pipeline"] = {s: {"stages": r.get("stages", {}), "duration_s": r.get("duration_s")}
                          for s, r in out.items()}
    b.info["lake_from"] = str(source)
    return out
