"""The one Spark session factory used by every job and test.

local[2] by default (config ``spark.master``), UTC session time zone, micro-second Parquet
timestamps (Delta readers everywhere understand them; no TimestampNTZ), Arrow enabled.
On EMR ``spark.master`` is null and spark-submit/YARN settings win.
"""
from __future__ import annotations

import functools
import os
import subprocess
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from jobs.common.config import Settings

DAEMON_MODULE = "jobs.common.pydaemon"
DAEMON_ENV = "RANKLAKE_PYSPARK_DAEMON"
BASE_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.pyspark.fallback.enabled": "false",
    "spark.sql.execution.arrow.maxRecordsPerBatch": "20000",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    "spark.ui.showConsoleProgress": "false",
    # the feature and top-K plans are large; the SQL listener keeps every execution's plan on the
    # driver heap (1000 by default), which on a long session ends in GC thrashing
    "spark.sql.ui.retainedExecutions": "20",
    # constraint propagation is super-linear in the number of projected expressions; the feature
    # join projects ~60 coalesce/when columns through a dozen joins and the optimizer alone then
    # takes minutes and gigabytes (SPARK-19846 family). Nothing we do relies on inferred filters.
    "spark.sql.constraintPropagation.enabled": "false",
    "spark.ui.retainedJobs": "50",
    "spark.ui.retainedStages": "50",
    "spark.ui.retainedTasks": "2000",
    "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
}


def numpy2_compat() -> None:
    """pyspark 3.5's pandas API (imported by ``pyspark.testing`` and some libraries) still uses
    ``np.NaN``, removed in NumPy 2 (fixed in Spark 4). Feast and pyarrow need NumPy 2, so alias it."""
    import numpy as np

    if not hasattr(np, "NaN"):
        np.NaN = np.nan  # type: ignore[attr-defined]


def local_python_conf(master: str | None) -> dict[str, str]:
    """For local masters: Python workers forked by ``jobs.common.pydaemon`` (Spark's daemon
    without the zip re-read each task pays on Python 3.11; see that module), if the workers'
    interpreter can import it. ``spark.conf`` in the config overrides this
    (``spark.python.daemon.module: pyspark.daemon`` restores Spark's own), and so does
    ``RANKLAKE_PYSPARK_DAEMON=spark`` in the environment."""
    if not master or not master.startswith("local") or os.environ.get(DAEMON_ENV) == "spark":
        return {}
    return {"spark.python.daemon.module": DAEMON_MODULE} if _daemon_importable() else {}


@functools.lru_cache(maxsize=1)
def _daemon_importable() -> bool:
    """Whether the workers' interpreter, started the way Spark starts its daemon (same working
    directory and environment), finds ``DAEMON_MODULE`` outside a zip. Checked once per process
    (~50 ms): a daemon that cannot start would fail every Python task."""
    python = os.environ.get("PYSPARK_PYTHON", sys.executable)
    code = ("import importlib.util, os, sys; s = importlib.util.find_spec(sys.argv[1]); "
            "sys.exit(0 if s and s.origin and os.path.isfile(s.origin) else 1)")
    try:
        return subprocess.run([python, "-c", code, DAEMON_MODULE], capture_output=True,  # noqa: S603
                              timeout=60).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def get_spark(cfg: Settings, app: str | None = None) -> SparkSession:
    """Return (or reuse) the SparkSession configured from ``cfg.spark``."""
    from pyspark.sql import SparkSession

    numpy2_compat()
    os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")

    # executors must run the same interpreter as the driver (the jobs venv)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("TZ", "UTC")
    builder = SparkSession.builder.appName(app or cfg.spark.app_name)
    if cfg.spark.master:
        builder = builder.master(cfg.spark.master)
        builder = builder.config("spark.driver.memory", cfg.spark.driver_memory)
        builder = builder.config("spark.driver.bindAddress", "127.0.0.1")
        builder = builder.config("spark.driver.host", "127.0.0.1")
        builder = builder.config("spark.ui.enabled", os.environ.get("RANKLAKE_SPARK_UI", "false"))
    settings = {**BASE_CONF, "spark.sql.shuffle.partitions": str(cfg.spark.shuffle_partitions),
                **local_python_conf(cfg.spark.master), **cfg.spark.conf}
    for k, v in settings.items():
        builder = builder.config(k, v)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(os.environ.get("RANKLAKE_SPARK_LOG", "WARN"))
    return spark


def materialize(df: DataFrame) -> DataFrame:
    """Compute ``df`` now and cut its lineage (an eager local checkpoint).

    Later plans start from the stored rows instead of re-analysing and re-optimising the whole
    lineage, which dominates driver time when a large plan (e.g. the feature assembly) sits under
    many small follow-up jobs. The rows live in the executors' block managers like a cache (memory,
    spilling to disk) and go when the frame is garbage-collected; they are not recomputed, so a lost
    executor fails the job (Airflow retries the idempotent task) instead of silently redoing work.
    """
    return df.localCheckpoint(eager=True)
