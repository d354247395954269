"""Vectorised LightGBM scoring inside Spark (``mapInArrow``), model shipped once per executor.

The model text goes out as one Spark broadcast; each Python worker builds the ``Booster`` once
and keeps it in a module-level cache keyed by model version (Python workers are reused across
tasks, so later tasks and later list types skip the parse). Each Arrow batch becomes one float64
numpy matrix in the model's feature order (nulls -> NaN, LightGBM's "missing") and one
``Booster.predict`` call, so Spark scores are exactly what ``model.predict`` gives on the same rows.

``benchmark_scoring`` measures rows/s of this path against a raw ``Booster.predict`` on a numpy
matrix of the same rows (used by the benchmark suite and reported by the topk tests).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np
import pyarrow as pa

from jobs.common import columns as C

if TYPE_CHECKING:
    from pyspark.broadcast import Broadcast
    from pyspark.sql import DataFrame, SparkSession

_BOOSTERS: dict[str, Any] = {}  # per Python worker: model version -> lightgbm.Booster
PREDICT_THREADS = 1  # one Spark task per core already; more threads would oversubscribe


def worker_booster(version: str, model_text: Broadcast) -> Any:
    """The Booster for ``version`` in this process, built on first use only."""
    booster = _BOOSTERS.get(version)
    if booster is None:
        import lightgbm as lgb

        booster = lgb.Booster(model_str=model_text.value)
        _BOOSTERS[version] = booster
    return booster


def feature_matrix(batch: pa.RecordBatch | pa.Table, feature_columns: Sequence[str]) -> np.ndarray:
    """float64 matrix (rows x features) in ``feature_columns`` order; nulls become NaN."""
    import pyarrow.compute as pc

    out = np.empty((batch.num_rows, len(feature_columns)), dtype=np.float64)
    for j, name in enumerate(feature_columns):
        col = pc.fill_null(batch.column(name).cast(pa.float64()), np.nan)
        out[:, j] = col.to_numpy(zero_copy_only=False)
    return out


@dataclass(frozen=True)
class ShippedModel:
    """A model as the executors see it: version, feature order, broadcast model text."""

    version: str
    feature_columns: tuple[str, ...]
    text: Broadcast


def ship_model(spark: SparkSession, model: Any) -> ShippedModel:
    """Broadcast ``model.booster`` (a registry Model) once for the whole run."""
    text = model.booster.model_to_string()
    return ShippedModel(str(model.version), tuple(model.feature_columns),
                        spark.sparkContext.broadcast(text))


def score_frame(df: DataFrame, shipped: ShippedModel,
                keep: Sequence[str] = (C.LIST_TYPE, C.ENTITY_ID, C.ITEM_ID)) -> DataFrame:
    """``df`` (keep columns + every model feature) -> keep columns + ``score`` double."""
    from pyspark.sql.types import DoubleType, StructField, StructType

    missing = [c for c in shipped.feature_columns if c not in df.columns]
    if missing:
        from jobs.common.errors import DataError

        raise DataError(f"scoring: feature column(s) {missing[:5]} missing from the assembled "
                        f"features (model {shipped.version} expects {len(shipped.feature_columns)})")
    keep = list(keep)
    in_df = df.select(*keep, *[c for c in shipped.feature_columns if c not in keep])
    out_schema = StructType([*(in_df.schema[c] for c in keep), StructField(C.SCORE, DoubleType())])
    version, features, text = shipped.version, list(shipped.feature_columns), shipped.text

    def predict(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        booster = worker_booster(version, text)
        for batch in batches:
            if batch.num_rows == 0:
                continue
            scores = booster.predict(feature_matrix(batch, features), num_threads=PREDICT_THREADS)
            cols = [batch.column(c) for c in keep] + [pa.array(np.asarray(scores, np.float64))]
            yield pa.RecordBatch.from_arrays(cols, names=[*keep, C.SCORE])

    return in_df.mapInArrow(predict, out_schema)


def benchmark_scoring(spark: SparkSession, model: Any, rows: int = 200_000, seed: int = 0,
                      repeats: int = 1) -> dict[str, float]:
    """Rows/s of :func:`score_frame` inside Spark vs raw ``Booster.predict`` on the same rows.

    The rows are random features (10% nulls) built once as numpy, loaded into Spark and cached
    before timing, so the Spark figure covers broadcast + Arrow transfer + predict + a sum.
    """
    from pyspark.sql import functions as F

    rng = np.random.default_rng(seed)
    feats = list(model.feature_columns)
    x = rng.normal(size=(rows, len(feats)))
    x[rng.random(x.shape) < 0.1] = np.nan
    import pandas as pd

    pdf = pd.DataFrame(x, columns=feats)
    pdf.insert(0, C.ITEM_ID, [f"i{i}" for i in range(rows)])
    pdf.insert(0, C.ENTITY_ID, "bench")
    pdf.insert(0, C.LIST_TYPE, "user")
    df = spark.createDataFrame(pdf).cache()
    df.count()
    shipped = ship_model(spark, model)
    keep = [C.LIST_TYPE, C.ENTITY_ID, C.ITEM_ID]
    passthrough = df.select(*keep, *feats).mapInArrow(_zero_scores(keep), score_frame(
        df, shipped).schema)
    spark_s, raw_s, transfer_s = [], [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        score_frame(df, shipped).agg(F.sum(C.SCORE)).collect()
        spark_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        model.booster.predict(x)
        raw_s.append(time.perf_counter() - t0)
        # the same job with predict replaced by zeros: what the JVM <-> Python Arrow transfer of
        # these rows costs by itself (the ceiling any mapInArrow scorer has on this machine)
        t0 = time.perf_counter()
        passthrough.agg(F.sum(C.SCORE)).collect()
        transfer_s.append(time.perf_counter() - t0)
    df.unpersist()
    spark_rps, raw_rps = rows / min(spark_s), rows / min(raw_s)
    transfer_rps = rows / min(transfer_s)
    return {"rows": float(rows), "spark_rows_per_s": round(spark_rps, 1),
            "raw_rows_per_s": round(raw_rps, 1), "ratio_spark_vs_raw": round(spark_rps / raw_rps, 4),
            "transfer_rows_per_s": round(transfer_rps, 1),
            "ceiling_ratio": round(transfer_rps / raw_rps, 4), "trees": float(model.booster.num_trees())}


def _zero_scores(keep: list[str]):
    """mapInArrow function: the keep columns and a zero score (the scorer minus predict)."""
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            cols = [batch.column(c) for c in keep] + [pa.array(np.zeros(batch.num_rows))]
            yield pa.RecordBatch.from_arrays(cols, names=[*keep, C.SCORE])
    return run
