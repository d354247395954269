"""The HTTP lookup service (FastAPI on uvicorn; no Spark): ``ranklake serve --env local``.

    GET /v1/recommend?user_id=U&k=10[&exclude=a,b]   personalised list of a user
    GET /v1/rank?query=Q&k=10                         list of a query (normalised as in batch)
    GET /v1/similar?item_id=I&k=10                    similar items of an item
    GET /health    Redis reachable, served list version, its age, model versions (503 if not ok)
    GET /metrics   Prometheus       GET /docs   OpenAPI UI

Errors are JSON ``{"error": {"code", "message"}}``: 422 bad input, 401 bad/missing X-API-Key (only
when ``serving.api_key`` / $RANKLAKE_API_KEY is set; /health, /metrics, /docs stay open), 503 Redis
unreachable (fails within the socket timeout, never hangs) or nothing published yet.
``ranklake serve --stop-redis`` stops the embedded Redis instead of serving.
"""
from __future__ import annotations

import argparse
import hmac
import re
import time
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import parse_qsl

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel

from jobs.common.text import normalize_query
from jobs.serving.lookup import PRIMARY_KIND, AsyncLookupClient, NoListVersion, age_seconds
from jobs.serving.metrics import Metrics
from jobs.serving.redis_conn import RedisParams, params_from_config

try:
    import orjson

    def _dumps(obj: Any) -> bytes:
        return orjson.dumps(obj)
except ImportError:  # pragma: no cover - orjson is optional
    import json

    def _dumps(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode()

if TYPE_CHECKING:
    from jobs.common.cli import JobContext
    from jobs.common.config import Settings

ID_PATTERN = r"^[^\x00-\x1f\x7f]+$"  # no control characters (they would break key names)


class ItemOut(BaseModel):
    item_id: str
    score: float
    rank: int


class ListResponse(BaseModel):
    items: list[ItemOut]
    list_version: str
    model_version: str | None
    source: str  # personalized | query | fallback


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ErrorResponse} for s in (401, 422, 503)}
LIST_PATHS = {"/v1/recommend": "recommend", "/v1/rank": "rank", "/v1/similar": "similar"}
ID_PARAM = {"recommend": "user_id", "rank": "query", "similar": "item_id"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # the complement of ID_PATTERN's character class
_SMALL_INT = re.compile(r"[0-9]{1,4}")
_JSON_TYPE = b"application/json"
_TEXT_HEADERS = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"21")]


def _json(obj: Any, status: int = 200) -> Response:
    return Response(_dumps(obj), status_code=status, media_type="application/json")


def _error_body(exc: ApiError) -> bytes:
    return _dumps({"error": {"code": exc.code, "message": exc.message}})


class Lookups:
    """The three list endpoints' logic, shared by FastAPI's routes and the fast path: auth,
    exclude parsing, one Redis lookup, the stored-K check, metrics; returns the JSON body or
    raises ApiError."""

    def __init__(self, conf: Any, client: Callable[[], AsyncLookupClient], metrics: Metrics) -> None:
        import redis

        self.conf, self.client, self.metrics = conf, client, metrics
        self.api_key = conf.api_key.encode() if conf.api_key else None
        self.max_exclude_chars = conf.max_exclude * (conf.max_id_len + 1)
        self.redis_errors = (redis.RedisError, OSError)

    def check_key(self, given: str | None) -> None:
        if self.api_key is not None and not hmac.compare_digest((given or "").encode(), self.api_key):
            raise ApiError(401, "unauthorized", "missing or wrong X-API-Key header")

    def parse_exclude(self, raw: str | None) -> frozenset[str]:
        if not raw:
            return frozenset()
        conf = self.conf
        ids = [x.strip() for x in raw.split(",") if x.strip()]
        if len(ids) > conf.max_exclude:
            raise ApiError(422, "invalid_request", f"exclude: at most {conf.max_exclude} ids")
        if any(len(x) > conf.max_id_len for x in ids):
            raise ApiError(422, "invalid_request", f"exclude: ids are at most {conf.max_id_len} chars")
        return frozenset(ids)

    async def answer(self, endpoint: str, entity: str, k: int, exclude: str | None,
                     api_key: str | None) -> bytes:
        if endpoint == "rank" and not normalize_query(entity):
            raise ApiError(422, "invalid_request", "query: has no letters or digits")
        self.check_key(api_key)
        excl = self.parse_exclude(exclude)
        try:
            res = await self.client().lookup(endpoint, entity, k, excl)
        except NoListVersion:
            raise ApiError(503, "no_lists", "no list version has been published yet") from None
        except self.redis_errors as exc:
            raise ApiError(503, "redis_unavailable", f"Redis unavailable: {type(exc).__name__}") from None
        stored = (res.meta.get("k") or {}).get(PRIMARY_KIND[endpoint])
        if stored and k > stored:
            raise ApiError(422, "invalid_request", f"k: must be between 1 and {stored}, the stored "
                                                   "list length")
        if res.fallback:
            self.metrics.fallback(endpoint, (res.matched or "none").split(":", 1)[0])
        if res.removed:
            self.metrics.filtered_items(endpoint, res.removed)
        return _dumps(res.to_dict())

    def fast_params(self, endpoint: str, query_string: bytes) -> tuple[str, int, str | None] | None:
        """(entity, k, exclude) when the query string is plainly valid, else None: then FastAPI
        handles the request (and words its 422). Decoded exactly as Starlette does (latin-1,
        then ``parse_qsl``); a repeated parameter also falls through (FastAPI keeps the last)."""
        if not query_string:
            return None
        id_name = ID_PARAM[endpoint]
        entity = k_raw = exclude = None
        for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
            if name == id_name:
                if entity is not None:
                    return None
                entity = value
            elif name == "k":
                if k_raw is not None:
                    return None
                k_raw = value
            elif name == "exclude":
                if exclude is not None:
                    return None
                exclude = value
        conf = self.conf
        if entity is None or not entity:
            return None
        if endpoint == "rank":
            if len(entity) > conf.max_query_len:
                return None
        elif len(entity) > conf.max_id_len or _CONTROL.search(entity):
            return None
        if k_raw is None:
            k = 10
        elif _SMALL_INT.fullmatch(k_raw) and 1 <= int(k_raw) <= conf.max_k:
            k = int(k_raw)
        else:
            return None
        if exclude is not None and len(exclude) > self.max_exclude_chars:
            return None
        return entity, k, exclude


