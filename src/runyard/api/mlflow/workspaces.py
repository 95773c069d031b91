"""``/api/3.0/mlflow/workspaces``: MLflow 3's workspace API (create, get, list, update, delete).

The payloads are MLflow's ``Workspace`` message; fields that are unset are left out, as the proto
JSON encoding does. Trace archival settings are refused: runyard stores no traces.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from runyard.api import access
from runyard.api.deps import platform_of
from runyard.api.requests import parse_json
from runyard.api.responses import JSONResponse
from runyard.domain.workspaces import Workspace, parse_deletion_mode
from runyard.errors import InvalidParameter
from runyard.services import workspaces as service

router = APIRouter(prefix="/workspaces", tags=["mlflow-workspaces"])


class WorkspaceCreate(BaseModel):
    name: str | None = None
    description: str | None = None
    default_artifact_root: str | None = None
    trace_archival_config: dict[str, Any] | None = None


class WorkspaceUpdate(BaseModel):
    description: str | None = None
    default_artifact_root: str | None = None
    trace_archival_config: dict[str, Any] | None = None


def _refuse_trace_archival(config: dict[str, Any] | None) -> None:
    if config:
        raise InvalidParameter("'trace_archival_config' is not supported: runyard does not archive traces")


def workspace_json(workspace: Workspace) -> dict[str, Any]:
    data: dict[str, Any] = {"name": workspace.name}
    if workspace.description is not None:
        data["description"] = workspace.description
    if workspace.default_artifact_root is not None:
        data["default_artifact_root"] = workspace.default_artifact_root
    return data


@router.get("", dependencies=[access.authenticated])
async def list_workspaces(request: Request) -> Response:
    """Every workspace, by name."""
    found = await platform_of(request).read(service.list_workspaces)
    return JSONResponse({"workspaces": [workspace_json(workspace) for workspace in found]})


@router.post("", dependencies=[access.admin])
async def create_workspace(request: Request) -> Response:
    """Create a workspace (201)."""
    body = await parse_json(request, WorkspaceCreate)
    _refuse_trace_archival(body.trace_archival_config)
    workspace = await platform_of(request).write(
        lambda c: service.create_workspace(
            c, body.name, description=body.description, default_artifact_root=body.default_artifact_root
        )
    )
    return JSONResponse({"workspace": workspace_json(workspace)}, status_code=201)


@router.get("/{name}", dependencies=[access.authenticated])
async def get_workspace(name: str, request: Request) -> Response:
    """One workspace."""
    workspace = await platform_of(request).read(lambda c: service.get_workspace(c, name))
    return JSONResponse({"workspace": workspace_json(workspace)})


@router.patch("/{name}", dependencies=[access.admin])
async def update_workspace(name: str, request: Request) -> Response:
    """Change a workspace's description or artifact root (an empty root clears it)."""
    body = await parse_json(request, WorkspaceUpdate)
    _refuse_trace_archival(body.trace_archival_config)
    workspace = await platform_of(request).write(
        lambda c: service.update_workspace(
            c, name, description=body.description, default_artifact_root=body.default_artifact_root
        )
    )
    return JSONResponse({"workspace": workspace_json(workspace)})


@router.delete("/{name}", dependencies=[access.admin])
async def delete_workspace(name: str, request: Request) -> Response:
    """Delete a workspace: ``mode=RESTRICT`` (default) refuses one that is not empty (204)."""
    mode = parse_deletion_mode(request.query_params.get("mode"))
    await platform_of(request).write(lambda c: service.delete_workspace(c, name, mode))
    return Response(status_code=204)
