"""How a ranklake stage becomes a command: CLI arguments, local spark-submit, EMR step definitions.

Pure Python, no Airflow import: the DAG (``ranking_daily.py``), its tests and ``jobs/package.py``
share it. The DAG exposes the builders as Jinja macros (``ranklake_args``, ``ranklake_emr_steps``,
``ranklake_skip``) so the Rendered Template tab shows the exact command of every task.

Local mode: ``<jobs venv>/bin/spark-submit --master local[2] <project>/jobs/main.py <stage> --env
<env> --run-date D [--conf k=v ...]``, run by the Spark provider's SparkSubmitOperator.

EMR mode: the same arguments as one step on the long-running EMR cluster that terraform builds
(``terraform/modules/emr``; EmrAddStepsOperator + EmrStepSensor). Why a cluster and not EMR
Serverless: terraform already runs one always-on, auto-terminating-when-idle cluster inside the VPC
whose security group is the one the Redis cache admits (publish and smoke must reach Redis), the
MWAA role is scoped to ``AddJobFlowSteps`` on that cluster, and six short steps a day would pay
Serverless start-up (~1-2 min each) on every step. The cost: a failed step is not re-run by a
sensor retry (the sensor watches a fixed step id): clear ``<stage>_submit`` to re-run a stage.

Exit codes (``jobs.common.errors``): 2 user/config/data error, 3 quality check failed, 4 model gate
failed. These are deterministic, so the local operator fails them without retries; exit 1 (an
unexpected error: OOM, a flaky disk or S3) is retried with exponential backoff.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Mapping

NO_RETRY_EXIT_CODES = {2: "user/config/data error", 3: "quality check failed", 4: "model gate failed"}
LIST_TYPES = ("user", "query", "item")
MODES = ("local", "emr")
# what jobs/common/config.py accepts as redis.secret_arn (this module cannot import jobs/)
SECRET_ARN = re.compile(
    r"arn:aws[a-z-]*:secretsmanager:[a-z]{2}(?:-[a-z]+)+-\d+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+")


@dataclass(frozen=True)
class Stage:
    task_id: str
    command: tuple[str, ...]  # ranklake command (+ its positional action)
    timeout_min: int


# the pipeline, in order; one task (local) or submit+wait pair (EMR) per stage
STAGES: tuple[Stage, ...] = (
    Stage("validate", ("validate",), 30),
    Stage("features", ("features",), 45),
    Stage("feast_apply", ("feast", "apply"), 10),
    Stage("feast_materialize", ("feast", "materialize"), 20),
    Stage("train", ("train",), 60),  # train + evaluate + gate + register; exit 4 = gate failed
    Stage("topk", ("topk",), 45),
    Stage("publish", ("publish",), 20),
    Stage("smoke", ("smoke",), 10),
)
BY_ID = {s.task_id: s for s in STAGES}


@dataclass(frozen=True)
class EmrCode:
    """Where ``make package`` put the code on S3 (terraform: artifacts bucket prefixes)."""

    code_s3: str  # s3://<artifacts bucket>[/prefix]
    version: str = "latest"

    @property
    def env_archive(self) -> str:
        return f"{self.code_s3.rstrip('/')}/envs/ranklake-env-{self.version}.tar.gz"

    @property
    def entry_point(self) -> str:
        return f"{self.code_s3.rstrip('/')}/jobs/{self.version}/main.py"

    @property
    def conf_files(self) -> list[str]:
        # rules.yaml: the validate stage's rules (jobs/quality/rules.py reads <conf dir>/rules.yaml)
        return [f"{self.code_s3.rstrip('/')}/conf/{self.version}/{n}.yaml"
                for n in ("base", "emr", "rules")]


def run_date_of(params: Mapping[str, Any], dag_run: Any) -> str:
    """The run date D: the form's run_date, else the logical date, else the day before run_after.

    A manual run without a logical date (possible in Airflow 3) means "the latest complete day".
    """
    explicit = params.get("run_date")
    if explicit:
        return date.fromisoformat(str(explicit)).isoformat()
    logical = getattr(dag_run, "logical_date", None)
    if logical is not None:
        return logical.date().isoformat()
    run_after: datetime = dag_run.run_after
    return (run_after - timedelta(days=1)).date().isoformat()


def is_backfill(dag_run: Any) -> bool:
    return str(getattr(dag_run, "run_type", "")).lower().endswith("backfill")


def conf_overrides(params: Mapping[str, Any], task_id: str) -> list[str]:
    """Form params -> ``--conf key=value`` items (YAML scalars, see jobs.common.config).

    top-K settings go to every stage (publish and smoke check the same list types); the sample
    fraction only to train (it samples whole groups of the training set).
    """
    out = []
    if params.get("k") is not None:
        out.append(f"topk.k={int(params['k'])}")
    if params.get("list_types"):
        out.append(f"topk.list_types=[{','.join(params['list_types'])}]")
    fraction = params.get("sample_fraction")
    if task_id == "train" and fraction is not None and float(fraction) < 1.0:
        out.append(f"train.sample_fraction={float(fraction)}")
    out += [str(x) for x in params.get("extra_conf") or []]
    return out


def stage_args(task_id: str, params: Mapping[str, Any], dag_run: Any, env: str,
               smoke_url: str = "") -> list[str]:
    """Arguments after ``jobs/main.py`` for one stage.

    smoke checks the running lookup service at ``smoke_url`` (Variable ``ranklake_smoke_url``);
    without one it runs the service app in-process against the same Redis.
    """
    stage = BY_ID[task_id]
    args = [*stage.command, "--env", env, "--run-date", run_date_of(params, dag_run)]
    for item in conf_overrides(params, task_id):
        args += ["--conf", item]
    if task_id == "smoke":
        args += ["--url", smoke_url] if smoke_url else ["--in-process"]
    if task_id == "train":
        if params.get("allow_promote_older"):
            args.append("--force-promote")
        elif params.get("dry_run"):
            args.append("--no-promote")
    return args


def skip_reason(task_id: str, params: Mapping[str, Any], dag_run: Any) -> str:
    """Why this stage is skipped in this run ('' = it runs)."""
    if task_id == "train" and params.get("skip_training"):
        return "skip_training: re-ranking with the current champion"
    if task_id in ("publish", "smoke"):
        if params.get("dry_run"):
            return "dry_run: lists are built but not published"
        if is_backfill(dag_run) and not params.get("allow_promote_older"):
            return "backfill: an older date never replaces the lists being served"
    return ""


def local_command(task_id: str, params: Mapping[str, Any], dag_run: Any, *, env: str,
                  project_dir: str, jobs_venv: str, master: str = "local[2]") -> list[str]:
    """The whole local command line (what SparkSubmitOperator runs, for docs and tests)."""
    return [f"{jobs_venv}/bin/spark-submit", "--master", master, "--name",
            f"ranklake-{task_id}", f"{project_dir}/jobs/main.py",
            *stage_args(task_id, params, dag_run, env)]


def emr_submit_args(code: EmrCode, *, lake_s3: str = "", artifacts_s3: str = "",
                    redis_secret_arn: str = "") -> list[str]:
    """spark-submit options for YARN cluster mode with the venv-pack archive (no --packages).

    ``--archives <env>#environment`` unpacks the archive as ``./environment`` in every container
    (driver included: cluster mode). ``spark.pyspark.python`` picks the interpreter of the driver
    and, through the driver's PYSPARK_PYTHON, of the executors; it outranks the PYSPARK_PYTHON /
    PYSPARK_DRIVER_PYTHON that EMR's spark-env.sh exports (``/usr/bin/python3``, Python 3.9).
    The appMasterEnv/executorEnv PYSPARK_PYTHON say the same for anything reading the env var.
    No ``--py-files``: the wheel is installed inside the archive (one copy of the code per
    release; a wheel on PYTHONPATH would shadow it). ``./environment/bin/python`` is a symlink to
    /usr/bin/python3.11, which the cluster's bootstrap action installs (docs/EMR.md).

    Redis: only the ARN of the ElastiCache secret goes into the step (``RANKLAKE_REDIS_SECRET_ARN``,
    which conf/emr.yaml reads as ``redis.secret_arn``); driver and executors fetch the token from
    Secrets Manager themselves. A step is visible in the EMR console, so anything that is not an ARN
    is refused here rather than passed on (a pasted REDIS_URL would carry the token).
    """
    py = "./environment/bin/python"
    env = {"PYSPARK_PYTHON": py, "RANKLAKE_CONF_DIR": "."}
    if lake_s3:
        env["RANKLAKE_LAKE_S3"] = lake_s3
    if artifacts_s3:
        env["RANKLAKE_ARTIFACTS_S3"] = artifacts_s3
    redis_secret_arn = (redis_secret_arn or "").strip()
    if redis_secret_arn:
        if not SECRET_ARN.fullmatch(redis_secret_arn):  # the value itself is not echoed
            raise ValueError("ranklake_redis_secret_arn / RANKLAKE_REDIS_SECRET_ARN must be a Secrets "
                             "Manager secret ARN (terraform output redis_secret_arn), "
                             "arn:aws:secretsmanager:<region>:<account>:secret:<name>")
        env["RANKLAKE_REDIS_SECRET_ARN"] = redis_secret_arn
    args = ["--master", "yarn", "--deploy-mode", "cluster",
            "--archives", f"{code.env_archive}#environment",
            "--files", ",".join(code.conf_files),
            "--conf", f"spark.pyspark.python={py}"]
    for key, value in env.items():
        args += ["--conf", f"spark.yarn.appMasterEnv.{key}={value}",
                 "--conf", f"spark.executorEnv.{key}={value}"]
    return args


def emr_steps(task_id: str, params: Mapping[str, Any], dag_run: Any, *, code: EmrCode,
              env: str = "emr", lake_s3: str = "", artifacts_s3: str = "", smoke_url: str = "",
              redis_secret_arn: str = "") -> list[dict[str, Any]]:
    """One boto3 ``add_job_flow_steps`` step running the stage via command-runner.jar."""
    run_date = run_date_of(params, dag_run)
    args = ["spark-submit", *emr_submit_args(code, lake_s3=lake_s3, artifacts_s3=artifacts_s3,
                                             redis_secret_arn=redis_secret_arn),
            code.entry_point, *stage_args(task_id, params, dag_run, env, smoke_url)]
    return [{
        "Name": f"ranklake {task_id} {run_date}",
        # the cluster is shared and long-running: a failed stage must not cancel other steps
        "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": args},
    }]


def no_retry_reason(exit_code: int | None) -> str | None:
    return NO_RETRY_EXIT_CODES.get(exit_code) if exit_code is not None else None
