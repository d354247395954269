"""The commands the tasks would run: rendered from the real DAG's templated fields (local and EMR
mode), and the EMR step definitions accepted by the EMR API (moto)."""
from __future__ import annotations

import copy
import importlib.util
import os
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from tests.dags.conftest import DAGS, REPO


class Vars:
    """Stands in for Airflow's ``var.value`` accessor in a hand-built template context."""

    def __init__(self, values: dict[str, str]):
        self.values = values

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.values.get(key, default)


def context(dag, conf=None, run_type="scheduled", logical=datetime(2026, 11, 20, tzinfo=timezone.utc),
            variables=None, xcom=None):
    params = copy.deepcopy(dag.params)
    params.update(conf or {})
    dag_run = SimpleNamespace(run_type=run_type, logical_date=logical,
                              run_after=datetime(2026, 11, 21, 0, 5, tzinfo=timezone.utc))
    ti = SimpleNamespace(xcom_pull=lambda task_ids: (xcom or {})[task_ids])
    return {"params": params.validate(), "dag_run": dag_run, "ti": ti,
            "var": {"value": Vars(variables or {})}}


def render(dag, task_id, **kw):
    task = copy.copy(dag.get_task(task_id))
    task.render_template_fields(context(dag, **kw), jinja_env=dag.get_template_env())
    return task


ENV = os.environ.get("RANKLAKE_ENV", "local")  # tests/conftest.py sets "test"
BASE = ["--conf", "topk.k=50", "--conf", "topk.list_types=[user,query,item]"]


def test_local_train_command_defaults(dag):
    t = render(dag, "train")
    assert t.application == f"{REPO}/jobs/main.py"
    assert t.application_args == ["train", "--env", ENV, "--run-date", "2026-11-20", *BASE]
    assert t.jobs_venv == f"{REPO}/.venv" and t.project_dir == str(REPO)
    assert t.skip_reason in ("", None)
    assert t._conn_id == "ranklake_spark" and t.name == "ranklake-train"


def test_local_commands_follow_form_params_and_variables(dag):
    conf = {"run_date": "2026-11-18", "list_types": ["query", "item"], "k": 7,
            "sample_fraction": 0.25, "extra_conf": ["train.gate_min_ndcg10=0.9"]}
    variables = {"ranklake_env": "test", "ranklake_project_dir": "/srv/rl",
                 "ranklake_jobs_venv": "/opt/jobs-venv"}
    t = render(dag, "topk", conf=conf, variables=variables)
    assert t.application == "/srv/rl/jobs/main.py" and t.jobs_venv == "/opt/jobs-venv"
    assert t.application_args == [
        "topk", "--env", "test", "--run-date", "2026-11-18", "--conf", "topk.k=7",
        "--conf", "topk.list_types=[query,item]", "--conf", "train.gate_min_ndcg10=0.9"]
    train = render(dag, "train", conf=conf, variables=variables)
    assert train.application_args[5:] == [
        "--conf", "topk.k=7", "--conf", "topk.list_types=[query,item]",
        "--conf", "train.sample_fraction=0.25", "--conf", "train.gate_min_ndcg10=0.9"]
    feast = render(dag, "feast_materialize", variables=variables)
    assert feast.application_args[:5] == ["feast", "materialize", "--env", "test", "--run-date"]


@pytest.mark.parametrize("conf,run_type,expect", [
    ({}, "scheduled", {"train": "", "publish": "", "smoke": ""}),
    ({"skip_training": True}, "manual", {"train": "skip_training", "publish": "", "smoke": ""}),
    ({"dry_run": True}, "manual", {"train": "", "publish": "dry_run", "smoke": "dry_run"}),
    ({}, "backfill", {"train": "", "publish": "backfill", "smoke": "backfill"}),
    ({"allow_promote_older": True}, "backfill", {"train": "", "publish": "", "smoke": ""}),
])
def test_skip_rules(dag, conf, run_type, expect):
    got = {tid: (render(dag, tid, conf=conf, run_type=run_type).skip_reason or "").split(":")[0]
           for tid in expect}
    assert got == expect
    assert render(dag, "topk", conf=conf, run_type=run_type).skip_reason in ("", None)


