"""PSI on known distributions."""
from __future__ import annotations

import math

import pytest

from jobs import drift


def test_psi_known_values():
    assert drift.psi([50, 50], [50, 50]) == 0.0
    assert drift.psi([0.5, 0.5], [0.9, 0.1]) == pytest.approx(
        0.4 * math.log(1.8) + (-0.4) * math.log(0.2))
    assert drift.psi([10, 0], [5, 5]) == pytest.approx(
        (0.5 - 1) * math.log(0.5) + (0.5 - 1e-4) * math.log(0.5 / 1e-4))
    assert drift.status_of(0.3, 0.25, False) == "warn" and drift.status_of(0.3, 0.25, True) == "fail"
    assert drift.status_of(0.25, 0.25, True) == "ok"


def test_psi_on_frames(spark):
    ref = spark.createDataFrame([(float(i % 100), 1.0) for i in range(1000)], "a double, b double")
    same = ref
    shifted = spark.createDataFrame([(float(i % 100) + 50.0 if i % 2 else None, 1.0)
                                     for i in range(1000)], "a double, b double")
    assert drift.compare(same, ref, ["a", "b"], 10) == {"a": (0.0, 1000, 1000),
                                                        "b": (0.0, 1000, 1000)}
    res = drift.compare(shifted, ref, ["a", "b"], 10)
    # half the rows are null (own bin, absent in the reference), the rest sit in the top bins
    assert res["a"][0] > 2.0 and res["b"][0] == 0.0 and res["a"][1:] == (1000, 1000)


def _training_set(spark, run_date, shift: float, n: int = 400):
    from pyspark.sql import functions as F

    from jobs.common import columns as C

    base = spark.range(n).select(
        F.lit(run_date).cast("date").alias(C.RUN_DATE),
        F.when(F.col("id") % 4 == 0, F.lit("validation")).otherwise(F.lit("train")).alias(C.SPLIT),
        *[(F.col("id") % 50).cast("double").alias(c) for c in C.FEATURE_COLUMNS])
    # one feature moves by `shift` in the train split only (the split PSI is computed on)
    moved = C.FEATURE_COLUMNS[0]
    return base.withColumn(moved, F.col(moved) + F.when(F.col(C.SPLIT) == "train", F.lit(shift))
                           .otherwise(F.lit(0.0)))


def test_drift_stage_stores_psi_per_run_warns_or_fails(spark, tmp_path):
    """drift.run against real Delta tables: PSI of every feature vs the previous run's train
    split is stored for this run; a drifted feature warns, or with features.psi_fail fails the
    run with the feature named, after the results are written."""
    import argparse
    from datetime import date, datetime, timezone

    from jobs.common import columns as C
    from jobs.common.cli import JobContext
    from jobs.common.config import load_config
    from jobs.common.delta import read_table, write_table
    from jobs.common.errors import CheckFailed
    from jobs.common.runlog import RunRecord

    d1, d2 = date(2026, 11, 19), date(2026, 11, 20)
    moved = C.FEATURE_COLUMNS[0]

    def ctx(d, fail):
        cfg = load_config("test", [f"lake.root={tmp_path}", f"features.psi_fail={str(fail).lower()}"])
        rec = RunRecord("features", d.isoformat(), "test", datetime.now(timezone.utc).isoformat())
        return JobContext(cfg, argparse.Namespace(), d, rec, spark)

    cfg = ctx(d1, False).cfg
    for d, shift in ((d1, 0.0), (d2, 100.0)):
        write_table(_training_set(spark, d, shift), cfg, "training_set", mode="replace",
                    partitions={C.RUN_DATE: [d]})
    first = ctx(d1, False)
    drift.run(first)
    assert first.rec.counts["drift"] == "skipped: no previous training_set run"
    for fail in (False, True):
        second = ctx(d2, fail)
        if fail:
            with pytest.raises(CheckFailed, match=f"PSI > 0.25 for 1 feature\\(s\\): {moved}="):
                drift.run(second)
        else:
            drift.run(second)
            assert moved in second.rec.info["drift_warning"]
        got = {r["feature"]: r for r in read_table(spark, cfg, "feature_drift",
                                                   filters=[(C.RUN_DATE, "=", d2)]).collect()}
        assert set(got) == set(C.FEATURE_COLUMNS)
        assert got[moved]["psi"] > 0.25 and got[moved]["status"] == ("fail" if fail else "warn")
        assert all(r["status"] == "ok" and r["psi"] == 0.0 for f, r in got.items() if f != moved)
        assert {r["reference_run_date"] for r in got.values()} == {d1}
        assert {(r["rows_current"], r["rows_reference"]) for r in got.values()} == {(300, 300)}
