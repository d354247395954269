"""The lookup fast path (jobs.serving.app.LookupApp): byte-identical answers to FastAPI's own
routes for valid and invalid requests, FastAPI is skipped only for plainly valid ones, and async
readers on the pipelined connection never see two versions while versions flip."""
from __future__ import annotations

import asyncio
import itertools
import threading
from datetime import date

import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient

from jobs.serving import versions
from jobs.serving.app import create_app
from jobs.serving.lookup import AsyncLookupClient
from jobs.serving.redis_conn import RedisParams
from tests.serving.conftest import serving_cfg
from tests.serving.data import catalog_for, dataset
from tests.serving.loader import load_version

IDS = ["u1", "u3", "nobody", "", "x" * 128, "x" * 129, "a%01b", "a%7Fb", "%C3%A9t%C3%A9", "%FF",
       "a+b", "%00", "%E2%80%8B"]
KS = [None, "", "1", "3", "12", "13", "50", "51", "0", "010", "+5", " 5", "5.0", "1_0", "ten", "%33"]
EXCLUDES = [None, "", "a01", "a01,a02", " a01 , ,a04", ",".join(["x"] * 101), "x" * 129]
OTHER = ["/v1/recommend", "/v1/recommend?", "/v1/recommend?k=3", "/v1/recommend?user_id",
         "/v1/recommend?user_id=u1&user_id=u2", "/v1/recommend?user_id=u1&k=3&k=4",
         "/v1/recommend?user_id=u1&exclude=a01&exclude=a02", "/v1/recommend?user_id=u1&foo=bar",
         "/v1/recommend?user_id=u1;k=3", "/v1/recommend/?user_id=u1", "/v1/RECOMMEND?user_id=u1",
         "/v1/rank?query=red+shoes&query=blue", "/v1/rank?query=", "/v1/rank?query=%3F%21",
         "/v1/rank?query=" + "q" * 200, "/v1/rank?query=" + "q" * 201, "/v1/rank?query=Blue-Jeans&k=2",
         "/v1/rank?query=cheap%20sneakers&k=3&exclude=a04", "/v1/similar?item_id=a05&k=2",
         "/v1/similar?item_id=nocat", "/v1/similar?item_id=a00&k=13", "/nope"]


def urls() -> list[str]:
    out = []
    combos = [*itertools.product(IDS, KS, [None]), *itertools.product(["u1", "nobody"], KS[:6], EXCLUDES)]
    for i, k, x in combos:
        q = [f"user_id={i}"] + ([f"k={k}"] if k is not None else []) + (
            [f"exclude={x}"] if x is not None else [])
        out.append("/v1/recommend?" + "&".join(q))
    out += [f"/v1/similar?item_id={i}&k={k}" for i, k in itertools.product(["a00", "a05", ""], KS[:8])]
    return out + OTHER


def answers(app, paths, headers=None):
    with TestClient(app) as c:
        got = [(p, (r := c.get(p, headers=headers or {})).status_code, r.headers.get("content-type"),
                r.content) for p in paths]
        text = c.get("/metrics").text
    counts = sorted(line for line in text.splitlines()
                    if line.startswith("ranklake_") and "_created" not in line and "_sum" not in line
                    and "_bucket" not in line and "age_seconds" not in line)
    return got, counts


@pytest.mark.parametrize("api_key", [None, "s3cret"])
def test_fast_path_answers_exactly_like_fastapi(published, monkeypatch, api_key):
    if api_key:
        monkeypatch.setenv("RANKLAKE_API_KEY", api_key)
    cfg = serving_cfg(published[0].redis.url)
    paths = urls() if not api_key else urls()[::3]
    for headers in ([None] if not api_key else [None, {"X-API-Key": api_key}, {"X-API-Key": "no"}]):
        slow = create_app(cfg)
        slow.fast_path = False
        fast_got, fast_counts = answers(create_app(cfg), paths, headers)
        slow_got, slow_counts = answers(slow, paths, headers)
        diff = [(a, b) for a, b in zip(fast_got, slow_got) if a != b]
        assert not diff, diff[:3]
        assert fast_counts == slow_counts
    assert {s for _, s, _, _ in fast_got} >= ({200, 404, 422} if not api_key else {401, 422})


def test_only_plainly_valid_requests_skip_fastapi(published, monkeypatch):
    calls: list[str] = []
    real = FastAPI.__call__

    async def counting(self, scope, receive, send):
        if scope["type"] == "http":
            calls.append(scope["path"])
        await real(self, scope, receive, send)

    monkeypatch.setattr(FastAPI, "__call__", counting)
    with TestClient(create_app(published[0])) as c:
        assert c.get("/v1/recommend", params={"user_id": "u1", "k": 3}).status_code == 200
        assert c.get("/v1/rank", params={"query": "red shoes"}).status_code == 200
        assert c.get("/v1/similar", params={"item_id": "a00", "exclude": "a01"}).status_code == 200
        assert c.get("/v1/recommend", params={"user_id": "u1", "k": 13}).status_code == 422  # stored K
        assert calls == []
        assert c.get("/v1/recommend", params={"user_id": "u1", "k": 0}).status_code == 422
        assert c.get("/health").status_code == 200
        assert c.head("/v1/recommend", params={"user_id": "u1"}).status_code == 405
        assert calls == ["/v1/recommend", "/health", "/v1/recommend"]


def test_async_readers_never_see_two_versions_during_flips(redis_url):
    """Many concurrent lookups share one pipelined connection while versions flip and old ones
    are unlinked: every answer's items come from the version it names."""
    params = RedisParams(redis_url, socket_timeout_s=2)
    catalog = catalog_for("abcdef")
    load_version(params, date(2031, 7, 1), dataset("a"), catalog, keep=2)
    seen: list[tuple[str, set[str]]] = []
    bad: list[object] = []
    stop = threading.Event()

    async def readers() -> None:
        client = AsyncLookupClient(params)
        assert client.fast is not None

        async def reader(i: int) -> None:
            users = ("u0", "u3", "u5")
            while not stop.is_set():
                try:
                    res = await client.lookup("recommend", users[i % 3], 10)
                    prefixes = {it.item_id[0] for it in res.items}
                    if res.source != "personalized" or len(res.items) != 10 or len(prefixes) != 1:
                        bad.append(res)
                    seen.append((res.list_version, prefixes))
                except Exception as exc:  # any error is a failure
                    bad.append(exc)
                i += 1

        await asyncio.gather(*(reader(i) for i in range(24)))
        await client.close()

    t = threading.Thread(target=asyncio.run, args=(readers(),))
    t.start()
    written = {}
    try:
        for day, prefix in zip(range(2, 7), "bcdef"):
            v = load_version(params, date(2031, 7, day), dataset(prefix), catalog, keep=2)
            written[v] = prefix
            versions.cleanup(redis.Redis.from_url(redis_url))
    finally:
        stop.set()
        t.join(30)
    assert not bad, bad[:3]
    assert len(seen) > 50 and len({v for v, _ in seen}) > 1
    for version, prefixes in seen:
        assert version not in written or prefixes == {written[version]}
