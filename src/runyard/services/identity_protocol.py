"""The seam between the server's per-request identity resolution and whoever checks credentials."""

from __future__ import annotations

from typing import Protocol

from runyard.domain.identity import LOCAL_PRINCIPAL, Principal


class Authenticator(Protocol):
    """Turns a request's credentials into the acting principal.

    Sync (it may hash or query the database; callers run it off the event loop). Raises
    ``runyard.errors.Unauthenticated`` for a wrong, expired or revoked credential and returns
    ``ANONYMOUS`` when none is given. ``client_address`` keys login rate limits.
    """

    def authenticate(
        self,
        authorization: str | None,
        session_cookie: str | None,
        workspace_header: str | None,
        client_address: str | None = None,
    ) -> Principal: ...


class AuthOff:
    """Auth disabled: every request acts as the local operator."""

    def authenticate(
        self,
        authorization: str | None,
        session_cookie: str | None,
        workspace_header: str | None,
        client_address: str | None = None,
    ) -> Principal:
        return LOCAL_PRINCIPAL
