"""The three backends behind one interface: local (fit, early stopping, reproducibility, bound),
spark (barrier mode, parity with local), synapseml (parameter mapping, clear error without jars)."""
from __future__ import annotations

import dataclasses
import inspect

import lightgbm as lgb
import numpy as np
import pytest

from jobs import metrics as M
from jobs.common import columns as C
from jobs.trainers import BACKENDS, Trainer, TrainerError, get_trainer, spec_from_conf
from jobs.trainers.local import fit_frames
from jobs.trainers.synapseml import ranker_params, read_native_model
from tests.train.synth import make_frame


@pytest.fixture(scope="module")
def frames():
    pdf, _ = make_frame(300, seed=1)
    return {s: pdf[pdf[C.SPLIT] == s].reset_index(drop=True) for s in C.SPLITS}


def _spec(cfg, **params):
    spec = spec_from_conf(cfg.train, C.FEATURE_COLUMNS)
    return dataclasses.replace(spec, params={**spec.params, "num_threads": 1, **params})


def _test_ndcg(model_text, test):
    test = test.sort_values([C.GROUP_ID, C.ITEM_ID])
    s = lgb.Booster(model_str=model_text).predict(test[list(C.FEATURE_COLUMNS)].to_numpy())
    return M.summarize(M.group_metrics(test.assign(score=s), "score"))["ndcg@10"]


def test_all_backends_share_the_interface():
    sig = inspect.signature(Trainer.fit)
    for name in BACKENDS:
        t = get_trainer(name)
        assert isinstance(t, Trainer) and t.name == name
        assert inspect.signature(type(t).fit) == sig
    with pytest.raises(TrainerError, match="unknown train.backend"):
        get_trainer("gpu")


def test_local_trains_and_beats_random(cfg, frames):
    res = fit_frames(frames["train"], frames["validation"], _spec(cfg))
    assert res.backend == "local" and res.rows_train == len(frames["train"])
    assert res.model_text.startswith("tree\n")
    assert "objective=lambdarank" in res.model_text
    assert _test_ndcg(res.model_text, frames["test"]) > 0.75


def test_early_stopping_actually_stops(cfg, frames):
    spec = dataclasses.replace(_spec(cfg, learning_rate=0.5), num_iterations=200,
                               early_stopping_rounds=3)
    res = fit_frames(frames["train"], frames["validation"], spec)
    curve = res.history["ndcg@10"]
    assert res.num_iterations_run == len(curve) < 200
    assert res.best_iteration == int(np.argmax(curve)) + 1
    assert res.num_iterations_run == res.best_iteration + 3
    assert lgb.Booster(model_str=res.model_text).current_iteration() == res.best_iteration


def test_same_seed_same_model_text(cfg, frames):
    a = fit_frames(frames["train"], frames["validation"], _spec(cfg))
    shuffled = frames["train"].sample(frac=1.0, random_state=5)  # row order must not matter
    b = fit_frames(shuffled, frames["validation"], _spec(cfg))
    assert a.model_text == b.model_text
    c = fit_frames(frames["train"], frames["validation"], _spec(cfg, feature_fraction=0.5, seed=9,
                                                                feature_fraction_seed=9))
    assert c.model_text != a.model_text


def test_arrow_arrays_equal_the_pandas_ones(cfg, frames):
    import pyarrow as pa

    from jobs.trainers.base import sort_rows, table_arrays, to_arrays

    spec = _spec(cfg)
    pdf = frames["train"].sample(frac=1.0, random_state=3).reset_index(drop=True)
    f0, f1 = C.FEATURE_COLUMNS[0], C.FEATURE_COLUMNS[1]
    pdf.loc[::7, f0] = np.nan  # missing values -> NaN in both paths
    pdf[C.ITEM_ID] = pdf[C.ITEM_ID].where(pdf.index % 5 != 0, "é" + pdf[C.ITEM_ID])  # non-ASCII ids
    pdf[f1] = pdf[f1].astype("float32")  # a narrower column is widened the same way
    want = to_arrays(sort_rows(pdf, spec), spec)
    got = table_arrays(pa.Table.from_pandas(pdf, preserve_index=False), spec)
    for w, g in zip(want, got):
        assert w.dtype == g.dtype
        np.testing.assert_array_equal(w, g)  # NaN == NaN for assert_array_equal


