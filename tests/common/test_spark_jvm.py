"""tests/sparkjvm.py: a worker whose Spark JVM dies says how it died and goes on with a new one.

The test kills this worker's real driver JVM (kill -9, as the OOM killer would), so it sits alone
in its file: the tests after it, in other files, build their module fixtures on the new JVM."""
from __future__ import annotations

import os
import signal
import time

from tests.sparkjvm import describe_exit


def test_exit_descriptions():
    assert describe_exit(-9).startswith("killed by SIGKILL") and "OOM" in describe_exit(-9)
    assert describe_exit(-15) == "killed by SIGTERM"
    assert "stdin" in describe_exit(0) and "OutOfMemoryError" in describe_exit(52)
    assert describe_exit(7) == "exit code 7"


def test_a_killed_jvm_is_diagnosed_and_replaced(spark, spark_jvm, cfg):
    from jobs.common.spark import get_spark

    df = spark.range(10)
    assert df.count() == 10 and spark_jvm.ensure_alive("now") is None  # alive: nothing to do
    pid = spark_jvm.pid()
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while spark_jvm.exit_code() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert spark_jvm.exit_code() == -signal.SIGKILL

    report = spark_jvm.ensure_alive("in the test", expected=True)
    assert report is not None and f"pid {pid}" in report and "SIGKILL" in report
    assert "limits: open files" in report and "restarted in" in report
    new_pid = spark_jvm.pid()
    assert new_pid not in (None, pid) and spark_jvm.exit_code() is None
    # the fixture object, and a job's own get_spark, both reach the new JVM
    assert spark.range(7).count() == 7
    assert get_spark(cfg).range(3).selectExpr("sum(id) AS s").first().s == 3
    assert spark_jvm.session is get_spark(cfg)


def test_a_jvm_whose_gateway_refuses_connections_is_replaced(spark, spark_jvm, monkeypatch):
    """The process lives but nothing listens where py4j connects (as when the gateway's accept
    loop has ended): reported with the JVM's open files and threads, killed and replaced."""
    import socket

    from pyspark import SparkContext

    assert spark.range(2).count() == 2
    pid = spark_jvm.pid()
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    monkeypatch.setattr(SparkContext._gateway.java_parameters, "port", closed)
    deaf = spark_jvm.refuses_connections()
    assert deaf is not None and f"port {closed} refuses" in deaf
    assert int(deaf.split(" open files")[0].rsplit(" ", 1)[1]) > 10  # the JVM's real fd count

    report = spark_jvm.ensure_alive("in the test", expected=True)
    assert report.startswith(deaf) and "SIGKILL" in report
    assert spark_jvm.pid() not in (None, pid) and spark.range(5).count() == 5
    assert spark_jvm.refuses_connections() is None
