"""Airflow side of the stage helper: one builder turns ``ranklake_steps.STAGES`` into tasks.

``mode`` (local | emr) is read once when the DAG file is parsed: env ``RANKLAKE_MODE`` (or the
Variable ``ranklake_mode``, also settable as ``AIRFLOW_VAR_RANKLAKE_MODE``), default ``local``.
Everything else is read when a task runs, through Jinja (``var.value.get``), so parsing never
touches the metadata DB for it:

| Variable                  | env fallback (parse-time) | default                         |
|---------------------------|---------------------------|---------------------------------|
| ranklake_project_dir      | RANKLAKE_PROJECT_DIR      | the repo holding this file      |
| ranklake_jobs_venv        | RANKLAKE_JOBS_VENV        | <project>/.venv                 |
| ranklake_env              | RANKLAKE_ENV              | local (emr in EMR mode)         |
| ranklake_emr_cluster_id   | RANKLAKE_EMR_CLUSTER_ID   | (required in EMR mode)          |
| ranklake_code_s3          | RANKLAKE_CODE_S3          | s3://ranklake-artifacts         |
| ranklake_code_version     | RANKLAKE_CODE_VERSION     | latest                          |
| ranklake_smoke_url        | RANKLAKE_SMOKE_URL        | '' (smoke runs in-process)      |
| ranklake_redis_secret_arn | RANKLAKE_REDIS_SECRET_ARN | '' (terraform redis_secret_arn) |

The Redis secret's ARN (never its value) goes into every EMR step as
``spark.yarn.appMasterEnv/spark.executorEnv.RANKLAKE_REDIS_SECRET_ARN``; the jobs read the token
from Secrets Manager with the cluster's instance profile (jobs/serving/redis_conn.py).

Local mode uses the Airflow connection ``ranklake_spark`` as the Spark master; when it does not
exist the task falls back to ``local[2]``.
"""
from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import ranklake_steps as steps
from airflow.exceptions import AirflowException, AirflowFailException, AirflowSkipException
from airflow.providers.amazon.aws.operators.emr import EmrAddStepsOperator
from airflow.providers.amazon.aws.sensors.emr import EmrStepSensor
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

SPARK_CONN_ID = "ranklake_spark"
AWS_CONN_ID = "aws_default"
PROJECT_DIR = os.environ.get("RANKLAKE_PROJECT_DIR") or str(Path(__file__).resolve().parents[1])


def resolve_mode() -> str:
    mode = os.environ.get("RANKLAKE_MODE") or os.environ.get("AIRFLOW_VAR_RANKLAKE_MODE")
    if not mode:
        try:
            from airflow.sdk import Variable

            mode = Variable.get("ranklake_mode", default="local")
        except Exception:  # no metadata DB/API while parsing (tests, CLI): the default applies
            mode = "local"
    if mode not in steps.MODES:
        raise ValueError(f"ranklake_mode must be one of {steps.MODES}, got {mode!r}")
    return mode


def _var(name: str, default: str, from_env: bool = True) -> str:
    """A Jinja expression reading Variable ``name`` at run time, env var as the default."""
    fallback = os.environ.get(name.upper(), default) if from_env else default
    return f"var.value.get('{name}', {fallback!r})"


def _defaults(mode: str) -> dict[str, str]:
    return {
        "ranklake_project_dir": _var("ranklake_project_dir", PROJECT_DIR),
        "ranklake_jobs_venv": _var("ranklake_jobs_venv", f"{PROJECT_DIR}/.venv"),
        # the worker's own RANKLAKE_ENV says nothing about the EMR cluster's config env
        "ranklake_env": _var("ranklake_env", "emr", from_env=False) if mode == "emr"
        else _var("ranklake_env", "local"),
        "ranklake_emr_cluster_id": _var("ranklake_emr_cluster_id", ""),
        "ranklake_code_s3": _var("ranklake_code_s3", "s3://ranklake-artifacts"),
        "ranklake_code_version": _var("ranklake_code_version", "latest"),
        "ranklake_smoke_url": _var("ranklake_smoke_url", ""),
        "ranklake_redis_secret_arn": _var("ranklake_redis_secret_arn", ""),
    }


def _smoke(stage: steps.Stage, d: dict[str, str]) -> str:
    """The extra macro argument of the smoke stage (its service URL); other stages need none."""
    return f", {d['ranklake_smoke_url']}" if stage.task_id == "smoke" else ""


# ---- Jinja macros (the DAG renders with render_template_as_native_obj: lists stay lists)
def _args_macro(task_id: str, params: Any, dag_run: Any, env: str, smoke_url: str = ""
                ) -> list[str]:
    return steps.stage_args(task_id, params, dag_run, env, smoke_url)


def _emr_steps_macro(task_id: str, params: Any, dag_run: Any, env: str, code_s3: str,
                     version: str, smoke_url: str = "", redis_secret_arn: str = ""
                     ) -> list[dict[str, Any]]:
    code = steps.EmrCode(code_s3=code_s3, version=version)
    return steps.emr_steps(task_id, params, dag_run, code=code, env=env, smoke_url=smoke_url,
                           lake_s3=os.environ.get("RANKLAKE_LAKE_S3", ""),
                           artifacts_s3=os.environ.get("RANKLAKE_ARTIFACTS_S3", ""),
                           redis_secret_arn=redis_secret_arn)


MACROS = {"ranklake_args": _args_macro, "ranklake_emr_steps": _emr_steps_macro,
          "ranklake_skip": steps.skip_reason, "ranklake_run_date": steps.run_date_of}


