"""Login rate limiting per (username, client address), kept in the database so every replica shares it.

A failure inside the window counts; ``max_failures`` of them lock that pair out for the lockout
period. Keyed on the pair, not the username alone, so an attacker cannot lock a user out from
everywhere; a success clears the counter.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import Connection

from runyard.errors import RunyardError
from runyard.stores.metadata import identity as store


class TooManyAttempts(RunyardError):
    error_code = "REQUEST_LIMIT_EXCEEDED"


def _key(username: str, client_address: str | None) -> str:
    return hashlib.sha256(f"{username.lower()}\0{client_address or ''}".encode()).hexdigest()


def check_allowed(connection: Connection, username: str, client_address: str | None, now: int) -> None:
    """Raise ``TooManyAttempts`` while the pair is locked out."""
    row = store.get_login_failures(connection, _key(username, client_address))
    if row is not None and int(row.locked_until) > now:
        seconds = (int(row.locked_until) - now + 999) // 1000
        raise TooManyAttempts(f"too many failed logins for {username!r}; try again in {seconds} s")


def record_failure(
    connection: Connection,
    username: str,
    client_address: str | None,
    now: int,
    *,
    max_failures: int,
    lockout_seconds: int,
) -> None:
    key = _key(username, client_address)
    row = store.get_login_failures(connection, key)
    window_ms = lockout_seconds * 1000
    if row is None or now - int(row.window_start) > window_ms:
        failures, window_start = 1, now
    else:
        failures, window_start = int(row.failures) + 1, int(row.window_start)
    locked_until = now + window_ms if failures >= max_failures else 0
    if locked_until:
        failures, window_start = 0, now
    store.put_login_failures(
        connection, key, failures=failures, window_start=window_start, locked_until=locked_until, exists=row is not None
    )


def record_success(connection: Connection, username: str, client_address: str | None) -> None:
    store.clear_login_failures(connection, _key(username, client_address))
