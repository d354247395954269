"""The ranklake command as a user runs it: a real subprocess, real exit codes and messages."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _ranklake(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jobs.main", *args], cwd=REPO, text=True,
                          capture_output=True, timeout=300, env={**os.environ, **(env or {})})


def test_help_lists_every_stage_and_run():
    out = _ranklake("--help")
    assert out.returncode == 0
    for cmd in ("generate", "import", "validate", "features", "train", "topk", "publish", "serve",
                "registry", "maintain", "run"):
        assert f"\n  {cmd} " in out.stdout


def test_config_error_is_one_line_without_traceback():
    out = _ranklake("maintain", "--env", "test", "--conf", "topk.kk=3")
    assert out.returncode == 2
    assert out.stderr.strip() == "ranklake maintain: error: unknown config key 'topk.kk'"


def test_bad_run_date_and_unknown_command():
    out = _ranklake("run", "--env", "test", "--run-date", "2026-13-01")
    assert out.returncode == 2 and "run date must be YYYY-MM-DD, got '2026-13-01'" in out.stderr
    out = _ranklake("frobnicate")
    assert out.returncode == 2 and "unknown command 'frobnicate'" in out.stderr
    assert "Traceback" not in out.stderr


def test_user_error_writes_a_failed_run_record(tmp_path):
    home = tmp_path / "lake"
    out = _ranklake("maintain", "--env", "test", "--table", "no_such_table",
                    env={"RANKLAKE_HOME": str(home)})
    assert out.returncode == 2
    assert "error: unknown table(s) ['no_such_table']" in out.stderr and "Traceback" not in out.stderr
    rec = json.loads((home / "_artifacts" / "runs" / "adhoc" / "maintain.json").read_text())
    assert rec["status"] == "failed" and "no_such_table" in rec["error"]
    assert rec["job"] == "maintain" and rec["env"] == "test"
