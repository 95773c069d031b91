"""Rows of OIDC login: pending logins (taken once) and the provider identities linked to users."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from runyard.stores.metadata.oidc_tables import oidc_identities, oidc_logins


def insert_login(connection: Connection, **values: Any) -> None:
    connection.execute(insert(oidc_logins).values(**values))


def delete_expired_logins(connection: Connection, now: int) -> int:
    return connection.execute(delete(oidc_logins).where(oidc_logins.c.expires_at <= now)).rowcount


def take_login(connection: Connection, state_hash: str) -> Row[Any] | None:
    """The pending login of ``state_hash``, deleted in the same transaction.

    Two callbacks racing with one state (a replay) may both read the row, but only one delete
    removes it: the one that gets ``rowcount == 0`` is refused, on every database.
    """
    row = connection.execute(select(oidc_logins).where(oidc_logins.c.state_hash == state_hash)).first()
    if row is None:
        return None
    removed = connection.execute(delete(oidc_logins).where(oidc_logins.c.state_hash == state_hash)).rowcount
    return row if removed == 1 else None


def get_identity(connection: Connection, provider_key: str, subject: str) -> Row[Any] | None:
    statement = select(oidc_identities).where(
        oidc_identities.c.provider_key == provider_key, oidc_identities.c.subject == subject
    )
    return connection.execute(statement).first()


def insert_identity(connection: Connection, **values: Any) -> None:
    connection.execute(insert(oidc_identities).values(**values))


def touch_identity(connection: Connection, provider_key: str, subject: str, *, email: str | None, now: int) -> None:
    connection.execute(
        update(oidc_identities)
        .where(oidc_identities.c.provider_key == provider_key, oidc_identities.c.subject == subject)
        .values(email=email, last_login_time=now)
    )
