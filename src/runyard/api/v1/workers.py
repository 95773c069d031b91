"""``/api/v1/workers``: the agent side of docs/agent-protocol.md (register, heartbeat, claim) and ``worker ls``."""

from __future__ import annotations

import asyncio
import dataclasses

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from runyard.api import access
from runyard.api.deps import platform_of
from runyard.api.openapi import json_body, query
from runyard.api.requests import parse_json, parse_query
from runyard.api.responses import JSONResponse
from runyard.domain.topics import queue_topic
from runyard.services import pools as pool_service
from runyard.services import workers as service

router = APIRouter(prefix="/workers", tags=["workers"])

MAX_WAIT_SECONDS = 60.0
MAX_ASSIGNMENTS = 64
# Waiting claims also re-check on this timer, in case a wake-up never arrives (e.g. Redis is down).
RECHECK_SECONDS = 2.0


class RegisterBody(BaseModel):
    name: str = Field(default="", max_length=256)
    pool: str = pool_service.LOCAL_POOL
    hostname: str | None = None
    gpus: list[str] = Field(default_factory=list)
    slots: int = Field(default=1, ge=0, le=1024)
    labels: dict[str, str] = Field(default_factory=dict)
    version: str | None = None


class HeldAttempt(BaseModel):
    job_id: str
    attempt: int


class HeartbeatBody(BaseModel):
    running: list[HeldAttempt] = Field(default_factory=list)


class ClaimBody(BaseModel):
    wait_seconds: float = Field(default=20.0, ge=0, le=MAX_WAIT_SECONDS)
    max_assignments: int = Field(default=1, ge=1, le=MAX_ASSIGNMENTS)


class ListQuery(BaseModel):
    pool: str | None = None
    all: bool = False


@router.post("/register", dependencies=[access.agent], openapi_extra=json_body(RegisterBody))
async def register(request: Request) -> Response:
    body = await parse_json(request, RegisterBody)
    lease = platform_of(request).lease_seconds
    registration = await platform_of(request).write(
        lambda connection: service.register(
            connection,
            name=body.name,
            pool=body.pool,
            hostname=body.hostname,
            gpus=body.gpus,
            slots=body.slots,
            labels=body.labels,
            version=body.version,
            lease_seconds=lease,
        )
    )
    return JSONResponse(dataclasses.asdict(registration))


@router.post("/{worker_id}/heartbeat", dependencies=[access.agent], openapi_extra=json_body(HeartbeatBody))
async def heartbeat(worker_id: str, request: Request) -> Response:
    """Extend the lease; the answer lists attempts the agent must kill."""
    body = await parse_json(request, HeartbeatBody)
    platform = platform_of(request)
    beat = await platform.write(
        lambda connection: service.heartbeat(
            connection,
            worker_id,
            [(held.job_id, held.attempt) for held in body.running],
            lease_seconds=platform.lease_seconds,
            stale_after_ms=platform.delivery_grace_ms,
        ),
        wake=lambda beat: (queue_topic(queue) for queue in beat.requeued_queues),
    )
    return JSONResponse(
        {"cancel": [dataclasses.asdict(order) for order in beat.cancel], "lease_expires_at": beat.lease_expires_at}
    )


@router.post("/{worker_id}/deregister", dependencies=[access.agent])
async def deregister(worker_id: str, request: Request) -> Response:
    await platform_of(request).write(
        lambda connection: service.deregister(connection, worker_id),
        wake=lambda requeued: (queue_topic(queue) for queue in requeued),
    )
    return JSONResponse({})


@router.post("/{worker_id}/claim", dependencies=[access.agent], openapi_extra=json_body(ClaimBody))
async def claim(worker_id: str, request: Request) -> Response:
    """Long-poll for work: answers as soon as the scheduler assigns this worker an attempt.

    ``max_assignments`` > 1 lets an agent with room for several jobs take them in one answer
    (``assignments``); ``assignment`` is always the first of them, for agents that take one.
    """
    body = await parse_json(request, ClaimBody)
    platform = platform_of(request)
    queues = platform.placer.known_queues(worker_id)
    if queues is None:
        queues = await platform.read(lambda connection: service.queues_for_worker(connection, worker_id))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + body.wait_seconds
    with platform.wakeups.subscribe(queue_topic(queue) for queue in queues) as waiter:
        while True:
            waiter.clear()
            claimed = await platform.write(
                lambda connection: platform.placer.claim(connection, worker_id, limit=body.max_assignments)
            )
            if claimed.assignments:
                assignments = [dataclasses.asdict(assignment) for assignment in claimed.assignments]
                return JSONResponse({"assignment": assignments[0], "assignments": assignments})
            if claimed.queues != queues:
                # The pool's queues changed: wait on the current ones, and check again now that a
                # wake-up for them can no longer be missed.
                queues = claimed.queues
                platform.wakeups.resubscribe(waiter, (queue_topic(queue) for queue in queues))
                continue
            remaining = deadline - loop.time()
            if remaining <= 0 or await request.is_disconnected():
                return JSONResponse({"assignment": None, "assignments": []})
            await waiter.wait(min(remaining, RECHECK_SECONDS))


@router.get("", dependencies=[access.authenticated], openapi_extra=query(ListQuery))
async def list_workers(request: Request) -> Response:
    query = parse_query(request, ListQuery)
    workers = await platform_of(request).read(
        lambda connection: service.list_workers(connection, pool=query.pool, include_gone=query.all)
    )
    return JSONResponse({"workers": [dataclasses.asdict(worker) for worker in workers]})


@router.get("/{worker_id}", dependencies=[access.authenticated])
async def get_worker(worker_id: str, request: Request) -> Response:
    worker = await platform_of(request).read(lambda connection: service.get_worker(connection, worker_id))
    return JSONResponse({"worker": dataclasses.asdict(worker)})
