"""The compute part of ``/api/v1`` (recipes, jobs, pools, queues, workers) and its lifecycle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter

from runyard.api.context import AppContext
from runyard.api.v1 import jobs, pools, recipes, workers
from runyard.scheduler.runtime import ComputeRuntime


def compute_router() -> APIRouter:
    router = APIRouter()
    for module in (recipes, jobs, pools, workers):
        router.include_router(module.router)
    return router


def install(context: AppContext) -> ComputeRuntime:
    """Create the compute runtime for an app (started by ``lifespan``)."""
    runtime = ComputeRuntime(context.settings, context.database)
    context.extras["compute"] = runtime
    return runtime


@asynccontextmanager
async def lifespan(context: AppContext) -> AsyncIterator[None]:
    """Start the scheduler's wake-ups and watchdog loops with the app; stop them with it."""
    runtime: ComputeRuntime = context.extras["compute"]
    await runtime.start()
    try:
        yield
    finally:
        await runtime.stop()
