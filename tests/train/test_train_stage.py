"""`ranklake train` end to end on a synthetic training_set: first run (floors only), gate failure
(champion stays), backfill rule and --force-promote, report + notebook generation."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobs import registry as R
from jobs.common import cli
from tests.train.synth import make_frame, write_training_set

pytestmark = pytest.mark.e2e
D1, D2 = "2026-11-19", "2026-11-20"


@pytest.fixture(scope="module")
def lake(cfg, spark, tmp_root):
    from datetime import date

    root = str(tmp_root / "train-lake")
    c = cfg.model_copy(update={"lake": cfg.lake.model_copy(update={"root": root})})
    for d, seed in ((D2, 3), (D1, 4)):
        pdf, truth = make_frame(360, seed=seed, run_date=date.fromisoformat(d))
        write_training_set(spark, c, pdf, truth)
    return c, root


def _train(root: str, run_date: str, *extra: str) -> int:
    return cli.main(["train", "--env", "test", "--run-date", run_date,
                     "--conf", f"lake.root={root}", *extra])


def test_first_run_promotes_on_floors_and_beats_baselines(lake, capsys):
    c, root = lake
    assert _train(root, D2) == 0
    out = capsys.readouterr().out
    champ = R.load_champion(c)
    meta = champ.metadata
    assert meta["run_date"] == D2 and meta["backend"] == "local"
    assert [ch["check"] for ch in meta["gate"]["checks"]] == ["floor ndcg@10"]  # first run
    assert meta["data_versions"]["training_set"] == 1 and "truth_utility" in meta["data_versions"]
    assert meta["feature_columns"][0] == "list_type_code"
    assert set(meta["metrics_by_list_type"]) == {"query", "user", "item"}
    ndcg = meta["metrics"]["ndcg@10"]
    assert all(ndcg > b + 0.05 for b in meta["baselines"].values()), meta["baselines"]
    assert meta["oracle"]["model_over_oracle_ndcg10"] >= 0.9
    # paired bootstrap over the same test groups: the edge over each baseline is not noise
    assert set(meta["model_vs"]) == set(meta["baselines"])
    for name, vs in meta["model_vs"].items():
        assert vs["clearly_better"] and 0 < vs["ci"][0] <= vs["diff"] <= vs["ci"][1], (name, vs)
        assert vs["diff"] == pytest.approx(ndcg - meta["baselines"][name], abs=1e-9)
    report = Path(root) / "_artifacts" / "models" / champ.version / "report.html"
    assert f"report: {report}" in out
    html = report.read_text()
    assert html.count("data:image/png;base64,") == 5 and "PASSED" in html
    assert "model - popularity: ndcg@10 +" in html and "clearly better" in html
    ev = json.loads(R.store(c).get(f"{champ.version}/evaluation.json"))
    segs = ev["scorers"]["model"]["by_segment"]
    assert {"query_volume=head", "user_history=returning", "cold_item=warm"} <= set(segs)


def test_gate_failure_keeps_the_champion(lake, capsys):
    c, root = lake
    before = R.pointer(c)
    code = _train(root, D2, "--conf", "train.num_iterations=1", "--conf", "train.num_leaves=2",
                  "--conf", "train.gate_min_ndcg10=0.99")
    err = capsys.readouterr().err
    assert code == 4
    assert "not promoted" in err and "floor ndcg@10" in err and "no regression vs champion" in err
    assert R.pointer(c) == before
    failed = [v for v in R.list_versions(c) if v["gate"] is False]
    assert len(failed) == 1  # registered for inspection, never champion


def test_backfill_never_replaces_a_newer_champion_unless_forced(lake, capsys):
    c, root = lake
    newer = R.pointer(c)["version"]
    assert _train(root, D1, "--conf", "train.gate_max_regression=1.0") == 0
    assert "backfill rule" in capsys.readouterr().out
    assert R.pointer(c)["version"] == newer
    assert _train(root, D1, "--conf", "train.gate_max_regression=1.0", "--force-promote") == 0
    ptr = R.pointer(c)
    assert ptr["run_date"] == D1 and ptr["history"][-1]["version"] == newer
    assert _train(root, D1, "--conf", "train.gate_max_regression=1.0", "--no-promote") == 0
    assert R.pointer(c)["version"] == ptr["version"]


def test_notebook_executes_on_the_run(lake, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    c, root = lake
    if R.pointer(c) is None:  # run on its own
        assert _train(root, D2) == 0
    monkeypatch.setenv("RANKLAKE_HOME", root)
    monkeypatch.setenv("RANKLAKE_ENV", "test")
    path = Path(__file__).resolve().parents[2] / "notebooks" / "evaluation.ipynb"
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert sum(1 for o in outputs if "image/png" in o.get("data", {})) == 5
    assert R.pointer(c)["version"] in outputs[0]["text"]
