"""The suite's one Spark session, and what happens when its JVM dies.

Every pytest worker shares one local Spark session for the whole run. When its driver JVM dies
(killed by the kernel's OOM killer, a signal, a crash), every later Spark call of that worker
fails with py4j's ``ConnectionRefusedError`` and one lost JVM turns into dozens of failures that
say nothing about why. So:

* the ``spark`` fixture is a :class:`LiveSpark`, which forwards to the current session;
* before each test the JVM is checked (one ``poll()``); a dead one is reported (how it ended, the
  kernel's OOM lines, a JVM crash file, the limits) and replaced by a fresh session, so the tests
  that come after it run on a live JVM;
* a JVM that dies *during* a test is not hidden: that test's report gets the diagnosis, and the
  test fails through whatever Spark call it could not make.
"""
from __future__ import annotations

import glob
import os
import re
import resource
import signal
import socket
import subprocess
import time
import warnings
from typing import Any, Callable


class SparkJVMDied(UserWarning):
    """The worker's Spark JVM died between tests and was restarted."""


_EXIT_MEANING = {
    0: "the JVM exits 0 when its stdin closes: the Python side dropped the gateway",
    1: "an error at start-up or in the gateway",
    52: "Spark's exit code for an OutOfMemoryError in a task or a Spark thread",
    134: "abort (a JVM crash: see its hs_err file)",
    137: "SIGKILL (kill -9, or the kernel's OOM killer)",
    143: "SIGTERM (its shutdown hooks ran)",
}


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        why = " (kill -9, or the kernel's OOM killer)" if -code == signal.SIGKILL else ""
        return f"killed by {name}{why}"
    return f"exit code {code}" + (f" ({_EXIT_MEANING[code]})" if code in _EXIT_MEANING else "")


def _kernel_lines(pid: int) -> list[str]:
    """The kernel's OOM-killer lines (this pid's, or any): what ``dmesg`` can show us."""
    try:
        out = subprocess.run(["dmesg"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return ["(dmesg not readable)"]
    pat = re.compile(rf"oom-kill|out of memory|killed process|process {pid}\b", re.IGNORECASE)
    return [x for x in out.splitlines() if pat.search(x)][-6:]


def _meminfo() -> str:
    try:
        with open("/proc/meminfo") as fh:
            kv = dict(line.split(":", 1) for line in fh if ":" in line)
        return ", ".join(f"{k} {kv[k].strip()}" for k in ("MemTotal", "MemAvailable") if k in kv)
    except OSError:
        return "?"


def death_report(pid: int, code: int, where: str) -> str:
    lines = [f"the Spark driver JVM (pid {pid}) {describe_exit(code)}; noticed {where}"]
    for f in [*glob.glob(f"hs_err_pid{pid}.log"), *glob.glob(f"/tmp/hs_err_pid{pid}.log")]:
        with open(f, errors="replace") as fh:
            head = [x.rstrip() for x in fh.readlines()[:12] if x.strip()]
        lines += [f"crash file {os.path.abspath(f)}:", *("  " + x for x in head)]
    kern = _kernel_lines(pid)
    if kern:
        lines += ["kernel:", *("  " + x for x in kern)]
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)
    lines.append(f"limits: open files {nofile}, processes {nproc}; memory: {_meminfo()}")
    return "\n".join(lines)


def _forget_pyspark_globals() -> None:
    """pyspark keeps the gateway and the session in class attributes; a dead JVM's must go so that
    the next ``getOrCreate`` launches a new one."""
    from pyspark import SparkContext
    from pyspark.sql import SparkSession
    from pyspark.sql.context import SQLContext

    with SparkContext._lock:
        SparkContext._active_spark_context = None
        SparkContext._gateway = None
        SparkContext._jvm = None
    SparkSession._instantiatedSession = None
    SparkSession._activeSession = None
    SQLContext._instantiatedContext = None


class SparkJVM:
    """Starts the session, tells whether its JVM still runs, replaces it when it does not."""

    def __init__(self, start: Callable[[], Any]) -> None:
        self._start = start
        self.session: Any = None

    def get(self) -> Any:
        if self.session is None:
            self.session = self._start()
        return self.session

    @staticmethod
    def _proc() -> Any:
        from pyspark import SparkContext

        return getattr(SparkContext._gateway, "proc", None)

    def _started_proc(self) -> Any:
        return self._proc() if self.session is not None else None

    def pid(self) -> int | None:
        p = self._started_proc()
        return None if p is None else p.pid

    def exit_code(self) -> int | None:
        """None while the JVM runs (or before it was started); its exit code once it is gone."""
        p = self._started_proc()
        return None if p is None else p.poll()

    def refuses_connections(self) -> str | None:
        """The JVM runs but its py4j gateway no longer accepts connections (say its accept loop
        ended on 'too many open files'): a description with its open files and threads, else None."""
        from pyspark import SparkContext

        gw = SparkContext._gateway
        params = getattr(gw, "java_parameters", None) or getattr(gw, "gateway_parameters", None)
        port = getattr(params, "port", None)
        if not port:
            return None
        try:
            socket.create_connection((getattr(params, "address", "127.0.0.1"), port), timeout=5).close()
            return None
        except OSError as e:
            pid = self.pid()
            fds, threads = (len(os.listdir(f"/proc/{pid}/{d}")) for d in ("fd", "task"))
            return (f"the Spark driver JVM (pid {pid}) runs but its gateway port {port} refuses "
                    f"connections ({e}); it has {fds} open files and {threads} threads")

    def ensure_alive(self, where: str, expected: bool = False) -> str | None:
        """If the JVM is gone (or its gateway is): the diagnosis (also a warning unless
        ``expected``), and a new session."""
        if self.session is None:
            return None
        code = self.exit_code()
        deaf = self.refuses_connections() if code is None else None
        if code is None and deaf is None:
            return None
        pid = self.pid()
        if deaf is not None:
            os.kill(pid, signal.SIGKILL)
            code = self._proc().wait(30)
        report = (deaf + "; killed it\n" if deaf else "") + death_report(pid, code, where)
        if not expected:
            warnings.warn(SparkJVMDied(report + "\na new Spark session was started"), stacklevel=2)
        acc = getattr(self.session.sparkContext, "_accumulatorServer", None)
        if acc is not None:  # the dead context's accumulator server (a thread of ours)
            acc.shutdown()
        _forget_pyspark_globals()
        self.session = None
        t0 = time.monotonic()
        self.get()
        return report + f"\nrestarted in {time.monotonic() - t0:.1f} s"

    def stop(self) -> None:
        if self.session is not None and self.exit_code() is None:
            self.session.stop()


class LiveSpark:
    """The ``spark`` fixture: attribute access goes to the current session of a :class:`SparkJVM`,
    so module fixtures and tests built after a restart use the new JVM."""

    __slots__ = ("_jvm",)

    def __init__(self, jvm: SparkJVM) -> None:
        object.__setattr__(self, "_jvm", jvm)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._jvm.get(), name)

    def __repr__(self) -> str:
        return f"LiveSpark({self._jvm.session!r})"