class RanklakeSparkSubmitOperator(SparkSubmitOperator):
    """spark-submit from the jobs venv; deterministic failures (exit 2/3/4) are not retried."""

    template_fields = (*SparkSubmitOperator.template_fields, "skip_reason", "jobs_venv",
                       "project_dir")

    def __init__(self, *, skip_reason: str = "", jobs_venv: str = "", project_dir: str = "",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.skip_reason = skip_reason
        self.jobs_venv = jobs_venv
        self.project_dir = project_dir

    def execute(self, context: Any) -> None:
        if self.skip_reason:
            raise AirflowSkipException(self.skip_reason)
        _ensure_spark_connection(self._conn_id)
        py = f"{self.jobs_venv}/bin/python"
        # the provider only runs a binary named spark-submit: the jobs venv's comes first on PATH
        env = {"PATH": f"{self.jobs_venv}/bin:{os.environ.get('PATH', '')}",
               "PYSPARK_PYTHON": py, "PYSPARK_DRIVER_PYTHON": py}
        if "RANKLAKE_HOME" not in os.environ:  # conf/base.yaml's ./lake would follow the cwd
            env["RANKLAKE_HOME"] = f"{self.project_dir}/lake"
        self.env_vars = {**env, **(self.env_vars or {})}
        try:
            super().execute(context)
        except AirflowException as exc:
            sp = getattr(self._hook, "_submit_sp", None)
            code = getattr(sp, "returncode", None)
            reason = steps.no_retry_reason(code)
            if reason:
                raise AirflowFailException(
                    f"ranklake {self.task_id}: {reason} (exit {code}); not retried") from exc
            raise


def _ensure_spark_connection(conn_id: str) -> None:
    from airflow.sdk import BaseHook

    try:
        BaseHook.get_connection(conn_id)
    except Exception:  # not defined anywhere: the documented default master
        os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(
            {"conn_type": "spark", "host": "local[2]"})


def _local_task(stage: steps.Stage, d: dict[str, str]) -> Any:
    sid = stage.task_id
    return RanklakeSparkSubmitOperator(
        task_id=sid,
        conn_id=SPARK_CONN_ID,
        name=f"ranklake-{sid}",
        application=f"{{{{ {d['ranklake_project_dir']} }}}}/jobs/main.py",
        application_args=f"{{{{ ranklake_args('{sid}', params, dag_run, "
                         f"{d['ranklake_env']}{_smoke(stage, d)}) }}}}",
        jobs_venv=f"{{{{ {d['ranklake_jobs_venv']} }}}}",
        project_dir=f"{{{{ {d['ranklake_project_dir']} }}}}",
        skip_reason=f"{{{{ ranklake_skip('{sid}', params, dag_run) }}}}",
        execution_timeout=timedelta(minutes=stage.timeout_min),
        trigger_rule="none_failed",  # a skipped train (skip_training) still lets top-K run
    )


class RanklakeEmrAddStepsOperator(EmrAddStepsOperator):
    """EmrAddStepsOperator that honours ``skip_reason`` (skip_training, dry_run, backfill)."""

    template_fields = (*EmrAddStepsOperator.template_fields, "skip_reason")

    def __init__(self, *, skip_reason: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.skip_reason = skip_reason

    def execute(self, context: Any) -> list[str]:
        if self.skip_reason:
            raise AirflowSkipException(self.skip_reason)
        return super().execute(context)


def _emr_tasks(stage: steps.Stage, d: dict[str, str]) -> tuple[Any, Any]:
    sid = stage.task_id
    cluster = f"{{{{ {d['ranklake_emr_cluster_id']} }}}}"
    submit = RanklakeEmrAddStepsOperator(
        task_id=f"{sid}_submit",
        job_flow_id=cluster,
        aws_conn_id=AWS_CONN_ID,
        steps=f"{{{{ ranklake_emr_steps('{sid}', params, dag_run, {d['ranklake_env']}, "
              f"{d['ranklake_code_s3']}, {d['ranklake_code_version']}{_smoke(stage, d)}, "
              f"redis_secret_arn={d['ranklake_redis_secret_arn']}) }}}}",
        skip_reason=f"{{{{ ranklake_skip('{sid}', params, dag_run) }}}}",
        trigger_rule="none_failed",
    )
    wait = EmrStepSensor(
        task_id=sid,
        job_flow_id=cluster,
        step_id=f"{{{{ ti.xcom_pull(task_ids='{sid}_submit')[0] }}}}",
        aws_conn_id=AWS_CONN_ID,
        mode="reschedule",  # frees the worker slot while the step runs
        poke_interval=60,
        timeout=stage.timeout_min * 60,
        retries=0,  # re-watching a failed step id cannot succeed; clear <stage>_submit instead
        execution_timeout=timedelta(minutes=stage.timeout_min + 5),
    )
    submit >> wait
    return submit, wait


def build_pipeline(stages: tuple[steps.Stage, ...] = steps.STAGES, mode: str | None = None
                   ) -> list[Any]:
    """Create the tasks of ``stages`` in order inside the current DAG context; returns them."""
    mode = mode or resolve_mode()
    d = _defaults(mode)
    tasks: list[Any] = []
    prev = None
    for stage in stages:
        if mode == "emr":
            first, last = _emr_tasks(stage, d)
            tasks += [first, last]
        else:
            first = last = _local_task(stage, d)
            tasks.append(first)
        if prev is not None:
            prev >> first
        prev = last
    return tasks
