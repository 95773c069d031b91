"""``/api/v1/live/...``: Server-Sent Event streams of changes, for the web UI to update without polling.

- ``/live/runs?experiment_ids=…``: runs of those experiments created, logged to or updated;
- ``/live/metrics?run_id=…``: a run's status and the latest point of each metric, when they change;
- ``/live/jobs``: state changes of the jobs the caller may read.

Each stream checks the same READ permission as the matching REST read, once per connection, and ends
after ``wait_seconds`` (with an ``end`` event) so a client reconnects and is checked again. Changes are
found by polling the database every second (woken sooner by wake-ups where the platform has them), so
every server replica reports every commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import orjson
from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from runyard.api import access
from runyard.api.deps import platform_of
from runyard.api.openapi import query
from runyard.api.requests import parse_query
from runyard.domain.clock import now_ms
from runyard.domain.identity import Level
from runyard.services import live_changes as service

router = APIRouter(prefix="/live", tags=["live"])

POLL_SECONDS = 1.0
KEEPALIVE_SECONDS = 15.0
MAX_WAIT_SECONDS = 3600.0
DEFAULT_WAIT_SECONDS = 300.0
JOB_EVENT_OVERLAP = 200  # event ids re-read each poll: a transaction may commit after a later id did

HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


class StreamQuery(BaseModel):
    wait_seconds: float = Field(
        default=DEFAULT_WAIT_SECONDS,
        ge=0,
        le=MAX_WAIT_SECONDS,
        description="How long the stream stays open; 0 reports what is there and ends.",
    )


class RunsQuery(StreamQuery):
    experiment_ids: list[str] = Field(default_factory=list, description="The experiments to watch (repeat).")
    since: int | None = Field(default=None, ge=0, description="Report activity from this time (ms); default: now.")


class MetricsQuery(StreamQuery):
    run_id: str = Field(min_length=1, description="The run to watch.")


def event(name: str, data: Any, event_id: int | None = None) -> bytes:
    head = b"event: %s\n" % name.encode()
    if event_id is not None:
        head += b"id: %d\n" % event_id
    return head + b"data: " + orjson.dumps(data) + b"\n\n"


Poll = Callable[[], Awaitable[Iterable[bytes]]]


async def _stream(
    request: Request, poll: Poll, wait_seconds: float, topics: Iterable[str] = ()
) -> AsyncIterator[bytes]:
    """Poll, send what changed, wait for a wake-up or the next poll; end after ``wait_seconds``."""
    platform = platform_of(request)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    last_sent = loop.time()
    yield b"retry: 1000\n\n"
    with platform.wakeups.subscribe(list(topics)) as waiter:
        while True:
            waiter.clear()
            chunks = list(await poll())
            for chunk in chunks:
                yield chunk
            now = loop.time()
            if chunks:
                last_sent = now
            elif now - last_sent >= KEEPALIVE_SECONDS:
                yield b": keep-alive\n\n"
                last_sent = now
            remaining = deadline - now
            if remaining <= 0:
                yield event("end", {})
                return
            if await request.is_disconnected():
                return
            await waiter.wait(min(remaining, POLL_SECONDS))


def _response(stream: AsyncIterator[bytes]) -> Response:
    return StreamingResponse(stream, media_type="text/event-stream", headers=HEADERS)


@router.get("/runs", dependencies=[access.requires("experiment", Level.READ)], openapi_extra=query(RunsQuery))
async def live_runs(request: Request) -> Response:
    """``runs`` events: the runs of ``experiment_ids`` that were created, logged to or changed state."""
    params = parse_query(request, RunsQuery)
    platform = platform_of(request)
    experiment_ids = await platform.read(lambda c: service.check_experiments(c, params.experiment_ids))
    cursor = params.since if params.since is not None else now_ms()
    reported: dict[str, int] = {}  # run id → the last activity time already sent

    async def poll() -> list[bytes]:
        nonlocal cursor
        found = await platform.read(lambda c: service.changed_runs(c, experiment_ids, cursor))
        fresh = [run for run in found if reported.get(run.run_id) != run.last_activity_time]
        for run in found:
            reported[run.run_id] = run.last_activity_time
            cursor = max(cursor, run.last_activity_time)
        horizon = cursor - 2 * service.OVERLAP_MS
        for run_id in [r for r, t in reported.items() if t < horizon]:
            del reported[run_id]
        if not fresh:
            return []
        runs = [
            {
                "run_id": run.run_id,
                "experiment_id": run.experiment_id,
                "status": run.status,
                "lifecycle_stage": run.lifecycle_stage,
                "last_activity_time": run.last_activity_time,
            }
            for run in fresh
        ]
        return [event("runs", {"runs": runs, "cursor": cursor}, cursor)]

    return _response(_stream(request, poll, params.wait_seconds))


@router.get("/metrics", dependencies=[access.requires("run", Level.READ)], openapi_extra=query(MetricsQuery))
async def live_metrics(request: Request) -> Response:
    """A ``state`` event first (status, last activity, latest point per key), then ``activity`` on each change.

    ``activity`` names the metric keys whose latest point moved; ``keys`` is empty when only something
    else changed (an earlier step logged, params, tags, status): every chart of the run may be stale.
    """
    params = parse_query(request, MetricsQuery)
    platform = platform_of(request)
    first = await platform.read(lambda c: service.run_activity(c, params.run_id))
    previous: service.RunActivity | None = None

    def as_json(activity: service.RunActivity, keys: list[str] | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "run_id": params.run_id,
            "status": activity.status,
            "lifecycle_stage": activity.lifecycle_stage,
            "last_activity_time": activity.last_activity_time,
            "latest": [
                {"key": p.key, "step": p.step, "timestamp": p.timestamp, "value": p.value} for p in activity.latest
            ],
        }
        if keys is not None:
            data["keys"] = keys
        return data

    async def poll() -> list[bytes]:
        nonlocal previous
        if previous is None:
            previous = first
            return [event("state", as_json(first), first.last_activity_time)]
        current = await platform.read(lambda c: service.run_activity(c, params.run_id))
        if current == previous:
            return []
        before = {p.key: p for p in previous.latest}
        keys = sorted(p.key for p in current.latest if before.get(p.key) != p)
        previous = current
        return [event("activity", as_json(current, keys), current.last_activity_time)]

    return _response(_stream(request, poll, params.wait_seconds))


@router.get("/jobs", dependencies=[access.requires("job", Level.READ)], openapi_extra=query(StreamQuery))
async def live_jobs(request: Request) -> Response:
    """``jobs`` events: jobs (of queues the caller may read) that were submitted or changed state."""
    params = parse_query(request, StreamQuery)
    platform = platform_of(request)
    readable = access.readable_of(request)
    cursor = await platform.read(service.job_cursor)
    reported: set[int] = set()

    async def poll() -> list[bytes]:
        nonlocal cursor
        changes = await platform.read(lambda c: service.job_changes(c, max(0, cursor - JOB_EVENT_OVERLAP), readable))
        fresh = [change for change in changes if change.event_id not in reported]
        for change in changes:
            reported.add(change.event_id)
            cursor = max(cursor, change.event_id)
        for event_id in [e for e in reported if e <= cursor - JOB_EVENT_OVERLAP]:
            reported.discard(event_id)
        if not fresh:
            return []
        jobs = {change.job_id: {"job_id": change.job_id, "state": change.state} for change in fresh}
        return [event("jobs", {"jobs": list(jobs.values()), "cursor": cursor}, cursor)]

    return _response(_stream(request, poll, params.wait_seconds))
