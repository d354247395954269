"""EMR bootstrap action for the env archive's interpreter: every node gets /usr/bin/python3.11 (EMR 7
= Amazon Linux 2023, Python 3.9), the script is uploaded KMS-encrypted where the job role may read
it, runs first, and the instance types match the architecture of the archive's native wheels.
The script itself runs here against fake ``sudo``/``dnf``/``uname``/``sleep``."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from jobs import package
from tests.terraform.test_hcl_invariants import (
    TF_ROOT,
    as_list,
    blocks,
    expr,
    parse_file,
    parse_text,
    resources_in,
    single_blocks,
)

EMR = TF_ROOT / "modules" / "emr"
SCRIPT = EMR / "bootstrap" / "python311.sh"
NODE_PYTHON = f"{package.PYTHON_PREFIX}/bin/{package.PY_NAME}"  # what the archive links to


def emr_resources() -> dict[tuple[str, str], dict]:
    return {(t, n): b for t, n, b, _ in resources_in(EMR)}


def emr_locals() -> dict:
    out: dict = {}
    for entry in as_list(parse_file(EMR / "main.tf").get("locals")):
        out.update(entry)
    return out


def one(value):
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def test_bootstrap_script_is_uploaded_kms_encrypted_under_the_readable_prefix():
    obj = emr_resources()[("aws_s3_object", "bootstrap_python311")]
    assert expr(obj["bucket"]) == "var.artifacts_bucket"
    assert obj["server_side_encryption"] == "aws:kms" and expr(obj["kms_key_id"]) == "var.kms_key_arn"
    assert obj["source"] == "${path.module}/bootstrap/python311.sh" and SCRIPT.is_file()
    assert "filemd5(" in obj["source_hash"] and "bootstrap/python311.sh" in obj["source_hash"]
    read_prefixes = single_blocks(EMR / "variables.tf", "variable")["artifacts_read_prefixes"]["default"]
    assert any(obj["key"].startswith(p) for p in read_prefixes), (obj["key"], read_prefixes)
    assert obj["key"] == "bootstrap/python311.sh"


def test_python_bootstrap_runs_first_on_the_cluster_with_the_archive_arch():
    loc = emr_locals()
    action = one(loc["python_bootstrap"])
    assert action["name"] == "install-python3.11"
    assert action["path"] == "s3://${var.artifacts_bucket}/${aws_s3_object.bootstrap_python311.key}"
    assert [expr(a) for a in as_list(action["args"])] == ["var.env_archive_arch"]
    concat = r"\$\{concat\(\[['\"]?\$\{local\.python_bootstrap\}['\"]?\],\s*var\.bootstrap_actions\)\}"
    assert re.fullmatch(concat, loc["bootstrap_actions"]), loc["bootstrap_actions"]
    cluster = emr_resources()[("aws_emr_cluster", "this")]
    assert not blocks(cluster, "bootstrap_action")  # only the dynamic block: one ordered list
    dyn = [d["bootstrap_action"] for d in blocks(cluster, "dynamic") if "bootstrap_action" in d]
    assert len(dyn) == 1 and expr(one(dyn)["for_each"]) == "local.bootstrap_actions"


def test_root_module_passes_the_archive_arch_and_outputs_the_script():
    module = next(b for e in as_list(parse_file(TF_ROOT / "main.tf")["module"]) for n, b in e.items()
                  if n == "emr")
    assert expr(module["env_archive_arch"]) == "var.emr_env_archive_arch"
    assert expr(module["bootstrap_actions"]) == "var.emr_bootstrap_actions"
    root_vars = single_blocks(TF_ROOT / "variables.tf", "variable")
    mod_vars = single_blocks(EMR / "variables.tf", "variable")
    assert root_vars["emr_env_archive_arch"]["default"] == mod_vars["env_archive_arch"]["default"] == "x86_64"
    outputs = single_blocks(TF_ROOT / "outputs.tf", "output")
    assert expr(outputs["emr_python_bootstrap_s3_uri"]["value"]) == "module.emr.python_bootstrap_s3_uri"


GRAVITON = re.compile(r"^[a-z]+\d+[a-z-]*g[a-z-]*\.")  # m6g, r6gd, c6gn, t4g, is4gen ...


@pytest.mark.parametrize("itype,graviton", [("m6g.xlarge", True), ("r6gd.2xlarge", True),
                                            ("c7gn.large", True), ("m6i.xlarge", False),
                                            ("r6i.2xlarge", False), ("m5d.xlarge", False),
                                            ("m7i-flex.large", False)])
def test_graviton_pattern(itype, graviton):
    assert bool(GRAVITON.match(itype)) is graviton


def test_instance_types_match_the_archive_architecture():
    """make package builds x86_64 wheels here: Graviton nodes could not load lightgbm/pyarrow."""
    arch = single_blocks(TF_ROOT / "variables.tf", "variable")["emr_env_archive_arch"]["default"]
    types = {}
    for path, prefix in ((TF_ROOT / "variables.tf", "emr_"), (EMR / "variables.tf", "")):
        declared = single_blocks(path, "variable")
        for name in ("primary_instance_type", "core_instance_type"):
            types[f"{path.parent.name}:{name}"] = declared[prefix + name]["default"]
    for env in ("dev", "prod"):
        values = parse_text((TF_ROOT / "envs" / f"{env}.tfvars").read_text())
        assert values.get("emr_env_archive_arch", arch) == arch
        for name in ("emr_primary_instance_type", "emr_core_instance_type"):
            if name in values:
                types[f"{env}.tfvars:{name}"] = values[name]
    assert arch == "x86_64"
    assert not {k: v for k, v in types.items() if GRAVITON.match(v)}, types


# --------------------------------------------------------------------------- the script itself


def test_script_is_strict_executable_bash_installing_the_linked_python():
    text = SCRIPT.read_text()
    assert text.startswith("#!/bin/bash\n") and os.access(SCRIPT, os.X_OK)
    assert "set -euo pipefail" in text
    assert re.search(r"sudo dnf install -y -q python3\.11 libgomp", text)
    assert NODE_PYTHON in text  # the path the venv-pack archive's bin/python3.11 points to
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)


@pytest.fixture()
def fake_node(tmp_path):
    """PATH with fake sudo/dnf/uname/sleep; dnf records its arguments; an AL2023 os-release."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "dnf.log"
    scripts = {
        "sudo": '#!/bin/bash\nexec "$@"\n',
        "dnf": f'#!/bin/bash\necho "$*" >> {log}\nexit "${{FAKE_DNF_RC:-0}}"\n',
        "uname": '#!/bin/bash\necho "${FAKE_ARCH:-x86_64}"\n',
        "sleep": "#!/bin/bash\nexit 0\n",
    }
    for name, body in scripts.items():
        (bin_dir / name).write_text(body)
        (bin_dir / name).chmod(0o755)
    release = tmp_path / "os-release"
    release.write_text('NAME="Amazon Linux"\nVERSION_ID="2023"\nID="amzn"\nPRETTY_NAME="Amazon Linux 2023"\n')

    def run(*args: str, **env: str) -> tuple[subprocess.CompletedProcess, list[str]]:
        full_env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "RANKLAKE_OS_RELEASE": str(release), **env}
        res = subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                             env=full_env, timeout=60)
        calls = log.read_text().splitlines() if log.exists() else []
        return res, calls

    return run, release


