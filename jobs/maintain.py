"""Table maintenance: vacuum unreferenced files and compact small files.

Reads/writes: the Delta log and data files of the named tables (all registered tables by default).
Compaction commits a new version with the same rows; vacuum deletes files that no version inside
the retention window references, including orphans left by killed writers.

    ranklake maintain --env local [--table topk_user ...] [--compact] [--vacuum-hours 168] [--dry-run]
    spark-submit jobs/main.py maintain --env emr --compact
"""
from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from jobs.common import delta
from jobs.common.cli import run_module
from jobs.common.errors import DataError
from jobs.common.tables import TABLES

if TYPE_CHECKING:
    from jobs.common.cli import JobContext


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--table", action="append", default=[], help="table name (repeatable); default all")
    p.add_argument("--compact", action="store_true", help="rewrite small files into larger ones")
    p.add_argument("--vacuum-hours", type=int, default=168,
                   help="retention window for vacuum in hours (default 168 = 7 days)")
    p.add_argument("--no-vacuum", action="store_true")
    p.add_argument("--dry-run", action="store_true", help="list what vacuum would delete")


def run(ctx: JobContext) -> None:
    names = ctx.args.table or sorted(TABLES)
    unknown = [n for n in names if n not in TABLES]
    if unknown:
        raise DataError(f"unknown table(s) {unknown}; known: {', '.join(sorted(TABLES))}")
    for name in names:
        if not delta.table_exists(ctx.cfg, name):
            continue
        with ctx.rec.stage(name):
            if ctx.args.compact and not ctx.args.dry_run:
                metrics = delta.compact(ctx.cfg, name)
                ctx.rec.count(f"{name}.files_compacted", metrics.get("numFilesRemoved", 0))
            if not ctx.args.no_vacuum:
                removed = delta.vacuum(ctx.cfg, name, ctx.args.vacuum_hours, ctx.args.dry_run)
                ctx.rec.count(f"{name}.files_{'to_vacuum' if ctx.args.dry_run else 'vacuumed'}",
                              len(removed))
            ctx.rec.wrote(name, delta.table_version(ctx.cfg, name) or 0)


if __name__ == "__main__":
    sys.exit(run_module("maintain"))