@pytest.mark.parametrize("conf,flags", [
    ({}, []), ({"dry_run": True}, ["--no-promote"]), ({"allow_promote_older": True}, ["--force-promote"]),
    ({"allow_promote_older": True, "dry_run": True}, ["--force-promote"]),
])
def test_train_promotion_flags(dag, conf, flags):
    args = render(dag, "train", conf=conf).application_args
    assert args == ["train", "--env", ENV, "--run-date", "2026-11-20", *BASE, *flags]


def test_run_date_without_logical_date_is_the_day_before_run_after(dag):
    t = render(dag, "validate", logical=None, run_type="manual")
    assert t.application_args[3:5] == ["--run-date", "2026-11-20"]


@pytest.fixture(scope="module")
def emr_dag():
    old = os.environ.get("RANKLAKE_MODE")
    os.environ["RANKLAKE_MODE"] = "emr"
    try:
        spec = importlib.util.spec_from_file_location("ranking_daily_emr", DAGS / "ranking_daily.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        os.environ.pop("RANKLAKE_MODE") if old is None else os.environ.update(RANKLAKE_MODE=old)
    return mod.dag


EMR_VARS = {"ranklake_emr_cluster_id": "j-RANKLAKE", "ranklake_code_s3": "s3://rl-artifacts",
            "ranklake_code_version": "0.1.0"}


def expected_step(stage_args):
    env = []
    for key, value in (("PYSPARK_PYTHON", "./environment/bin/python"), ("RANKLAKE_CONF_DIR", ".")):
        env += ["--conf", f"spark.yarn.appMasterEnv.{key}={value}",
                "--conf", f"spark.executorEnv.{key}={value}"]
    return {
        "Name": "ranklake train 2026-11-20",
        "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": [
            "spark-submit", "--master", "yarn", "--deploy-mode", "cluster",
            "--archives", "s3://rl-artifacts/envs/ranklake-env-0.1.0.tar.gz#environment",
            "--files", "s3://rl-artifacts/conf/0.1.0/base.yaml,s3://rl-artifacts/conf/0.1.0/emr.yaml,"
                       "s3://rl-artifacts/conf/0.1.0/rules.yaml",
            # the archive's interpreter for driver (cluster mode) and executors; outranks EMR's
            # PYSPARK_PYTHON/PYSPARK_DRIVER_PYTHON (Python 3.9)
            "--conf", "spark.pyspark.python=./environment/bin/python",
            *env, "s3://rl-artifacts/jobs/0.1.0/main.py", *stage_args]},
    }


def test_emr_mode_same_chain_as_submit_and_wait_pairs(emr_dag):
    ids = [t.task_id for t in emr_dag.topological_sort()]
    stages = ["validate", "features", "feast_apply", "feast_materialize", "train", "topk", "publish",
              "smoke"]
    assert ids == [x for s in stages for x in (f"{s}_submit", s)]
    sensor = emr_dag.get_task("train")
    assert type(sensor).__name__ == "EmrStepSensor" and sensor.retries == 0
    assert sensor.mode == "reschedule" and sensor.timeout == 3600
    assert type(emr_dag.get_task("train_submit")).__name__ == "RanklakeEmrAddStepsOperator"


def test_emr_mode_renders_step_definitions(emr_dag):
    submit = render(emr_dag, "train_submit", variables=EMR_VARS, conf={"k": 10, "dry_run": True})
    assert submit.job_flow_id == "j-RANKLAKE"
    assert submit.steps == [expected_step(
        ["train", "--env", "emr", "--run-date", "2026-11-20", "--conf", "topk.k=10",
         "--conf", "topk.list_types=[user,query,item]", "--no-promote"])]
    wait = render(emr_dag, "train", variables=EMR_VARS, xcom={"train_submit": ["s-STEP1"]})
    assert (wait.job_flow_id, wait.step_id) == ("j-RANKLAKE", "s-STEP1")
    skipped = render(emr_dag, "publish_submit", variables=EMR_VARS, conf={"dry_run": True})
    assert skipped.skip_reason.startswith("dry_run")


