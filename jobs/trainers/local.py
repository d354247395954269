"""``local`` backend: LightGBM on the driver from Arrow data.

Single-node by design, so it has a documented bound: at most ``train.max_local_rows`` rows of
each split are collected (via Arrow, ``toPandas``). Over the bound, whole groups are sampled —
a deterministic hash of the group id with the seed, so a list is never cut in half and a rerun
picks the same groups — and the kept fraction is recorded in the result (and so in the model
metadata). Use the ``spark`` backend when the bound bites.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from jobs.trainers.base import (
    Timer,
    Trainer,
    TrainerError,
    TrainResult,
    TrainSpec,
    sort_rows,
    to_arrays,
)

if TYPE_CHECKING:
    import lightgbm as lgb
    import pandas as pd
    from pyspark.sql import DataFrame

HASH_BUCKETS = 1_000_000


def train_lgb(X: np.ndarray, y: np.ndarray, sizes: np.ndarray, Xv: np.ndarray | None,
              yv: np.ndarray | None, sizes_v: np.ndarray | None, spec: TrainSpec,
              extra: dict[str, Any] | None = None, bin_sample: np.ndarray | None = None,
              ) -> tuple[lgb.Booster, dict[str, list[float]]]:
    """The one call into ``lightgbm.train`` (used by ``local`` and by each ``spark`` worker).

    Early stopping watches validation NDCG@``spec.stop_at`` only (``first_metric_only``); the
    returned booster is cut at the best iteration. ``bin_sample``: rows the feature bins are
    found from (a reference Dataset); the spark backend passes the same sample to every worker
    so all of them, and the local backend, bin features identically."""
    import lightgbm as lgb

    params = {**spec.params, **(extra or {})}
    feature_names = list(spec.feature_columns)
    ref = None
    if bin_sample is not None:
        ref = lgb.Dataset(bin_sample, feature_name=feature_names, free_raw_data=False,
                          params=params)
    dtrain = lgb.Dataset(X, label=y, group=sizes, feature_name=feature_names, reference=ref,
                         free_raw_data=False, params=params if ref is not None else {"verbosity": -1})
    evals: dict[str, dict[str, list[float]]] = {}
    callbacks = [lgb.record_evaluation(evals)]
    valid_sets = []
    if Xv is not None and len(Xv):
        dvalid = lgb.Dataset(Xv, label=yv, group=sizes_v, reference=dtrain,
                             feature_name=feature_names, free_raw_data=False)
        valid_sets = [dvalid]
        if spec.early_stopping_rounds > 0:
            callbacks.append(lgb.early_stopping(spec.early_stopping_rounds, first_metric_only=True,
                                                verbose=False))
    booster = lgb.train(params, dtrain, num_boost_round=spec.num_iterations, valid_sets=valid_sets,
                        valid_names=["valid"] if valid_sets else None, callbacks=callbacks)
    return booster, dict(evals.get("valid", {}))


def iterations_run(history: dict[str, list[float]], spec: TrainSpec) -> int:
    curve = history.get(f"ndcg@{spec.stop_at}")
    return len(curve) if curve else spec.num_iterations


def fit_frames(train: pd.DataFrame, valid: pd.DataFrame | None, spec: TrainSpec,
               backend: str = "local", sampled_fraction: float = 1.0) -> TrainResult:
    """Train from pandas frames (already bounded); rows are put in canonical order first."""
    if train.empty:
        raise TrainerError("the train split is empty: nothing to train on")
    missing = [c for c in spec.feature_columns if c not in train.columns]
    if missing:
        raise TrainerError(f"train split lacks feature column(s) {missing[:5]}")
    train = sort_rows(train, spec)
    X, y, g = to_arrays(train, spec)
    Xv = yv = gv = None
    if valid is not None and not valid.empty:
        valid = sort_rows(valid, spec)
        Xv, yv, gv = to_arrays(valid, spec)
    with Timer() as t:
        booster, history = train_lgb(X, y, g, Xv, yv, gv, spec)
    best = booster.best_iteration or booster.current_iteration()
    return TrainResult(model_text=booster.model_to_string(num_iteration=best), backend=backend,
                       best_iteration=best, num_iterations_run=iterations_run(history, spec),
                       history=history, wall_s=t.s, rows_train=len(train),
                       rows_valid=0 if valid is None else len(valid), groups_train=len(g),
                       sampled_fraction=sampled_fraction, params=dict(spec.params))


def bounded_collect(df: DataFrame, spec: TrainSpec, what: str) -> tuple[pd.DataFrame, float]:
    """Collect ``df`` via Arrow, sampling whole groups when it has more than the local bound."""
    from pyspark.sql import functions as F

    n = df.count()
    fraction = 1.0
    if n > spec.max_local_rows:
        fraction = spec.max_local_rows / n
        bucket = F.pmod(F.xxhash64(F.col(spec.group_col), F.lit(spec.seed)), F.lit(HASH_BUCKETS))
        df = df.where(bucket < F.lit(int(fraction * HASH_BUCKETS)))
    pdf = df.toPandas()
    if len(pdf) > spec.max_local_rows * 1.1:  # hash sampling is approximate; keep the bound real
        raise TrainerError(f"{what}: {len(pdf)} rows after group sampling exceed "
                           f"train.max_local_rows={spec.max_local_rows}; use train.backend=spark")
    return pdf, fraction


class LocalTrainer(Trainer):
    name = "local"

    def fit(self, train: DataFrame, valid: DataFrame, spec: TrainSpec) -> TrainResult:
        cols = [spec.group_col, spec.item_col, spec.label_col, *spec.feature_columns]
        tr, frac = bounded_collect(train.select(*cols), spec, "train split")
        va, _ = bounded_collect(valid.select(*cols), spec, "validation split")
        return fit_frames(tr, va, spec, self.name, frac)


def fit_arrays(X: np.ndarray, y: np.ndarray, sizes: np.ndarray, Xv: np.ndarray | None,
               yv: np.ndarray | None, sizes_v: np.ndarray | None, spec: TrainSpec) -> TrainResult:
    """Train from arrays already in group order (benchmarks, external datasets)."""
    with Timer() as t:
        booster, history = train_lgb(X, y, sizes, Xv, yv, sizes_v, spec)
    best = booster.best_iteration or booster.current_iteration()
    return TrainResult(model_text=booster.model_to_string(num_iteration=best), backend="local",
                       best_iteration=best, num_iterations_run=iterations_run(history, spec),
                       history=history, wall_s=t.s, rows_train=len(y),
                       rows_valid=0 if yv is None else len(yv), groups_train=len(sizes),
                       params=dict(spec.params))
