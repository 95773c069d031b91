"""What the server asks of identity: turn a request's credentials into a principal.

Implementations live in ``runyard.services`` (users, tokens, sessions); the server calls one per
request, off the event loop unless the credential was verified a moment ago
(``authenticate_cached``). With auth off, ``LocalOperator`` answers for everyone.
"""

from __future__ import annotations

from typing import Protocol

from runyard.domain.identity import LOCAL_PRINCIPAL, Principal


class Authenticator(Protocol):
    def authenticate(
        self,
        authorization: str | None,
        session_cookie: str | None,
        workspace_header: str | None,
        client_address: str | None = None,
    ) -> Principal:
        """The principal the credentials name; ``ANONYMOUS`` when there are none.

        ``client_address`` keys the login rate limit of password credentials.

        Raises:
            Unauthenticated: the credentials are wrong, expired or revoked.
        """
        ...

    def authenticate_cached(
        self, authorization: str | None, session_cookie: str | None, workspace_header: str | None
    ) -> Principal | None:
        """The principal of credentials verified a moment ago, from memory alone (no I/O, so it may run on
        the event loop); ``None`` when ``authenticate`` must decide."""
        ...


class LocalOperator:
    """Auth off: every request acts as the operator of a single-user installation."""

    def authenticate(
        self,
        authorization: str | None,
        session_cookie: str | None,
        workspace_header: str | None,
        client_address: str | None = None,
    ) -> Principal:
        del authorization, session_cookie, workspace_header, client_address
        return LOCAL_PRINCIPAL

    def authenticate_cached(
        self, authorization: str | None, session_cookie: str | None, workspace_header: str | None
    ) -> Principal | None:
        del authorization, session_cookie, workspace_header
        return LOCAL_PRINCIPAL
