"""What OIDC login needs from identity (users and sessions), and an interim implementation of it.

``Accounts`` is the seam: find a user by id or by email, create one without a password, start a
browser session. ``InterimAccounts`` implements it on minimal ``users`` / ``user_sessions`` tables
(the identity tables' exact columns) until the identity services land; then an adapter over those
services replaces it and nothing else in OIDC login changes.

Sessions here are server-side rows keyed by the SHA-256 of a random id; the cookie carries the id
and an HMAC of it under the cookie secret, so a new secret ends every session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection, Row

from runyard.domain.clock import now_ms
from runyard.stores.metadata import interim_identity as store

SESSION_COOKIE = "runyard_session"
SESSION_SECONDS = 518_400  # the seeds' 6 days


@dataclass(frozen=True, slots=True)
class AccountUser:
    id: int
    username: str
    email: str | None
    is_admin: bool
    disabled: bool


@dataclass(frozen=True, slots=True)
class IssuedSession:
    """A started session: the cookie to set on the browser."""

    cookie_name: str
    value: str
    max_age: int


class Accounts(Protocol):
    """Identity as OIDC login sees it. Every method runs inside the caller's transaction."""

    def user_by_id(self, connection: Connection, user_id: int) -> AccountUser | None: ...

    def user_by_email(self, connection: Connection, email: str) -> AccountUser | None: ...

    def create_user(self, connection: Connection, *, username: str, email: str | None) -> int:
        """A new user without a password (signs in through a provider); gets the default role."""
        ...

    def username_taken(self, connection: Connection, username: str) -> bool: ...

    def start_session(self, connection: Connection, user_id: int) -> IssuedSession: ...


class InterimAccounts:
    """``Accounts`` on the interim tables (see the module docstring)."""

    def __init__(self, cookie_secret: str, *, session_seconds: int = SESSION_SECONDS) -> None:
        self._secret = cookie_secret.encode()
        self._session_seconds = session_seconds

    def user_by_id(self, connection: Connection, user_id: int) -> AccountUser | None:
        row = store.get_user(connection, user_id)
        return _user(row) if row is not None else None

    def user_by_email(self, connection: Connection, email: str) -> AccountUser | None:
        row = store.get_user_by_email(connection, email)
        return _user(row) if row is not None else None

    def username_taken(self, connection: Connection, username: str) -> bool:
        return store.username_taken(connection, username)

    def create_user(self, connection: Connection, *, username: str, email: str | None) -> int:
        now = now_ms()
        return store.insert_user(
            connection,
            username=username,
            email=email,
            password_hash=None,
            is_admin=False,
            disabled=False,
            generation=0,
            creation_time=now,
            last_update_time=now,
        )

    def start_session(self, connection: Connection, user_id: int) -> IssuedSession:
        session_id = secrets.token_urlsafe(32)
        now = now_ms()
        store.insert_session(
            connection,
            session_hash=_sha256(session_id),
            user_id=user_id,
            csrf_token=secrets.token_hex(32),
            creation_time=now,
            last_seen=now,
            expires_at=now + self._session_seconds * 1000,
        )
        return IssuedSession(SESSION_COOKIE, f"{session_id}.{self._sign(session_id)}", self._session_seconds)

    def session_user(self, connection: Connection, cookie: str | None) -> AccountUser | None:
        """The user a session cookie belongs to (None for a missing, forged or expired one)."""
        if not cookie or "." not in cookie:
            return None
        session_id, signature = cookie.rsplit(".", 1)
        if not hmac.compare_digest(signature, self._sign(session_id)):
            return None
        row = store.session_user(connection, _sha256(session_id), now_ms())
        return _user(row) if row is not None else None

    def _sign(self, session_id: str) -> str:
        return hmac.new(self._secret, session_id.encode(), hashlib.sha256).hexdigest()


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _user(row: Row[Any]) -> AccountUser:
    return AccountUser(
        id=int(row.id),
        username=row.username,
        email=row.email,
        is_admin=bool(row.is_admin),
        disabled=bool(row.disabled),
    )
