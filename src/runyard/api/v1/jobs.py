"""``/api/v1/jobs``: submit, list, show, cancel, retry, events, logs (with follow), and agent reports."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from runyard.api import access
from runyard.api.auth._deps import recorded_user
from runyard.api.deps import platform_of
from runyard.api.openapi import json_body, query
from runyard.api.requests import parse_json, parse_query
from runyard.api.responses import JSONResponse
from runyard.domain.identity import Level
from runyard.domain.jobs import Job, JobState, LogLine
from runyard.domain.secrets import SECRET_PLACEHOLDER, is_secret_name
from runyard.domain.topics import job_topic, queue_topic
from runyard.errors import InvalidParameter, Unauthenticated
from runyard.services import attempts as attempt_service
from runyard.services import job_logs as log_service
from runyard.services import jobs as service
from runyard.services import recipes as recipe_service

router = APIRouter(prefix="/jobs", tags=["jobs"])

MAX_LOG_WAIT_SECONDS = 30.0
FOLLOW_RECHECK_SECONDS = 1.0


class JobCreate(BaseModel):
    recipe: str = Field(min_length=1, description="NAME or NAME:VERSION")
    version: int | None = Field(default=None, ge=1)
    queue: str = "default"
    parameters: dict[str, Any] = Field(default_factory=dict)
    gpus: int | None = Field(default=None, ge=0)
    priority: int = 0
    retries: int = Field(default=0, ge=0)
    timeout_seconds: float | None = Field(default=None, gt=0)
    env: dict[str, str] = Field(default_factory=dict)


class ListQuery(BaseModel):
    state: list[str] = Field(default_factory=list)
    queue: str | None = None
    recipe: str | None = None
    worker_id: str | None = None
    limit: int = 100
    before: str | None = None


class StatusReport(BaseModel):
    state: str
    exit_code: int | None = None
    reason: str | None = Field(default=None, max_length=2000)


class LogLineIn(BaseModel):
    stream: str = "stdout"
    line: str
    ts: int | None = None


class LogBatch(BaseModel):
    lines: list[LogLineIn]


class LogsQuery(BaseModel):
    after: int = Field(default=0, ge=0)
    attempt: int | None = Field(default=None, ge=1)
    limit: int = Field(default=1000, ge=1, le=10_000)
    follow: bool = False
    wait_seconds: float = Field(default=0.0, ge=0, le=MAX_LOG_WAIT_SECONDS)
    tail: bool = Field(default=False, description="The last `limit` lines (a long log opens at its end).")
    before: int | None = Field(default=None, ge=1, description="The last `limit` lines before this line id.")


class EventsQuery(BaseModel):
    after: int = Field(default=0, ge=0)
    limit: int = Field(default=1000, ge=1, le=10_000)


def job_json(job: Job) -> dict[str, Any]:
    data = dataclasses.asdict(job)
    # Secret values leave the server only in the claim answer, to the agent that runs the job.
    data["env"] = {name: SECRET_PLACEHOLDER if is_secret_name(name) else value for name, value in job.env.items()}
    return data


def line_json(line: LogLine) -> dict[str, Any]:
    return dataclasses.asdict(line)


@router.post("", dependencies=[access.requires("queue", Level.USE)], openapi_extra=json_body(JobCreate))
async def submit_job(request: Request) -> Response:
    """Queue a job of a recipe; parameters are validated against the recipe's schema."""
    body = await parse_json(request, JobCreate)
    name, version = recipe_service.parse_reference(body.recipe)
    # The job (and its runs) record who submitted it: the authenticated principal.
    user_id = recorded_user(request, None)
    job = await platform_of(request).write(
        lambda connection: service.submit_job(
            connection,
            recipe=name,
            version=body.version or version,
            queue=body.queue,
            parameters=body.parameters,
            gpus=body.gpus,
            priority=body.priority,
            retries=body.retries,
            timeout_seconds=body.timeout_seconds,
            env=body.env,
            user_id=user_id,
        ),
        wake=lambda job: [queue_topic(job.queue)],
    )
    return JSONResponse({"job": job_json(job)}, status_code=201)


@router.get("", dependencies=[access.requires("job", Level.READ)], openapi_extra=query(ListQuery))
async def list_jobs(request: Request) -> Response:
    query = parse_query(request, ListQuery)
    readable = access.readable_of(request)
    jobs = await platform_of(request).read(
        lambda connection: service.list_jobs(
            connection,
            readable_queues=readable,
            states=query.state,
            queue=query.queue,
            recipe=query.recipe,
            worker_id=query.worker_id,
            limit=query.limit,
            before=query.before,
        )
    )
    next_before = jobs[-1].job_id if len(jobs) == query.limit else None
    return JSONResponse({"jobs": [job_json(job) for job in jobs], "next_before": next_before})


@router.get("/current", dependencies=[access.job_or_person])
async def current_job(request: Request) -> Response:
    """The job attempt whose scoped credential is in ``Authorization: Bearer …``."""
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        raise Unauthenticated("send the job's credential as 'Authorization: Bearer <token>'")
    token = header[7:].strip()
    identity = await platform_of(request).read(lambda connection: attempt_service.identify(connection, token))
    return JSONResponse(dataclasses.asdict(identity))


@router.get("/{job_id}", dependencies=[access.requires("job", Level.READ)])
async def get_job(job_id: str, request: Request) -> Response:
    def read(connection: Any) -> dict[str, Any]:
        job = service.get_job(connection, job_id)
        attempts = service.list_attempts(connection, job_id)
        return {"job": job_json(job), "attempts": [dataclasses.asdict(attempt) for attempt in attempts]}

    return JSONResponse(await platform_of(request).read(read))


