"""The ``ranklake`` command: one sub-command per stage, and ``run`` for the whole pipeline.

    ranklake --help
    ranklake <stage> --env local --run-date 2026-11-20 [--conf key=value ...] [stage options]
    ranklake run --run-date 2026-11-20          # every stage in order, no Airflow needed
    spark-submit jobs/main.py <stage> ...       # the same, under spark-submit (EMR, Airflow)

Errors meant for a person (``RanklakeError``) print as one line and exit non-zero; anything else
prints one line naming the traceback file under the run record directory.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING, Any, Callable, Sequence

from jobs.common import runlog
from jobs.common.config import ConfigError, Settings, load_config
from jobs.common.errors import RanklakeError
from jobs.common.log import get_logger

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# command -> (module, one-line help, needs --run-date)
COMMANDS: dict[str, tuple[str, str, bool]] = {
    "generate": ("jobs.generate", "write a synthetic e-commerce dataset into the raw tables", False),
    "import": ("jobs.ingest", "load real event/catalog/judgment files into the raw tables", False),
    "validate": ("jobs.validate", "quality-check raw events; write clean + quarantine tables", True),
    "features": ("jobs.features", "build as-of features, time-split training set, Feast", True),
    "train": ("jobs.train", "train LightGBM lambdarank, evaluate, gate, register", True),
    "topk": ("jobs.topk", "precompute top-K lists per user, query and item", True),
    "publish": ("jobs.publish", "load the lists into Redis under a new version, flip pointer", True),
    "serve": ("jobs.serving.app", "run the HTTP lookup service (long-running)", False),
    "smoke": ("jobs.serving.smoke", "check the lookup service serves the new lists", True),
    "registry": ("jobs.registry", "list/show/promote/rollback models", False),
    "maintain": ("jobs.maintain", "vacuum old files and compact small files of tables", False),
    "feast": ("jobs.feast_ops", "feast apply / materialize / parity check", True),
}
PIPELINE = ("validate", "features", "train", "topk", "publish")


@dataclass
class JobContext:
    """Everything a stage's ``run`` needs; Spark starts only when a stage asks for it."""

    cfg: Settings
    args: argparse.Namespace
    run_date: date | None
    rec: runlog.RunRecord
    _spark: Any = field(default=None, repr=False)

    @cached_property
    def spark(self) -> SparkSession:
        if self._spark is not None:
            return self._spark
        from jobs.common.spark import get_spark

        return get_spark(self.cfg, f"ranklake-{self.rec.job}")


def parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"run date must be YYYY-MM-DD, got {value!r}") from None


def _common(p: argparse.ArgumentParser, needs_date: bool) -> None:
    p.add_argument("--env", default=os.environ.get("RANKLAKE_ENV", "local"),
                   help="config env: local | test | emr (default $RANKLAKE_ENV or local)")
    p.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --conf topk.k=20 (repeatable)")
    if needs_date:
        p.add_argument("--run-date", type=parse_date, required=True, help="logical date, UTC")


def _module(command: str):
    name = COMMANDS[command][0]
    if importlib.util.find_spec(name) is None:
        return None
    return importlib.import_module(name)


def available(command: str) -> bool:
    return importlib.util.find_spec(COMMANDS[command][0]) is not None


