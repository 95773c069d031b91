"""Request checks that come with browser-facing auth: DNS rebinding (Host) and CSRF (Origin).

- With a root URL configured, a request addressed to another ``Host`` is refused: a page on an
  attacker's domain re-pointed at our address (DNS rebinding) sends its own host name.
- A state-changing request carried by the session cookie must come from our own pages: an
  ``Origin`` equal to the root URL's (or, without a root URL, the request's own host), or the
  session's CSRF token in ``X-CSRF-Token``. Tokens and passwords cannot be sent by a foreign page,
  so only cookie-authenticated requests need this.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request

from runyard.domain.identity import Principal
from runyard.errors import PermissionDenied
from runyard.settings import ServerSettings

# Probes come from the orchestrator, addressed to the pod, not to the public host.
PROBE_PATHS = frozenset({"/health", "/ready", "/metrics"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-csrf-token"


def check_host(request: Request, settings: ServerSettings) -> None:
    if not settings.root_url or request.url.path in PROBE_PATHS:
        return
    expected = urlsplit(settings.root_url).netloc.lower()
    host = (request.headers.get("host") or "").lower()
    if host != expected:
        raise PermissionDenied(f"requests must be addressed to {expected}, not {host or 'no host'}")


def check_origin(request: Request, principal: Principal, settings: ServerSettings) -> None:
    if principal.via != "session" or request.method in SAFE_METHODS:
        return
    csrf = request.headers.get(CSRF_HEADER)
    if csrf and principal.csrf_token and csrf == principal.csrf_token:
        return
    if settings.root_url:
        root = urlsplit(settings.root_url)
        expected = f"{root.scheme}://{root.netloc}".lower()
    else:
        expected = f"{request.url.scheme}://{(request.headers.get('host') or '').lower()}"
    origin = (request.headers.get("origin") or "").lower().rstrip("/")
    if origin != expected:
        raise PermissionDenied(
            "cross-site request refused: a cookie-authenticated change needs a matching Origin or X-CSRF-Token"
        )
