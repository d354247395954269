"""Smoke-check the running lookup service against what Redis holds for run date D.

Reads Redis (the current pointer, a SCAN sample of each list type of that version) and calls the
HTTP service (``--url``, default ``http://<serving.host>:<serving.port>``; ``--in-process`` runs
the app in this process instead). Fails (exit 3) unless /health is ok, the served version is the
one published for D, and every sampled entity gets its own list from that version with only
in-stock items, in the stored order. No Spark.

    ranklake smoke --env local --run-date 2026-11-20 [--url http://127.0.0.1:8080] [--sample 20]
"""
from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any

from jobs.common.errors import CheckFailed
from jobs.serving import codec, versions
from jobs.serving import keys as K
from jobs.serving.redis_conn import client, params_from_config

if TYPE_CHECKING:
    from jobs.common.cli import JobContext

ROUTES = {"user": ("/v1/recommend", "user_id"), "query": ("/v1/rank", "query"),
          "item": ("/v1/similar", "item_id")}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", default=None, help="service base URL (default from serving.host/port)")
    p.add_argument("--sample", type=int, default=20, help="entities per list type")
    p.add_argument("--in-process", action="store_true", help="run the app in-process, no server")


def sample_entities(r: Any, version: str, kind: str, n: int) -> list[str]:
    prefix = K.version_prefix(version) + K.KIND_TAGS[kind] + ":"
    out: list[str] = []
    for key in r.scan_iter(match=prefix + "*", count=1000):
        out.append(key.decode()[len(prefix):])
        if len(out) >= n:
            break
    return sorted(out)


def check_response(body: dict[str, Any], version: str, stored: list[str], in_stock: set[str],
                   where: str, stored_source: str | None = None) -> list[str]:
    problems = []
    ids = [i["item_id"] for i in body.get("items", [])]
    if body.get("list_version") != version:
        problems.append(f"{where}: list_version {body.get('list_version')} != {version}")
    # an entity with its own stored list must be answered from it: with the stored source (a
    # cold-start user's own list is a stored 'fallback' list), never from the fallback chain
    if body.get("source") == "fallback" and stored_source != "fallback":
        problems.append(f"{where}: answered by a fallback list although it has its own")
    elif stored_source is not None and body.get("source") != stored_source:
        problems.append(f"{where}: source {body.get('source')} != stored {stored_source}")
    allowed = [x for x in stored if x in in_stock]
    if ids != allowed[:len(ids)] or (not ids and allowed):
        problems.append(f"{where}: items {ids[:5]} are not the stored in-stock order {allowed[:5]}")
    return problems


def run(ctx: JobContext) -> None:
    cfg, args = ctx.cfg, ctx.args
    r = client(params_from_config(cfg))
    version = versions.current(r)
    if version is None:
        raise CheckFailed("nothing is published (no current list version); run `ranklake publish`")
    meta = versions.meta(r, version)
    if meta.get("run_date") != ctx.run_date.isoformat():
        raise CheckFailed(f"served version {version} is for run date {meta.get('run_date')}, "
                          f"not {ctx.run_date}")
    http, base = _http(cfg, args)
    headers = {"X-API-Key": cfg.serving.api_key} if cfg.serving.api_key else {}
    problems: list[str] = []
    lat: list[float] = []
    try:
        health = http.get(base + "/health").json()
        if health.get("status") != "ok" or health.get("list_version") != version:
            problems.append(f"/health: {health}")
        for kind, (path, param) in ROUTES.items():
            for ent in sample_entities(r, version, kind, args.sample):
                stored_source, stored, _ = codec.decode(r.get(K.list_key(version, kind, ent)))
                flags = r.smismember(K.instock_key(version), stored)
                stock = {x for x, f in zip(stored, flags) if f}
                t0 = time.perf_counter()
                resp = http.get(base + path, params={param: ent, "k": min(10, len(stored))},
                                headers=headers)
                lat.append(time.perf_counter() - t0)
                if resp.status_code != 200:
                    problems.append(f"{path}?{param}={ent}: HTTP {resp.status_code} {resp.text[:200]}")
                    continue
                problems += check_response(resp.json(), version, stored, stock,
                                           f"{path}?{param}={ent}", stored_source)
    except Exception as exc:
        if type(exc).__module__.startswith("httpx"):
            raise CheckFailed(f"lookup service not reachable at {base} ({type(exc).__name__}); "
                              "start it with `make serve` or use --in-process") from None
        raise
    finally:
        http.close()
    lat.sort()
    ctx.rec.count("smoke_requests", len(lat))
    if lat:
        ctx.rec.count("smoke_p50_ms", round(lat[len(lat) // 2] * 1000, 2))
        ctx.rec.count("smoke_max_ms", round(lat[-1] * 1000, 2))
    if problems:
        raise CheckFailed(f"smoke: {len(problems)} problem(s): " + " | ".join(problems[:5]))
    if not lat:
        raise CheckFailed(f"smoke: version {version} has no user/query/item lists to check")
    print(f"smoke ok: {len(lat)} lookups served {version} (run date {ctx.run_date})")


def _http(cfg: Any, args: argparse.Namespace) -> tuple[Any, str]:
    if args.in_process:
        from fastapi.testclient import TestClient

        from jobs.serving.app import create_app

        tc = TestClient(create_app(cfg))
        tc.__enter__()  # one event loop for all requests (the async Redis pool is bound to it)
        tc.close = lambda: tc.__exit__(None, None, None)  # type: ignore[method-assign]
        return tc, ""
    import httpx

    base = (args.url or f"http://{cfg.serving.host}:{cfg.serving.port}").rstrip("/")
    return httpx.Client(timeout=5), base


if __name__ == "__main__":
    from jobs.common.cli import run_module

    sys.exit(run_module("smoke"))
