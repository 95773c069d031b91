"""``/api/v1/pools`` and ``/api/v1/queues``: compute pools, the queues they serve, queue priorities."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from runyard.api import access
from runyard.api.deps import platform_of
from runyard.api.openapi import json_body
from runyard.api.requests import parse_json
from runyard.api.responses import JSONResponse
from runyard.services import pools as service

router = APIRouter(tags=["pools"])


class PoolPut(BaseModel):
    gpus_per_replica: int = Field(default=0, ge=0, le=64)
    queues: list[str] = Field(default_factory=lambda: [service.DEFAULT_QUEUE])
    labels: dict[str, str] = Field(default_factory=dict)


class QueuePut(BaseModel):
    priority: int = 0
    description: str | None = None


def queue_json(queue: service.Queue) -> dict[str, Any]:
    return {**dataclasses.asdict(queue), "served": queue.served}


@router.get("/pools", dependencies=[access.authenticated])
async def list_pools(request: Request) -> Response:
    pools = await platform_of(request).read(service.list_pools)
    return JSONResponse({"pools": [dataclasses.asdict(pool) for pool in pools]})


@router.get("/pools/{name}", dependencies=[access.authenticated])
async def get_pool(name: str, request: Request) -> Response:
    pool = await platform_of(request).read(lambda connection: service.get_pool(connection, name))
    return JSONResponse({"pool": dataclasses.asdict(pool)})


@router.put("/pools/{name}", dependencies=[access.admin], openapi_extra=json_body(PoolPut))
async def put_pool(name: str, request: Request) -> Response:
    """Declare a pool (GPUs per replica, labels, queues served); configuration re-applies on restart."""
    body = await parse_json(request, PoolPut)
    spec = service.PoolSpec(name=name, gpus_per_replica=body.gpus_per_replica, queues=body.queues, labels=body.labels)
    pool = await platform_of(request).write(lambda connection: service.put_pool(connection, spec))
    return JSONResponse({"pool": dataclasses.asdict(pool)})


@router.delete("/pools/{name}", dependencies=[access.admin])
async def delete_pool(name: str, request: Request) -> Response:
    await platform_of(request).write(lambda connection: service.delete_pool(connection, name))
    return JSONResponse({})


@router.get("/queues", dependencies=[access.authenticated])
async def list_queues(request: Request) -> Response:
    queues = await platform_of(request).read(service.list_queues)
    return JSONResponse({"queues": [queue_json(queue) for queue in queues]})


@router.get("/queues/{name}", dependencies=[access.authenticated])
async def get_queue(name: str, request: Request) -> Response:
    queue = await platform_of(request).read(lambda connection: service.get_queue(connection, name))
    return JSONResponse({"queue": queue_json(queue)})


@router.put("/queues/{name}", dependencies=[access.admin], openapi_extra=json_body(QueuePut))
async def put_queue(name: str, request: Request) -> Response:
    """Create a queue or set its priority (higher queues are placed first)."""
    body = await parse_json(request, QueuePut)
    queue = await platform_of(request).write(
        lambda connection: service.put_queue(connection, name, priority=body.priority, description=body.description)
    )
    return JSONResponse({"queue": queue_json(queue)})
