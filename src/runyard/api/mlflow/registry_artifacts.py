"""Registered model versions' files through the artifact proxy, read-only.

A version's download URI is ``mlflow-artifacts:/_registry/<storage path>``: the ``mlflow`` client reads
it through ``/api/2.0/mlflow-artifacts`` like any artifact, so it never needs storage credentials.
These routes are mounted ahead of the artifact proxy: reads under ``_registry/`` come from the
registry store, writes and deletes there are refused, and every other listing is handed on to the
proxy's own handler.
"""

from __future__ import annotations

import posixpath

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from runyard.api import access
from runyard.api.deps import platform_of
from runyard.api.mlflow import artifacts as proxy
from runyard.api.openapi import path_params, query
from runyard.api.requests import parse_query
from runyard.api.responses import JSONResponse
from runyard.domain.identity import Level
from runyard.domain.registry import REGISTRY_ARTIFACT_PREFIX
from runyard.errors import PermissionDenied
from runyard.services import artifacts as artifact_service

router = APIRouter(tags=["mlflow-registry"])
PREFIX = REGISTRY_ARTIFACT_PREFIX


class ListQuery(BaseModel):
    path: str | None = None


def _registry_part(path: str | None) -> str | None:
    """The path inside the registry store if ``path`` is under the reserved prefix, else ``None``."""
    normalised = (path or "").strip("/")
    if normalised == PREFIX:
        return ""
    if normalised.startswith(PREFIX + "/"):
        return normalised[len(PREFIX) + 1 :]
    return None


@router.get(
    "/artifacts",
    # Listings under ``_registry/`` follow their model, every other one its run's experiment.
    dependencies=[access.requires("artifact", Level.READ, jobs=True)],
    openapi_extra=query(ListQuery),
)
async def list_artifacts(request: Request) -> Response:
    """List a directory: registry folders here, everything else by the artifact proxy."""
    query = parse_query(request, ListQuery)
    inner = _registry_part(query.path)
    if inner is None:
        return await proxy.list_artifacts(request)
    files = await artifact_service.list_directory(platform_of(request).registry, inner)
    body = [
        {"path": f.path, "is_dir": f.is_dir, **({"file_size": f.file_size} if f.file_size is not None else {})}
        for f in files
    ]
    return JSONResponse({"files": body} if body else {})


@router.get(
    f"/artifacts/{PREFIX}/{{path:path}}", dependencies=[access.requires("registered_model", Level.READ, jobs=True)]
)
async def download_artifact(request: Request, path: str) -> Response:
    """Stream one file of a registered version."""
    reader = await artifact_service.open_download(platform_of(request).registry, path)
    name = posixpath.basename(path.rstrip("/"))
    return StreamingResponse(
        reader.chunks(artifact_service.DEFAULT_CHUNK_SIZE),
        media_type="application/octet-stream",
        headers={"Content-Length": str(reader.size), "Content-Disposition": f'attachment; filename="{name}"'},
        background=BackgroundTask(reader.close),
    )


def _read_only() -> PermissionDenied:
    return PermissionDenied(
        "Registered model version files are immutable: they cannot be written or deleted through the artifact "
        "API. Register a new version instead."
    )


async def refuse_write(request: Request) -> Response:
    """Writes under the registry prefix are refused."""
    del request
    raise _read_only()


# One route per method, so each operation has its own OpenAPI id.
_WRITE_METHODS = ("PUT", "DELETE", "POST", "PATCH")
for _path, _methods, _extra in (
    (f"/artifacts/{PREFIX}", _WRITE_METHODS, {}),
    (f"/artifacts/{PREFIX}/{{path:path}}", _WRITE_METHODS, path_params("path")),
    (f"/mpu/{{action}}/{PREFIX}", ("PUT", "POST"), path_params("action")),
    (f"/mpu/{{action}}/{PREFIX}/{{path:path}}", ("PUT", "POST"), path_params("action", "path")),
):
    for _method in _methods:
        router.add_api_route(
            _path,
            refuse_write,
            methods=[_method],
            dependencies=[access.requires("registered_model", Level.EDIT)],
            openapi_extra=_extra or None,
            name=f"refuse_write_{_method.lower()}",
        )
