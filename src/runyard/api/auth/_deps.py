"""What the identity routes need from the assembled server: the platform, the principal, the authenticator."""

from __future__ import annotations

from starlette.requests import Request

from runyard.api.deps import current_principal, platform_of
from runyard.domain.identity import Principal
from runyard.errors import PermissionDenied, Unauthenticated
from runyard.scheduler.platform import Platform
from runyard.services.identity_authenticator import DatabaseAuthenticator


def platform(request: Request) -> Platform:
    return platform_of(request)


def authenticator(request: Request) -> DatabaseAuthenticator | None:
    """The database authenticator (None with auth off: there is no cache to keep honest)."""
    chosen = platform_of(request).authenticator
    return chosen if isinstance(chosen, DatabaseAuthenticator) else None


def forget_user(request: Request, user_id: int) -> None:
    chosen = authenticator(request)
    if chosen is not None:
        chosen.forget_user(user_id)


def forget_all(request: Request) -> None:
    chosen = authenticator(request)
    if chosen is not None:
        chosen.forget_all()


def principal(request: Request) -> Principal:
    return current_principal(request)


def signed_in(request: Request) -> Principal:
    """The principal, which must be signed in (the route's access rule has usually refused others already)."""
    acting = current_principal(request)
    if not acting.is_authenticated:
        raise Unauthenticated("sign in first: send a token, a username and password, or a session cookie")
    return acting


def require_admin(acting: Principal) -> None:
    if not acting.is_admin:
        raise PermissionDenied("Permission denied: this needs an admin")
