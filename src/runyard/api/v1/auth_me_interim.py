"""Interim ``GET /api/v1/auth/me``: who the session cookie belongs to, until identity's own route lands.

Identity's ``/api/v1/auth/me`` (on the principal the server resolves for every request) replaces
this module; it exists so OIDC login can be shown end to end before then.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from runyard.api import access
from runyard.api.deps import platform_of
from runyard.api.responses import JSONResponse
from runyard.errors import Unauthenticated
from runyard.services.oidc_accounts import SESSION_COOKIE, InterimAccounts
from runyard.settings import ServerSettings


def build_router(settings: ServerSettings) -> APIRouter:
    secret = settings.cookie_secret.get_secret_value() if settings.cookie_secret is not None else ""
    accounts = InterimAccounts(secret)
    router = APIRouter(prefix="/auth", tags=["auth"])

    # Public as a route: it answers 401 itself when the cookie names no session.
    @router.get("/me", dependencies=[access.public])
    async def current_user(request: Request) -> Response:
        """The signed-in user of this browser session."""
        cookie = request.cookies.get(SESSION_COOKIE)
        user = await platform_of(request).read(lambda c: accounts.session_user(c, cookie)) if secret else None
        if user is None:
            raise Unauthenticated("Not signed in (no valid session cookie).")
        # The shape of identity's ``/auth/me`` (the principal), so clients need not change when it lands.
        return JSONResponse(
            {
                "kind": "user",
                "name": user.username,
                "is_admin": user.is_admin,
                "workspace": "default",
                "pool": None,
                "via": "session",
                "csrf_token": None,
            }
        )

    return router
