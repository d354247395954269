"""Population stability index (PSI) of every model feature: this run's train split vs the
previous run's train split (training_set, latest run_date < D). Written to feature_drift
(partition run_date = D, replaced): run_date, feature, psi, status (ok|warn|fail),
reference_run_date, rows_current, rows_reference. PSI above features.psi_threshold warns; with
features.psi_fail it fails the features run (after the results are written).

Bins: features.psi_bins quantile bins of the *reference* distribution (duplicate edges merged, so a
binary feature has 2 bins) plus one bin for nulls. Empty bins count as 1e-4 so PSI stays finite.
Runs inside ``ranklake features`` (jobs/features.py).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.common import columns as C
from jobs.common.delta import read_table, write_table_result
from jobs.common.errors import CheckFailed
from jobs.common.log import get_logger

if TYPE_CHECKING:
    from jobs.common.cli import JobContext

EPS = 1e-4
NULL_BIN = -1
OUTPUT = (C.RUN_DATE, "feature", "psi", "status", "reference_run_date", "rows_current",
          "rows_reference")
log = get_logger("drift")


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    """PSI of two distributions over the same bins (counts or shares)."""
    te, ta = float(sum(expected)) or 1.0, float(sum(actual)) or 1.0
    total = 0.0
    for e, a in zip(expected, actual):
        pe, pa = max(e / te, EPS), max(a / ta, EPS)
        total += (pa - pe) * math.log(pa / pe)
    return total


def bin_edges(reference: DataFrame, features: Sequence[str], bins: int) -> dict[str, list[float]]:
    probs = [i / bins for i in range(1, bins)]
    qs = reference.approxQuantile(list(features), probs, 0.001)  # bins x features floats
    return {f: sorted(set(q)) for f, q in zip(features, qs)}


def bin_counts(df: DataFrame, edges: dict[str, list[float]]) -> dict[str, dict[int, int]]:
    """feature -> bin -> rows; bin = number of edges strictly below the value (nulls: -1)."""
    def bucket(c: str):
        col = F.col(c)
        idx = sum(((col > F.lit(e)).cast("int") for e in edges[c]), F.lit(0))
        return F.when(col.isNull() | F.isnan(col), F.lit(NULL_BIN)).otherwise(idx)

    stacked = df.select(F.explode(F.array(*[
        F.struct(F.lit(c).alias("feature"), bucket(c).alias("bin")) for c in edges])).alias("s"))
    out: dict[str, dict[int, int]] = {c: {} for c in edges}
    for r in stacked.groupBy("s.feature", "s.bin").count().collect():  # features x bins rows
        out[r["feature"]][r["bin"]] = r["count"]
    return out


def compare(current: DataFrame, reference: DataFrame, features: Sequence[str], bins: int
            ) -> dict[str, tuple[float, int, int]]:
    """feature -> (psi, rows_current, rows_reference)."""
    edges = bin_edges(reference, features, bins)
    cur, ref = bin_counts(current, edges), bin_counts(reference, edges)
    result = {}
    for f in features:
        keys = sorted(set(cur[f]) | set(ref[f]))
        result[f] = (psi([ref[f].get(k, 0) for k in keys], [cur[f].get(k, 0) for k in keys]),
                     sum(cur[f].values()), sum(ref[f].values()))
    return result


def status_of(value: float, threshold: float, fail: bool) -> str:
    if value <= threshold:
        return "ok"
    return "fail" if fail else "warn"


def run(ctx: JobContext) -> None:
    cfg, d, rec, f = ctx.cfg, ctx.run_date, ctx.rec, ctx.cfg.features
    assert d is not None
    spark = ctx.spark
    ts = read_table(spark, cfg, "training_set", filters=[(C.RUN_DATE, "<=", d)])
    prev = ts.filter(F.col(C.RUN_DATE) < F.lit(d)).agg(F.max(C.RUN_DATE)).first()[0]
    if prev is None:
        rec.count("drift", "skipped: no previous training_set run")
        return
    train = F.col(C.SPLIT) == "train"
    current = ts.filter((F.col(C.RUN_DATE) == F.lit(d)) & train)
    reference = ts.filter((F.col(C.RUN_DATE) == F.lit(prev)) & train)
    res = compare(current, reference, C.FEATURE_COLUMNS, f.psi_bins)
    rows = [(d, feat, float(p), status_of(p, f.psi_threshold, f.psi_fail), prev, nc, nr)
            for feat, (p, nc, nr) in res.items()]
    schema = ("run_date date, feature string, psi double, status string, "
              "reference_run_date date, rows_current long, rows_reference long")
    out = write_table_result(spark.createDataFrame(rows, schema), cfg, "feature_drift",
                             mode="replace", partitions={C.RUN_DATE: [d]})
    rec.wrote("feature_drift", out.version, out.rows)
    over = sorted((r[1], round(r[2], 4)) for r in rows if r[3] != "ok")
    rec.count("drift_over_threshold", len(over))
    if over:
        msg = (f"feature drift vs run {prev}: PSI > {f.psi_threshold} for {len(over)} feature(s): "
               + ", ".join(f"{n}={v}" for n, v in over[:10]))
        if f.psi_fail:
            raise CheckFailed(msg)
        log.warning(msg)
        rec.info["drift_warning"] = msg


