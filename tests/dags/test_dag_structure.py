"""ranking_daily imports cleanly and light, has the pipeline shape, and validates its Params."""
from __future__ import annotations

import copy
import json
import subprocess
import sys
from datetime import timedelta

import pendulum
import pytest

from tests.dags.conftest import DAGS, airflow_env

PIPELINE = ["validate", "features", "feast_apply", "feast_materialize", "train", "topk", "publish",
            "smoke"]


def test_dag_imports_without_errors_or_heavy_modules():
    code = (
        "import sys, json; sys.path.insert(0, DAGS)\n"
        "from airflow.models.dagbag import DagBag\n"
        "bag = DagBag(dag_folder=DAGS, include_examples=False)\n"
        "heavy = [m for m in ('pyspark', 'lightgbm', 'pandas', 'sklearn', 'great_expectations',"
        " 'feast', 'deltalake', 'jobs') if m in sys.modules]\n"
        "print(json.dumps({'errors': {k: str(v) for k, v in bag.import_errors.items()},"
        " 'dags': sorted(bag.dag_ids), 'heavy': heavy}))\n"
    ).replace("DAGS", repr(str(DAGS)))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env=airflow_env())
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res == {"errors": {}, "dags": ["ranking_daily"], "heavy": []}


def test_schedule_catchup_and_run_limits(dag):
    from airflow.timetables.interval import CronDataIntervalTimetable

    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert dag.timetable.summary == "0 0 * * *"  # @daily, UTC
    from airflow.timetables.base import TimeRestriction

    # the run for data day D has logical date (ds) D and starts once D is over
    d = pendulum.datetime(2026, 11, 1, tz="UTC")
    info = dag.timetable.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(earliest=d, latest=None, catchup=True))
    assert (info.logical_date, info.run_after) == (d, d.add(days=1))
    assert (info.data_interval.start, info.data_interval.end) == (d, d.add(days=1))
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert dag.render_template_as_native_obj is True


def test_tasks_form_one_chain_in_pipeline_order(dag):
    assert [t.task_id for t in dag.topological_sort()] == PIPELINE
    for before, after in zip(PIPELINE, PIPELINE[1:]):
        assert dag.get_task(after).upstream_task_ids == {before}
    assert dag.get_task("validate").upstream_task_ids == set()


def test_retries_backoff_and_timeouts(dag):
    timeouts = {"validate": 30, "features": 45, "feast_apply": 10, "feast_materialize": 20,
                "train": 60, "topk": 45, "publish": 20, "smoke": 10}
    for task in dag.tasks:
        assert task.retries == 2
        assert task.retry_exponential_backoff
        assert task.retry_delay == timedelta(minutes=2)
        assert task.max_retry_delay == timedelta(minutes=30)
        assert task.execution_timeout == timedelta(minutes=timeouts[task.task_id])
        assert task.trigger_rule == "none_failed"
        assert type(task).__name__ == "RanklakeSparkSubmitOperator"


def test_default_params_are_valid(dag):
    assert dag.params.validate() == {
        "run_date": None, "list_types": ["user", "query", "item"], "k": 50,
        "sample_fraction": 1.0, "skip_training": False, "dry_run": False,
        "allow_promote_older": False, "extra_conf": []}


GOOD = [
    {"run_date": "2026-11-20", "list_types": ["user"], "k": 1, "sample_fraction": 0.1},
    {"k": 200, "sample_fraction": 1, "skip_training": True, "dry_run": True},
    {"extra_conf": ["train.gate_min_ndcg10=0.3", "topk.freshness_days=7"]},
]
BAD = [
    {"k": 0}, {"k": 201}, {"k": "ten"}, {"k": 2.5},
    {"list_types": []}, {"list_types": ["users"]}, {"list_types": ["user", "user"]},
    {"list_types": "user"},
    {"sample_fraction": 0}, {"sample_fraction": 1.5}, {"sample_fraction": "half"},
    {"run_date": "2026-13-01"}, {"run_date": "20261120"},
    {"skip_training": "yes"}, {"dry_run": 1},
    {"extra_conf": ["lake.root=/elsewhere"]}, {"extra_conf": ["train.seed"]},
]


@pytest.mark.parametrize("conf", GOOD)
def test_good_params_accepted(dag, conf):
    params = copy.deepcopy(dag.params)
    params.update(conf)
    resolved = params.validate()
    assert {k: resolved[k] for k in conf} == conf


@pytest.mark.parametrize("conf", BAD, ids=[json.dumps(c) for c in BAD])
def test_bad_params_rejected(dag, conf):
    from airflow.exceptions import ParamValidationError

    params = copy.deepcopy(dag.params)
    with pytest.raises(ParamValidationError, match=f"Invalid input for param {next(iter(conf))}"):
        params.update(conf)  # what a trigger (UI form, REST API, CLI --conf) does with its conf
        params.validate()
