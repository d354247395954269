"""Redis down or frozen -> fast 503s and an unhealthy /health; nothing published -> 503;
readers during flips never see two versions; uvicorn in a subprocess; no Spark in serving."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date

import httpx
import pytest
import redis
from fastapi.testclient import TestClient

from jobs.serving import versions
from jobs.serving.app import create_app
from jobs.serving.lookup import LookupClient, NoListVersion
from jobs.serving.redis_conn import RedisParams
from tests.serving.conftest import free_port, serving_cfg
from tests.serving.data import catalog_for, dataset
from tests.serving.loader import load_version

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _timed(c: TestClient, path: str, **params) -> tuple[httpx.Response, float]:
    t0 = time.monotonic()
    r = c.get(path, params=params)
    return r, time.monotonic() - t0


def test_redis_down_and_frozen_give_fast_503(own_redis):
    load_version(RedisParams(own_redis.url), date(2031, 5, 2), dataset("a"), catalog_for(["a"]))
    with TestClient(create_app(serving_cfg(own_redis.url))) as c:
        assert c.get("/v1/recommend", params={"user_id": "u1"}).status_code == 200
        # frozen server (accepts nothing, answers nothing): the 0.3 s socket timeout cuts it
        os.kill(own_redis.proc.pid, signal.SIGSTOP)
        try:
            r, took = _timed(c, "/v1/recommend", user_id="u1")
            assert r.status_code == 503 and r.json()["error"]["code"] == "redis_unavailable"
            assert took < 1.0
            h, took = _timed(c, "/health")
            assert h.status_code == 503 and h.json()["status"] == "unhealthy" and took < 1.0
        finally:
            os.kill(own_redis.proc.pid, signal.SIGCONT)
        assert c.get("/v1/recommend", params={"user_id": "u1"}).status_code == 200
        own_redis.stop()  # gone for good
        for path, params in (("/v1/recommend", {"user_id": "u1"}), ("/v1/rank", {"query": "x"}),
                             ("/v1/similar", {"item_id": "a00"})):
            r, took = _timed(c, path, **params)
            assert (r.status_code, r.json()["error"]["code"]) == (503, "redis_unavailable") and took < 1.0
        h, took = _timed(c, "/health")
        assert (h.status_code, h.json()["redis"], h.json()["status"]) == (503, "down", "unhealthy")
        assert took < 1.0
        assert 'ranklake_errors_total{code="redis_unavailable",endpoint="/v1/rank"} 1.0' in c.get(
            "/metrics").text


def test_nothing_published_is_503(redis_url):
    with TestClient(create_app(serving_cfg(redis_url))) as c:
        r = c.get("/v1/recommend", params={"user_id": "u1"})
        assert (r.status_code, r.json()["error"]["code"]) == (503, "no_lists")
        h = c.get("/health")
        assert h.status_code == 503 and h.json()["reason"] == "no list version published"
    with pytest.raises(NoListVersion):
        LookupClient(RedisParams(redis_url)).recommend("u1")


def test_readers_never_see_two_versions_during_flips(redis_url):
    params = RedisParams(redis_url, socket_timeout_s=2)
    catalog = catalog_for("abcdef")
    load_version(params, date(2031, 6, 1), dataset("a"), catalog, keep=2)
    seen: list[tuple[str, str]] = []
    bad: list[object] = []
    stop = threading.Event()

    def reader() -> None:
        client = LookupClient(params)
        while not stop.is_set():
            try:
                for user in ("u0", "u3", "u5"):
                    res = client.recommend(user, k=10)
                    prefixes = {i.item_id[0] for i in res.items}
                    if res.source != "personalized" or len(res.items) != 10 or len(prefixes) != 1:
                        bad.append(res)
                    seen.append((res.list_version, prefixes.pop()))
            except Exception as exc:  # any error is a failure
                bad.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    written = {}
    for day, prefix in zip(range(2, 7), "bcdef"):
        v = load_version(params, date(2031, 6, day), dataset(prefix), catalog, keep=2)
        written[v] = prefix
        versions.cleanup(redis.Redis.from_url(redis_url))  # unlink old versions while reading
    stop.set()
    for t in threads:
        t.join()
    assert not bad, bad[:3]
    assert len(seen) > 20
    # every response's items come from the version it names
    for version, prefix in seen:
        assert version not in written or written[version] == prefix


def test_uvicorn_subprocess_serves(published):
    cfg, params, version = published
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobs.serving.app", "--env", "test", "--port", str(port),
         "--conf", f"redis.url={params.url}"], cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "uvicorn did not come up"
            time.sleep(0.2)
        r = httpx.get(base + "/v1/recommend", params={"user_id": "u2", "k": 2})
        assert r.json() == {"items": [{"item_id": "a02", "score": 1.0, "rank": 1},
                                      {"item_id": "a04", "score": 0.95, "rank": 2}],
                            "list_version": version, "model_version": "m1", "source": "personalized"}
        assert httpx.get(base + "/docs").status_code == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)


def test_serving_imports_no_spark():
    code = ("import sys, jobs.serving.app, jobs.serving.smoke, jobs.serving.lookup, "
            "jobs.serving.redis_conn, jobs.serving.writer, jobs.serving.versions;"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('pyspark', 'py4j')];"
            "sys.exit(1 if bad else 0)")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
