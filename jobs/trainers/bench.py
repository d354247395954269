"""Training throughput helpers for the benchmark suite: our local trainer vs raw lightgbm.train.

    from jobs.trainers.bench import benchmark_train
    benchmark_train(X, y, sizes, spec) -> {"ours_rows_iter_per_s", "raw_rows_iter_per_s", "ratio", ...}

Both sides train the same arrays with the same params and a fixed number of iterations (early
stopping off), so rows x iterations / s is comparable; ``ratio`` = ours / raw (1.0 = no overhead).
"""
from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import numpy as np

from jobs.trainers.base import TrainSpec
from jobs.trainers.local import fit_arrays


def benchmark_train(X: np.ndarray, y: np.ndarray, sizes: np.ndarray, spec: TrainSpec,
                    repeats: int = 1) -> dict[str, Any]:
    import lightgbm as lgb

    spec = replace(spec, early_stopping_rounds=0)
    names = list(spec.feature_columns)
    ours, raw = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fit_arrays(X, y, sizes, None, None, None, spec)
        ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ds = lgb.Dataset(X, label=y, group=sizes, feature_name=names)
        lgb.train(spec.params, ds, num_boost_round=spec.num_iterations).model_to_string()
        raw.append(time.perf_counter() - t0)
    work = len(y) * spec.num_iterations
    o, r = work / min(ours), work / min(raw)
    return {"rows": len(y), "iterations": spec.num_iterations, "ours_s": min(ours),
            "raw_s": min(raw), "ours_rows_iter_per_s": o, "raw_rows_iter_per_s": r, "ratio": o / r}
