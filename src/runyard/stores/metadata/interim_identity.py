"""Queries on the interim ``users`` and ``user_sessions`` tables (replaced by the identity store)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select

from runyard.stores.metadata.interim_identity_tables import user_sessions, users


def get_user(connection: Connection, user_id: int) -> Row[Any] | None:
    return connection.execute(select(users).where(users.c.id == user_id)).first()


def get_user_by_email(connection: Connection, email: str) -> Row[Any] | None:
    return connection.execute(select(users).where(func.lower(users.c.email) == email.lower())).first()


def username_taken(connection: Connection, username: str) -> bool:
    return connection.execute(select(users.c.id).where(users.c.username == username)).first() is not None


def insert_user(connection: Connection, **values: Any) -> int:
    result = connection.execute(insert(users).values(**values))
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def insert_session(connection: Connection, **values: Any) -> None:
    connection.execute(insert(user_sessions).values(**values))


def session_user(connection: Connection, session_hash: str, now: int) -> Row[Any] | None:
    """The user of an unexpired session, joined in one query."""
    statement = (
        select(users)
        .join(user_sessions, user_sessions.c.user_id == users.c.id)
        .where(user_sessions.c.session_hash == session_hash, user_sessions.c.expires_at > now)
    )
    return connection.execute(statement).first()


def delete_session(connection: Connection, session_hash: str) -> None:
    connection.execute(delete(user_sessions).where(user_sessions.c.session_hash == session_hash))
