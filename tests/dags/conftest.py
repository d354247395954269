"""Fixtures for the DAG tests. They need Airflow, which lives only in .venv-airflow:

    .venv-airflow/bin/python -m pytest tests/dags -q

Under the jobs interpreter (no Airflow) this directory is skipped instead of failing. Airflow gets a
private AIRFLOW_HOME (SQLite metadata DB, migrated once per session) before anything imports it.
"""
from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
AIRFLOW_PY = Path(sys.executable)

if importlib.util.find_spec("airflow") is None:
    collect_ignore_glob = ["test_*.py"]
else:
    _HOME = tempfile.mkdtemp(prefix="ranklake-airflow-test-")
    atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
    os.environ.update({
        "AIRFLOW_HOME": _HOME,
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
    })
    os.environ.pop("RANKLAKE_MODE", None)
    if str(DAGS) not in sys.path:
        sys.path.insert(0, str(DAGS))


def airflow_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def airflow_db() -> str:
    """A migrated metadata DB under the session's AIRFLOW_HOME."""
    airflow = AIRFLOW_PY.parent / "airflow"
    subprocess.run([str(airflow), "db", "migrate"], check=True, capture_output=True, timeout=300)
    return os.environ["AIRFLOW_HOME"]


@pytest.fixture(scope="session")
def dag():
    import ranking_daily

    return ranking_daily.dag
