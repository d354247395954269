"""``local`` backend: LightGBM on the driver from Arrow data.

Single-node by design, so it has a documented bound: at most ``train.max_local_rows`` rows of
each split are collected (via Arrow), and no more than 15% of the driver JVM's heap holds in
Arrow form (``heap_row_budget``: at 10M events a 4 GB driver died collecting 5M rows). Over the
bound, whole groups are sampled —
a deterministic hash of the group id with the seed, so a list is never cut in half and a rerun
picks the same groups — and the kept fraction is recorded in the result (and so in the model
metadata). Use the ``spark`` backend when the bound bites.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from jobs.common.log import get_logger
from jobs.trainers.base import (
    Timer,
    Trainer,
    TrainerError,
    TrainResult,
    TrainSpec,
    sort_rows,
    table_arrays,
    to_arrays,
)

if TYPE_CHECKING:
    import lightgbm as lgb
    import pandas as pd
    import pyarrow as pa
    from pyspark.sql import DataFrame

HASH_BUCKETS = 1_000_000
COLLECT_HEAP_SHARE = 0.15  # of the driver JVM heap, for one collected split (see heap_row_budget)
log = get_logger("trainers.local")


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
        Xv, yv, gv = to_arrays(sort_rows(valid, spec), spec)
    return fit_arrays(X, y, g, Xv, yv, gv, spec, backend=backend, sampled_fraction=sampled_fraction)


def collect_arrow(df: DataFrame) -> pa.Table:
    """All rows of ``df`` as one Arrow table (what ``toPandas`` collects, without the pandas
    conversion; an empty frame keeps its schema)."""
    import pyarrow as pa
    from pyspark.sql.pandas.types import to_arrow_schema

    batches = df._collect_as_arrow()  # pyspark 3.5: toPandas' own Arrow collect (toArrow in 4.0)
    if not batches:
        return to_arrow_schema(df.schema).empty_table()
    return pa.Table.from_batches(batches)


def row_bytes(schema: Any) -> int:
    """Rough Arrow bytes per row of a Spark schema (strings counted as 32 bytes)."""
    from pyspark.sql import types as T

    size = {T.DoubleType: 8, T.LongType: 8, T.TimestampType: 8, T.IntegerType: 4, T.FloatType: 4,
            T.DateType: 4, T.ShortType: 2, T.ByteType: 1, T.BooleanType: 1}
    return sum(size.get(type(f.dataType), 32) + 1 for f in schema.fields)


def heap_row_budget(heap_bytes: int, bytes_per_row: int) -> int:
    """Rows whose Arrow form fits in ``COLLECT_HEAP_SHARE`` of the driver JVM's heap.

    The Arrow collect serialises every partition's rows into byte arrays on the driver JVM's heap
    before Python reads them, beside Spark's own storage and execution memory: at 10M events,
    5M training rows (2.5 GB of Arrow) killed a 4 GB driver with OutOfMemoryError. Over this
    budget the rows are sampled (whole groups) like over ``train.max_local_rows``."""
    return max(1, int(COLLECT_HEAP_SHARE * heap_bytes / max(bytes_per_row, 1)))


def driver_heap_bytes(df: DataFrame) -> int:
    return int(df.sparkSession.sparkContext._jvm.java.lang.Runtime.getRuntime().maxMemory())


def bounded_collect_arrow(df: DataFrame, spec: TrainSpec, what: str) -> tuple[pa.Table, float]:
    """Collect ``df`` via Arrow, sampling whole groups when it has more rows than the local bound:
    ``train.max_local_rows`` or what the driver's heap can take (:func:`heap_row_budget`),
    whichever is smaller."""
    from pyspark.sql import functions as F

    n = df.count()
    heap = driver_heap_bytes(df)
    by_heap = heap_row_budget(heap, row_bytes(df.schema))
    bound = min(spec.max_local_rows, by_heap)
    fraction = 1.0
    if n > bound:
        fraction = bound / n
        why = (f"train.max_local_rows={spec.max_local_rows}" if bound == spec.max_local_rows else
               f"the driver heap ({heap / 2**30:.1f} GiB) takes ~{by_heap:,} rows of this width; "
               f"raise spark.driver_memory to keep every row (training: or train.backend=spark)")
        log.warning("%s: %s rows > bound %s (%s): sampling %.1f%% of the groups", what, f"{n:,}",
                    f"{bound:,}", why, 100 * fraction)
        bucket = F.pmod(F.xxhash64(F.col(spec.group_col), F.lit(spec.seed)), F.lit(HASH_BUCKETS))
        df = df.where(bucket < F.lit(int(fraction * HASH_BUCKETS)))
    table = collect_arrow(df)
    if table.num_rows > bound * 1.1:  # hash sampling is approximate; keep the bound real
        raise TrainerError(f"{what}: {table.num_rows} rows after group sampling exceed the local "
                           f"bound {bound} (train.max_local_rows={spec.max_local_rows}, driver "
                           f"heap {heap / 2**30:.1f} GiB); use train.backend=spark")
    return table, fraction


def bounded_collect(df: DataFrame, spec: TrainSpec, what: str) -> tuple[pd.DataFrame, float]:
    """:func:`bounded_collect_arrow` as pandas (the test split, the spark backend's samples)."""
    table, fraction = bounded_collect_arrow(df, spec, what)
    return table.to_pandas(), fraction


class LocalTrainer(Trainer):
    name = "local"

    def fit(self, train: DataFrame, valid: DataFrame, spec: TrainSpec) -> TrainResult:
        """Arrow all the way from Spark to the float64 matrix (sorted in Arrow, no pandas):
        the same arrays, so the same model, as :func:`fit_frames` on the same rows."""
        cols = [spec.group_col, spec.item_col, spec.label_col, *spec.feature_columns]
        tr, frac = bounded_collect_arrow(train.select(*cols), spec, "train split")
        va, frac_v = bounded_collect_arrow(valid.select(*cols), spec, "validation split")
        if tr.num_rows == 0:
            raise TrainerError("the train split is empty: nothing to train on")
        X, y, g = table_arrays(tr, spec)
        Xv, yv, gv = table_arrays(va, spec) if va.num_rows else (None, None, None)
        return fit_arrays(X, y, g, Xv, yv, gv, spec, backend=self.name, sampled_fraction=frac,
                          sampled_fraction_valid=frac_v)


def fit_arrays(X: np.ndarray, y: np.ndarray, sizes: np.ndarray, Xv: np.ndarray | None,
               yv: np.ndarray | None, sizes_v: np.ndarray | None, spec: TrainSpec,
               backend: str = "local", sampled_fraction: float = 1.0,
               sampled_fraction_valid: float = 1.0) -> TrainResult:
    """Train from arrays already in group order (the local backend, benchmarks, external data)."""
    with Timer() as t:
        booster, history = train_lgb(X, y, sizes, Xv, yv, sizes_v, spec)
    best = booster.best_iteration or booster.current_iteration()
    return TrainResult(model_text=booster.model_to_string(num_iteration=best), backend=backend,
                       best_iteration=best, num_iterations_run=iterations_run(history, spec),
                       history=history, wall_s=t.s, rows_train=len(y),
                       rows_valid=0 if yv is None else len(yv), groups_train=len(sizes),
                       sampled_fraction=sampled_fraction,
                       sampled_fraction_valid=sampled_fraction_valid, params=dict(spec.params))
