"""Run records: what a job read and wrote, its counts and stage timings, as one JSON per run.

Written to ``<artifacts_root>/runs/<run_date>/<job>.json`` (local or s3://) on success and on
failure, so later stages, the DAG and a person can see what happened.
"""
from __future__ import annotations

import json
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any, Iterator

from jobs.common.config import artifacts_root, join
from jobs.common.log import get_logger

if TYPE_CHECKING:
    from jobs.common.config import Settings


def write_text(uri: str, text: str) -> None:
    """Write a small text file to a local path or s3:// URI (atomic rename locally)."""
    if uri.startswith("s3://"):
        import boto3

        bucket, _, key = uri.removeprefix("s3://").partition("/")
        boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=text.encode())
        return
    import os

    os.makedirs(os.path.dirname(os.path.abspath(uri)), exist_ok=True)
    tmp = f"{uri}.tmp"
    with open(tmp, "w") as fh:
        fh.write(text)
    os.replace(tmp, uri)


def read_text(uri: str) -> str:
    if uri.startswith("s3://"):
        import boto3

        bucket, _, key = uri.removeprefix("s3://").partition("/")
        return boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    with open(uri) as fh:
        return fh.read()


@dataclass
class RunRecord:
    job: str
    run_date: str
    env: str
    started_at: str
    status: str = "running"
    duration_s: float = 0.0
    counts: dict[str, Any] = field(default_factory=dict)
    stages: dict[str, float] = field(default_factory=dict)
    reads: dict[str, int | None] = field(default_factory=dict)
    writes: dict[str, dict[str, Any]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def count(self, name: str, value: Any) -> None:
        self.counts[name] = value
        get_logger(self.job).info("%s = %s", name, value)

    def read(self, table: str, version: int | None) -> None:
        self.reads[table] = version

    def wrote(self, table: str, version: int, rows: int | None = None) -> None:
        self.writes[table] = {"version": version, "rows": rows}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        log = get_logger(self.job)
        log.info("stage %s: started", name)
        t0 = time.monotonic()
        try:
            yield
        finally:
            self.stages[name] = round(time.monotonic() - t0, 3)
            log.info("stage %s: %.1fs", name, self.stages[name])

    def summary(self) -> str:
        lines = [f"== {self.job} {self.run_date} [{self.status}] {self.duration_s:.1f}s"]
        lines += [f"   {k}: {v}" for k, v in self.counts.items()]
        if self.stages:
            lines.append("   stages: " + ", ".join(f"{k} {v:.1f}s" for k, v in self.stages.items()))
        lines += [f"   wrote {t} v{w['version']}" + (f" ({w['rows']} rows)" if w.get("rows") is not None
                                                      else "") for t, w in self.writes.items()]
        if self.error:
            lines.append(f"   error: {self.error}")
        return "\n".join(lines)


def record_uri(cfg: Settings, job: str, run_date: date | str) -> str:
    return join(artifacts_root(cfg), cfg.run_record_dir, str(run_date), f"{job}.json")


def save(cfg: Settings, rec: RunRecord) -> str:
    uri = record_uri(cfg, rec.job, rec.run_date)
    write_text(uri, json.dumps(rec.__dict__, indent=2, default=str))
    return uri


def load(cfg: Settings, job: str, run_date: date | str) -> dict[str, Any]:
    return json.loads(read_text(record_uri(cfg, job, run_date)))


def new_record(cfg: Settings, job: str, run_date: date | str) -> RunRecord:
    return RunRecord(job=job, run_date=str(run_date), env=cfg.env,
                     started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
