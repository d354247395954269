"""Spark's Python worker daemon, started without Spark's zip archives on ``sys.path``.

Spark puts ``pyspark.zip``, ``py4j-*-src.zip`` and the ``spark-core`` jar on the workers'
PYTHONPATH, and every Python task starts with ``importlib.invalidate_caches()``. On Python
3.10 and 3.11 that call re-reads the central directory of every zip archive that has an importer
(python/cpython#103200; Spark itself only stopped calling it unconditionally in SPARK-54744, after
3.5). The spark-core jar alone lists some 10,000 entries, so every task paid 0.1-0.25 s of this
box's CPU before running a line of ours (measured: a trivial two-task job took 0.30-0.45 s, a Delta
writer task or a Redis writer task the same on top of its work).

When this module is Spark's daemon (``spark.python.daemon.module``, set by ``get_spark`` for
local masters only) it drops those archives from ``sys.path`` before importing pyspark, but only
if the same pyspark is importable without them (the pip install of the jobs venv, whose jars the
local JVM runs). Otherwise nothing changes. The forked workers inherit the trimmed path, so their
per-task cache invalidation only resets directory finders. Everything else is Spark's own daemon.

It also keeps the worker from waiting 40 ms for each task. The JVM writes a task to the worker in
more than one segment on a socket with Nagle's algorithm on, so a later segment leaves only when
the worker has acknowledged the earlier one; a reused worker's socket is in delayed-ACK mode and
the worker sends nothing until its task is done, so that acknowledgement came from the kernel's
delayed-ACK timer (40 ms) before the task could start. Measured here: a trivial two-task job took
0.12-0.14 s, its function starting 0.09-0.10 s after the job was submitted; with ``TCP_QUICKACK``
re-armed before each of the worker's protocol reads (and ``TCP_NODELAY`` on its own writes) the
job takes 0.07-0.09 s and the function starts after 0.04 s. Data reads are untouched; a socket
without these options (not TCP, not Linux) is left as it is.

Not used on EMR/YARN (``spark.master`` null): there the workers import pyspark from the zips that
YARN ships, and this package may itself only arrive as a ``--py-files`` zip after the daemon starts.
"""
from __future__ import annotations

import importlib
import importlib.machinery
import os
import re
import socket
import sys
import zipfile
from typing import Any, Callable


def _is_spark_archive(entry: str) -> bool:
    name = os.path.basename(entry)
    return (name == "pyspark.zip" or (name.startswith("py4j-") and name.endswith("-src.zip"))
            or name.endswith(".jar"))


def spark_archives(path: list[str]) -> list[str]:
    """The entries of ``path`` that are Spark's own archives (pyspark.zip, py4j-*-src.zip, jars)
    and exist. Other zips (a user's dependencies on PYTHONPATH) are not touched."""
    return [p for p in path if _is_spark_archive(p) and os.path.isfile(p)]


_VERSION = re.compile(r"""__version__(?:: str)? = ["']([^"']+)["']""")


def _version_in(text: str) -> str | None:
    m = _VERSION.search(text)
    return m.group(1) if m else None


def zip_pyspark_version(archives: list[str]) -> str | None:
    """The pyspark version inside Spark's ``pyspark.zip`` (None when there is none)."""
    for a in archives:
        if os.path.basename(a) == "pyspark.zip":
            try:
                with zipfile.ZipFile(a) as z:
                    return _version_in(z.read("pyspark/version.py").decode())
            except (OSError, KeyError, zipfile.BadZipFile, UnicodeDecodeError):
                return None
    return None


def trimmed_path(path: list[str]) -> list[str]:
    """``path`` without Spark's archives, if pyspark (of the same version as the archive's) and
    py4j are importable from what is left; otherwise ``path`` unchanged."""
    archives = spark_archives(path)
    if not archives:
        return path
    keep = [p for p in path if p not in set(archives)]
    # PathFinder searches exactly ``keep`` (not sys.modules, not sys.path)
    specs = {m: importlib.machinery.PathFinder.find_spec(m, keep) for m in ("pyspark", "py4j")}
    if any(s is None or not s.origin for s in specs.values()):
        return path
    version_py = os.path.join(os.path.dirname(specs["pyspark"].origin), "version.py")
    try:
        with open(version_py, encoding="utf-8") as fh:
            installed = _version_in(fh.read())
    except OSError:
        return path
    if installed is None or installed != zip_pyspark_version(archives):
        return path
    return keep


def drop_importers(archives: set[str]) -> None:
    """Forget the importers made for ``archives`` (and for directories inside them): the
    interpreter created them at start-up from PYTHONPATH, and ``importlib.invalidate_caches``
    walks ``sys.path_importer_cache``, not ``sys.path``."""
    for key in list(sys.path_importer_cache):
        if any(key == a or key.startswith(a + os.sep) for a in archives):
            del sys.path_importer_cache[key]


QUICKACK = getattr(socket, "TCP_QUICKACK", None)  # Linux only


def quickack_main(worker_main: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """``pyspark.worker.main`` with ``TCP_NODELAY`` on the task's socket and ``TCP_QUICKACK``
    re-armed before each of ``pyspark.worker``'s own protocol reads (the kernel clears it by
    itself, so once per task is not enough). ``pyspark.worker.read_int`` is swapped for the task
    and restored after it; the forked worker runs one task at a time."""
    from pyspark import serializers
    from pyspark import worker as w

    plain = serializers.read_int

    def main(infile: Any, outfile: Any) -> Any:
        try:
            sock = socket.socket(fileno=os.dup(infile.fileno()))
        except OSError:
            return worker_main(infile, outfile)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if QUICKACK is not None:
                sock.setsockopt(socket.IPPROTO_TCP, QUICKACK, 1)
        except OSError:  # not a TCP socket
            sock.close()
            return worker_main(infile, outfile)

        def read_int(stream: Any) -> int:
            if QUICKACK is not None:
                try:
                    sock.setsockopt(socket.IPPROTO_TCP, QUICKACK, 1)
                except OSError:
                    pass
            return plain(stream)

        read_int.quickack = True  # type: ignore[attr-defined]
        w.read_int = read_int
        try:
            return worker_main(infile, outfile)
        finally:
            w.read_int = plain
            sock.close()

    return main


def main() -> None:
    try:
        keep = trimmed_path(sys.path)
    except Exception:  # noqa: BLE001 - never keep Spark's daemon from starting
        keep = sys.path[:]
    drop_importers(set(sys.path) - set(keep))
    sys.path[:] = keep
    importlib.invalidate_caches()
    from pyspark import daemon

    daemon.worker_main = quickack_main(daemon.worker_main)
    daemon.manager()


if __name__ == "__main__":
    main()