def test_emr_steps_accepted_by_the_emr_api(emr_dag):
    import boto3
    from moto import mock_aws

    submit = render(emr_dag, "train_submit", variables=EMR_VARS)
    with mock_aws():
        emr = boto3.client("emr", region_name="eu-west-1")
        cluster = emr.run_job_flow(
            Name="ranklake", ReleaseLabel="emr-7.5.0", Applications=[{"Name": "Spark"}],
            Instances={"MasterInstanceType": "m5.xlarge", "InstanceCount": 1,
                       "KeepJobFlowAliveWhenNoSteps": True},
            JobFlowRole="EMR_EC2_DefaultRole", ServiceRole="EMR_DefaultRole")["JobFlowId"]
        step_ids = emr.add_job_flow_steps(JobFlowId=cluster, Steps=submit.steps)["StepIds"]
        step = emr.describe_step(ClusterId=cluster, StepId=step_ids[0])["Step"]
    assert step["Name"] == "ranklake train 2026-11-20"
    assert step["ActionOnFailure"] == "CONTINUE"
    assert step["Config"]["Jar"] == "command-runner.jar"
    assert step["Config"]["Args"] == submit.steps[0]["HadoopJarStep"]["Args"]


def test_emr_steps_ship_every_conf_file_the_jobs_read(emr_dag):
    """--files must carry base + emr (config) and rules.yaml (validate): RANKLAKE_CONF_DIR=. is all
    the driver sees; the archive's interpreter is /usr/bin/python3.11 from the bootstrap action."""
    args = render(emr_dag, "validate_submit", variables=EMR_VARS).steps[0]["HadoopJarStep"]["Args"]
    files = args[args.index("--files") + 1].split(",")
    assert [f.rsplit("/", 1)[1] for f in files] == ["base.yaml", "emr.yaml", "rules.yaml"]
    assert sorted(p.stem for p in (REPO / "conf").glob("*.yaml")
                  if p.stem not in ("local", "test")) == ["base", "emr", "rules"]
    confs = [args[i + 1] for i, a in enumerate(args) if a == "--conf"]
    assert "spark.pyspark.python=./environment/bin/python" in confs
    assert "--py-files" not in args and "--packages" not in args


SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ranklake-prod/redis/auth-AbC1eF"


@pytest.mark.parametrize("task_id", ["feast_materialize_submit", "publish_submit", "smoke_submit"])
def test_emr_steps_pass_only_the_redis_secret_arn_to_driver_and_executors(emr_dag, task_id):
    """Variable ranklake_redis_secret_arn (terraform output redis_secret_arn) -> both env maps;
    the token itself is fetched on the cluster (jobs/serving/redis_conn.py)."""
    variables = {**EMR_VARS, "ranklake_redis_secret_arn": SECRET_ARN}
    args = render(emr_dag, task_id, variables=variables).steps[0]["HadoopJarStep"]["Args"]
    confs = [args[i + 1] for i, a in enumerate(args) if a == "--conf"]
    assert f"spark.yarn.appMasterEnv.RANKLAKE_REDIS_SECRET_ARN={SECRET_ARN}" in confs
    assert f"spark.executorEnv.RANKLAKE_REDIS_SECRET_ARN={SECRET_ARN}" in confs
    assert not [a for a in args if "REDIS_URL" in a or "REDIS_PASSWORD" in a or "rediss://" in a]
    # without the Variable (and no RANKLAKE_REDIS_SECRET_ARN at parse time) nothing is added
    plain = render(emr_dag, task_id, variables=EMR_VARS).steps[0]["HadoopJarStep"]["Args"]
    assert not [a for a in plain if "RANKLAKE_REDIS_SECRET_ARN" in a]


def test_emr_steps_refuse_a_redis_secret_arn_that_is_not_an_arn(emr_dag):
    pasted = "rediss://:t0kenT0ken@master.x.cache.amazonaws.com:6379/0"  # the secret's url field
    with pytest.raises(Exception) as err:
        render(emr_dag, "publish_submit",
               variables={**EMR_VARS, "ranklake_redis_secret_arn": pasted})
    assert "must be a Secrets Manager secret ARN" in str(err.value)
    assert "t0kenT0ken" not in str(err.value)


def test_smoke_checks_the_service_url_or_runs_in_process(dag):
    assert render(dag, "smoke").application_args[-1] == "--in-process"
    t = render(dag, "smoke", variables={"ranklake_smoke_url": "http://127.0.0.1:8080"})
    assert t.application_args == ["smoke", "--env", ENV, "--run-date", "2026-11-20", *BASE,
                                  "--url", "http://127.0.0.1:8080"]
