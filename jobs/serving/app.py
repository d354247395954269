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
import time
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel

from jobs.serving.lookup import PRIMARY_KIND, AsyncLookupClient, NoListVersion, age_seconds
from jobs.serving.metrics import Metrics, MetricsMiddleware, endpoint_label
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


def _json(obj: Any, status: int = 200) -> Response:
    return Response(_dumps(obj), status_code=status, media_type="application/json")


def create_app(cfg: Settings, params: RedisParams | None = None) -> FastAPI:
    conf = cfg.serving
    params = params or params_from_config(cfg)
    metrics = Metrics()
    holder: dict[str, AsyncLookupClient] = {}

    def lookup_client() -> AsyncLookupClient:
        if "c" not in holder:  # created in the serving event loop
            holder["c"] = AsyncLookupClient(params, max_connections=conf.redis_max_connections)
        return holder["c"]

    async def lifespan(_app: FastAPI):  # type: ignore[no-untyped-def]
        yield
        if "c" in holder:
            await holder.pop("c").close()

    app = FastAPI(title="ranklake lookup", version="1", lifespan=lifespan,
                  description="Precomputed top-K lists from Redis, one list version per response.")
    app.state.metrics = metrics

    def error(request: Request, exc: ApiError) -> Response:
        metrics.errors.labels(endpoint_label(request.url.path), exc.code).inc()
        return _json({"error": {"code": exc.code, "message": exc.message}}, exc.status)

    app.add_exception_handler(ApiError, error)  # type: ignore[arg-type]

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        parts = []
        for e in exc.errors():
            loc = list(e["loc"])
            where = ".".join(str(x) for x in (loc[1:] if loc[:1] == ["query"] else loc))
            parts.append(f"{where}: {e['msg']}")
        return error(request, ApiError(422, "invalid_request", "; ".join(parts)))

    def check_key(request: Request) -> None:
        if conf.api_key:
            given = request.headers.get("x-api-key", "")
            if not hmac.compare_digest(given.encode(), conf.api_key.encode()):
                raise ApiError(401, "unauthorized", "missing or wrong X-API-Key header")

    def parse_exclude(raw: str | None) -> frozenset[str]:
        ids = [x.strip() for x in (raw or "").split(",") if x.strip()]
        if len(ids) > conf.max_exclude:
            raise ApiError(422, "invalid_request", f"exclude: at most {conf.max_exclude} ids")
        if any(len(x) > conf.max_id_len for x in ids):
            raise ApiError(422, "invalid_request", f"exclude: ids are at most {conf.max_id_len} chars")
        return frozenset(ids)

    async def serve(request: Request, endpoint: str, entity: str, k: int,
                    exclude: str | None) -> Response:
        check_key(request)
        excl = parse_exclude(exclude)
        import redis

        try:
            res = await lookup_client().lookup(endpoint, entity, k, excl)
        except NoListVersion:
            raise ApiError(503, "no_lists", "no list version has been published yet") from None
        except (redis.RedisError, OSError) as exc:
            raise ApiError(503, "redis_unavailable", f"Redis unavailable: {type(exc).__name__}") from None
        stored = (res.meta.get("k") or {}).get(PRIMARY_KIND[endpoint])
        if stored and k > stored:
            raise ApiError(422, "invalid_request", f"k: must be between 1 and {stored}, the stored "
                                                   "list length")
        if res.fallback:
            metrics.fallbacks.labels(endpoint, (res.matched or "none").split(":", 1)[0]).inc()
        if res.removed:
            metrics.filtered.labels(endpoint).inc(res.removed)
        return _json(res.to_dict())

    kq = Query(10, ge=1, le=conf.max_k, description="list length (1..stored K)")
    xq = Query(None, max_length=conf.max_exclude * (conf.max_id_len + 1),
               description="comma-separated item ids to leave out")
    idq = {"min_length": 1, "max_length": conf.max_id_len, "pattern": ID_PATTERN}

    @app.get("/v1/recommend", response_model=ListResponse, responses=ERRORS)
    async def recommend(request: Request, user_id: str = Query(..., **idq), k: int = kq,
                        exclude: str | None = xq) -> Response:
        return await serve(request, "recommend", user_id, k, exclude)

    @app.get("/v1/rank", response_model=ListResponse, responses=ERRORS)
    async def rank(request: Request, query: str = Query(..., min_length=1, max_length=conf.max_query_len),
                   k: int = kq, exclude: str | None = xq) -> Response:
        from jobs.common.text import normalize_query

        if not normalize_query(query):
            raise ApiError(422, "invalid_request", "query: has no letters or digits")
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

    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default=None, help="bind address (default serving.host)")
    p.add_argument("--port", type=int, default=None, help="port (default serving.port)")
    p.add_argument("--stop-redis", action="store_true",
                   help="stop the embedded Redis (started by publish) and exit")


def run(ctx: JobContext) -> None:
    from jobs.serving.redis_conn import stop_embedded

    cfg = ctx.cfg
    if getattr(ctx.args, "stop_redis", False):
        print("embedded Redis stopped" if stop_embedded(cfg) else "embedded Redis was not running")
        return
    import uvicorn

    host = ctx.args.host or cfg.serving.host
    port = ctx.args.port or cfg.serving.port
    print(f"ranklake lookup service on http://{host}:{port} (docs: /docs)", flush=True)
    uvicorn.run(create_app(cfg), host=host, port=port, log_level=cfg.serving.log_level,
                access_log=False)


if __name__ == "__main__":
    import sys

    from jobs.common.cli import run_module

    sys.exit(run_module("serve"))