class LookupApp(FastAPI):
    """FastAPI (routes, validation, OpenAPI at /docs, /health, /metrics) with a fast path in
    front: a GET of one of the three list endpoints whose parameters are plainly valid is
    answered straight from ASGI (same logic, same bytes) without Starlette's middleware stack,
    routing and FastAPI's parameter solving, which cost more than the lookup itself. Everything
    else, and every request the fast path is unsure about, goes through FastAPI. Every HTTP
    request is timed here for /metrics."""

    lookups: Lookups
    metrics: Metrics
    fast_path = True  # False: every request through FastAPI (tests compare the two)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        t0 = time.perf_counter()
        path = scope["path"]
        status = 500
        try:
            endpoint = LIST_PATHS.get(path) if self.fast_path and scope["method"] == "GET" else None
            params = self.lookups.fast_params(endpoint, scope["query_string"]) if endpoint else None
            if params is None:
                box = [500]

                async def send_status(message: Any) -> None:
                    if message["type"] == "http.response.start":
                        box[0] = message["status"]
                    await send(message)

                try:
                    await super().__call__(scope, receive, send_status)
                finally:
                    status = box[0]
                return
            api_key = None
            if self.lookups.api_key is not None:
                api_key = next((v.decode("latin-1") for h, v in scope["headers"] if h == b"x-api-key"),
                               None)
            try:
                body = await self.lookups.answer(endpoint, params[0], params[1], params[2], api_key)
                status = 200
            except ApiError as exc:
                self.metrics.error(path, exc.code)
                body, status = _error_body(exc), exc.status
            except Exception:
                await send({"type": "http.response.start", "status": 500, "headers": _TEXT_HEADERS})
                await send({"type": "http.response.body", "body": b"Internal Server Error"})
                raise
            await send({"type": "http.response.start", "status": status,
                        "headers": [(b"content-type", _JSON_TYPE),
                                    (b"content-length", b"%d" % len(body))]})
            await send({"type": "http.response.body", "body": body})
        finally:
            self.metrics.observe(path, status, time.perf_counter() - t0)


