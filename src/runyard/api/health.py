"""Liveness (``/health``), readiness (``/ready``) and version (``/version``, ``/api/v1/version``) endpoints."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import Response

from runyard import __version__
from runyard.api import access
from runyard.api.deps import platform_of
from runyard.api.mlflow.server_info import MLFLOW_API_VERSION
from runyard.api.observability import expected_pools
from runyard.api.responses import JSONResponse
from runyard.services import pools as pool_service

router = APIRouter(tags=["health"])


@router.get("/health", dependencies=[access.public])
async def health() -> Response:
    """The process is up (no dependency checks: a slow database must not restart pods)."""
    return JSONResponse({"status": "ok"})


@router.get("/ready", dependencies=[access.public])
async def ready(request: Request) -> Response:
    """The server can serve: the metadata database answers. Pools without a worker are named, as degraded.

    A degraded pool does not make the server unready (200): its API still serves, and taking
    replicas out of rotation would not bring an agent back.
    """
    context = platform_of(request)
    expected = expected_pools(context.settings)
    try:
        await context.read(lambda c: c.execute(text("SELECT 1")).scalar())
        pools = await context.read(lambda c: pool_service.list_pools(c, expected))
    except Exception as error:  # any failure means "not ready", with the reason
        return JSONResponse({"status": "unavailable", "reason": str(error)}, status_code=503)
    degraded = {pool.name: pool.problem for pool in pools if pool.status == "degraded"}
    if degraded:
        return JSONResponse({"status": "degraded", "degraded_pools": degraded})
    return JSONResponse({"status": "ready"})


@router.get("/version", dependencies=[access.public])
async def version() -> Response:
    """The MLflow API level served, in plain text as MLflow answers: clients gate features on it."""
    return Response(MLFLOW_API_VERSION, media_type="text/plain")


@router.get("/api/v1/version", dependencies=[access.public])
async def runyard_version() -> Response:
    """runyard's own version, and the MLflow API level it serves."""
    return JSONResponse({"version": __version__, "mlflow_api_version": MLFLOW_API_VERSION})
