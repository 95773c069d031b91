"""Browser sessions: ``POST /api/v1/auth/login`` and ``/logout``, ``GET /api/v1/auth/me``.

The cookie is HttpOnly, SameSite=Lax, Secure when the root URL is https, and lives as long as the
session's absolute expiry. The answer to a login carries the session's CSRF token for clients that
cannot send a matching ``Origin``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from runyard.api import access
from runyard.api.auth import _deps
from runyard.api.requests import parse_json
from runyard.api.responses import JSONResponse
from runyard.domain.clock import now_ms
from runyard.errors import InvalidParameter
from runyard.services import identity_sessions, identity_users

router = APIRouter(tags=["auth"])


class Login(BaseModel):
    username: str
    password: str


def _secret(request: Request) -> str:
    secret = _deps.platform(request).settings.cookie_secret
    if secret is None:
        raise InvalidParameter("sessions need auth enabled (RUNYARD_AUTH_ENABLED and RUNYARD_COOKIE_SECRET)")
    return secret.get_secret_value()


def _secure(request: Request) -> bool:
    root_url = _deps.platform(request).settings.root_url
    return bool(root_url and root_url.lower().startswith("https://"))


@router.post("/auth/login", dependencies=[access.public])
async def login(request: Request) -> Response:
    """Sign in with a local username and password; sets the session cookie."""
    body = await parse_json(request, Login)
    settings = _deps.platform(request).settings
    secret = _secret(request)
    client = request.client.host if request.client else None
    authenticator = _deps.authenticator(request)
    if authenticator is None:
        raise InvalidParameter("sign-in needs auth enabled (RUNYARD_AUTH_ENABLED=true)")
    acting = await run_in_threadpool(authenticator.login, body.username, body.password, client)

    def work(connection: Connection) -> tuple[identity_sessions.NewSession, Any]:
        user = identity_users.get_user(connection, user_id=acting.user_id)
        started = identity_sessions.start_session(
            connection, user, secret=secret, now=now_ms(), max_age_seconds=settings.session_max_age_seconds
        )
        return started, user

    started, user = await _deps.platform(request).write(work)
    response = JSONResponse(
        {
            "user": {"id": user.id, "username": user.username, "is_admin": user.is_admin},
            "csrf_token": started.csrf_token,
        }
    )
    response.set_cookie(
        identity_sessions.COOKIE_NAME,
        started.cookie,
        max_age=settings.session_max_age_seconds,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )
    return response


@router.post("/auth/logout", dependencies=[access.public])
async def logout(request: Request) -> Response:
    """End this browser session on every replica and clear the cookie."""
    cookie = request.cookies.get(identity_sessions.COOKIE_NAME)
    if cookie:
        secret = _secret(request)
        await _deps.platform(request).write(lambda c: identity_sessions.end_session(c, cookie, secret))
    response = JSONResponse({})
    response.delete_cookie(
        identity_sessions.COOKIE_NAME, path="/", httponly=True, samesite="lax", secure=_secure(request)
    )
    return response


@router.get("/auth/me", dependencies=[access.signed_in])
async def me(request: Request) -> Response:
    """Who the request acts as (401 when nobody)."""
    acting = _deps.signed_in(request)
    return JSONResponse(
        {
            "kind": acting.kind,
            "name": acting.name,
            "is_admin": acting.is_admin,
            "workspace": acting.workspace,
            "pool": acting.pool,
            "via": acting.via,
            "csrf_token": acting.csrf_token,
        }
    )