def test_local_backend_from_spark_is_the_frames_model(cfg, spark, frames):
    # the local backend collects Arrow and sorts in Arrow; it must train the very model the pandas
    # path trains on the same rows, whatever order Spark returns them in
    spec = _spec(cfg)
    want = fit_frames(frames["train"], frames["validation"], spec)
    sdf = spark.createDataFrame(frames["train"].sample(frac=1.0, random_state=4)).repartition(3)
    vdf = spark.createDataFrame(frames["validation"])
    got = get_trainer("local").fit(sdf, vdf, spec)
    assert got.model_text == want.model_text
    assert (got.rows_train, got.rows_valid, got.groups_train) == (
        want.rows_train, want.rows_valid, want.groups_train)
    with pytest.raises(TrainerError, match="train split is empty"):
        get_trainer("local").fit(sdf.limit(0), vdf, spec)


def test_empty_train_split_is_a_clear_error(cfg, frames):
    with pytest.raises(TrainerError, match="train split is empty"):
        fit_frames(frames["train"].iloc[:0], frames["validation"], _spec(cfg))


def test_local_bound_samples_whole_groups(cfg, spark, frames):
    sdf = spark.createDataFrame(frames["train"])
    spec = dataclasses.replace(_spec(cfg), max_local_rows=len(frames["train"]) // 2)
    from jobs.trainers.local import bounded_collect

    pdf, frac = bounded_collect(sdf, spec, "train")
    assert frac == pytest.approx(0.5, abs=0.01) and 0 < len(pdf) <= spec.max_local_rows * 1.1
    full = frames["train"].groupby(C.GROUP_ID).size()
    kept = pdf.groupby(C.GROUP_ID).size()
    assert (kept == full[kept.index]).all()  # no group cut in half


def test_driver_heap_bounds_the_collect(cfg, spark, frames, monkeypatch):
    from jobs.trainers import local

    sdf = spark.createDataFrame(frames["train"]).select(C.GROUP_ID, C.ITEM_ID, C.LABEL,
                                                         *C.FEATURE_COLUMNS)
    width = local.row_bytes(sdf.schema)
    label_bytes = 9 if sdf.schema[C.LABEL].dataType.typeName() == "long" else 5
    assert width == 9 * len(C.FEATURE_COLUMNS) + 33 * 2 + label_bytes  # doubles, 2 ids, label
    heap = local.driver_heap_bytes(sdf)
    assert heap > 2**30  # the test session's driver (conf/test.yaml): a real JVM figure
    # a heap share that holds half the rows: sampled like over max_local_rows, whole groups kept
    n = len(frames["train"])
    monkeypatch.setattr(local, "COLLECT_HEAP_SHARE", (n // 2) * width / heap)
    assert local.heap_row_budget(heap, width) == pytest.approx(n // 2, abs=1)
    table, frac = local.bounded_collect_arrow(sdf, _spec(cfg), "train")
    assert frac == pytest.approx(0.5, abs=0.01) and 0 < table.num_rows <= n // 2 * 1.1
    kept = table.to_pandas().groupby(C.GROUP_ID).size()
    full = frames["train"].groupby(C.GROUP_ID).size()
    assert (kept == full[kept.index]).all()


def test_spark_barrier_matches_local(cfg, spark, frames):
    # LightGBM's data-parallel learner estimates leaf row counts from hessians, so a
    # min_data_in_leaf constraint bites at different splits than on one machine; with the leaf
    # size bounded by hessian instead the two backends grow the same trees.
    spec = _spec(cfg, min_data_in_leaf=1, min_sum_hessian_in_leaf=0.5)
    local = fit_frames(frames["train"], frames["validation"], spec)
    sdf = spark.createDataFrame(frames["train"])
    vdf = spark.createDataFrame(frames["validation"])
    dist = get_trainer("spark").fit(sdf, vdf, spec)
    assert dist.backend == "spark" and dist.rows_train == len(frames["train"])
    assert dist.params["tree_learner"] == "data" and dist.params["num_machines"] == 2
    lgb.Booster(model_str=dist.model_text)  # same native format
    a, b = _test_ndcg(local.model_text, frames["test"]), _test_ndcg(dist.model_text, frames["test"])
    assert abs(a - b) < 0.005, (a, b)
    assert dist.history["ndcg@10"][:3] == pytest.approx(local.history["ndcg@10"][:3], abs=1e-9)


def test_spark_needs_a_slot_per_worker(cfg, spark, frames):
    sdf = spark.createDataFrame(frames["train"].head(50))
    spec = dataclasses.replace(_spec(cfg), workers=64)
    with pytest.raises(TrainerError, match="task slots"):
        get_trainer("spark").fit(sdf, sdf, spec)


def test_synapseml_parameter_mapping(cfg):
    spec = _spec(cfg, lambda_l2=1.5, bagging_fraction=0.8, min_gain_to_split=0.1,
                 force_row_wise=True, tree_learner="data")
    kw = ranker_params(spec)
    assert kw["groupCol"] == C.GROUP_ID and kw["labelCol"] == C.LABEL
    assert kw["featuresCol"] == "features" and kw["slotNames"] == list(C.FEATURE_COLUMNS)
    assert kw["numIterations"] == cfg.train.num_iterations
    assert kw["earlyStoppingRound"] == cfg.train.early_stopping_rounds
    assert kw["learningRate"] == cfg.train.learning_rate and kw["numLeaves"] == cfg.train.num_leaves
    assert kw["minDataInLeaf"] == cfg.train.min_data_in_leaf
    assert kw["evalAt"] == [10, 5, 20] and kw["objective"] == "lambdarank" and kw["metric"] == "ndcg"
    assert kw["lambdaL2"] == 1.5 and kw["baggingFraction"] == 0.8 and kw["seed"] == cfg.train.seed
    assert kw["validationIndicatorCol"] == "is_validation" and kw["numThreads"] == 1
    # no setter: passed through verbatim; distributed-setup params are the backend's business
    assert "min_gain_to_split=0.1" in kw["passThroughArgs"]
    assert "force_row_wise=true" in kw["passThroughArgs"]
    assert "tree_learner" not in kw["passThroughArgs"]


def test_synapseml_export_reads_native_model_dir(tmp_path, cfg, frames):
    text = fit_frames(frames["train"], frames["validation"],
                      dataclasses.replace(_spec(cfg), num_iterations=3)).model_text
    d = tmp_path / "native"
    d.mkdir()
    (d / "part-00000").write_text(text[:100])
    (d / "part-00001").write_text(text[100:])
    assert read_native_model(str(d)) == text
    assert lgb.Booster(model_str=read_native_model(str(d))).current_iteration() >= 1


def test_synapseml_without_jars_is_a_clear_error(cfg, spark, frames):
    sdf = spark.createDataFrame(frames["train"].head(20))
    with pytest.raises(TrainerError, match="synapseml"):
        get_trainer("synapseml").fit(sdf, sdf, _spec(cfg))


def test_barrier_partition_frame_is_built_in_chunks(cfg, monkeypatch):
    import pandas as pd

    from jobs.trainers import spark_barrier

    spec = _spec(cfg)
    cols = [C.GROUP_ID, C.ITEM_ID, C.LABEL, *C.FEATURE_COLUMNS]
    rng = np.random.default_rng(0)
    rows = [(f"g{i // 3}", f"i{i}", int(i % 2), *[None if (i + j) % 5 == 0 else float(rng.normal())
                                                  for j in range(len(C.FEATURE_COLUMNS))])
            for i in range(7)]
    monkeypatch.setattr(spark_barrier, "ROW_CHUNK", 2)  # 7 rows -> 4 chunks
    got = spark_barrier._partition_frame(iter(rows), cols, spec)
    want = pd.DataFrame.from_records(rows, columns=cols)
    pd.testing.assert_frame_equal(got[cols], want.astype({c: "float64" for c in C.FEATURE_COLUMNS}))
    assert got[C.FEATURE_COLUMNS[0]].isna().sum() == 2  # None -> NaN (rows 0 and 5)
    assert len(spark_barrier._partition_frame(iter([]), cols, spec)) == 0
