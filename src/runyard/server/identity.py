"""Resolve the acting principal of every request, once, before any route runs.

An app-level dependency: it reads the request's credentials (``Authorization``, the session cookie,
the workspace header), asks the platform's authenticator who they name (off the event loop: a token
lookup may touch the database) and leaves the answer on ``request.state.principal`` for the routes'
access rules. A wrong credential is refused here with 401, whatever the route; so are a request
addressed to a host other than the root URL's and a cross-site change carried by a session cookie.
"""

from __future__ import annotations

import anyio.to_thread
from starlette.requests import Request

from runyard.api.auth.guards import check_host, check_origin
from runyard.api.deps import platform_of
from runyard.api.workspace import requested_workspace
from runyard.domain.identity import ANONYMOUS, LOCAL_PRINCIPAL, Principal
from runyard.errors import Unauthenticated
from runyard.services.identity_sessions import COOKIE_NAME

SESSION_COOKIE = COOKIE_NAME


async def resolve_principal(request: Request) -> Principal:
    platform = platform_of(request)
    settings = platform.settings
    if not settings.auth_enabled:
        principal = LOCAL_PRINCIPAL
    else:
        check_host(request, settings)
        authorization = request.headers.get("authorization")
        cookie = request.cookies.get(SESSION_COOKIE)
        workspace = requested_workspace(request)
        if authorization is None and cookie is None:
            # No credential: nothing to look up (anonymous; the route's rule decides).
            principal = (
                ANONYMOUS if workspace is None else Principal(kind="anonymous", name="anonymous", workspace=workspace)
            )
        elif (cached := platform.authenticator.authenticate_cached(authorization, cookie, workspace)) is not None:
            # Verified a moment ago (within auth_cache_seconds): no database, no worker thread.
            principal = cached
        else:
            client = request.client.host if request.client else None
            try:
                principal = await anyio.to_thread.run_sync(
                    platform.authenticator.authenticate, authorization, cookie, workspace, client
                )
            except Unauthenticated:
                # A browser keeps an ended session's cookie. Alone, it must not lock its owner out of the
                # sign-in routes: it counts as no credential, and every other route answers 401 as before.
                if authorization is not None:
                    raise
                principal = (
                    ANONYMOUS
                    if workspace is None
                    else Principal(kind="anonymous", name="anonymous", workspace=workspace)
                )
        check_origin(request, principal, settings)
    request.state.principal = principal
    return principal
