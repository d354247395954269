"""Registry: register/promote/rollback, corrupt or missing artifacts, local disk and S3 (moto)."""
from __future__ import annotations

import json
import os

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from jobs import registry as R
from jobs.common.errors import RegistryError

FEATURES = ["f0", "f1"]


def _model_text(seed: int) -> str:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(60, 2))
    y = (X[:, 0] > 0).astype(int)
    ds = lgb.Dataset(X, y, group=[10] * 6, feature_name=FEATURES)
    params = {"objective": "lambdarank", "verbosity": -1, "num_threads": 1, "min_data_in_leaf": 2,
              "seed": seed}
    return lgb.train(params, ds, num_boost_round=3).model_to_string()


def _cfg(cfg, root: str):
    return cfg.model_copy(update={"lake": cfg.lake.model_copy(update={"artifacts_root": root})})


def _register(c, run_date: str, seed: int, passed: bool = True) -> str:
    return R.register(c, _model_text(seed), {"run_date": run_date, "feature_columns": FEATURES,
                                             "metrics": {"ndcg@10": 0.5 + seed / 100},
                                             "gate": {"passed": passed, "message": "x"}},
                      {"report.html": b"<html></html>"})


def _exercise(c):
    with pytest.raises(RegistryError, match="no champion"):
        R.load_champion(c)
    v1 = _register(c, "2026-11-19", 1)
    assert v1.startswith("20261119-") and _register(c, "2026-11-19", 1) == v1  # idempotent
    v2 = _register(c, "2026-11-20", 2)
    R.promote(c, v1)
    R.promote(c, v2)
    champ = R.load_champion(c)
    assert champ.version == v2 and champ.feature_columns == FEATURES
    pred = champ.predict(pd.DataFrame({"f1": [0.0, 1.0], "f0": [-1.0, 1.0]}))
    assert pred.shape == (2,) and pred[1] > pred[0]
    assert [r["version"] for r in R.list_versions(c)] == [v1, v2]
    assert [r["champion"] for r in R.list_versions(c)] == [False, True]
    assert R.rollback(c)["version"] == v1 and R.load_champion(c).version == v1
    assert R.pointer(c)["reason"] == f"rollback from {v2}"
    with pytest.raises(RegistryError, match="no previous version"):
        R.rollback(c)
    return v1, v2


def test_local_registry_promote_rollback(cfg, tmp_path):
    _exercise(_cfg(cfg, str(tmp_path)))


def test_corrupt_or_missing_artifact_never_becomes_champion(cfg, tmp_path):
    c = _cfg(cfg, str(tmp_path))
    v1, v2 = _exercise(c)  # champion is v1 now
    model = tmp_path / "models" / v2 / "model.txt"
    model.write_text(model.read_text().replace("shrinkage=", "shrinkage=9", 1))
    with pytest.raises(RegistryError, match="checksum mismatch"):
        R.promote(c, v2)
    assert R.pointer(c)["version"] == v1
    model.unlink()
    with pytest.raises(RegistryError, match="model.txt missing"):
        R.promote(c, v2)
    with pytest.raises(RegistryError, match="metadata.json missing"):
        R.promote(c, "20260101-nothere")
    os.makedirs(tmp_path / "models" / "20260102-partial")  # a registration killed half-way
    assert {"version": "20260102-partial", "status": "incomplete"} in R.list_versions(c)
    assert R.load_champion(c).version == v1
    # a corrupt champion: a clear error when loading, and the pointer is left for an operator
    (tmp_path / "models" / v1 / "model.txt").write_text("garbage")
    with pytest.raises(RegistryError, match="checksum"):
        R.load_champion(c)
    assert R.pointer(c)["version"] == v1


def test_registry_cli_list_promote_gate_guard(cfg, tmp_path, capsys):
    from jobs.common import cli

    root = str(tmp_path)
    c = _cfg(cfg, root)
    good = _register(c, "2026-11-20", 3)
    bad = _register(c, "2026-11-20", 4, passed=False)
    conf = ["--env", "test", "--conf", f"lake.artifacts_root={root}"]
    assert cli.main(["registry", "promote", good, *conf]) == 0
    assert cli.main(["registry", "promote", bad, *conf]) == 2  # failed its gate
    assert "failed its gate" in capsys.readouterr().err
    assert R.pointer(c)["version"] == good
    assert cli.main(["registry", "promote", bad, "--force", *conf]) == 0
    assert cli.main(["registry", "rollback", *conf]) == 0 and R.pointer(c)["version"] == good
    capsys.readouterr()
    assert cli.main(["registry", "list", *conf]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert [r["version"] for r in rows] == sorted([good, bad])
    assert cli.main(["registry", "show", *conf]) == 0
    assert json.loads(capsys.readouterr().out.split("\n==")[0])["metadata"]["version"] == good


@pytest.fixture()
def s3(monkeypatch):
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    for k, v in {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "testing",
                 "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    import boto3

    boto3.client("s3").create_bucket(Bucket="ranklake-art")
    yield "s3://ranklake-art/prod"
    server.stop()


def test_s3_registry_with_moto(cfg, s3):
    c = _cfg(cfg, s3)
    v1, v2 = _exercise(c)
    import boto3

    keys = {o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket="ranklake-art")["Contents"]}
    assert {f"prod/models/{v2}/model.txt", f"prod/models/{v2}/metadata.json",
            f"prod/models/{v2}/report.html", "prod/models/champion.json"} <= keys
    boto3.client("s3").put_object(Bucket="ranklake-art", Key=f"prod/models/{v2}/model.txt",
                                  Body=b"tampered")
    with pytest.raises(RegistryError, match="checksum"):
        R.promote(c, v2)
    assert R.pointer(c)["version"] == v1
