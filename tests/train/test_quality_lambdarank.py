"""Optional quality check on LightGBM's lambdarank sample (skips when ../shared is absent), plus
parity of our local trainer with raw lightgbm.train on the same arrays. The throughput ratio is
printed, not asserted: speed is measured by the benchmarks (P2), a test on a shared CI box only
measures the neighbours."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from jobs import metrics as M
from jobs.trainers import spec_from_conf
from jobs.trainers.bench import benchmark_train
from jobs.trainers.local import fit_arrays


def _load(d, name):
    from sklearn.datasets import load_svmlight_file

    X, y = load_svmlight_file(str(d / "lightgbm_lambdarank" / name), n_features=300)
    sizes = np.loadtxt(d / "lightgbm_lambdarank" / f"{name}.query", dtype=np.int32)
    return X.toarray(), y.astype(np.int32), sizes


def test_lambdarank_sample_quality_and_throughput(cfg, shared_datasets):
    X, y, g = _load(shared_datasets, "rank.train")
    Xt, yt, gt = _load(shared_datasets, "rank.test")
    base = spec_from_conf(cfg.train, [f"f{i}" for i in range(X.shape[1])])
    # LightGBM's own test: a 50-tree LGBMRanker with its defaults (learning rate 0.1)
    spec = dataclasses.replace(base, num_iterations=50, early_stopping_rounds=0,
                               params={**base.params, "learning_rate": 0.1, "num_threads": 2})
    res = fit_arrays(X, y, g, None, None, None, spec)
    import lightgbm as lgb

    scores = lgb.Booster(model_str=res.model_text).predict(Xt)
    frame = pd.DataFrame({"group_id": np.repeat(np.arange(len(gt)), gt), "label": yt,
                          "score": scores})
    pg = M.group_metrics(frame, "score", ks=(1, 3, 10))
    lgb_conv = M.summarize(pg, empty="one")  # LightGBM counts label-free queries as 1
    print("rank.test", lgb_conv)
    assert lgb_conv["ndcg@1"] > 0.5674 and lgb_conv["ndcg@3"] > 0.578
    assert lgb_conv["ndcg@10"] >= 0.72
    # our wrapper trains exactly the model raw lightgbm.train gives on the same arrays and params
    raw = lgb.train(spec.params, lgb.Dataset(X, label=y, group=g,
                                             feature_name=list(spec.feature_columns)),
                    num_boost_round=spec.num_iterations)
    assert res.model_text == raw.model_to_string()
    assert res.best_iteration == 50 and res.rows_train == len(y) and res.groups_train == len(g)
    bench = benchmark_train(X, y, g, dataclasses.replace(spec, num_iterations=30), repeats=2)
    print("throughput (measured, not asserted)", bench)
    assert bench["rows"] == len(y) and bench["ours_s"] > 0 and bench["raw_s"] > 0
