"""Runs the real ranking_daily DAG with ``dag.test()``; only the spark-submit binary is a stand-in
(a script in a fake jobs venv, picked up through the Variable ``ranklake_jobs_venv``) that logs its
arguments and fails one chosen stage with the exit code the real stage would use."""
from __future__ import annotations

import os
import stat
from datetime import datetime, timezone

import pytest

FAKE = """#!/bin/bash
# spark-submit stand-in: log argv, fail the stage named in $FAKE_FAIL_STAGE with $FAKE_FAIL_CODE
stage=""; next=0
for a in "$@"; do [ $next = 1 ] && { stage=$a; break; }; [[ $a == */jobs/main.py ]] && next=1; done
echo "$*" >> "$FAKE_LOG"
if [ "$stage" = "$FAKE_FAIL_STAGE" ]; then
  echo "ranklake $stage: error: gate failed" >&2; exit "$FAKE_FAIL_CODE"
fi
exit 0
"""


@pytest.fixture()
def fake_venv(tmp_path, monkeypatch):
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    script = bin_dir / "spark-submit"
    script.write_text(FAKE)
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "calls.log"
    monkeypatch.setenv("AIRFLOW_VAR_RANKLAKE_JOBS_VENV", str(tmp_path / "venv"))
    monkeypatch.setenv("FAKE_LOG", str(log))
    monkeypatch.setenv("FAKE_FAIL_STAGE", "")
    monkeypatch.setenv("FAKE_FAIL_CODE", "0")
    return log


def run(dag, conf, day):
    dr = dag.test(logical_date=datetime(2026, 11, day, tzinfo=timezone.utc), run_conf=conf)
    states = {ti.task_id: (str(ti.state), ti.try_number) for ti in dr.get_task_instances()}
    return str(dr.state), states


def stages_called(log):
    if not log.exists():
        return []
    return [line.split("/jobs/main.py ")[1].split(" --env")[0] for line in log.read_text().splitlines()]


@pytest.mark.timeout(400)
def test_gate_failure_stops_before_topk_and_is_not_retried(dag, airflow_db, fake_venv, monkeypatch):
    monkeypatch.setenv("FAKE_FAIL_STAGE", "train")
    monkeypatch.setenv("FAKE_FAIL_CODE", "4")
    state, states = run(dag, {"k": 5}, 10)
    assert state == "failed"
    assert states["train"] == ("failed", 1)  # exit 4: failed at once, no retry
    assert {t: s for t, (s, _) in states.items()} == {
        "validate": "success", "features": "success", "feast_apply": "success",
        "feast_materialize": "success", "train": "failed", "topk": "upstream_failed",
        "publish": "upstream_failed", "smoke": "upstream_failed"}
    assert stages_called(fake_venv) == ["validate", "features", "feast apply", "feast materialize",
                                        "train"]
    first = fake_venv.read_text().splitlines()[0].split()
    assert first[:4] == ["--master", "local[2]", "--name", "ranklake-validate"]
    assert first[5:] == ["validate", "--env", os.environ.get("RANKLAKE_ENV", "local"), "--run-date",
                         "2026-11-10", "--conf", "topk.k=5", "--conf",
                         "topk.list_types=[user,query,item]"]


@pytest.mark.timeout(400)
def test_skip_training_reranks_and_dry_run_does_not_publish(dag, airflow_db, fake_venv):
    state, states = run(dag, {"skip_training": True, "dry_run": True, "list_types": ["item"]}, 11)
    assert state == "success"
    assert {t: s for t, (s, _) in states.items()} == {
        "validate": "success", "features": "success", "feast_apply": "success",
        "feast_materialize": "success", "train": "skipped", "topk": "success",
        "publish": "skipped", "smoke": "skipped"}
    assert stages_called(fake_venv) == ["validate", "features", "feast apply", "feast materialize",
                                        "topk"]
    assert "--conf topk.list_types=[item]" in fake_venv.read_text().splitlines()[-1]
