"""Browser sessions: server-side rows any replica can check and revoke, behind a signed cookie.

The cookie carries a random session id and an HMAC-SHA256 of it under the cookie secret; the
database keeps only the id's SHA-256. So a leaked database holds no usable session, a forged cookie
fails before any query, and a new cookie secret ends every session at once. Expiry is both idle
(no use for ``idle_seconds``) and absolute (``max_age_seconds`` after login).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection

from runyard.domain.identity import Principal, User
from runyard.errors import Unauthenticated
from runyard.stores.metadata import identity as store

COOKIE_NAME = "runyard_session"
# ``last_seen`` is refreshed at most this often: idle expiry to the minute, without a write per request.
TOUCH_RESOLUTION_MS = 60_000


@dataclass(frozen=True, slots=True)
class NewSession:
    cookie: str
    csrf_token: str
    expires_at: int


def _signature(secret: str, session_id: str) -> str:
    digest = hmac.new(secret.encode(), session_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def unsign(cookie: str, secret: str) -> str | None:
    """The session id inside a cookie signed with ``secret``, or None for a forged or stale one."""
    session_id, _, signature = cookie.rpartition(".")
    if not session_id or not hmac.compare_digest(signature, _signature(secret, session_id)):
        return None
    return session_id


def start_session(connection: Connection, user: User, *, secret: str, now: int, max_age_seconds: int) -> NewSession:
    session_id = secrets.token_urlsafe(32)
    csrf_token = secrets.token_urlsafe(32)
    expires_at = now + max_age_seconds * 1000
    store.insert_session(
        connection,
        session_hash=_session_hash(session_id),
        user_id=user.id,
        csrf_token=csrf_token,
        creation_time=now,
        last_seen=now,
        expires_at=expires_at,
    )
    return NewSession(
        cookie=f"{session_id}.{_signature(secret, session_id)}", csrf_token=csrf_token, expires_at=expires_at
    )


def check_session(
    connection: Connection, cookie: str, *, secret: str, workspace: str | None, now: int, idle_seconds: int
) -> tuple[Principal, bool]:
    """The principal of a live session and whether its ``last_seen`` is due for a refresh."""
    session_id = unsign(cookie, secret)
    if session_id is None:
        raise Unauthenticated("the session cookie is not valid; sign in again")
    row = store.session_by_hash(connection, _session_hash(session_id))
    if row is None:
        raise Unauthenticated("the session has ended; sign in again")
    if int(row.expires_at) <= now or now - int(row.last_seen) > idle_seconds * 1000:
        raise Unauthenticated("the session has expired; sign in again")
    if row.disabled:
        raise Unauthenticated("the user is disabled")
    principal = Principal(
        kind="user",
        name=row.username,
        is_admin=bool(row.is_admin),
        user_id=int(row.user_id),
        workspace=workspace or "default",
        via="session",
        csrf_token=row.csrf_token,
    )
    return principal, now - int(row.last_seen) >= TOUCH_RESOLUTION_MS


def touch_session(connection: Connection, cookie: str, secret: str, now: int) -> None:
    session_id = unsign(cookie, secret)
    if session_id is not None:
        store.touch_session(connection, _session_hash(session_id), now)


def end_session(connection: Connection, cookie: str, secret: str) -> None:
    """Log out: the session row goes, so every replica refuses the cookie from now on."""
    session_id = unsign(cookie, secret)
    if session_id is not None:
        store.delete_session(connection, _session_hash(session_id))


def end_user_sessions(connection: Connection, user_id: int) -> int:
    return store.delete_user_sessions(connection, user_id)