@router.post("/{job_id}/cancel", dependencies=[access.requires("queue", Level.USE)])
async def cancel_job(job_id: str, request: Request) -> Response:
    """Cancel: a queued job at once, an assigned or running one through its agent."""
    job = await platform_of(request).write(
        lambda connection: service.cancel_job(connection, job_id), wake=lambda job: [job_topic(job.job_id)]
    )
    return JSONResponse({"job": job_json(job)})


@router.post("/{job_id}/retry", dependencies=[access.requires("queue", Level.USE)])
async def retry_job(job_id: str, request: Request) -> Response:
    job = await platform_of(request).write(
        lambda connection: service.retry_job(connection, job_id),
        wake=lambda job: [queue_topic(job.queue), job_topic(job.job_id)],
    )
    return JSONResponse({"job": job_json(job)})


@router.get("/{job_id}/events", dependencies=[access.requires("job", Level.READ)], openapi_extra=query(EventsQuery))
async def job_events(job_id: str, request: Request) -> Response:
    query = parse_query(request, EventsQuery)
    events = await platform_of(request).read(
        lambda connection: log_service.list_events(connection, job_id, after=query.after, limit=query.limit)
    )
    return JSONResponse({"events": [dataclasses.asdict(event) for event in events]})


@router.post("/{job_id}/attempts/{attempt}/status", dependencies=[access.agent], openapi_extra=json_body(StatusReport))
async def report_status(job_id: str, attempt: int, request: Request) -> Response:
    """An agent reports its attempt's state; a stale attempt gets 409 and must be killed."""
    body = await parse_json(request, StatusReport)
    result = await platform_of(request).write(
        lambda connection: attempt_service.report_status(
            connection, job_id, attempt, body.state, exit_code=body.exit_code, reason=body.reason
        )
    )
    topics = [job_topic(str(service.parse_job_id(job_id)))]
    if result.requeued_queue:
        topics.append(queue_topic(result.requeued_queue))
    await platform_of(request).notify(topics)
    return JSONResponse({"state": result.state})


@router.post("/{job_id}/attempts/{attempt}/logs", dependencies=[access.agent], openapi_extra=json_body(LogBatch))
async def append_logs(job_id: str, attempt: int, request: Request) -> Response:
    body = await parse_json(request, LogBatch)
    lines = [log_service.LineIn(stream=line.stream, line=line.line, ts=line.ts) for line in body.lines]
    count = await platform_of(request).write(
        lambda connection: log_service.append_lines(connection, job_id, attempt, lines)
    )
    await platform_of(request).notify([job_topic(str(service.parse_job_id(job_id)))])
    return JSONResponse({"stored": count})


@router.get("/{job_id}/logs", dependencies=[access.requires("job", Level.READ)], openapi_extra=query(LogsQuery))
async def read_logs(job_id: str, request: Request) -> Response:
    """Log lines after ``after``; ``wait_seconds`` long-polls for new ones; ``follow=true`` streams SSE."""
    query = parse_query(request, LogsQuery)
    platform = platform_of(request)
    number = str(service.parse_job_id(job_id))

    def read(connection: Any) -> tuple[list[LogLine], Job]:
        lines = log_service.read_lines(
            connection,
            number,
            after=query.after,
            attempt=query.attempt,
            limit=query.limit,
            before=query.before,
            tail=query.tail,
        )
        return lines, service.get_job(connection, number)

    if query.tail or query.before is not None:
        if query.follow or query.wait_seconds:
            raise InvalidParameter("'tail' and 'before' read what is there: use them without 'follow' or a wait")
        lines, job = await platform.read(read)
        return JSONResponse({"lines": [line_json(line) for line in lines], "state": job.state})
    if query.follow:
        return StreamingResponse(_follow(request, number, query), media_type="text/event-stream")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + query.wait_seconds
    with platform.wakeups.subscribe([job_topic(number)]) as waiter:
        while True:
            waiter.clear()
            lines, job = await platform.read(read)
            remaining = deadline - loop.time()
            if lines or JobState(job.state).is_terminal or remaining <= 0:
                break
            await waiter.wait(min(remaining, FOLLOW_RECHECK_SECONDS))
    after = lines[-1].line_id if lines else query.after
    return JSONResponse({"lines": [line_json(line) for line in lines], "next_after": after, "state": job.state})


async def _follow(request: Request, job_id: str, query: LogsQuery) -> AsyncIterator[bytes]:
    """Server-sent events: one ``line`` event per log line, then ``end`` when the job is over."""
    platform = platform_of(request)
    wakeups = platform.wakeups
    after = query.after
    with wakeups.subscribe([job_topic(job_id)]) as waiter:
        while not await request.is_disconnected():
            waiter.clear()

            def read(connection: Any, after: int = after) -> tuple[list[LogLine], Job]:
                lines = log_service.read_lines(connection, job_id, after=after, attempt=query.attempt, limit=5000)
                return lines, service.get_job(connection, job_id)

            lines, job = await platform.read(read)
            for line in lines:
                yield b"event: line\nid: %d\ndata: %s\n\n" % (line.line_id, orjson.dumps(line_json(line)))
                after = line.line_id
            if not lines and JobState(job.state).is_terminal:
                payload = orjson.dumps({"state": job.state, "reason": job.reason, "exit_code": job.exit_code})
                yield b"event: end\ndata: %s\n\n" % payload
                return
            if not lines:
                await waiter.wait(FOLLOW_RECHECK_SECONDS)
