"""Resolve the acting principal of every request, once, before any route runs.

An app-level dependency: it reads the request's credentials (``Authorization``, the session cookie,
the workspace header), asks the platform's authenticator who they name (off the event loop: a token
lookup may touch the database) and leaves the answer on ``request.state.principal`` for the routes'
access rules. A wrong credential is refused here with 401, whatever the route.
"""

from __future__ import annotations

import anyio.to_thread
from starlette.requests import Request

from runyard.api.deps import platform_of
from runyard.domain.identity import LOCAL_PRINCIPAL, Principal

SESSION_COOKIE = "runyard_session"
WORKSPACE_HEADER = "x-mlflow-workspace"


async def resolve_principal(request: Request) -> Principal:
    platform = platform_of(request)
    if not platform.settings.auth_enabled:
        principal = LOCAL_PRINCIPAL
    else:
        authorization = request.headers.get("authorization")
        cookie = request.cookies.get(SESSION_COOKIE)
        workspace = request.headers.get(WORKSPACE_HEADER)
        principal = await anyio.to_thread.run_sync(
            platform.authenticator.authenticate, authorization, cookie, workspace
        )
    request.state.principal = principal
    return principal
