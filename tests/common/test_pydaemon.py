"""jobs.common.pydaemon: Spark's Python daemon without Spark's archives on the workers' path.

The unit tests build fake archives; the Spark test asks real local[2] workers what they import
from and what their per-task ``importlib.invalidate_caches()`` has to walk."""
from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pyspark
import pytest

from jobs.common import pydaemon
from jobs.common.spark import DAEMON_MODULE, local_python_conf


def _archive(path: Path, version: str | None) -> str:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("pyspark/__init__.py", "")
        if version is not None:
            z.writestr("pyspark/version.py", f"__version__: str = '{version}'\n")
    return str(path)


def test_same_pyspark_outside_the_archives_drops_them(tmp_path):
    zp = _archive(tmp_path / "pyspark.zip", pyspark.__version__)
    jar = _archive(tmp_path / "spark-core_2.12-x.jar", None)
    path = [zp, jar, *sys.path]
    assert pydaemon.trimmed_path(path) == sys.path


def test_other_pyspark_version_keeps_the_path(tmp_path):
    zp = _archive(tmp_path / "pyspark.zip", "0.0.1")
    path = [zp, *sys.path]
    assert pydaemon.trimmed_path(path) == path


def test_no_pyspark_outside_the_archives_keeps_the_path(tmp_path):
    zp = _archive(tmp_path / "pyspark.zip", pyspark.__version__)
    path = [zp, str(tmp_path / "empty")]  # nothing else to import pyspark from
    assert pydaemon.trimmed_path(path) == path


def test_without_archives_nothing_changes(tmp_path):
    path = [str(tmp_path), "/no/such.zip", *sys.path]  # a missing zip is not an archive
    assert pydaemon.trimmed_path(path) == path


def test_drop_importers_forgets_archive_importers_only(tmp_path):
    zp = str(tmp_path / "pyspark.zip")
    keys = {zp: object(), zp + "/pyspark": object(), zp + "x": object()}
    sys.path_importer_cache.update(keys)
    try:
        pydaemon.drop_importers({zp})
        assert zp not in sys.path_importer_cache
        assert zp + "/pyspark" not in sys.path_importer_cache
        assert zp + "x" in sys.path_importer_cache  # another file that only shares a prefix
    finally:
        for k in keys:
            sys.path_importer_cache.pop(k, None)


def test_only_local_masters_use_it():
    assert local_python_conf(None) == {}
    assert local_python_conf("yarn") == {}
    assert local_python_conf("local[2]") == {"spark.python.daemon.module": DAEMON_MODULE}


def _worker_view(it):
    import os
    import sys
    import zipimport

    import pyspark

    list(it)
    yield {"pid": os.getpid(), "archives": [p for p in sys.path if p.endswith((".zip", ".jar"))
                                            and os.path.isfile(p)],
           "zip_importers": [k for k, v in sys.path_importer_cache.items()
                             if isinstance(v, zipimport.zipimporter)],
           "pyspark": pyspark.__file__, "version": pyspark.__version__}


@pytest.mark.timeout(300)
def test_spark_workers_import_pyspark_from_the_install(spark):
    assert spark.sparkContext.getConf().get("spark.python.daemon.module") == DAEMON_MODULE
    views = spark.sparkContext.parallelize(range(4), 4).mapPartitions(_worker_view).collect()
    assert len(views) == 4
    for v in views:
        # Spark put pyspark.zip, py4j-*.zip and the spark-core jar on PYTHONPATH; none is left,
        # so the per-task invalidate_caches() re-reads no archive directory
        assert v["archives"] == [], v
        assert v["zip_importers"] == [], v
        assert ".zip" not in v["pyspark"] and v["version"] == pyspark.__version__


def test_unreadable_archive_keeps_the_path(tmp_path):
    bad = tmp_path / "pyspark.zip"
    bad.write_bytes(b"not a zip")
    path = [str(bad), *sys.path]
    assert pydaemon.trimmed_path(path) == path


def test_environment_switch_restores_sparks_daemon(monkeypatch):
    monkeypatch.setenv("RANKLAKE_PYSPARK_DAEMON", "spark")
    assert local_python_conf("local[2]") == {}


def test_other_zips_on_the_path_stay(tmp_path):
    zp = _archive(tmp_path / "pyspark.zip", pyspark.__version__)
    deps = str(tmp_path / "deps.zip")  # a user's dependencies, not Spark's
    with zipfile.ZipFile(deps, "w") as z:
        z.writestr("mydeps/__init__.py", "")
    path = [zp, deps, *sys.path]
    assert pydaemon.trimmed_path(path) == [deps, *sys.path]


def _socket_view(it):
    import os
    import socket

    from pyspark import worker

    list(it)
    nodelay = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            s = socket.socket(fileno=os.dup(int(fd)))
        except OSError:
            continue
        try:
            if s.type == socket.SOCK_STREAM and s.family in (socket.AF_INET, socket.AF_INET6):
                nodelay.append(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        finally:
            s.close()
    yield {"quickack_reads": getattr(worker.read_int, "quickack", False), "nodelay": nodelay}


@pytest.mark.timeout(300)
def test_spark_workers_ack_the_jvm_at_once(spark):
    views = spark.sparkContext.parallelize(range(2), 2).mapPartitions(_socket_view).collect()
    assert len(views) == 2
    for v in views:
        # inside a task, pyspark.worker's protocol reads re-arm TCP_QUICKACK and the socket to
        # the JVM (the worker's only TCP socket) does not wait for Nagle
        assert v["quickack_reads"] is True, v
        assert v["nodelay"] and all(v["nodelay"]), v


class _Stream:
    def __init__(self, data: bytes) -> None:
        import io

        self.buf = io.BytesIO(data)

    def read(self, n: int) -> bytes:
        return self.buf.read(n)


def test_quickack_main_swaps_read_int_for_the_task_only():
    import socket
    import struct

    from pyspark import worker

    plain = worker.read_int
    seen = {}
    srv = socket.create_server(("127.0.0.1", 0))
    cli = socket.create_connection(srv.getsockname())
    conn, _ = srv.accept()
    try:
        infile = conn.makefile("rb")

        def fake_main(inf, outf):
            seen["value"] = worker.read_int(_Stream(struct.pack("!i", 42)))
            seen["swapped"] = worker.read_int is not plain
            seen["nodelay"] = conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            return "done"

        assert pydaemon.quickack_main(fake_main)(infile, None) == "done"
        assert seen == {"value": 42, "swapped": True, "nodelay": 1}
        assert worker.read_int is plain  # restored after the task
        conn.send(b"x")  # the task's socket itself is still open
        assert cli.recv(1) == b"x"
    finally:
        for s in (cli, conn, srv):
            s.close()


def test_quickack_main_leaves_non_tcp_sockets_alone(tmp_path):
    import socket

    from pyspark import worker

    a, b = socket.socketpair()  # AF_UNIX: no TCP options
    try:
        seen = {}

        def fake_main(inf, outf):
            seen["plain"] = worker.read_int is plain
            return 7

        plain = worker.read_int
        assert pydaemon.quickack_main(fake_main)(a.makefile("rb"), None) == 7
        assert seen == {"plain": True}
    finally:
        a.close()
        b.close()