def create_app(cfg: Settings, params: RedisParams | None = None) -> LookupApp:
    conf = cfg.serving
    params = params or params_from_config(cfg)
    metrics = Metrics()
    holder: dict[str, AsyncLookupClient] = {}

    def lookup_client() -> AsyncLookupClient:
        c = holder.get("c")
        if c is None:  # created in the serving event loop
            c = holder["c"] = AsyncLookupClient(params, max_connections=conf.redis_max_connections)
        return c

    async def lifespan(_app: FastAPI):  # type: ignore[no-untyped-def]
        yield
        if "c" in holder:
            await holder.pop("c").close()

    app = LookupApp(title="ranklake lookup", version="1", lifespan=lifespan,
                    description="Precomputed top-K lists from Redis, one list version per response.")
    app.state.metrics = app.metrics = metrics
    lookups = app.lookups = Lookups(conf, lookup_client, metrics)

    def error(request: Request, exc: ApiError) -> Response:
        metrics.error(request.url.path, exc.code)
        return Response(_error_body(exc), status_code=exc.status, media_type="application/json")

    app.add_exception_handler(ApiError, error)  # type: ignore[arg-type]

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        parts = []
        for e in exc.errors():
            loc = list(e["loc"])
            where = ".".join(str(x) for x in (loc[1:] if loc[:1] == ["query"] else loc))
            parts.append(f"{where}: {e['msg']}")
        return error(request, ApiError(422, "invalid_request", "; ".join(parts)))

    async def serve(request: Request, endpoint: str, entity: str, k: int,
                    exclude: str | None) -> Response:
        body = await lookups.answer(endpoint, entity, k, exclude, request.headers.get("x-api-key"))
        return Response(body, media_type="application/json")

    kq = Query(10, ge=1, le=conf.max_k, description="list length (1..stored K)")
    xq = Query(None, max_length=conf.max_exclude * (conf.max_id_len + 1),
               description="comma-separated item ids to leave out")
    idq = {"min_length": 1, "max_length": conf.max_id_len, "pattern": ID_PATTERN}

    # response_model only documents the answer (OpenAPI): the handlers return ready bytes, so
    # FastAPI never validates or re-serialises them
    @app.get("/v1/recommend", response_model=ListResponse, responses=ERRORS)
    async def recommend(request: Request, user_id: str = Query(..., **idq), k: int = kq,
                        exclude: str | None = xq) -> Response:
        return await serve(request, "recommend", user_id, k, exclude)

    @app.get("/v1/rank", response_model=ListResponse, responses=ERRORS)
    async def rank(request: Request, query: str = Query(..., min_length=1, max_length=conf.max_query_len),
                   k: int = kq, exclude: str | None = xq) -> Response:
        return await serve(request, "rank", query, k, exclude)

    @app.get("/v1/similar", response_model=ListResponse, responses=ERRORS)
    async def similar(request: Request, item_id: str = Query(..., **idq), k: int = kq,
                      exclude: str | None = xq) -> Response:
        return await serve(request, "similar", item_id, k, exclude)

    @app.get("/health")
    async def health() -> Response:
        import redis

        c = lookup_client()
        body: dict[str, Any] = {"status": "unhealthy", "redis": "down", "redis_url": params.safe_url()}
        try:
            t0 = time.perf_counter()
            await c.redis.ping()
            body.update(redis="ok", redis_ping_ms=round((time.perf_counter() - t0) * 1000, 3))
            version = await c.current()
            if version is None:
                body["reason"] = "no list version published"
                return _json(body, 503)
            meta = await c.meta(version)
        except (redis.RedisError, OSError) as exc:
            body["reason"] = f"Redis unavailable: {type(exc).__name__}"
            return _json(body, 503)
        age = age_seconds(meta)
        if age is not None:
            metrics.list_age.set(age)
        mv = meta.get("model_versions") or {}
        body.update(status="ok", list_version=version, run_date=meta.get("run_date"),
                    published_at=meta.get("published_at"), list_age_s=age,
                    model_version=mv.get("user") or next(iter(mv.values()), None), model_versions=mv,
                    lists=meta.get("counts"))
        return _json(body)

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    return app


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default=None, help="bind address (default serving.host)")
    p.add_argument("--port", type=int, default=None, help="port (default serving.port)")
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (default 1)")
    p.add_argument("--stop-redis", action="store_true",
                   help="stop the embedded Redis (started by publish) and exit")


SERVE_CONFIG_ENV = "RANKLAKE_SERVE_CONFIG"  # env + --conf overrides, for --workers N


def worker_app() -> LookupApp:
    """``uvicorn --factory`` entry of ``--workers N``: every worker process builds its own app
    (own Redis connections, own metrics) from the config of the ``ranklake serve`` that started it."""
    import json
    import os

    from jobs.common.config import load_config

    spec = json.loads(os.environ[SERVE_CONFIG_ENV])
    return create_app(load_config(spec["env"], spec["conf"]))


def run(ctx: JobContext) -> None:
    from jobs.serving.httpproto import protocol_class
    from jobs.serving.redis_conn import stop_embedded

    cfg = ctx.cfg
    if getattr(ctx.args, "stop_redis", False):
        print("embedded Redis stopped" if stop_embedded(cfg) else "embedded Redis was not running")
        return
    import uvicorn

    host = ctx.args.host or cfg.serving.host
    port = ctx.args.port or cfg.serving.port
    workers = max(1, int(getattr(ctx.args, "workers", 1) or 1))
    # uvloop + httptools when installed (the `serve` extra), one write per response
    opts: dict[str, Any] = {"host": host, "port": port, "log_level": cfg.serving.log_level,
                            "access_log": False, "loop": "auto", "http": protocol_class()}
    print(f"ranklake lookup service on http://{host}:{port} (docs: /docs"
          f"{f'; {workers} workers' if workers > 1 else ''})", flush=True)
    if workers == 1:
        uvicorn.run(create_app(cfg), **opts)
        return
    import json
    import os

    params_from_config(cfg)  # starts the embedded Redis once, before the workers look for it
    os.environ[SERVE_CONFIG_ENV] = json.dumps({"env": ctx.args.env, "conf": list(ctx.args.conf or [])})
    uvicorn.run("jobs.serving.app:worker_app", factory=True, workers=workers, **opts)


if __name__ == "__main__":
    import sys

    from jobs.common.cli import run_module

    sys.exit(run_module("serve"))
