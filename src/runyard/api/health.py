"""Liveness (``/health``), readiness (``/ready``) and version (``/version``, ``/api/v1/version``) endpoints."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import Response

from runyard import __version__
from runyard.api.context import get_context
from runyard.api.mlflow.server_info import MLFLOW_API_VERSION
from runyard.api.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> Response:
    """The process is up (no dependency checks: a slow database must not restart pods)."""
    return JSONResponse({"status": "ok"})


@router.get("/ready")
async def ready(request: Request) -> Response:
    """The server can serve: the metadata database answers."""
    context = get_context(request)
    try:
        await context.read(lambda c: c.execute(text("SELECT 1")).scalar())
    except Exception as error:  # any failure means "not ready", with the reason
        return JSONResponse({"status": "unavailable", "reason": str(error)}, status_code=503)
    return JSONResponse({"status": "ready"})


@router.get("/version")
async def version() -> Response:
    """The MLflow API level served, in plain text as MLflow answers: clients gate features on it."""
    return Response(MLFLOW_API_VERSION, media_type="text/plain")


@router.get("/api/v1/version")
async def runyard_version() -> Response:
    """runyard's own version, and the MLflow API level it serves."""
    return JSONResponse({"version": __version__, "mlflow_api_version": MLFLOW_API_VERSION})
