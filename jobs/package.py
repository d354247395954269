"""Package ranklake for EMR: project wheel, relocatable env archive, spark-submit args, S3 upload.

    make package                                  # = python -m jobs.package
    python -m jobs.package --upload s3://<artifacts bucket>   # + upload (boto3, default creds)
    python -m jobs.package --skip-env             # wheel + args only (seconds, not minutes)

Writes under ``dist/``: ``ranklake-<v>-py3-none-any.whl``, ``ranklake-env-<v>.tar.gz`` (venv-pack
of a dedicated venv ``build/emr-env`` holding the wheel with its runtime extras, lightgbm included,
pyspark removed: EMR's own Spark 3.5 provides it), ``jobs/main.py`` + ``conf/{base,emr}.yaml``, and
``spark-submit-args.txt``. The dedicated venv is reused between builds (pip only installs what
changed); the jobs venv ``.venv`` cannot be packed: it has the project installed in editable mode
and carries the dev tools. The archive's python is a symlink to ``/usr/bin/python3.11``
(``--python-prefix /usr``): EMR nodes need Python 3.11 there (bootstrap action, see docs/EMR.md).

S3 layout (what ``dags/ranklake_steps.EmrCode`` reads; terraform grants these prefixes)::

    <code_s3>/wheels/ranklake-<v>-py3-none-any.whl
    <code_s3>/envs/ranklake-env-<tag>.tar.gz     <code_s3>/jobs/<tag>/main.py
    <code_s3>/conf/<tag>/base.yaml, emr.yaml     for tag in (<v>, latest)
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

from jobs.common.errors import RanklakeError

REPO = Path(__file__).resolve().parents[1]
EXTRAS = "spark,quality,features,train,serve"
PROVIDED_ON_EMR = ("pyspark",)


class PackageError(RanklakeError):
    """A packaging step failed (names the step and the command)."""


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("ranklake")
    except PackageNotFoundError:
        return "0.1.0"


def steps_module() -> ModuleType:
    """dags/ranklake_steps.py: one definition of the EMR spark-submit arguments for both sides."""
    spec = importlib.util.spec_from_file_location("ranklake_steps", REPO / "dags" / "ranklake_steps.py")
    assert spec and spec.loader
    if "ranklake_steps" in sys.modules:
        return sys.modules["ranklake_steps"]
    mod = importlib.util.module_from_spec(spec)
    sys.modules["ranklake_steps"] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def _run(cmd: list[str], step: str) -> None:
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        tail = (res.stderr or res.stdout).strip().splitlines()[-5:]
        raise PackageError(f"{step} failed ({' '.join(cmd[:4])} ...): {' | '.join(tail)}")


def build_wheel(dist: Path) -> Path:
    dist.mkdir(parents=True, exist_ok=True)
    for old in dist.glob("ranklake-*.whl"):
        old.unlink()
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
          "-w", str(dist), str(REPO)], "wheel build")
    wheels = sorted(dist.glob("ranklake-*.whl"))
    if not wheels:
        raise PackageError(f"wheel build produced no ranklake-*.whl in {dist}")
    shutil.rmtree(REPO / "build" / "lib", ignore_errors=True)  # setuptools' staging dir
    return wheels[-1]


def build_env_archive(wheel: Path, env_dir: Path, out: Path, python: str = "python3.11") -> Path:
    if not (env_dir / "bin" / "python").exists():
        _run([python, "-m", "venv", str(env_dir)], "venv create")
    pip = [str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q"]
    _run([*pip, "--upgrade", "pip", "setuptools", "wheel"], "pip upgrade")
    _run([*pip, "--force-reinstall", "--no-deps", str(wheel)], "wheel install")
    _run([*pip, f"{wheel}[{EXTRAS}]"], "runtime deps install")
    _run([str(env_dir / "bin" / "python"), "-m", "pip", "uninstall", "-q", "-y",
          *PROVIDED_ON_EMR], "pyspark removal")
    out.unlink(missing_ok=True)
    venv_pack = Path(sys.executable).parent / "venv-pack"
    _run([str(venv_pack), "-p", str(env_dir), "-o", str(out), "--python-prefix", "/usr", "-q"],
         "venv-pack")
    return out


def stage_files(dist: Path) -> list[Path]:
    (dist / "jobs").mkdir(parents=True, exist_ok=True)
    (dist / "conf").mkdir(parents=True, exist_ok=True)
    copied = [Path(shutil.copy2(REPO / "jobs" / "main.py", dist / "jobs" / "main.py"))]
    for name in ("base", "emr"):
        copied.append(Path(shutil.copy2(REPO / "conf" / f"{name}.yaml", dist / "conf" / f"{name}.yaml")))
    return copied


def submit_args(code_s3: str, tag: str) -> str:
    """The spark-submit command for one stage, as a person would paste it on the primary node."""
    steps = steps_module()
    code = steps.EmrCode(code_s3=code_s3, version=tag)
    args = ["spark-submit", *steps.emr_submit_args(code), code.entry_point,
            "validate", "--env", "emr", "--run-date", "2026-11-20"]
    lines, i = [args[0]], 1
    while i < len(args):
        takes_value = args[i].startswith("--") and i + 1 < len(args) and not args[i + 1].startswith("--")
        lines.append(f"{args[i]} {args[i + 1]}" if takes_value else args[i])
        i += 2 if takes_value else 1
    return " \\\n  ".join(lines) + "\n"


def s3_keys(dist: Path, wheel: Path, ver: str) -> dict[str, Path]:
    """Local file -> S3 key (relative to code_s3) for a built dist/ directory."""
    keys = {f"wheels/{wheel.name}": wheel}
    env = dist / f"ranklake-env-{ver}.tar.gz"
    for tag in (ver, "latest"):
        if env.exists():
            keys[f"envs/ranklake-env-{tag}.tar.gz"] = env
        keys[f"jobs/{tag}/main.py"] = dist / "jobs" / "main.py"
        for name in ("base", "emr"):
            keys[f"conf/{tag}/{name}.yaml"] = dist / "conf" / f"{name}.yaml"
    return keys


def upload(keys: dict[str, Path], code_s3: str, client=None) -> list[str]:
    """Upload with boto3; returns the s3:// URIs written. Credentials: the default boto3 chain."""
    import boto3

    if not code_s3.startswith("s3://"):
        raise PackageError(f"--upload must be an s3:// URI, got {code_s3!r}")
    bucket, _, prefix = code_s3[len("s3://"):].partition("/")
    s3 = client or boto3.client("s3")
    out = []
    for key, path in sorted(keys.items()):
        full = "/".join(p for p in (prefix.strip("/"), key) if p)
        s3.upload_file(str(path), bucket, full)
        out.append(f"s3://{bucket}/{full}")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m jobs.package", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dist", type=Path, default=REPO / "dist")
    p.add_argument("--env-dir", type=Path, default=REPO / "build" / "emr-env")
    p.add_argument("--skip-env", action="store_true", help="do not (re)build the env archive")
    p.add_argument("--upload", metavar="S3_URI", default=os.environ.get("RANKLAKE_CODE_S3") or None,
                   help="code location, e.g. s3://<artifacts bucket> (default $RANKLAKE_CODE_S3, "
                        "the same variable conf/emr.yaml airflow.code_s3 and the DAG read)")
    ns = p.parse_args(argv)
    t0 = time.monotonic()
    try:
        ver = version()
        wheel = build_wheel(ns.dist)
        print(f"wheel: {wheel} ({time.monotonic() - t0:.0f}s)")
        if not ns.skip_env:
            t1 = time.monotonic()
            env = build_env_archive(wheel, ns.env_dir, ns.dist / f"ranklake-env-{ver}.tar.gz")
            print(f"env archive: {env} ({env.stat().st_size / 2**20:.0f} MiB, "
                  f"{time.monotonic() - t1:.0f}s)")
        stage_files(ns.dist)
        code_s3 = ns.upload or "s3://<artifacts bucket>"
        args = submit_args(code_s3, ver)
        (ns.dist / "spark-submit-args.txt").write_text(args)
        print(f"spark-submit (on the EMR primary node, or as an EMR step):\n{args}")
        if ns.upload:
            for uri in upload(s3_keys(ns.dist, wheel, ver), ns.upload):
                print(f"uploaded {uri}")
    except RanklakeError as exc:
        print(f"ranklake package: error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
