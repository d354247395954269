"""make package: the real wheel, the S3 layout the DAG's EMR steps read, upload via boto3 (moto),
and a real venv-pack env archive (core deps only, seconds) unpacked elsewhere and run."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from jobs import package

TARGET_PYTHON = Path(package.PYTHON_PREFIX) / "bin" / package.PY_NAME
needs_target_python = pytest.mark.skipif(
    not TARGET_PYTHON.exists(),
    reason=f"an unpacked archive runs only where {TARGET_PYTHON} exists (as on the EMR nodes)")


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    wheel = package.build_wheel(out)
    package.stage_files(out)
    env = out / f"ranklake-env-{package.version()}.tar.gz"
    with tarfile.open(env, "w:gz") as tar:  # a stand-in archive: venv-pack is measured by hand
        tar.add(package.REPO / "jobs" / "main.py", arcname="bin/placeholder")
    return out, wheel


def test_wheel_holds_the_jobs_package_and_the_cli_entry_point(dist):
    _, wheel = dist
    assert wheel.name == f"ranklake-{package.version()}-py3-none-any.whl"
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"jobs/__init__.py", "jobs/main.py", "jobs/common/cli.py", "jobs/common/config.py",
            "jobs/package.py"} <= names
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "ranklake = jobs.common.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()


def test_s3_layout_matches_what_the_dag_reads(dist):
    out, wheel = dist
    ver = package.version()
    keys = package.s3_keys(out, wheel, ver)
    assert set(keys) == {
        f"wheels/{wheel.name}",
        f"envs/ranklake-env-{ver}.tar.gz", "envs/ranklake-env-latest.tar.gz",
        f"jobs/{ver}/main.py", "jobs/latest/main.py",
        f"conf/{ver}/base.yaml", f"conf/{ver}/emr.yaml", f"conf/{ver}/rules.yaml",
        "conf/latest/base.yaml", "conf/latest/emr.yaml", "conf/latest/rules.yaml"}
    code = package.steps_module().EmrCode(code_s3="s3://b", version=ver)
    paths = {f"s3://b/{k}" for k in keys}
    assert {code.env_archive, code.entry_point, *code.conf_files} <= paths


def test_upload_to_s3_with_boto3(dist):
    import boto3
    from moto import mock_aws

    out, wheel = dist
    keys = package.s3_keys(out, wheel, package.version())
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="rl-artifacts")
        uris = package.upload(keys, "s3://rl-artifacts/code", client=s3)
        listed = {o["Key"] for o in s3.list_objects_v2(Bucket="rl-artifacts")["Contents"]}
        body = s3.get_object(Bucket="rl-artifacts", Key="code/jobs/latest/main.py")["Body"].read()
    assert listed == {f"code/{k}" for k in keys}
    assert uris == sorted(f"s3://rl-artifacts/code/{k}" for k in keys)
    assert body == (package.REPO / "jobs" / "main.py").read_bytes()


def test_upload_rejects_a_non_s3_target(dist):
    out, wheel = dist
    with pytest.raises(package.PackageError, match="must be an s3:// URI"):
        package.upload(package.s3_keys(out, wheel, "0.1.0"), "/tmp/x")


def test_spark_submit_args_use_the_archive_and_its_python():
    text = package.submit_args("s3://rl-artifacts", "0.1.0")
    assert text.splitlines()[0] == "spark-submit \\"
    for line in ("--master yarn", "--deploy-mode cluster",
                 "--archives s3://rl-artifacts/envs/ranklake-env-0.1.0.tar.gz#environment",
                 "--files s3://rl-artifacts/conf/0.1.0/base.yaml,s3://rl-artifacts/conf/0.1.0/emr.yaml,"
                 "s3://rl-artifacts/conf/0.1.0/rules.yaml",
                 "--conf spark.pyspark.python=./environment/bin/python",
                 "--conf spark.yarn.appMasterEnv.PYSPARK_PYTHON=./environment/bin/python",
                 "--conf spark.executorEnv.PYSPARK_PYTHON=./environment/bin/python",
                 "--conf spark.yarn.appMasterEnv.RANKLAKE_CONF_DIR=.",
                 "s3://rl-artifacts/jobs/0.1.0/main.py"):
        assert f"  {line} \\" in text.splitlines()
    assert text.rstrip().endswith("--run-date 2026-11-20")
    assert "--py-files" not in text  # the wheel is installed inside the archive


def test_wheel_ships_the_feast_repo_the_feast_stages_import(dist):
    _, wheel = dist
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"feature_repo/__init__.py", "feature_repo/entities.py", "feature_repo/views.py",
            "feature_repo/feature_store.yaml"} <= names
    assert not any(n.startswith("tests/") for n in names)


def test_runtime_requirements_leave_out_what_emr_provides(dist):
    _, wheel = dist
    full = package.runtime_requirements(wheel)
    names = {r.split("<")[0].split(">")[0].split("=")[0].split("[")[0].lower() for r in full}
    assert {"lightgbm", "pyarrow", "deltalake", "great_expectations", "feast", "redis"} <= names
    assert not names & {"pyspark", "py4j"}
    assert package.runtime_requirements(wheel, ()) == ["pyyaml>=6", "pydantic<3,>=2.6"]
    assert "pyspark<3.6,>=3.5.3" in package.runtime_requirements(wheel, ("spark",), exclude=())


def _members(archive: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(archive) as tar:
        return {m.name: m for m in tar.getmembers()}


def _run_unpacked(archive: Path, where: Path, code: str) -> str:
    where.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        tar.extractall(where, filter="tar")  # keeps the absolute python symlink, like YARN's untar
    env = {"PATH": "/usr/bin:/bin", "HOME": str(where)}  # nothing of the build environment
    res = subprocess.run([str(where / "bin" / "python"), "-I", "-c", code], capture_output=True,
                         text=True, env=env, cwd=where, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


@needs_target_python
def test_env_archive_unpacks_anywhere_into_a_working_interpreter(dist, tmp_path):
    """The real build path (venv, pinned pip install, import check, venv-pack) with the core deps
    only; the build venv is deleted before the archive runs from another directory."""
    _, wheel = dist
    env_dir, out = tmp_path / "build" / "emr-env", tmp_path / "dist" / "env.tar.gz"
    t0 = time.monotonic()
    package.build_env_archive(wheel, env_dir, out, extras=())
    took = time.monotonic() - t0
    shutil.rmtree(env_dir)

    members = _members(out)
    py = members["bin/python3.11"]
    assert py.issym() and py.linkname == str(TARGET_PYTHON)  # the interpreter is NOT in the archive
    assert members["bin/python"].linkname == "python3.11"
    assert not any(n.startswith(("lib/python3.11/site-packages/pyspark/",
                                 "lib/python3.11/site-packages/pip/")) for n in members)
    assert "lib/python3.11/site-packages/jobs/package.py" in members

    where = tmp_path / "yarn" / "container_01" / "environment"
    out_text = _run_unpacked(out, where, (
        "import sys, importlib.util as u, jobs, jobs.common.config, feature_repo, yaml, pydantic_core\n"
        "print(sys.prefix); print(jobs.__file__); print(sys.version_info[:2] == (3, 11))\n"
        "print(u.find_spec('pyspark') is None, yaml.__with_libyaml__)\n"))
    prefix, jobs_file, is311, no_spark_and_native = out_text.splitlines()
    assert prefix == str(where) and jobs_file.startswith(str(where / "lib"))
    assert is311 == "True" and no_spark_and_native == "True True"  # yaml's C extension loads
    print(f"core env archive: {out.stat().st_size / 2**20:.1f} MiB built in {took:.1f}s")


@needs_target_python
def test_pack_points_a_foreign_build_interpreter_at_the_node_python(tmp_path):
    """Built with another python3.11 (pyenv, /usr/local...), the archive still links
    /usr/bin/python3.11: venv-pack 0.2.0's own --python-prefix would write .../python3.113.11."""
    foreign = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    if foreign == os.path.realpath(TARGET_PYTHON):
        pytest.skip("this interpreter is the target one: nothing to rewrite")
    env_dir = tmp_path / "venv"
    subprocess.run([foreign, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    site = next((env_dir / "lib").glob("python3.*")) / "site-packages"
    (site / "marker_mod.py").write_text("VALUE = 42\n")
    out = package.pack_env(env_dir, tmp_path / "env.tar.gz")
    members = _members(out)
    assert members["bin/python3.11"].linkname == str(TARGET_PYTHON)
    with tarfile.open(out) as tar:
        cfg = tar.extractfile("pyvenv.cfg").read().decode()
    assert f"home = {TARGET_PYTHON.parent}" in cfg
    got = _run_unpacked(out, tmp_path / "elsewhere",
                        "import sys, marker_mod; print(marker_mod.VALUE, sys.prefix)")
    assert got.split() == ["42", str(tmp_path / "elsewhere")]


def test_cli_builds_and_uploads_to_s3(tmp_path, moto_server):
    import boto3

    aws = {"AWS_ENDPOINT_URL": moto_server, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null",
           "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    s3.create_bucket(Bucket="rl-artifacts")
    dist, ver = tmp_path / "dist", package.version()
    dist.mkdir()
    stand_in = dist / f"ranklake-env-{ver}.tar.gz"  # 20 MiB: boto3 uploads it in multipart chunks
    stand_in.write_bytes(os.urandom(20 * 2**20))
    env = {**os.environ, **aws, "RANKLAKE_CODE_S3": "s3://rl-artifacts/code"}
    res = subprocess.run([sys.executable, "-m", "jobs.package", "--skip-env", "--dist", str(dist)],
                         cwd=package.REPO, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    listed = {o["Key"]: o["Size"] for o in s3.list_objects_v2(Bucket="rl-artifacts")["Contents"]}
    assert set(listed) == {f"code/{k}" for k in package.s3_keys(dist, next(dist.glob("*.whl")), ver)}
    assert listed["code/envs/ranklake-env-latest.tar.gz"] == stand_in.stat().st_size
    head = s3.head_object(Bucket="rl-artifacts", Key="code/envs/ranklake-env-latest.tar.gz")
    assert head["ETag"].strip('"').endswith("-3")  # 8 MiB parts: a multipart upload
    assert "uploaded s3://rl-artifacts/code/conf/latest/rules.yaml" in res.stdout
    args = (dist / "spark-submit-args.txt").read_text()
    assert f"--archives s3://rl-artifacts/code/envs/ranklake-env-{ver}.tar.gz#environment" in args
    step = json.loads((dist / "emr-step.json").read_text())
    assert step[0]["Jar"] == "command-runner.jar" and step[0]["Args"][0] == "spark-submit"
    assert f"--steps file://{dist / 'emr-step.json'}" in res.stdout


def test_cli_step_json_is_the_dags_step_in_the_aws_cli_format():
    steps = package.steps_module()
    cli = package.cli_steps("s3://rl-artifacts", "0.1.0", "train", "2026-11-21",
                            lake_s3="s3://rl-lake/", artifacts_s3="s3://rl-artifacts/")
    dag = steps.emr_steps("train", {"run_date": "2026-11-21"}, None,
                          code=steps.EmrCode("s3://rl-artifacts", "0.1.0"),
                          lake_s3="s3://rl-lake/", artifacts_s3="s3://rl-artifacts/")[0]
    assert cli == [{"Type": "CUSTOM_JAR", "Name": "ranklake train 2026-11-21", "ActionOnFailure": "CONTINUE",
                    "Jar": "command-runner.jar", "Args": dag["HadoopJarStep"]["Args"]}]
    args = cli[0]["Args"]
    assert args[-4:] == ["--env", "emr", "--run-date", "2026-11-21"] and "train" in args
    assert "spark.yarn.appMasterEnv.RANKLAKE_LAKE_S3=s3://rl-lake/" in args
    text = package.submit_args("s3://rl-artifacts", "0.1.0", "train", "2026-11-21")
    assert text.rstrip().endswith("--run-date 2026-11-21") and "\n  train \\\n" in text
    with pytest.raises(package.PackageError, match="unknown stage 'nope'"):
        package.cli_steps("s3://b", "0.1.0", "nope")


def test_cli_step_carries_only_the_redis_secret_arn():
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ranklake-prod/redis/auth-AbC1eF"
    args = package.cli_steps("s3://rl-artifacts", "0.1.0", "publish", redis_secret_arn=arn)[0]["Args"]
    assert f"spark.yarn.appMasterEnv.RANKLAKE_REDIS_SECRET_ARN={arn}" in args
    assert f"spark.executorEnv.RANKLAKE_REDIS_SECRET_ARN={arn}" in args
    with pytest.raises(package.PackageError, match="must be a Secrets Manager secret ARN") as err:
        package.cli_steps("s3://rl-artifacts", "0.1.0", "publish",
                          redis_secret_arn="rediss://:t0ken@h:6379/0")
    assert "t0ken" not in str(err.value)
