"""``synapseml`` backend: SynapseML's ``LightGBMRanker`` on clusters that have its jars.

UNVERIFIED HERE: this machine has no SynapseML jars (Maven is unreachable), so only the parameter
mapping (``ranker_params``) and the model export path are tested; ``fit`` raises a clear
``TrainerError`` when the jars or the ``synapse.ml`` Python package are absent.

Mapping: our LightGBM params -> LightGBMRanker setters (``groupCol``, ``labelCol``,
``featuresCol``, ``numIterations``, ``learningRate``, ``numLeaves``, ``evalAt``, ...); anything
without a setter goes through ``passThroughArgs`` verbatim, so no parameter is silently lost.
Validation rows ride along with ``validationIndicatorCol`` for early stopping, ``slotNames`` keep
our feature names in the native model, and ``saveNativeModel`` gives LightGBM's text model —
the same format the registry stores for the other backends.
"""
from __future__ import annotations

import glob
import os
import tempfile
from typing import TYPE_CHECKING, Any

from jobs.trainers.base import Timer, Trainer, TrainerError, TrainResult, TrainSpec

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

RANKER_CLASS = "com.microsoft.azure.synapse.ml.lightgbm.LightGBMRanker"
FEATURES_VEC = "features"
IS_VALID = "is_validation"
# LightGBM parameter -> LightGBMRanker setter
PARAM_MAP = {
    "learning_rate": "learningRate", "num_leaves": "numLeaves", "max_depth": "maxDepth",
    "min_data_in_leaf": "minDataInLeaf", "min_sum_hessian_in_leaf": "minSumHessianInLeaf",
    "feature_fraction": "featureFraction", "bagging_fraction": "baggingFraction",
    "bagging_freq": "baggingFreq", "bagging_seed": "baggingSeed", "lambda_l1": "lambdaL1",
    "lambda_l2": "lambdaL2", "max_bin": "maxBin", "num_threads": "numThreads", "seed": "seed",
    "max_position": "maxPosition", "label_gain": "labelGain", "metric": "metric",
    "objective": "objective", "verbosity": "verbosity", "eval_at": "evalAt",
}
# handled by the backend itself (distributed setup) or meaningless for SynapseML
_DROP = {"tree_learner", "machines", "local_listen_port", "num_machines", "pre_partition",
         "time_out", "num_iterations", "early_stopping_round"}


def ranker_params(spec: TrainSpec) -> dict[str, Any]:
    """Keyword arguments for ``LightGBMRanker(**kw)`` equivalent to ``spec``."""
    kw: dict[str, Any] = {
        "groupCol": spec.group_col, "labelCol": spec.label_col, "featuresCol": FEATURES_VEC,
        "numIterations": spec.num_iterations, "earlyStoppingRound": spec.early_stopping_rounds,
        "validationIndicatorCol": IS_VALID, "slotNames": list(spec.feature_columns),
        "useBarrierExecutionMode": True, "repartitionByGroupingColumn": True,
        "parallelism": "data_parallel", "isProvideTrainingMetric": False,
    }
    passthrough: list[str] = []
    for key, value in sorted(spec.params.items()):
        if key in _DROP:
            continue
        if key in PARAM_MAP:
            setter = PARAM_MAP[key]
            kw[setter] = [int(k) for k in value] if key == "eval_at" else (
                [float(v) for v in value] if key == "label_gain" else value)
        else:
            text = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else value
            text = str(text).lower() if isinstance(value, bool) else text
            passthrough.append(f"{key}={text}")
    kw.setdefault("seed", spec.seed)
    if passthrough:
        kw["passThroughArgs"] = " ".join(passthrough)
    return kw


def read_native_model(path: str) -> str:
    """``saveNativeModel`` writes a file or a Spark text-output directory (part-* files)."""
    if os.path.isdir(path):
        parts = sorted(glob.glob(os.path.join(path, "part-*")))
        if not parts:
            raise TrainerError(f"synapseml: no part files in native model directory {path}")
        return "".join(_read(p) for p in parts)
    return _read(path)


def _read(path: str) -> str:
    with open(path) as fh:
        return fh.read()


def check_available(spark: SparkSession) -> None:
    try:
        import synapse.ml.lightgbm  # noqa: F401
    except ImportError:
        raise TrainerError("train.backend=synapseml needs the 'synapseml' Python package and its "
                           "jars (com.microsoft.azure:synapseml_2.12) on the cluster; they are not "
                           "installed here — use train.backend=local or spark") from None
    try:
        spark.sparkContext._jvm.java.lang.Class.forName(RANKER_CLASS)  # type: ignore[union-attr]
    except Exception:
        raise TrainerError(f"train.backend=synapseml: JVM class {RANKER_CLASS} not found; add the "
                           "SynapseML jars to spark.jars — use train.backend=local or spark") from None


class SynapseMLTrainer(Trainer):
    name = "synapseml"

    def fit(self, train: DataFrame, valid: DataFrame, spec: TrainSpec) -> TrainResult:
        from pyspark.ml.feature import VectorAssembler
        from pyspark.sql import functions as F

        check_available(train.sparkSession)
        from synapse.ml.lightgbm import LightGBMRanker  # type: ignore[import-not-found]

        cols = [spec.group_col, spec.item_col, spec.label_col, *spec.feature_columns]
        both = (train.select(*cols).withColumn(IS_VALID, F.lit(False))
                .unionByName(valid.select(*cols).withColumn(IS_VALID, F.lit(True))))
        assembled = VectorAssembler(inputCols=list(spec.feature_columns), outputCol=FEATURES_VEC,
                                    handleInvalid="keep").transform(both)
        with Timer() as t:
            model = LightGBMRanker(**ranker_params(spec)).fit(assembled)
        with tempfile.TemporaryDirectory(prefix="synapseml-model-") as tmp:
            path = os.path.join(tmp, "model.txt")
            model.saveNativeModel(path, overwrite=True)
            text = read_native_model(path)
        import lightgbm as lgb

        booster = lgb.Booster(model_str=text)
        n = booster.current_iteration()
        return TrainResult(model_text=text, backend=self.name, best_iteration=n,
                           num_iterations_run=n, history={}, wall_s=t.s,
                           rows_train=train.count(), rows_valid=valid.count(),
                           groups_train=train.select(spec.group_col).distinct().count(),
                           params=ranker_params(spec))
