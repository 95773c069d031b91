"""Users, API tokens, browser sessions and login-failure counters (queries only; callers own the transaction)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from runyard.stores.metadata.identity_tables import api_tokens, login_failures, user_sessions, users

# --- users ---


def insert_user(
    connection: Connection, *, username: str, email: str | None, password_hash: str | None, is_admin: bool, now: int
) -> int:
    result = connection.execute(
        insert(users).values(
            username=username,
            email=email,
            password_hash=password_hash,
            is_admin=is_admin,
            disabled=False,
            generation=0,
            creation_time=now,
            last_update_time=now,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def get_user(connection: Connection, *, user_id: int | None = None, username: str | None = None) -> Row[Any] | None:
    query = select(users)
    query = query.where(users.c.id == user_id) if user_id is not None else query.where(users.c.username == username)
    return connection.execute(query).first()


def get_user_by_email(connection: Connection, email: str) -> Row[Any] | None:
    return connection.execute(select(users).where(func.lower(users.c.email) == email.lower())).first()


def list_users(connection: Connection) -> list[Row[Any]]:
    return list(connection.execute(select(users).order_by(users.c.username)))


def count_active_admins(connection: Connection) -> int:
    query = select(func.count()).select_from(users).where(users.c.is_admin.is_(True), users.c.disabled.is_(False))
    return int(connection.execute(query).scalar_one())


def update_user(connection: Connection, user_id: int, *, now: int, bump_generation: bool, **values: Any) -> None:
    if bump_generation:
        values["generation"] = users.c.generation + 1
    connection.execute(update(users).where(users.c.id == user_id).values(last_update_time=now, **values))


def delete_user(connection: Connection, user_id: int) -> None:
    # Dependent rows go explicitly: SQLite enforces ON DELETE CASCADE only with foreign keys on.
    connection.execute(delete(api_tokens).where(api_tokens.c.user_id == user_id))
    connection.execute(delete(user_sessions).where(user_sessions.c.user_id == user_id))
    connection.execute(delete(users).where(users.c.id == user_id))


# --- tokens ---


def insert_token(connection: Connection, **values: Any) -> int:
    result = connection.execute(insert(api_tokens).values(**values))
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def token_by_hash(connection: Connection, token_hash: str) -> Row[Any] | None:
    query = (
        select(api_tokens, users.c.username, users.c.is_admin, users.c.disabled, users.c.generation)
        .join(users, users.c.id == api_tokens.c.user_id)
        .where(api_tokens.c.token_hash == token_hash)
    )
    return connection.execute(query).first()


def list_tokens(connection: Connection, *, user_id: int | None) -> list[Row[Any]]:
    query = select(api_tokens, users.c.username).join(users, users.c.id == api_tokens.c.user_id)
    if user_id is not None:
        query = query.where(api_tokens.c.user_id == user_id)
    return list(connection.execute(query.order_by(users.c.username, api_tokens.c.name)))


def get_token(connection: Connection, *, user_id: int, name: str) -> Row[Any] | None:
    query = select(api_tokens).where(api_tokens.c.user_id == user_id, api_tokens.c.name == name)
    return connection.execute(query).first()


def delete_token(connection: Connection, token_id: int) -> None:
    connection.execute(delete(api_tokens).where(api_tokens.c.id == token_id))


def touch_token(connection: Connection, token_id: int, now: int) -> None:
    connection.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=now))


# --- sessions ---


def insert_session(connection: Connection, **values: Any) -> None:
    connection.execute(insert(user_sessions).values(**values))


def session_by_hash(connection: Connection, session_hash: str) -> Row[Any] | None:
    query = (
        select(user_sessions, users.c.username, users.c.is_admin, users.c.disabled, users.c.generation)
        .join(users, users.c.id == user_sessions.c.user_id)
        .where(user_sessions.c.session_hash == session_hash)
    )
    return connection.execute(query).first()


def touch_session(connection: Connection, session_hash: str, now: int) -> None:
    connection.execute(update(user_sessions).where(user_sessions.c.session_hash == session_hash).values(last_seen=now))


def delete_session(connection: Connection, session_hash: str) -> None:
    connection.execute(delete(user_sessions).where(user_sessions.c.session_hash == session_hash))


def delete_user_sessions(connection: Connection, user_id: int) -> int:
    return int(connection.execute(delete(user_sessions).where(user_sessions.c.user_id == user_id)).rowcount)


def delete_expired_sessions(connection: Connection, now: int) -> int:
    return int(connection.execute(delete(user_sessions).where(user_sessions.c.expires_at <= now)).rowcount)


# --- login failures ---


def get_login_failures(connection: Connection, key_hash: str) -> Row[Any] | None:
    return connection.execute(select(login_failures).where(login_failures.c.key_hash == key_hash)).first()


def put_login_failures(
    connection: Connection, key_hash: str, *, failures: int, window_start: int, locked_until: int, exists: bool
) -> None:
    values = {"failures": failures, "window_start": window_start, "locked_until": locked_until}
    if exists:
        connection.execute(update(login_failures).where(login_failures.c.key_hash == key_hash).values(**values))
    else:
        connection.execute(insert(login_failures).values(key_hash=key_hash, **values))


def clear_login_failures(connection: Connection, key_hash: str) -> None:
    connection.execute(delete(login_failures).where(login_failures.c.key_hash == key_hash))
