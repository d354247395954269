"""Prometheus metrics of the lookup service (one registry per app, so tests can build many apps).

The app times every HTTP request itself (``jobs.serving.app.LookupApp.__call__``: no middleware
layer). ``prometheus_client``'s ``.labels(...)`` resolves a child under a lock on every call;
the children used on the hot path are resolved once and kept here (label sets are bounded:
endpoints are the fixed ``ENDPOINTS`` + "other", statuses and codes are few).
"""
from __future__ import annotations

import time
from typing import Any, Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

ENDPOINTS = ("/v1/recommend", "/v1/rank", "/v1/similar", "/health", "/metrics")
BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
_ENDPOINT_SET = frozenset(ENDPOINTS)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("ranklake_requests", "HTTP requests", ["endpoint", "status"], registry=r)
        self.latency = Histogram("ranklake_request_latency_seconds", "request latency",
                                 ["endpoint"], buckets=BUCKETS, registry=r)
        self.fallbacks = Counter("ranklake_fallbacks", "answers from a fallback list",
                                 ["endpoint", "matched"], registry=r)
        self.errors = Counter("ranklake_errors", "error responses", ["endpoint", "code"], registry=r)
        self.filtered = Counter("ranklake_filtered_items", "out-of-stock/excluded items skipped",
                                ["endpoint"], registry=r)
        self.list_age = Gauge("ranklake_list_version_age_seconds",
                              "age of the served list version at the last /health", registry=r)
        self._children: dict[tuple[Any, ...], Any] = {}

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def observe(self, path: str, status: int, seconds: float) -> None:
        """One HTTP request: latency histogram + request counter."""
        label = endpoint_label(path)
        self._child(self.latency, label).observe(seconds)
        self._child(self.requests, label, str(status)).inc()

    def error(self, path: str, code: str) -> None:
        self._child(self.errors, endpoint_label(path), code).inc()

    def fallback(self, endpoint: str, matched: str) -> None:
        self._child(self.fallbacks, endpoint, matched).inc()

    def filtered_items(self, endpoint: str, n: int) -> None:
        self._child(self.filtered, endpoint).inc(n)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def endpoint_label(path: str) -> str:
    return path if path in _ENDPOINT_SET else "other"


class MetricsMiddleware:
    """The same timing as a pure ASGI middleware, for wrapping other ASGI apps."""

    def __init__(self, app: Callable[..., Awaitable[None]], metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = [500]

        async def send_status(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        t0 = time.perf_counter()
        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.observe(scope["path"], status[0], time.perf_counter() - t0)
