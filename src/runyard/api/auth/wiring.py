"""Resolve the acting principal once per request, and refuse anonymous requests when auth is on.

An ASGI middleware (not a per-route dependency) so the check costs one function call on the hot
tracking paths. Finer decisions (403 without a permission) are each route's declaration.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from runyard.api.auth import auth_router
from runyard.api.errors import error_response
from runyard.domain.identity import LOCAL_PRINCIPAL, Principal
from runyard.errors import PermissionDenied, RunyardError, Unauthenticated
from runyard.services.identity_protocol import Authenticator, AuthOff
from runyard.services.identity_sessions import COOKIE_NAME
from runyard.settings import ServerSettings

# Answer without credentials even with auth on: probes, metrics, sign-in and what a client asks
# before it signs in.
PUBLIC_PATHS = frozenset(
    {
        "/health",
        "/ready",
        "/metrics",
        "/version",
        "/api/v1/auth/login",
        "/api/3.0/mlflow/server-info",
        "/ajax-api/3.0/mlflow/server-info",
    }
)
# Probes come from the orchestrator, addressed to the pod, not to the public host.
PROBE_PATHS = frozenset({"/health", "/ready", "/metrics"})
PUBLIC_PREFIXES = ("/api/v1/auth/login/",)  # OpenID login and callback per provider
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


class IdentityMiddleware:
    """Puts the principal on ``request.state.principal``; 401 for a wrong credential or none at all."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator, settings: ServerSettings) -> None:
        self.app = app
        self.authenticator = authenticator
        self.enabled = settings.auth_enabled
        root = urlsplit(settings.root_url) if settings.root_url else None
        self.root_host = root.netloc.lower() if root else None
        self.root_origin = f"{root.scheme}://{root.netloc}".lower() if root else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self.enabled:
            scope.setdefault("state", {})["principal"] = LOCAL_PRINCIPAL
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        path = scope["path"]
        try:
            self._check_host(request)
            principal = await self._resolve(request)
            if not principal.is_authenticated and not is_public(path):
                raise Unauthenticated("authentication required: send a token, a username and password, or sign in")
            self._check_origin(request, principal)
        except RunyardError as error:
            response = error_response(error.error_code, error.message)
            if isinstance(error, Unauthenticated):
                response.headers["WWW-Authenticate"] = 'Basic realm="runyard"'
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)

    async def _resolve(self, request: Request) -> Principal:
        authorization = request.headers.get("authorization")
        cookie = request.cookies.get(COOKIE_NAME)
        workspace = request.headers.get("x-mlflow-workspace")
        if not authorization and not cookie:
            return await run_in_threadpool(self.authenticator.authenticate, None, None, workspace)
        client = request.client.host if request.client else None
        return await run_in_threadpool(self.authenticator.authenticate, authorization, cookie, workspace, client)

    def _check_host(self, request: Request) -> None:
        """DNS rebinding: with a root URL set, only requests addressed to its host are served."""
        if self.root_host is None:
            return
        host = (request.headers.get("host") or "").lower()
        if host != self.root_host and request.url.path not in PROBE_PATHS:
            raise PermissionDenied(f"requests must be addressed to {self.root_host}, not {host or 'no host'}")

    def _check_origin(self, request: Request, principal: Principal) -> None:
        """CSRF: a state-changing request carried by the session cookie must come from our own pages."""
        if principal.via != "session" or request.method in SAFE_METHODS:
            return
        csrf = request.headers.get("x-csrf-token")
        if csrf and principal.csrf_token and csrf == principal.csrf_token:
            return
        origin = (request.headers.get("origin") or "").lower().rstrip("/")
        expected = self.root_origin or f"{request.url.scheme}://{(request.headers.get('host') or '').lower()}"
        if not origin or origin != expected:
            raise PermissionDenied(
                "cross-site request refused: a cookie-authenticated change needs a matching Origin or X-CSRF-Token"
            )


def install(app: FastAPI, settings: ServerSettings, authenticator: Authenticator | None) -> Authenticator:
    """Add identity to ``app``: the authenticator (auth off: the local operator), its middleware, its routes."""
    chosen: Authenticator = authenticator if authenticator is not None else AuthOff()
    app.state.authenticator = chosen
    app.add_middleware(IdentityMiddleware, authenticator=chosen, settings=settings)
    app.include_router(auth_router())
    return chosen
