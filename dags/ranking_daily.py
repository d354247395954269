"""ranking_daily: validate -> features -> feast apply/materialize -> train (+evaluate, gate) ->
top-K -> publish -> smoke, once a day for the logical date D (``{{ ds }}``).

Each task runs ``spark-submit jobs/main.py <stage> --env <env> --run-date D`` from the jobs venv
(local mode) or as a step on the EMR cluster (``ranklake_mode=emr``); see ``ranklake_steps.py``.
A failed gate (train exits 4) fails ``train`` without retries, so top-K/publish/smoke never run and
Redis keeps serving the previous lists. Every stage replaces only its outputs for D, so a rerun or a
backfill of a date is idempotent; backfill runs do not publish and the train stage never promotes
an older model over a newer champion unless ``allow_promote_older`` is set.

Trigger from the UI (Trigger DAG -> form), the REST API (docs/AIRFLOW.md) or the CLI:
    airflow dags trigger ranking_daily --conf '{"k": 20, "list_types": ["user"]}'
    airflow backfill create --dag-id ranking_daily --from-date 2026-11-10 --to-date 2026-11-12
"""
from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Param
from airflow.timetables.interval import CronDataIntervalTimetable
from ranklake_tasks import MACROS, build_pipeline

DEFAULT_ARGS = {
    "owner": "ranklake",
    "retries": 2,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
    "execution_timeout": timedelta(hours=1),
}

PARAMS = {
    "run_date": Param(None, type=["null", "string"], format="date", title="Run date",
                      description="YYYY-MM-DD; empty = the run's logical date"),
    "list_types": Param(["user", "query", "item"], type="array", title="List types",
                        items={"type": "string", "enum": ["user", "query", "item"]},
                        minItems=1, uniqueItems=True, examples=["user", "query", "item"]),
    "k": Param(50, type="integer", minimum=1, maximum=200, title="K (items per list)"),
    "sample_fraction": Param(1.0, type="number", exclusiveMinimum=0, maximum=1,
                             title="Sample fraction", description="< 1 trains on a sample"),
    "skip_training": Param(False, type="boolean", title="Skip training",
                           description="re-rank with the current champion model"),
    "dry_run": Param(False, type="boolean", title="Dry run",
                     description="build and evaluate; do not promote or publish"),
    "allow_promote_older": Param(False, type="boolean", title="Allow promoting an older model",
                                 description="backfills only: promote + publish even if newer"),
    "extra_conf": Param([], type="array", title="Extra --conf overrides",
                        items={"type": "string",
                               "pattern": r"^(validate|features|train|topk|publish)\.[a-z0-9_.]+=.*$"},
                        description="e.g. train.gate_min_ndcg10=0.3"),
}

with DAG(
    dag_id="ranking_daily",
    description="Daily retrain and top-K precompute for the ranking lists",
    # @daily over data intervals: the run for D starts at D+1 00:00 UTC and its logical date (ds)
    # is D. A bare "@daily" in Airflow 3 means CronTriggerTimetable, whose ds is the trigger day.
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # stages share tables and the model registry
    default_args=DEFAULT_ARGS,
    params=PARAMS,
    user_defined_macros=MACROS,
    render_template_as_native_obj=True,
    dagrun_timeout=timedelta(hours=6),
    tags=["ranklake"],
    doc_md=__doc__,
) as dag:
    build_pipeline()
