"""What the identity routes need from the assembled server: unit of work, principal, authenticator.

Kept in one module so the routes do not depend on how the server is assembled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection
from starlette.requests import Request

from runyard.domain.identity import Principal
from runyard.errors import PermissionDenied, Unauthenticated
from runyard.settings import ServerSettings

T = TypeVar("T")


class UnitOfWork(Protocol):
    settings: ServerSettings

    async def read(self, work: Callable[[Connection], T]) -> T: ...

    async def write(self, work: Callable[[Connection], T]) -> T: ...


def platform(request: Request) -> UnitOfWork:
    context: UnitOfWork = request.app.state.context
    return context


def authenticator(request: Request) -> Any:
    return request.app.state.authenticator


def principal(request: Request) -> Principal:
    acting: Principal = request.state.principal
    return acting


def signed_in(request: Request) -> Principal:
    """The principal, which must be a signed-in user (or the local operator with auth off)."""
    acting = principal(request)
    if not acting.is_authenticated:
        raise Unauthenticated("sign in first: send a token, a username and password, or a session cookie")
    return acting


def require_admin(acting: Principal) -> None:
    if not acting.is_admin:
        raise PermissionDenied("Permission denied: this needs an admin")
