"""Engine construction: URL normalisation and per-dialect connection setup.

SQLite runs in WAL mode with ``synchronous=NORMAL`` (a committed transaction survives a process
crash; only an OS crash can lose the last ones) and write transactions take the write lock up front
(``BEGIN IMMEDIATE``) so concurrent writers queue on ``busy_timeout`` instead of failing with
"database is locked" when a reader tries to upgrade.

PostgreSQL and MariaDB connections are checked with a ping only after sitting idle in the pool (see
``ping_when_idle``): a ping on every checkout would add a network round trip to every request.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

IMMEDIATE_OPTION = "runyard_write"
# A pooled connection idle for longer than this is pinged before use; one in use moments ago is not.
IDLE_PING_SECONDS = 5.0
_IDLE_SINCE = "runyard_idle_since"
SQLITE_BUSY_TIMEOUT_MS = 30_000


def normalise_database_url(url: str) -> str:
    """Pick runyard's drivers: psycopg 3 for PostgreSQL, PyMySQL for MySQL/MariaDB."""
    scheme, rest = url.split("://", 1)
    base = scheme.split("+", 1)[0].lower()
    if base in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    if base in ("mysql", "mariadb"):
        return f"mysql+pymysql://{rest}"
    return url


def make_engine(url: str, *, pool_size: int = 10, idle_ping_seconds: float = IDLE_PING_SECONDS) -> Engine:
    """Create the engine for ``url`` with runyard's connection settings."""
    sa_url = make_url(normalise_database_url(url))
    if sa_url.get_backend_name() == "sqlite":
        return _make_sqlite_engine(sa_url.render_as_string(hide_password=False))
    # LIFO: a request takes the connection used last, whose PostgreSQL backend has its caches and
    # prepared statements warm, instead of cycling through every idle connection of the pool.
    kwargs: dict[str, Any] = {"pool_size": pool_size, "max_overflow": pool_size, "pool_use_lifo": True}
    if sa_url.get_backend_name() == "mysql":
        sa_url = sa_url.update_query_dict({"charset": "utf8mb4"})
        kwargs["isolation_level"] = "READ COMMITTED"
    engine = create_engine(sa_url, **kwargs)
    ping_when_idle(engine, idle_ping_seconds)
    return engine


def ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Ping a pooled connection before use if it sat idle for ``idle_seconds``; replace it if dead.

    A database restart or a proxy that drops idle connections shows up on connections that waited
    in the pool, and those are the ones pinged. A connection that dies while in use (or within the
    idle window) fails its statement; the session layer turns that into a retryable ``Unavailable``
    and SQLAlchemy discards the pool's other connections with it.
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection) -> None:
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # any failure means the connection cannot be trusted
            # The pool reacts by discarding this connection and checking out a fresh one.
            raise exc.DisconnectionError(f"stale pooled connection: {error}") from error


def _make_sqlite_engine(url: str) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=8)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
        # Take transaction control from the driver so we can choose BEGIN vs BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(IMMEDIATE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
