"""``/api/3.0/mlflow/server-info``: what MLflow 3 clients ask before choosing upload strategies."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from runyard.api import access
from runyard.api.deps import platform_of
from runyard.api.responses import JSONResponse

router = APIRouter(tags=["mlflow-server-info"])

# The MLflow release whose REST API runyard serves. MLflow's client reads it from ``/version`` and
# turns features on by it (span logging over OTLP needs 3.4 or later).
MLFLOW_API_VERSION = "3.17.2"


@router.get("/server-info", dependencies=[access.public])
async def server_info(request: Request) -> Response:
    """Store type and artifact capabilities."""
    multipart = platform_of(request).multipart_uploads
    return JSONResponse(
        {
            "store_type": "SqlStore",
            "workspaces_enabled": True,
            "trace_archival_enabled": False,
            "multipart_uploads_enabled": multipart,
            "multipart_downloads_enabled": False,
            "mlflow_api_version": MLFLOW_API_VERSION,
            "features_enabled": {"gateway": True},
        }
    )
