"""Package ranklake for EMR: project wheel, relocatable env archive, spark-submit args, S3 upload.

    make package                                  # = python -m jobs.package
    python -m jobs.package --upload s3://<artifacts bucket>   # + upload (boto3, default creds)
    python -m jobs.package --skip-env             # wheel + args only (seconds, not minutes)
    python -m jobs.package --extras ""            # env with the wheel + its core deps only (tests)

Writes under ``dist/``: ``ranklake-<v>-py3-none-any.whl``, ``ranklake-env-<v>.tar.gz``,
``jobs/main.py`` + ``conf/{base,emr,rules}.yaml``, ``spark-submit-args.txt`` (the command for one
stage, ``--stage``/``--run-date``; default validate 2026-11-20) and ``emr-step.json`` (the same as
an ``aws emr add-steps --steps file://...`` step).

The env archive is a **venv-pack** of a dedicated venv ``build/emr-env`` (reused between builds:
pip only installs what changed; ``--fresh`` recreates it). It holds the wheel (with the
``feature_repo`` package the Feast stages import) and the runtime extras ``spark,quality,features,
train,serve`` (lightgbm, pyarrow, deltalake, Great Expectations, Feast, redis, ...), pinned to the
versions installed in the environment running this command (the tested jobs venv), so EMR runs
what the tests ran. Not packed:

* ``pyspark`` (and its ``py4j``): EMR's own Spark 3.5 provides them, and YARN puts its
  ``pyspark.zip``/``py4j`` on the containers' PYTHONPATH; a second pyspark would shadow it (and
  cost ~320 MB). They are filtered out of the requirements, so pip never downloads them.
* pip/setuptools: the venv is created ``--without-pip`` and filled by this pip (``pip --python``).
* The interpreter. venv-pack archives do NOT carry Python: ``bin/python3.11`` is a symlink to
  ``<python prefix>/bin/python3.11`` (default ``/usr``), and ``pyvenv.cfg`` says ``home =
  /usr/bin``. EMR 7 (Amazon Linux 2023) has only Python 3.9, so the nodes need python3.11 at
  ``/usr/bin/python3.11``: terraform's bootstrap action ``python311.sh`` installs it with dnf.

The jobs venv ``.venv`` itself cannot be packed: it has the project in editable mode (venv-pack
refuses that) and carries the dev tools. Native wheels are for the build machine's architecture
(``platform.machine()``, x86_64 here): the EMR instance types must match (terraform default
m6i/r6i; Graviton needs an archive built on an aarch64 host).

venv-pack 0.2.0's ``--python-prefix`` is broken for venvs made by Python >= 3.8 (it rewrites the
``python3.11`` link to ``<prefix>/bin/python3.113.11``): :func:`pack_env` rewrites exactly the
link to the base interpreter instead, and passes no prefix at all when the build interpreter
already lives at the target path.

S3 layout (what ``dags/ranklake_steps.EmrCode`` reads; terraform grants these prefixes)::

    <code_s3>/wheels/ranklake-<v>-py3-none-any.whl
    <code_s3>/envs/ranklake-env-<tag>.tar.gz     <code_s3>/jobs/<tag>/main.py
    <code_s3>/conf/<tag>/base.yaml, emr.yaml, rules.yaml     for tag in (<v>, latest)
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import zipfile
from email.parser import Parser
from pathlib import Path
from types import ModuleType
from typing import Iterator, Sequence

from jobs.common.errors import RanklakeError

REPO = Path(__file__).resolve().parents[1]
EXTRAS = ("spark", "quality", "features", "train", "serve")
PROVIDED_ON_EMR = ("pyspark", "py4j")
# where the interpreter lives on the EMR nodes (terraform/modules/emr/bootstrap/python311.sh)
PYTHON_PREFIX = "/usr"
PY_NAME = "python3.11"
CONF_FILES = ("base", "emr", "rules")
# imported inside the env after the build (per extra): a broken native wheel fails the build here
SMOKE_IMPORTS = {
    "": ("jobs", "jobs.common.config", "yaml", "pydantic_core"),
    "spark": ("pyarrow", "pandas", "numpy", "deltalake", "boto3"),
    "quality": ("great_expectations",),
    "features": ("feast", "feature_repo.entities"),
    "train": ("lightgbm", "sklearn", "matplotlib"),
    "serve": ("redis", "fastapi", "uvicorn", "prometheus_client", "httpx"),
}


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


def _run(cmd: list[str], step: str, env: dict[str, str] | None = None) -> str:
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if res.returncode != 0:
        tail = (res.stderr or res.stdout).strip().splitlines()[-5:]
        raise PackageError(f"{step} failed ({' '.join(cmd[:4])} ...): {' | '.join(tail)}")
    return res.stdout


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


# ---------------------------------------------------------------------------------- env archive


def _canon(name: str) -> str:
    from packaging.utils import canonicalize_name

    return canonicalize_name(name)


def runtime_requirements(wheel: Path, extras: Sequence[str] = EXTRAS,
                         exclude: Sequence[str] = PROVIDED_ON_EMR) -> list[str]:
    """The wheel's Requires-Dist for ``extras`` (plus its core requirements), minus ``exclude``.

    Installing these plus the wheel with ``--no-deps`` is ``pip install wheel[extras]`` without
    the packages EMR provides: pip never downloads pyspark.
    """
    from packaging.requirements import Requirement

    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        msg = Parser().parsestr(zf.read(meta).decode())
    skip = {_canon(n) for n in exclude}
    out: list[str] = []
    for line in msg.get_all("Requires-Dist") or []:
        req = Requirement(line)
        wanted = req.marker is None or any(req.marker.evaluate({"extra": e}) for e in (*extras, ""))
        if not wanted or _canon(req.name) in skip:
            continue
        req.marker = None
        text = str(req)
        if text not in out:
            out.append(text)
    return out


def pinned_versions(exclude: Sequence[str] = ("ranklake", *PROVIDED_ON_EMR)) -> list[str]:
    """``name==version`` of every distribution in the running environment (pip constraints)."""
    from importlib.metadata import distributions

    skip = {_canon(n) for n in exclude}
    pins = {}
    for dist in distributions():
        name = dist.metadata["Name"]
        if name and _canon(name) not in skip:
            pins[_canon(name)] = f"{_canon(name)}=={dist.version}"
    return [pins[k] for k in sorted(pins)]


def default_python() -> str:
    """The build interpreter: python3.11 at the EMR path if this machine has it, else on PATH."""
    target = Path(PYTHON_PREFIX) / "bin" / PY_NAME
    if target.exists():
        return str(target)
    found = shutil.which(PY_NAME)
    if not found:
        raise PackageError(f"no {PY_NAME} found (at {target} or on PATH): pass --python")
    return found


def _venv_base(env_dir: Path) -> str | None:
    """The interpreter a venv was made from (pyvenv.cfg ``executable``, else home/python3.11)."""
    cfg = env_dir / "pyvenv.cfg"
    if not cfg.exists():
        return None
    keys = dict(line.split("=", 1) for line in cfg.read_text().splitlines() if "=" in line)
    keys = {k.strip(): v.strip() for k, v in keys.items()}
    return keys.get("executable") or os.path.join(keys.get("home", ""), PY_NAME)


def _resolved_base(python: str) -> str:
    """sys._base_executable of ``python`` (a venv's python -> the interpreter it links to)."""
    return _run([python, "-c", "import sys; print(sys._base_executable)"], "python probe").strip()


def ensure_venv(env_dir: Path, python: str, fresh: bool = False) -> Path:
    """A ``--without-pip`` venv of ``python`` at env_dir; recreated when made from another one."""
    base = _resolved_base(python)
    existing = _venv_base(env_dir)
    if fresh or existing is None or os.path.realpath(existing) != os.path.realpath(base):
        shutil.rmtree(env_dir, ignore_errors=True)
        _run([base, "-m", "venv", "--without-pip", str(env_dir)], "venv create")
    return env_dir / "bin" / "python"


def install_into(env_python: Path, wheel: Path, requirements: Sequence[str],
                 constraints: Sequence[str] = ()) -> None:
    """This pip installs into the env (``pip --python``): the requirements, then the wheel alone."""
    pip = [sys.executable, "-m", "pip", "--python", str(env_python), "install", "-q",
           "--disable-pip-version-check"]
    if requirements:
        cmd = [*pip, *requirements]
        if constraints:
            cfile = env_python.parents[1] / "ranklake-constraints.txt"
            cfile.write_text("\n".join(constraints) + "\n")
            cmd += ["-c", str(cfile)]
        _run(cmd, "runtime deps install")
    _run([*pip, "--force-reinstall", "--no-deps", str(wheel)], "wheel install")
    # a transitive dependency may still have pulled one of them in
    present = [n for n in PROVIDED_ON_EMR if _run(
        [str(env_python), "-c", f"import importlib.util as u; print(bool(u.find_spec({n!r})))"],
        "probe").strip() == "True"]
    if present:
        _run([sys.executable, "-m", "pip", "--python", str(env_python), "uninstall", "-q", "-y",
              *present], "pyspark removal")


def smoke_imports(extras: Sequence[str]) -> list[str]:
    mods = list(SMOKE_IMPORTS[""])
    for e in extras:
        mods += SMOKE_IMPORTS.get(e, ())
    return mods


def check_env(env_python: Path, modules: Sequence[str]) -> None:
    """Import ``modules`` in the env (isolated mode) and make sure pyspark is not in it."""
    code = ("import importlib, importlib.util, sys\n"
            f"for m in {list(modules)!r}: importlib.import_module(m)\n"
            f"bad = [n for n in {list(PROVIDED_ON_EMR)!r} if importlib.util.find_spec(n)]\n"
            "sys.exit(f'packed but provided by EMR: {bad}' if bad else 0)\n")
    _run([str(env_python), "-I", "-c", code], "env import check")


@contextlib.contextmanager
def _exact_python_rewrite() -> Iterator[None]:
    """venv-pack 0.2.0 replaces the prefix ``<orig>/bin/python`` by ``<new>/bin/python3.X`` inside
    link targets, so ``python3.11 -> <orig>/bin/python3.11`` becomes ``.../python3.113.11``.
    Rewrite ``<orig>/bin/python3.X`` -> ``<new>/bin/python3.X`` (the whole target) instead."""
    import venv_pack.core as core

    original = core.check_python_prefix

    def fixed(prefix, context):
        prefix, rewrites = original(prefix, context)
        if prefix is not None and context.kind == "venv":
            name = os.path.basename(context.py_lib)  # python3.11
            rewrites = [(os.path.join(context.orig_prefix, "bin", name),
                         os.path.join(prefix, "bin", name))]
        return prefix, rewrites

    core.check_python_prefix = fixed
    try:
        yield
    finally:
        core.check_python_prefix = original


def pack_env(env_dir: Path, out: Path, python_prefix: str = PYTHON_PREFIX) -> Path:
    """venv-pack env_dir into out; bin/python3.11 -> <python_prefix>/bin/python3.11 in the archive."""
    import venv_pack

    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    link = os.readlink(env_dir / "bin" / PY_NAME)
    target = os.path.join(python_prefix, "bin", PY_NAME)
    try:
        if link == target:  # built with the target interpreter: keep links and pyvenv.cfg as they are
            venv_pack.pack(prefix=str(env_dir), output=str(out))
        else:
            with _exact_python_rewrite():
                venv_pack.pack(prefix=str(env_dir), output=str(out), python_prefix=python_prefix)
    except venv_pack.VenvPackException as exc:
        raise PackageError(f"venv-pack failed: {exc}") from exc
    return out


def build_env_archive(wheel: Path, env_dir: Path, out: Path, *, extras: Sequence[str] = EXTRAS,
                      python: str | None = None, python_prefix: str = PYTHON_PREFIX,
                      pin: bool = True, fresh: bool = False) -> Path:
    """Dedicated venv with the wheel + runtime deps (no pyspark), checked, then venv-packed."""
    env_python = ensure_venv(env_dir, python or default_python(), fresh=fresh)
    reqs = runtime_requirements(wheel, extras)
    install_into(env_python, wheel, reqs, pinned_versions() if pin else ())
    check_env(env_python, smoke_imports(extras))
    return pack_env(env_dir, out, python_prefix)


# ---------------------------------------------------------------------------------- code + args


def stage_files(dist: Path) -> list[Path]:
    (dist / "jobs").mkdir(parents=True, exist_ok=True)
    (dist / "conf").mkdir(parents=True, exist_ok=True)
    copied = [Path(shutil.copy2(REPO / "jobs" / "main.py", dist / "jobs" / "main.py"))]
    for name in CONF_FILES:
        copied.append(Path(shutil.copy2(REPO / "conf" / f"{name}.yaml", dist / "conf" / f"{name}.yaml")))
    return copied


def _step(code_s3: str, tag: str, stage: str, run_date: str, lake_s3: str, artifacts_s3: str,
          redis_secret_arn: str = "") -> dict:
    steps = steps_module()
    if stage not in steps.BY_ID:
        raise PackageError(f"--stage: unknown stage {stage!r} (one of {', '.join(steps.BY_ID)})")
    code = steps.EmrCode(code_s3=code_s3, version=tag)
    try:
        return steps.emr_steps(stage, {"run_date": run_date}, None, code=code, lake_s3=lake_s3,
                               artifacts_s3=artifacts_s3, redis_secret_arn=redis_secret_arn)[0]
    except ValueError as exc:  # RANKLAKE_REDIS_SECRET_ARN that is not an ARN
        raise PackageError(str(exc)) from None


def submit_args(code_s3: str, tag: str, stage: str = "validate", run_date: str = "2026-11-20",
                lake_s3: str = "", artifacts_s3: str = "", redis_secret_arn: str = "") -> str:
    """The spark-submit command for one stage, as a person would paste it on the primary node
    (the same arguments as the DAG's EMR step: dags/ranklake_steps.emr_steps)."""
    args = _step(code_s3, tag, stage, run_date, lake_s3, artifacts_s3,
                 redis_secret_arn)["HadoopJarStep"]["Args"]
    lines, i = [args[0]], 1
    while i < len(args):
        takes_value = args[i].startswith("--") and i + 1 < len(args) and not args[i + 1].startswith("--")
        lines.append(f"{args[i]} {args[i + 1]}" if takes_value else args[i])
        i += 2 if takes_value else 1
    return " \\\n  ".join(lines) + "\n"


def cli_steps(code_s3: str, tag: str, stage: str = "validate", run_date: str = "2026-11-20",
              lake_s3: str = "", artifacts_s3: str = "", redis_secret_arn: str = "") -> list[dict]:
    """The DAG's step in the AWS CLI's own step format, for
    ``aws emr add-steps --cluster-id j-... --steps file://dist/emr-step.json`` (the CLI's
    shorthand ``Args=[...]`` would split ``--files a,b,c`` at the commas)."""
    step = _step(code_s3, tag, stage, run_date, lake_s3, artifacts_s3, redis_secret_arn)
    return [{"Type": "CUSTOM_JAR", "Name": step["Name"], "ActionOnFailure": step["ActionOnFailure"],
             "Jar": step["HadoopJarStep"]["Jar"], "Args": step["HadoopJarStep"]["Args"]}]


def s3_keys(dist: Path, wheel: Path, ver: str) -> dict[str, Path]:
    """Local file -> S3 key (relative to code_s3) for a built dist/ directory."""
    keys = {f"wheels/{wheel.name}": wheel}
    env = dist / f"ranklake-env-{ver}.tar.gz"
    for tag in (ver, "latest"):
        if env.exists():
            keys[f"envs/ranklake-env-{tag}.tar.gz"] = env
        keys[f"jobs/{tag}/main.py"] = dist / "jobs" / "main.py"
        for name in CONF_FILES:
            keys[f"conf/{tag}/{name}.yaml"] = dist / "conf" / f"{name}.yaml"
    return keys


def upload(keys: dict[str, Path], code_s3: str, client=None) -> list[str]:
    """Upload with boto3 (multipart for the archive); returns the s3:// URIs written.

    Credentials and endpoint: the default boto3 chain (``AWS_PROFILE``, ``AWS_ENDPOINT_URL``...).
    The buckets' default encryption (SSE-KMS with the terraform CMK) applies to every object.
    """
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
    p.add_argument("--fresh", action="store_true", help="recreate the env venv from scratch")
    p.add_argument("--extras", default=",".join(EXTRAS),
                   help=f"runtime extras packed into the env (default {','.join(EXTRAS)}; '' = core)")
    p.add_argument("--python", default=None,
                   help=f"build interpreter (default {PYTHON_PREFIX}/bin/{PY_NAME}, else {PY_NAME} on PATH)")
    p.add_argument("--python-prefix", default=PYTHON_PREFIX,
                   help=f"where {PY_NAME} lives on the EMR nodes (default {PYTHON_PREFIX})")
    p.add_argument("--no-pin", action="store_true",
                   help="resolve the env's versions afresh instead of pinning this environment's")
    p.add_argument("--upload", metavar="S3_URI", default=os.environ.get("RANKLAKE_CODE_S3") or None,
                   help="code location, e.g. s3://<artifacts bucket> (default $RANKLAKE_CODE_S3, "
                        "the same variable conf/emr.yaml airflow.code_s3 and the DAG read)")
    p.add_argument("--no-upload", action="store_true",
                   help="write the commands for --upload's location without uploading")
    p.add_argument("--stage", default="validate", help="stage of the printed command (default validate)")
    p.add_argument("--run-date", default="2026-11-20", help="run date of the printed command")
    ns = p.parse_args(argv)
    extras = tuple(e.strip() for e in ns.extras.split(",") if e.strip())
    t0 = time.monotonic()
    try:
        ver = version()
        wheel = build_wheel(ns.dist)
        print(f"wheel: {wheel} ({time.monotonic() - t0:.0f}s)")
        if not ns.skip_env:
            t1 = time.monotonic()
            env = build_env_archive(wheel, ns.env_dir, ns.dist / f"ranklake-env-{ver}.tar.gz",
                                    extras=extras, python=ns.python, python_prefix=ns.python_prefix,
                                    pin=not ns.no_pin, fresh=ns.fresh)
            print(f"env archive: {env} ({env.stat().st_size / 2**20:.0f} MiB, "
                  f"{time.monotonic() - t1:.0f}s; extras: {','.join(extras) or '-'}; "
                  f"{platform.machine()} wheels; needs {ns.python_prefix}/bin/{PY_NAME} on the nodes)")
        stage_files(ns.dist)
        code_s3 = ns.upload or "s3://<artifacts bucket>"
        # as the DAG does (dags/ranklake_tasks.py): the lake/artifacts of this environment and
        # the ARN (only) of its Redis secret
        where = {"lake_s3": os.environ.get("RANKLAKE_LAKE_S3", ""),
                 "artifacts_s3": os.environ.get("RANKLAKE_ARTIFACTS_S3", ""),
                 "redis_secret_arn": os.environ.get("RANKLAKE_REDIS_SECRET_ARN", "")}
        args = submit_args(code_s3, ver, ns.stage, ns.run_date, **where)
        (ns.dist / "spark-submit-args.txt").write_text(args)
        (ns.dist / "emr-step.json").write_text(json.dumps(
            cli_steps(code_s3, ver, ns.stage, ns.run_date, **where), indent=2) + "\n")
        print(f"spark-submit (on the EMR primary node):\n{args}")
        print(f"as an EMR step: aws emr add-steps --cluster-id \"$RANKLAKE_EMR_CLUSTER_ID\" "
              f"--steps file://{ns.dist / 'emr-step.json'}")
        if ns.upload and not ns.no_upload:
            for uri in upload(s3_keys(ns.dist, wheel, ver), ns.upload):
                print(f"uploaded {uri}")
    except RanklakeError as exc:
        print(f"ranklake package: error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
