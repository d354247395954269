"""`ranklake topk` after the real pipeline (generate -> validate -> features -> train) on the tiny
generated dataset: the real jobs.features.assemble and champion, the contract, and no train/serve
skew: the Spark scoring path on the test split gives exactly the evaluation stage's NDCG@10."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from jobs.common import cli
from jobs.common import columns as C
from jobs.common.config import load_config

pytestmark = pytest.mark.e2e
D = "2026-11-20"


@pytest.fixture(scope="module")
def pipeline(cfg, spark, tmp_root):
    # make test runs the Airflow end-to-end test first (tests/dags/test_dag_e2e.py: the same
    # stages through `airflow dags test`); its finished lake is checked here instead of a rerun
    e2e = os.environ.get("RANKLAKE_E2E_HOME")
    if e2e and (Path(e2e) / "e2e-complete.json").exists():
        done = json.loads((Path(e2e) / "e2e-complete.json").read_text())
        assert done["run_date"] == D
        return load_config("test", [f"lake.root={e2e}"])
    root = str(tmp_root / "topk-e2e-lake")
    c = cfg.model_copy(update={"lake": cfg.lake.model_copy(update={"root": root})})
    conf = ["--env", "test", "--conf", f"lake.root={root}"]
    assert cli.main(["generate", *conf]) == 0
    for stage in ("validate", "features", "train", "topk"):
        assert cli.main([stage, *conf, "--run-date", D]) == 0, stage
    return c


def test_lists_written_with_the_champion(pipeline, spark):
    from jobs import registry
    from jobs.common import runlog
    from jobs.common.delta import read_table

    champ = registry.load_champion(pipeline)
    rec = runlog.load(pipeline, "topk", D)
    assert rec["status"] == "ok" and rec["counts"]["model_version"] == champ.version
    for lt in ("user", "query", "item"):
        df = read_table(spark, pipeline, f"topk_{lt}", filters=[(C.RUN_DATE, "=", D)])
        assert df.count() == rec["counts"][f"{lt}_entities"] > 0
        versions = {r[C.MODEL_VERSION] for r in df.select(C.MODEL_VERSION).distinct().collect()}
        assert versions == {champ.version}
    assert 0 < rec["counts"]["catalogue_coverage"] <= 1


def test_spark_scoring_reproduces_the_evaluation_ndcg(pipeline, spark):
    from jobs import evaluate as E
    from jobs import registry, scoring
    from jobs import train as T
    from jobs.common.delta import read_table, table_exists

    cfg = pipeline
    champ = registry.load_champion(cfg)
    features = tuple(C.FEATURE_COLUMNS)
    data = read_table(spark, cfg, "training_set", filters=[(C.RUN_DATE, "=", D)])
    catalog = read_table(spark, cfg, "catalog_clean")
    truth = read_table(spark, cfg, "truth_utility") if table_exists(cfg, "truth_utility") else None
    test = T.with_eval_columns(T.select_split(data, "test", features),
                               T.select_split(data, "train", features), catalog, truth).toPandas()
    test = test.sort_values([C.GROUP_ID, C.ITEM_ID], kind="mergesort").reset_index(drop=True)
    rows = T.select_split(data, "test", features)
    scored = scoring.score_frame(rows, scoring.ship_model(spark, champ),
                                 keep=(C.GROUP_ID, C.ITEM_ID)).toPandas()
    merged = test[[C.GROUP_ID, C.ITEM_ID]].merge(scored, on=[C.GROUP_ID, C.ITEM_ID], how="left")
    assert len(merged) == len(test) and not merged[C.SCORE].isna().any()
    ours = merged[C.SCORE].to_numpy(np.float64)
    np.testing.assert_allclose(ours, champ.predict(test), rtol=0, atol=1e-9)
    ev = E.evaluate(test, ours, ks=cfg.train.eval_at, seed=cfg.train.seed, catalogue_size=catalog.count())
    assert abs(ev.ndcg10() - champ.metadata["metrics"]["ndcg@10"]) < 1e-9
