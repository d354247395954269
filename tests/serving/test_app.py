"""Every endpoint of the lookup service through fastapi's TestClient against the real app and a
real Redis: lists, fallback chain, serve-time filter, validation, auth, health, metrics."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from jobs.serving.app import create_app
from tests.serving.conftest import serving_cfg


@pytest.fixture(scope="module")
def api(published):
    cfg, _, version = published
    with TestClient(create_app(cfg)) as c:
        yield c, version


def items(resp) -> list[tuple[str, float, int]]:
    return [(i["item_id"], i["score"], i["rank"]) for i in resp.json()["items"]]


def test_recommend_filters_out_of_stock_and_refills(api):
    c, version = api
    r = c.get("/v1/recommend", params={"user_id": "u1", "k": 3})
    assert r.status_code == 200
    # u1's list: a01 1.0, a02 0.95, a03 0.95 (tie, out of stock), a04 0.85 ...: a03 removed,
    # a04 moves up, ranks are re-numbered
    assert r.json() == {"items": [{"item_id": "a01", "score": 1.0, "rank": 1},
                                  {"item_id": "a02", "score": 0.95, "rank": 2},
                                  {"item_id": "a04", "score": 0.85, "rank": 3}],
                        "list_version": version, "model_version": "m1", "source": "personalized"}


def test_exclude_and_list_running_short(api):
    c, _ = api
    r = c.get("/v1/recommend", params={"user_id": "u1", "k": 3, "exclude": "a01, a02,,"})
    assert [i[0] for i in items(r)] == ["a04", "a05", "a06"]
    full = c.get("/v1/recommend", params={"user_id": "u1", "k": 12})
    assert [i[0] for i in items(full)] == [f"a{j:02d}" for j in range(1, 13) if j != 3]


def test_unknown_user_gets_global_fallback(api):
    c, _ = api
    r = c.get("/v1/recommend", params={"user_id": "nobody", "k": 2})
    assert r.json()["source"] == "fallback"
    assert items(r) == [("a00", 1.0, 1), ("a01", 0.95, 2)]


@pytest.mark.parametrize(("query", "source", "first"), [
    ("  Red  SHOES!! ", "query", "a01"),  # normalised exactly like the batch side
    ("shoes red", "query", "a01"),  # a query variant (sorted tokens)
    ("Blue-Jeans", "query", "a02"),
    ("cheap sneakers", "fallback", "a04"),  # a token is a category leaf -> that category's list
    ("zzz", "fallback", "a00"),  # global
])
def test_rank_chain(api, query, source, first):
    c, _ = api
    r = c.get("/v1/rank", params={"query": query, "k": 1})
    body = r.json()
    assert r.status_code == 200, body
    assert (body["source"], body["items"][0]["item_id"]) == (source, first)


def test_similar_and_category_fallback(api):
    c, _ = api
    assert items(c.get("/v1/similar", params={"item_id": "a00", "k": 2})) == [
        ("a01", 1.0, 1), ("a02", 0.95, 2)]
    # a05 has no list of its own; its category (fashion/shoes/sneakers) has one: a03.. minus a03
    r = c.get("/v1/similar", params={"item_id": "a05", "k": 2})
    assert r.json()["source"] == "fallback" and [i[0] for i in items(r)] == ["a04", "a05"]
    # an item without a category and without a list: global
    r = c.get("/v1/similar", params={"item_id": "nocat", "k": 1})
    assert r.json()["source"] == "fallback" and items(r)[0][0] == "a00"


@pytest.mark.parametrize(("path", "params", "needle"), [
    ("/v1/recommend", {"user_id": "u1", "k": 0}, "k: Input should be greater than or equal to 1"),
    ("/v1/recommend", {"user_id": "u1", "k": 51}, "k: Input should be less than or equal to 50"),
    ("/v1/recommend", {"user_id": "u1", "k": 13}, "k: must be between 1 and 12"),
    ("/v1/recommend", {"user_id": "u1", "k": "ten"}, "k: Input should be a valid integer"),
    ("/v1/recommend", {"k": 3}, "user_id: Field required"),
    ("/v1/recommend", {"user_id": "x" * 129}, "user_id: String should have at most 128"),
    ("/v1/recommend", {"user_id": "a\x01b"}, "user_id: String should match pattern"),
    ("/v1/recommend", {"user_id": "u1", "exclude": ",".join(["x"] * 101)}, "at most 100 ids"),
    ("/v1/rank", {"query": "q" * 201}, "query: String should have at most 200"),
    ("/v1/rank", {"query": "?!  "}, "query: has no letters or digits"),
    ("/v1/similar", {"item_id": ""}, "item_id: String should have at least 1"),
])
def test_bad_inputs_are_clear_422s(api, path, params, needle):
    c, _ = api
    r = c.get(path, params=params)
    assert r.status_code == 422
    body = r.json()
    assert body["error"]["code"] == "invalid_request" and needle in body["error"]["message"], body


def test_health_and_docs(api, published):
    c, version = api
    r = c.get("/health")
    body = r.json()
    assert r.status_code == 200 and body["status"] == "ok" and body["redis"] == "ok"
    assert (body["list_version"], body["run_date"], body["model_version"]) == (version, "2031-05-01", "m1")
    assert 0 <= body["list_age_s"] < 600
    assert body["lists"] == {"user": 6, "query": 2, "item": 2, "fallback": 2}
    assert c.get("/docs").status_code == 200
    paths = c.get("/openapi.json").json()["paths"]
    assert {"/v1/recommend", "/v1/rank", "/v1/similar", "/health", "/metrics"} <= set(paths)


def test_metrics_count_requests_fallbacks_errors(published):
    cfg, _, _ = published
    with TestClient(create_app(cfg)) as c:
        c.get("/v1/recommend", params={"user_id": "u1"})
        c.get("/v1/recommend", params={"user_id": "u1", "k": 2})
        c.get("/v1/recommend", params={"user_id": "ghost"})
        c.get("/v1/rank", params={"query": "!!"})
        text = c.get("/metrics").text
    assert 'ranklake_requests_total{endpoint="/v1/recommend",status="200"} 3.0' in text
    assert 'ranklake_requests_total{endpoint="/v1/rank",status="422"} 1.0' in text
    assert 'ranklake_fallbacks_total{endpoint="recommend",matched="f"} 1.0' in text
    assert 'ranklake_errors_total{code="invalid_request",endpoint="/v1/rank"} 1.0' in text
    assert 'ranklake_filtered_items_total{endpoint="recommend"} 2.0' in text
    assert 'ranklake_request_latency_seconds_count{endpoint="/v1/recommend"} 3.0' in text
    assert 'ranklake_request_latency_seconds_bucket{endpoint="/v1/recommend",le="0.003"}' in text


def test_api_key(published, monkeypatch):
    monkeypatch.setenv("RANKLAKE_API_KEY", "s3cret")
    cfg = serving_cfg(published[0].redis.url)
    assert cfg.serving.api_key == "s3cret"
    with TestClient(create_app(cfg)) as c:
        for headers in ({}, {"X-API-Key": "wrong"}):
            r = c.get("/v1/recommend", params={"user_id": "u1"}, headers=headers)
            assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        assert c.get("/v1/recommend", params={"user_id": "u1"},
                     headers={"X-API-Key": "s3cret"}).status_code == 200
        assert c.get("/health").status_code == 200  # probes stay open