def execute(command: str, args: argparse.Namespace, cfg: Settings,
            spark: SparkSession | None = None) -> int:
    """Run one stage with a run record; return the process exit code."""
    mod = _module(command)
    run_date = getattr(args, "run_date", None)
    rec = runlog.new_record(cfg, command, run_date or "adhoc")
    ctx = JobContext(cfg=cfg, args=args, run_date=run_date, rec=rec, _spark=spark)
    log = get_logger(command)
    t0 = time.monotonic()
    code = 0
    try:
        mod.run(ctx)
        rec.status = "ok"
    except RanklakeError as exc:
        rec.status, rec.error, code = "failed", str(exc), exc.exit_code
        print(f"ranklake {command}: error: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        rec.status, rec.error, code = "interrupted", "interrupted", 130
        print(f"ranklake {command}: interrupted", file=sys.stderr)
    except Exception as exc:  # an unexpected failure: one line here, the traceback in a file
        rec.status, rec.error, code = "failed", f"{type(exc).__name__}: {exc}", 1
        tb_uri = runlog.record_uri(cfg, command, run_date or "adhoc").replace(".json", ".traceback")
        try:
            runlog.write_text(tb_uri, traceback.format_exc())
        except Exception:  # the record location itself may be the problem
            tb_uri = "(could not be written)"
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        print(f"ranklake {command}: internal error: {type(exc).__name__}: {first} "
              f"(traceback: {tb_uri})", file=sys.stderr)
    finally:
        rec.duration_s = round(time.monotonic() - t0, 3)
        if command not in ("serve",):
            try:
                rec.info["record"] = runlog.save(cfg, rec)
            except Exception as exc:  # never mask the stage's own outcome
                log.warning("could not save run record: %s", exc)
            print(rec.summary(), file=sys.stderr)
    return code


def _build_parser(command: str, mod: Any) -> argparse.ArgumentParser:
    _, help_, needs_date = COMMANDS[command]
    p = argparse.ArgumentParser(prog=f"ranklake {command}", description=(mod.__doc__ or help_))
    _common(p, needs_date)
    if hasattr(mod, "add_arguments"):
        mod.add_arguments(p)
    return p


def _top_help() -> str:
    lines = ["usage: ranklake <command> [--env ENV] [--run-date YYYY-MM-DD] [--conf K=V] ...", "",
             "commands:"]
    for name, (_, help_, _) in COMMANDS.items():
        mark = "" if available(name) else "  (not built yet)"
        lines.append(f"  {name:<10} {help_}{mark}")
    lines.append(f"  {'run':<10} run {' -> '.join(PIPELINE)} for one date")
    lines += ["", "ranklake <command> --help shows the command's options."]
    return "\n".join(lines)


def _run_pipeline(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="ranklake run", description="run every stage for one date")
    _common(p, True)
    p.add_argument("--stages", default=",".join(PIPELINE),
                   help="comma-separated subset, in pipeline order")
    p.add_argument("--skip-train", action="store_true", help="re-rank with the current champion")
    ns = p.parse_args(argv)
    cfg = load_config(ns.env, ns.conf)
    wanted = [s.strip() for s in ns.stages.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in PIPELINE]
    if unknown:
        raise ConfigError(f"unknown stage(s) {unknown}; pipeline is {', '.join(PIPELINE)}")
    if ns.skip_train and "train" in wanted:
        wanted.remove("train")
    spark = None
    timings: list[tuple[str, float, int]] = []
    for stage in [s for s in PIPELINE if s in wanted]:
        if not available(stage):
            print(f"ranklake run: stage '{stage}' is not built yet, skipped", file=sys.stderr)
            continue
        mod = _module(stage)
        sp = _build_parser(stage, mod)
        sargs = sp.parse_args(["--env", ns.env, "--run-date", ns.run_date.isoformat(),
                               *[x for c in ns.conf for x in ("--conf", c)]])
        if stage in ("validate", "features", "train", "topk", "publish") and spark is None:
            from jobs.common.spark import get_spark

            spark = get_spark(cfg, "ranklake-run")
        t0 = time.monotonic()
        code = execute(stage, sargs, cfg, spark)
        timings.append((stage, time.monotonic() - t0, code))
        if spark is not None:  # stages share one session: release what the last one cached
            spark.catalog.clearCache()
        if code != 0:
            print(f"ranklake run: stopped at '{stage}' (exit {code}); later stages not run",
                  file=sys.stderr)
            break
    print("== ranklake run " + ns.run_date.isoformat() + ": " +
          ", ".join(f"{s} {'ok' if c == 0 else 'FAILED'} {t:.1f}s" for s, t, c in timings),
          file=sys.stderr)
    return next((c for _, _, c in timings if c != 0), 0)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_top_help())
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    try:
        if command == "run":
            return _run_pipeline(rest)
        if command not in COMMANDS:
            print(f"ranklake: unknown command '{command}'\n\n{_top_help()}", file=sys.stderr)
            return 2
        mod = _module(command)
        if mod is None:
            print(f"ranklake: '{command}' is not built yet", file=sys.stderr)
            return 2
        args = _build_parser(command, mod).parse_args(rest)
        cfg = load_config(args.env, args.conf)
    except RanklakeError as exc:
        print(f"ranklake {command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    return execute(command, args, cfg)


def run_module(command: str, argv: Sequence[str] | None = None) -> int:
    """``python jobs/<stage>.py ...`` and ``spark-submit jobs/<stage>.py ...`` land here."""
    return main([command, *(sys.argv[1:] if argv is None else argv)])


StageFn = Callable[[JobContext], Any]
