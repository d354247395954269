"""The trainer interface every backend implements, and what they share.

A backend takes the train and validation splits of ``training_set`` as Spark DataFrames (rows of
one group contiguous after sorting by group id), trains LightGBM ``lambdarank`` with early
stopping on validation NDCG@k, and returns a ``TrainResult`` whose ``model_text`` is LightGBM's
native text model (``Booster.model_to_string()``) — the one format the registry stores, whatever
backend produced it.
"""
from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from jobs.common import columns as C
from jobs.common.errors import RanklakeError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    from pyspark.sql import DataFrame

    from jobs.common.config import TrainConf


class TrainerError(RanklakeError):
    """A backend cannot run (missing jars, too few slots, bad data)."""


@dataclass(frozen=True)
class TrainSpec:
    """Everything a backend needs besides the data. ``params`` are LightGBM parameters."""

    feature_columns: tuple[str, ...]
    params: dict[str, Any]
    num_iterations: int
    early_stopping_rounds: int
    stop_at: int  # k of the NDCG@k that early stopping watches
    seed: int
    max_local_rows: int = 5_000_000
    workers: int = 2
    group_col: str = C.GROUP_ID
    label_col: str = C.LABEL
    item_col: str = C.ITEM_ID


@dataclass
class TrainResult:
    model_text: str
    backend: str
    best_iteration: int
    num_iterations_run: int
    history: dict[str, list[float]]  # "ndcg@k" -> validation value per iteration
    wall_s: float
    rows_train: int
    rows_valid: int
    groups_train: int
    sampled_fraction: float = 1.0  # < 1 when the local bound forced group sampling
    sampled_fraction_valid: float = 1.0  # the same for the validation split (local backend)
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("model_text")
        return out


class Trainer(ABC):
    name: str = "base"

    @abstractmethod
    def fit(self, train: DataFrame, valid: DataFrame, spec: TrainSpec) -> TrainResult:
        """Train on Spark DataFrames of the train/validation splits; return the native model."""


def lgb_params(conf: TrainConf, seed: int | None = None) -> dict[str, Any]:
    """Our config -> LightGBM parameters. ``conf.params`` (free-form) wins over the named keys.

    The early-stopping k is listed first in ``eval_at`` so ``first_metric_only`` watches it."""
    stop_at = 10 if 10 in conf.eval_at else conf.eval_at[0]
    eval_at = [stop_at, *[k for k in conf.eval_at if k != stop_at]]
    s = conf.seed if seed is None else seed
    params: dict[str, Any] = {
        "objective": "lambdarank", "metric": "ndcg", "eval_at": eval_at,
        "learning_rate": conf.learning_rate, "num_leaves": conf.num_leaves,
        "min_data_in_leaf": conf.min_data_in_leaf, "seed": s, "bagging_seed": s,
        "feature_fraction_seed": s, "data_random_seed": s, "deterministic": True,
        "force_row_wise": True, "num_threads": 2, "verbosity": -1,
    }
    params.update(conf.params)
    return params


def spec_from_conf(conf: TrainConf, feature_columns: Sequence[str]) -> TrainSpec:
    params = lgb_params(conf)
    return TrainSpec(feature_columns=tuple(feature_columns), params=params,
                     num_iterations=conf.num_iterations,
                     early_stopping_rounds=conf.early_stopping_rounds,
                     stop_at=int(params["eval_at"][0]), seed=conf.seed,
                     max_local_rows=conf.max_local_rows, workers=conf.spark_workers)


def to_arrays(pdf: pd.DataFrame, spec: TrainSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted pandas rows -> (X float64, y int, group sizes in row order)."""
    X = pdf[list(spec.feature_columns)].to_numpy(dtype=np.float64, na_value=np.nan)
    y = pdf[spec.label_col].to_numpy(dtype=np.int32)
    gid = pdf[spec.group_col].to_numpy()
    if len(gid) == 0:
        return X, y, np.array([], dtype=np.int32)
    starts = np.flatnonzero(np.concatenate([[True], gid[1:] != gid[:-1]]))
    sizes = np.diff(np.concatenate([starts, [len(gid)]])).astype(np.int32)
    if len(np.unique(gid)) != len(sizes):
        raise TrainerError("training rows of a group are not contiguous; sort by group id first")
    return X, y, sizes


def table_arrays(table: pa.Table, spec: TrainSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arrow rows in any order -> (X float64, y int, group sizes) in the canonical order (group id,
    then item id), the same arrays ``to_arrays(sort_rows(table.to_pandas()))`` gives: Arrow
    sorts UTF-8 by bytes, which is code-point order like Python's str, and nulls become NaN as
    in ``to_arrays``. No pandas on the way: on the 1M training set the pandas sort of the two
    string keys alone took longer than lightgbm.train."""
    import pyarrow.compute as pc

    from jobs.scoring import feature_matrix

    if table.num_rows:
        order = pc.sort_indices(table, sort_keys=[(spec.group_col, "ascending"),
                                                  (spec.item_col, "ascending")])
        table = table.take(order)
    X = feature_matrix(table, spec.feature_columns)
    y = table.column(spec.label_col).to_numpy().astype(np.int32)
    if table.num_rows == 0:
        return X, y, np.array([], dtype=np.int32)
    gid = table.column(spec.group_col).combine_chunks()
    change = pc.not_equal(gid.slice(1), gid.slice(0, len(gid) - 1)).to_numpy(zero_copy_only=False)
    starts = np.flatnonzero(np.concatenate([[True], change]))
    sizes = np.diff(np.concatenate([starts, [len(gid)]])).astype(np.int32)
    if pc.count_distinct(gid).as_py() != len(sizes):  # cannot happen after the sort; kept as a guard
        raise TrainerError("training rows of a group are not contiguous; sort by group id first")
    return X, y, sizes


def sort_rows(pdf: pd.DataFrame, spec: TrainSpec) -> pd.DataFrame:
    """The canonical row order every backend trains on: group id, then item id."""
    return pdf.sort_values([spec.group_col, spec.item_col], kind="mergesort").reset_index(drop=True)


def best_from_history(history: dict[str, list[float]], stop_at: int,
                      rounds: int) -> tuple[int, int]:
    """(best_iteration 1-based, iterations run) from a validation curve: what early stopping
    decided. Used by backends that cannot call back into LightGBM's early stopping."""
    curve = history.get(f"ndcg@{stop_at}", [])
    if not curve:
        return 0, 0
    best = int(np.argmax(curve)) + 1
    return best, min(len(curve), best + rounds)


class Timer:
    def __enter__(self) -> Timer:
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.s = time.perf_counter() - self.t0