@pytest.mark.skipif(not Path(NODE_PYTHON).exists(), reason=f"needs {NODE_PYTHON} (the script checks it)")
def test_script_installs_and_checks_python311(fake_node):
    run, _ = fake_node
    res, calls = run("x86_64")
    assert res.returncode == 0, res.stderr
    assert calls == ["install -y -q python3.11 libgomp"]
    assert "Python 3.11" in res.stdout and NODE_PYTHON in res.stdout


def test_script_refuses_a_node_of_another_architecture(fake_node):
    run, _ = fake_node
    res, calls = run("x86_64", FAKE_ARCH="aarch64")
    assert res.returncode == 1 and calls == []
    assert "node is aarch64 but the env archive is built for x86_64" in res.stderr


def test_script_refuses_anything_but_amazon_linux_2023(fake_node):
    run, release = fake_node
    release.write_text('ID="amzn"\nVERSION_ID="2"\nPRETTY_NAME="Amazon Linux 2"\n')  # EMR 6.x
    res, calls = run("x86_64")
    assert res.returncode == 1 and calls == []
    assert "expected Amazon Linux 2023" in res.stderr


def test_script_retries_dnf_then_fails_the_bootstrap(fake_node):
    run, _ = fake_node
    res, calls = run("x86_64", FAKE_DNF_RC="1")
    assert res.returncode == 1
    assert calls == ["install -y -q python3.11 libgomp"] * 3
    assert "failed 3 times" in res.stderr
