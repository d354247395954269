"""make package: the real wheel, the S3 layout the DAG's EMR steps read, upload via boto3 (moto)."""
from __future__ import annotations

import tarfile
import zipfile

import pytest

from jobs import package


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
        f"conf/{ver}/base.yaml", f"conf/{ver}/emr.yaml", "conf/latest/base.yaml",
        "conf/latest/emr.yaml"}
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
                 "--conf spark.yarn.appMasterEnv.PYSPARK_PYTHON=./environment/bin/python",
                 "--conf spark.executorEnv.PYSPARK_PYTHON=./environment/bin/python",
                 "--conf spark.yarn.appMasterEnv.RANKLAKE_CONF_DIR=.",
                 "s3://rl-artifacts/jobs/0.1.0/main.py"):
        assert f"  {line} \\" in text.splitlines()
    assert text.rstrip().endswith("--run-date 2026-11-20")
