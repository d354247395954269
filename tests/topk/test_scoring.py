"""Spark scoring == model.predict on the same rows; Booster cached per worker; benchmark."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jobs import scoring
from jobs.common import columns as C
from jobs.common.errors import DataError


def split_rows(model, groups: int = 30, per_group: int = 8, seed: int = 11) -> pd.DataFrame:
    """A training_set-shaped test split: groups of rows with labels and every feature."""
    rng = np.random.default_rng(seed)
    n = groups * per_group
    x = rng.normal(size=(n, len(model.feature_columns)))
    x[rng.random(x.shape) < 0.1] = np.nan
    x[:, 0] = rng.integers(0, 3, size=n)
    frame = pd.DataFrame(x, columns=model.feature_columns)
    frame.insert(0, C.LABEL, rng.integers(0, 4, size=n))
    frame.insert(0, C.ITEM_ID, [f"i{j:03d}" for j in range(n)])
    frame.insert(0, C.ENTITY_ID, [f"e{j // per_group:03d}" for j in range(n)])
    frame.insert(0, C.GROUP_ID, [f"g{j // per_group:03d}" for j in range(n)])
    frame.insert(0, C.LIST_TYPE, "user")
    frame.insert(0, C.SPLIT, "test")
    return frame


def test_spark_scores_equal_model_predict_and_same_ndcg(spark, tiny_model):
    from jobs import metrics

    frame = split_rows(tiny_model)
    df = spark.createDataFrame(frame).repartition(3)  # several batches and tasks
    shipped = scoring.ship_model(spark, tiny_model)
    keep = (C.GROUP_ID, C.ENTITY_ID, C.ITEM_ID, C.LABEL)
    got = scoring.score_frame(df, shipped, keep=keep).toPandas()
    got = got.sort_values([C.GROUP_ID, C.ITEM_ID]).reset_index(drop=True)
    ref = frame.sort_values([C.GROUP_ID, C.ITEM_ID]).reset_index(drop=True)
    ref[C.SCORE] = tiny_model.predict(ref)
    assert list(got[C.ITEM_ID]) == list(ref[C.ITEM_ID])
    np.testing.assert_allclose(got[C.SCORE].to_numpy(), ref[C.SCORE].to_numpy(), rtol=0, atol=1e-9)
    # the evaluation stage's metric gives the same numbers on either score column
    ours = metrics.summarize(metrics.group_metrics(got, C.SCORE))
    theirs = metrics.summarize(metrics.group_metrics(ref, C.SCORE))
    assert ours == theirs and ours["n_groups"] > 0


def test_booster_built_once_per_worker(spark, tiny_model):
    import os

    import pyarrow as pa

    shipped = scoring.ship_model(spark, tiny_model)
    version, text = shipped.version, shipped.text

    def probe(batches):
        for b in batches:
            first = scoring.worker_booster(version, text)
            again = scoring.worker_booster(version, text)
            yield pa.RecordBatch.from_pydict({"pid": [os.getpid()] * b.num_rows,
                                              "same": [first is again] * b.num_rows,
                                              "obj": [id(first)] * b.num_rows})

    out = spark.range(0, 64, numPartitions=8).mapInArrow(probe, "pid long, same boolean, obj long").toPandas()
    assert out["same"].all()
    assert (out.groupby("pid")["obj"].nunique() == 1).all()  # one Booster per Python worker


def test_missing_feature_is_a_clear_error(spark, tiny_model):
    df = spark.createDataFrame([("user", "u", "i", 1.0)],
                               "list_type string, entity_id string, item_id string, x double")
    with pytest.raises(DataError, match="missing from the assembled features"):
        scoring.score_frame(df, scoring.ship_model(spark, tiny_model))


def test_benchmark_scoring_reports_ratio(spark, tiny_model):
    res = scoring.benchmark_scoring(spark, tiny_model, rows=20_000, repeats=1)
    print("scoring benchmark:", res)
    assert res["rows"] == 20_000 and res["spark_rows_per_s"] > 0 and 0 < res["ratio_spark_vs_raw"]
    # the transfer-only job (predict replaced by zeros) is measured beside it, with its ceiling
    assert res["transfer_rows_per_s"] > 0 and res["trees"] == tiny_model.booster.num_trees()
    assert res["ceiling_ratio"] == pytest.approx(res["transfer_rows_per_s"] / res["raw_rows_per_s"],
                                                 abs=5e-5)
