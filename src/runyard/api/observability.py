"""Prometheus metrics: request counts and latency per route, served at ``/metrics``.

A plain ASGI middleware (not ``BaseHTTPMiddleware``) so it adds microseconds, not a task per request.
With several server workers, ``PROMETHEUS_MULTIPROC_DIR`` makes the counters add up across processes.
"""

from __future__ import annotations

import os
import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter("runyard_http_requests_total", "HTTP requests served.", ["method", "route", "status"])
LATENCY = Histogram(
    "runyard_http_request_duration_seconds",
    "HTTP request latency.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


INGESTED = Counter(
    "runyard_tracking_ingest_total",
    "Tracking data stored: metric points, params and tags (counts) and artifact bytes.",
    ["kind"],
)


def count_ingested(*, metrics: int = 0, params: int = 0, tags: int = 0, artifact_bytes: int = 0) -> None:
    for kind, amount in (("metric", metrics), ("param", params), ("tag", tags), ("artifact_bytes", artifact_bytes)):
        if amount:
            INGESTED.labels(kind).inc(amount)


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            method = scope["method"]
            template = _route_template(scope)
            REQUESTS.labels(method, template, str(status)).inc()
            LATENCY.labels(method, template).observe(time.perf_counter() - start)


def _route_template(scope: Scope) -> str:
    """The matched route with its path parameters put back as ``{name}``: labels never hold raw ids."""
    if scope.get("route") is None:
        return "unmatched"
    path: str = scope["path"]
    for name, value in (scope.get("path_params") or {}).items():
        text = str(value)
        if text:
            path = path.replace(text, "{" + name + "}", 1)
    return path


async def metrics_endpoint(_request: Request) -> Response:
    """Prometheus exposition of this server's metrics."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
