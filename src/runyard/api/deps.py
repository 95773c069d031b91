"""What a route handler can ask for: the platform object and the acting principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from runyard.domain.identity import ANONYMOUS, Principal
from runyard.scheduler.platform import Platform


def platform_of(connection: HTTPConnection) -> Platform:
    """The platform object of the app serving ``connection``."""
    platform: Platform = connection.app.state.platform
    return platform


def current_principal(connection: HTTPConnection) -> Principal:
    """Who is acting: resolved once per request by the server, before any route dependency runs."""
    principal: Principal = getattr(connection.state, "principal", ANONYMOUS)
    return principal


PlatformDep = Annotated[Platform, Depends(platform_of)]
PrincipalDep = Annotated[Principal, Depends(current_principal)]
