"""Prometheus metrics: request counts and latency per route, served at ``/metrics``.

A plain ASGI middleware (not ``BaseHTTPMiddleware``) so it adds microseconds, not a task per request.
With several server workers, ``PROMETHEUS_MULTIPROC_DIR`` makes the counters add up across processes.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runyard.api.deps import platform_of
from runyard.scheduler.platform import Platform
from runyard.services import platform_stats

logger = logging.getLogger(__name__)

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


class PlatformCollector(Collector):
    """Gauges read from the database at scrape time, so every replica reports the same platform state."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def collect(self) -> Iterable[Metric]:
        try:
            with self.platform.database.read() as connection:
                stats = platform_stats.collect(connection)
        except Exception:  # a scrape must not fail because the database is briefly away
            logger.warning("platform gauges unavailable", exc_info=True)
            return
        for name, documentation, label, values in (
            ("runyard_queue_depth", "Queued jobs per queue.", "queue", stats.queue_depth),
            ("runyard_jobs", "Jobs per state.", "state", stats.jobs_by_state),
            ("runyard_pool_gpus_total", "GPUs of the active workers of each pool.", "pool", stats.pool_gpus_total),
            ("runyard_pool_gpus_used", "GPUs held by assigned or running jobs.", "pool", stats.pool_gpus_used),
        ):
            gauge = GaugeMetricFamily(name, documentation, labels=[label])
            for key, value in sorted(values.items()):
                gauge.add_metric([key], value)
            yield gauge


def _exposition(platform: Platform) -> bytes:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        registry.register(PlatformCollector(platform))
        return generate_latest(registry)
    registry.register(PlatformCollector(platform))
    return generate_latest(REGISTRY) + generate_latest(registry)


async def metrics_endpoint(request: Request) -> Response:
    """Prometheus exposition: this server's request metrics plus the platform gauges."""
    body = await run_in_threadpool(_exposition, platform_of(request))
    return Response(body, media_type=CONTENT_TYPE_LATEST)
