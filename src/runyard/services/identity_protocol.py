"""What the server asks of identity: turn a request's credentials into a principal.

Implementations live in ``runyard.services`` (users, tokens, sessions); the server calls one per
request, off the event loop. With auth off, ``LocalOperator`` answers for everyone.
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
