"""OIDC login routes: ``GET /api/v1/auth/login/<key>`` (to the provider) and ``…/<key>/callback`` (back).

``GET /api/v1/auth/providers`` lists the configured providers for a login page. The flow itself is
in ``services/oidc.py`` (the provider protocol) and ``services/oidc_logins.py`` (the steps around
it); these routes only move values between HTTP and those services.
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from runyard.api import access
from runyard.api.deps import platform_of
from runyard.api.responses import JSONResponse
from runyard.errors import InvalidParameter, Unauthenticated
from runyard.services import oidc_logins as logins
from runyard.services.identity_sessions import COOKIE_NAME as SESSION_COOKIE
from runyard.services.identity_startup import new_user_policy
from runyard.services.oidc import OidcClient, OidcClients, ProviderIdentity
from runyard.settings import ServerSettings

# Binds a pending login to the browser that started it; sent only to the login routes.
BINDING_COOKIE = "runyard_oidc_login"
BINDING_PATH = "/api/v1/auth/login"


def build_router(settings: ServerSettings) -> APIRouter:
    """The OIDC routes of a server with ``settings`` (no provider answers when auth is off)."""
    clients = OidcClients.from_settings(settings)
    secret = settings.cookie_secret.get_secret_value() if settings.cookie_secret is not None else ""
    max_age = settings.session_max_age_seconds
    policy = new_user_policy(settings)
    # Secure cookies only travel over https; a plain-http root URL (a laptop, tests) must still work.
    secure = bool(settings.root_url and settings.root_url.startswith("https://"))
    router = APIRouter(prefix="/auth", tags=["auth"])

    @router.get("/providers", dependencies=[access.public])
    async def list_oidc_providers() -> Response:
        """The OIDC providers a user may sign in with (for a login page)."""
        providers = [
            {"key": key, "name": clients.get(key).provider.name, "login_url": f"{BINDING_PATH}/{key}"}
            for key in clients.keys()
        ]
        return JSONResponse({"providers": providers})

    @router.get("/login/{key}", dependencies=[access.public])
    async def start_oidc_login(request: Request, key: str) -> Response:
        """Redirect the browser to provider ``key``; ``?next=/path`` is where it lands after login."""
        client = clients.get(key)
        return_to = logins.check_return_to(request.query_params.get("next"))
        authorization = await run_in_threadpool(client.authorization_request)
        browser_token = secrets.token_urlsafe(32)
        await platform_of(request).write(
            lambda c: logins.save_pending_login(c, key, authorization, browser_token=browser_token, return_to=return_to)
        )
        response = RedirectResponse(authorization.url, status_code=302)
        response.set_cookie(
            BINDING_COOKIE, browser_token, max_age=logins.PENDING_LOGIN_SECONDS, path=BINDING_PATH,
            httponly=True, samesite="lax", secure=secure,
        )  # fmt: skip
        return response

    @router.get("/login/{key}/callback", dependencies=[access.public])
    async def finish_oidc_login(request: Request, key: str) -> Response:
        """The provider's redirect back: check it, start a session, send the browser on."""
        client = clients.get(key)
        query = request.query_params
        context = platform_of(request)
        # Taken (deleted) first, whatever follows: a state is good for one callback only.
        pending = await context.write(
            lambda c: logins.take_pending_login(
                c, key, state=query.get("state"), browser_token=request.cookies.get(BINDING_COOKIE)
            )
        )
        if query.get("error"):
            detail = f" ({query['error_description']})" if query.get("error_description") else ""
            raise Unauthenticated(f"{client.provider.name} refused the login: {query['error']}{detail}")
        code = query.get("code")
        if not code:
            raise InvalidParameter("The login callback has no 'code'.")
        identity = await run_in_threadpool(_verified_identity, client, query.get("iss"), code, pending)
        logins.admit(client.provider, identity)
        session = await context.write(
            lambda c: logins.complete_login(
                c, client.provider, identity, policy=policy, cookie_secret=secret, max_age_seconds=max_age
            )
        )
        response = RedirectResponse(pending.return_to or "/", status_code=303)
        response.set_cookie(
            SESSION_COOKIE, session.cookie, max_age=max_age, path="/", httponly=True, samesite="lax", secure=secure
        )
        response.delete_cookie(BINDING_COOKIE, path=BINDING_PATH, httponly=True, samesite="lax", secure=secure)
        return response

    return router


def _verified_identity(
    client: OidcClient, iss: str | None, code: str, pending: logins.PendingLogin
) -> ProviderIdentity:
    client.check_callback_issuer(iss)
    return client.fetch_identity(code, nonce=pending.nonce, code_verifier=pending.code_verifier)
