"""MLflow 3.17's basic-auth user API (``mlflow/server/auth/routes.py``), served at its REST and ajax paths.

``AuthServiceClient`` works unchanged against these: create, get, current, list, update-password
(one's own needs ``current_password``), update-admin, delete.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from runyard.api import access
from runyard.api.auth import _deps
from runyard.api.requests import parse_json, validate
from runyard.api.responses import JSONResponse
from runyard.domain.identity import User
from runyard.errors import InvalidParameter, PermissionDenied
from runyard.services import identity_permissions, identity_users
from runyard.services.identity_startup import new_user_policy

router = APIRouter(tags=["auth"])

REST, AJAX = "/api/2.0/mlflow", "/ajax-api/2.0/mlflow"


def _both(path: str) -> list[str]:
    return [f"{REST}{path}", f"{AJAX}{path}"]


class UserCreate(BaseModel):
    username: str
    password: str


class PasswordUpdate(BaseModel):
    username: str
    password: str
    current_password: str | None = None


class AdminUpdate(BaseModel):
    username: str
    is_admin: bool


class UserRef(BaseModel):
    username: str


def user_json(user: User) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "is_admin": user.is_admin}


async def create_user(request: Request) -> Response:
    acting = _deps.signed_in(request)
    body = await parse_json(request, UserCreate)
    if not body.username or not body.password:
        raise InvalidParameter("Username and password cannot be empty.")

    policy = new_user_policy(_deps.platform(request).settings)

    def work(connection: Any) -> User:
        if not identity_permissions.administers_any_workspace(connection, acting):
            raise PermissionDenied("Permission denied: creating users needs an admin or a workspace admin")
        return identity_users.create_user(connection, body.username, body.password, policy=policy)

    user = await _deps.platform(request).write(work)
    return JSONResponse({"user": user_json(user)})


async def get_user(request: Request) -> Response:
    acting = _deps.signed_in(request)
    query = validate(UserRef, dict(request.query_params))
    if not acting.is_admin and acting.name != query.username:
        raise PermissionDenied("Permission denied: a user may read only their own account")
    user = await _deps.platform(request).read(lambda c: identity_users.get_user(c, username=query.username))
    return JSONResponse({"user": user_json(user)})


async def current_user(request: Request) -> Response:
    acting = _deps.signed_in(request)
    if acting.kind != "user" or acting.user_id is None:
        return JSONResponse(
            {
                "user": {"id": acting.user_id, "username": acting.name, "is_admin": acting.is_admin},
                "is_basic_auth": True,
            }
        )
    user = await _deps.platform(request).read(lambda c: identity_users.get_user(c, user_id=acting.user_id))
    return JSONResponse({"user": user_json(user), "is_basic_auth": True})


async def list_users(request: Request) -> Response:
    acting = _deps.signed_in(request)

    def work(connection: Any) -> list[User]:
        if not identity_permissions.administers_any_workspace(connection, acting):
            raise PermissionDenied("Permission denied: listing users needs an admin or a workspace admin")
        return identity_users.list_users(connection)

    users = await _deps.platform(request).read(work)
    return JSONResponse({"users": [{**user_json(user), "roles": []} for user in users]})


async def update_password(request: Request) -> Response:
    acting = _deps.signed_in(request)
    body = await parse_json(request, PasswordUpdate)
    own = acting.name == body.username and acting.kind == "user"
    if not own and not acting.is_admin:
        raise PermissionDenied("Permission denied: a user may change only their own password")

    def work(connection: Any) -> User:
        identity_users.set_password(
            connection, body.username, body.password, current_password=body.current_password, check_current=own
        )
        return identity_users.get_user(connection, username=body.username)

    user = await _deps.platform(request).write(work)
    _deps.forget_user(request, user.id)
    return JSONResponse({})


async def update_admin(request: Request) -> Response:
    acting = _deps.signed_in(request)
    _deps.require_admin(acting)
    body = await parse_json(request, AdminUpdate)

    def work(connection: Any) -> User:
        identity_users.set_admin(connection, body.username, body.is_admin)
        return identity_users.get_user(connection, username=body.username)

    user = await _deps.platform(request).write(work)
    _deps.forget_user(request, user.id)
    return JSONResponse({})


async def delete_user(request: Request) -> Response:
    acting = _deps.signed_in(request)
    _deps.require_admin(acting)
    body = await parse_json(request, UserRef)

    def work(connection: Any) -> User:
        user = identity_users.get_user(connection, username=body.username)
        identity_users.delete_user(connection, body.username)
        return user

    user = await _deps.platform(request).write(work)
    _deps.forget_user(request, user.id)
    return JSONResponse({})


for _path, _endpoint, _method in (
    ("/users/create", create_user, "POST"),
    ("/users/get", get_user, "GET"),
    ("/users/current", current_user, "GET"),
    ("/users/list", list_users, "GET"),
    ("/users/update-password", update_password, "PATCH"),
    ("/users/update-admin", update_admin, "PATCH"),
    ("/users/delete", delete_user, "DELETE"),
):
    for _full in _both(_path):
        router.add_api_route(
            _full, _endpoint, methods=[_method], include_in_schema=False, dependencies=[access.authenticated]
        )
