"""Liveness (``/health``), readiness (``/ready``) and version endpoints."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import Response

from runyard import __version__
from runyard.api import access
from runyard.api.deps import platform_of
from runyard.api.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/health", dependencies=[access.public])
async def health() -> Response:
    """The process is up (no dependency checks: a slow database must not restart pods)."""
    return JSONResponse({"status": "ok"})


@router.get("/ready", dependencies=[access.public])
async def ready(request: Request) -> Response:
    """The server can serve: the metadata database answers."""
    context = platform_of(request)
    try:
        await context.read(lambda c: c.execute(text("SELECT 1")).scalar())
    except Exception as error:  # any failure means "not ready", with the reason
        return JSONResponse({"status": "unavailable", "reason": str(error)}, status_code=503)
    return JSONResponse({"status": "ready"})


@router.get("/version", dependencies=[access.public])
async def version() -> Response:
    """The server's version (MLflow's ``/version`` answers with plain text)."""
    return Response(__version__, media_type="text/plain")
