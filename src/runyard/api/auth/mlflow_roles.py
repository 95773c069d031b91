"""MLflow 3.17's RBAC API: roles per workspace, role permissions, role assignment, per-user grants.

Admins may do everything; a workspace admin (MANAGE on the workspace) manages the roles of that
workspace; a user holding MANAGE on a resource may grant and revoke permissions on it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response

from runyard.api import access
from runyard.api.auth import _deps
from runyard.api.requests import parse_json, validate
from runyard.api.responses import JSONResponse
from runyard.domain.identity import Level, Principal
from runyard.errors import PermissionDenied
from runyard.services import identity_permissions as service
from runyard.services import identity_users

router = APIRouter(tags=["auth"])

PREFIXES = ("/api/3.0/mlflow", "/ajax-api/3.0/mlflow")


class RoleCreate(BaseModel):
    workspace: str
    name: str
    description: str | None = None


class RoleRef(BaseModel):
    role_id: int


class RoleUpdate(BaseModel):
    role_id: int
    name: str | None = None
    description: str | None = None


class WorkspaceQuery(BaseModel):
    workspace: str | None = None


class PermissionAdd(BaseModel):
    role_id: int
    resource_type: str
    resource_pattern: str
    permission: str


class PermissionRef(BaseModel):
    role_permission_id: int


class PermissionUpdate(BaseModel):
    role_permission_id: int
    permission: str


class Assignment(BaseModel):
    username: str
    role_id: int


class UsernameQuery(BaseModel):
    username: str


class UserGrant(BaseModel):
    username: str
    resource_type: str
    resource_id: str
    permission: str


class UserGrantRef(BaseModel):
    username: str
    resource_type: str
    resource_id: str


def _manage_workspace(connection: Connection, acting: Principal, workspace: str) -> None:
    if not service.is_workspace_admin(connection, acting, workspace):
        raise PermissionDenied(f"Permission denied: managing roles of workspace '{workspace}' needs its admin")


def _manage_role(connection: Connection, acting: Principal, role_id: int) -> Any:
    role = service.get_role(connection, role_id)
    _manage_workspace(connection, acting, role.workspace)
    return role


async def create_role(request: Request) -> Response:
    acting = _deps.signed_in(request)
    body = await parse_json(request, RoleCreate)

    def work(connection: Connection) -> dict[str, Any]:
        _manage_workspace(connection, acting, body.workspace)
        return service.role_json(
            connection, service.create_role(connection, body.workspace, body.name, body.description)
        )

    return JSONResponse({"role": await _deps.platform(request).write(work)})


async def get_role(request: Request) -> Response:
    acting = _deps.signed_in(request)
    query = validate(RoleRef, dict(request.query_params))

    def work(connection: Connection) -> dict[str, Any]:
        return service.role_json(connection, _manage_role(connection, acting, query.role_id))

    return JSONResponse({"role": await _deps.platform(request).read(work)})


async def list_roles(request: Request) -> Response:
    acting = _deps.signed_in(request)
    query = validate(WorkspaceQuery, dict(request.query_params))

    def work(connection: Connection) -> list[dict[str, Any]]:
        if query.workspace is None:
            _deps.require_admin(acting)
        else:
            _manage_workspace(connection, acting, query.workspace)
        return [service.role_json(connection, row) for row in service.list_roles(connection, query.workspace)]

    return JSONResponse({"roles": await _deps.platform(request).read(work)})


async def update_role(request: Request) -> Response:
    acting = _deps.signed_in(request)
    body = await parse_json(request, RoleUpdate)

    def work(connection: Connection) -> dict[str, Any]:
        _manage_role(connection, acting, body.role_id)
        return service.role_json(
            connection, service.update_role(connection, body.role_id, name=body.name, description=body.description)
        )

    return JSONResponse({"role": await _deps.platform(request).write(work)})


async def delete_role(request: Request) -> Response:
    acting = _deps.signed_in(request)
    body = await parse_json(request, RoleRef)

    def work(connection: Connection) -> None:
        _manage_role(connection, acting, body.role_id)
        service.delete_role(connection, body.role_id)

    await _deps.platform(request).write(work)
    return JSONResponse({})


async def add_permission(request: Request) -> Response:
    acting = _deps.signed_in(request)
    body = await parse_json(request, PermissionAdd)

    def work(connection: Connection) -> dict[str, Any]:
        _manage_role(connection, acting, body.role_id)
        row = service.add_role_permission(
            connection, body.role_id, body.resource_type, body.resource_pattern, body.permission
        )
        return service.permission_json(row)

    return JSONResponse({"role_permission": await _deps.platform(request).write(work)})


async def remove_permission(request: Request) -> Response:
    acting = _deps.signed_in(request)
    body = await parse_json(request, PermissionRef)

    def work(connection: Connection) -> None:
        _manage_role(connection, acting, int(service.get_role_permission(connection, body.role_permission_id).role_id))
        service.remove_role_permission(connection, body.role_permission_id)

    await _deps.platform(request).write(work)
    return JSONResponse({})


async def list_permissions(request: Request) -> Response:
    acting = _deps.signed_in(request)
    query = validate(RoleRef, dict(request.query_params))

    def work(connection: Connection) -> list[dict[str, Any]]:
        _manage_role(connection, acting, query.role_id)
        return [service.permission_json(row) for row in service.list_role_permissions(connection, query.role_id)]

    return JSONResponse({"role_permissions": await _deps.platform(request).read(work)})


async def update_permission(request: Request) -> Response:
    acting = _deps.signed_in(request)
    body = await parse_json(request, PermissionUpdate)

    def work(connection: Connection) -> dict[str, Any]:
        _manage_role(connection, acting, int(service.get_role_permission(connection, body.role_permission_id).role_id))
        return service.permission_json(
            service.update_role_permission(connection, body.role_permission_id, body.permission)
        )

    return JSONResponse({"role_permission": await _deps.platform(request).write(work)})


async def assign_role(request: Request) -> Response:
    acting = _deps.signed_in(request)
    body = await parse_json(request, Assignment)

    def work(connection: Connection) -> dict[str, Any]:
        _manage_role(connection, acting, body.role_id)
        row = service.assign_role(connection, body.username, body.role_id)
        return {"id": int(row.id), "user_id": int(row.user_id), "role_id": int(row.role_id)}

    return JSONResponse({"assignment": await _deps.platform(request).write(work)})


async def unassign_role(request: Request) -> Response:
    acting = _deps.signed_in(request)
    body = await parse_json(request, Assignment)

    def work(connection: Connection) -> None:
        _manage_role(connection, acting, body.role_id)
        service.unassign_role(connection, body.username, body.role_id)

    await _deps.platform(request).write(work)
    return JSONResponse({})


async def list_user_roles(request: Request) -> Response:
    acting = _deps.signed_in(request)
    query = validate(UsernameQuery, dict(request.query_params))

    def work(connection: Connection) -> list[dict[str, Any]]:
        rows = service.list_user_roles(connection, query.username)
        if acting.name != query.username or acting.kind != "user":
            rows = [row for row in rows if service.is_workspace_admin(connection, acting, row.workspace)]
        return [service.role_json(connection, row) for row in rows]

    return JSONResponse({"roles": await _deps.platform(request).read(work)})


async def list_role_users(request: Request) -> Response:
    acting = _deps.signed_in(request)
    query = validate(RoleRef, dict(request.query_params))

    def work(connection: Connection) -> list[dict[str, Any]]:
        _manage_role(connection, acting, query.role_id)
        return [
            {"id": int(row.id), "user_id": int(row.user_id), "role_id": int(row.role_id), "username": row.username}
            for row in service.list_role_users(connection, query.role_id)
        ]

    return JSONResponse({"assignments": await _deps.platform(request).read(work)})


def _may_grant(connection: Connection, acting: Principal, workspace: str, resource_type: str, resource_id: str) -> None:
    if service.is_workspace_admin(connection, acting, workspace):
        return
    if service.level(connection, acting, workspace, resource_type, resource_id) >= Level.MANAGE:
        return
    raise PermissionDenied(f"Permission denied: granting on {resource_type} '{resource_id}' needs MANAGE on it")


async def grant_user_permission(request: Request) -> Response:
    acting = _deps.signed_in(request)
    body = await parse_json(request, UserGrant)
    workspace = acting.workspace

    def work(connection: Connection) -> None:
        _may_grant(connection, acting, workspace, body.resource_type, body.resource_id)
        service.grant_user_permission(
            connection, body.username, workspace, body.resource_type, body.resource_id, body.permission
        )

    await _deps.platform(request).write(work)
    return JSONResponse({})


async def revoke_user_permission(request: Request) -> Response:
    acting = _deps.signed_in(request)
    body = await parse_json(request, UserGrantRef)
    workspace = acting.workspace

    def work(connection: Connection) -> None:
        _may_grant(connection, acting, workspace, body.resource_type, body.resource_id)
        service.revoke_user_permission(connection, body.username, workspace, body.resource_type, body.resource_id)

    await _deps.platform(request).write(work)
    return JSONResponse({})


async def get_user_permission(request: Request) -> Response:
    acting = _deps.signed_in(request)
    query = validate(UserGrantRef, dict(request.query_params))
    workspace = acting.workspace

    def work(connection: Connection) -> str:
        if query.username != acting.name and not service.is_workspace_admin(connection, acting, workspace):
            raise PermissionDenied("Permission denied: reading another user's permissions needs a workspace admin")
        user = identity_users.get_user(connection, username=query.username)
        subject = Principal(
            kind="user", name=user.username, is_admin=user.is_admin, user_id=user.id, workspace=workspace
        )
        grants = service.grants_of(connection, subject, workspace)
        return service.permission_name(subject, grants, query.resource_type, query.resource_id)

    permission = await _deps.platform(request).read(work)
    allowed = permission not in ("NO_PERMISSIONS", "DENY", "READ")
    return JSONResponse({"allowed": allowed, "permission": permission})


for _path, _endpoint, _method in (
    ("/roles/create", create_role, "POST"),
    ("/roles/get", get_role, "GET"),
    ("/roles/list", list_roles, "GET"),
    ("/roles/update", update_role, "PATCH"),
    ("/roles/delete", delete_role, "DELETE"),
    ("/roles/permissions/add", add_permission, "POST"),
    ("/roles/permissions/remove", remove_permission, "DELETE"),
    ("/roles/permissions/list", list_permissions, "GET"),
    ("/roles/permissions/update", update_permission, "PATCH"),
    ("/roles/assign", assign_role, "POST"),
    ("/roles/unassign", unassign_role, "DELETE"),
    ("/users/roles/list", list_user_roles, "GET"),
    ("/roles/users/list", list_role_users, "GET"),
    ("/users/permissions/grant", grant_user_permission, "POST"),
    ("/users/permissions/revoke", revoke_user_permission, "POST"),
    ("/users/permissions/get", get_user_permission, "GET"),
):
    for _prefix in PREFIXES:
        router.add_api_route(
            f"{_prefix}{_path}",
            _endpoint,
            methods=[_method],
            include_in_schema=False,
            dependencies=[access.authenticated],
        )
