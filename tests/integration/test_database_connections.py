"""Pooled connections to PostgreSQL and MariaDB that the database dropped are replaced, not failed.

A connection that sat idle in the pool is pinged before use; one that died while the pool held it
(database restart, a proxy's idle timeout, an administrator's kill) is swapped for a fresh one, so
the request that picks it up still succeeds. A connection that dies within the idle window fails its
statement as ``Unavailable`` (a retryable 503), and the next request gets a working connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from runyard.errors import Unavailable
from runyard.stores.metadata.engine import make_engine
from runyard.stores.metadata.session import Database
from tests.support.services import admin_engine, fresh_database

BACKENDS = ("postgresql", "mariadb")
SERVER_ID = {"postgresql": "SELECT pg_backend_pid()", "mariadb": "SELECT CONNECTION_ID()"}


def kill(backend: str, server_id: int) -> None:
    """Drop one connection from the database side, as a restart or an idle-timeout proxy would."""
    admin = admin_engine(backend)
    try:
        with admin.connect() as connection:
            if backend == "postgresql":
                connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": server_id})
            else:
                connection.exec_driver_sql(f"KILL {int(server_id)}")
    finally:
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    with fresh_database(request.param, str(tmp_path)) as url:
        yield request.param, url


def one_connection_database(url: str, idle_ping_seconds: float) -> Database:
    return Database(make_engine(url, pool_size=1, idle_ping_seconds=idle_ping_seconds))


def server_id(database: Database, backend: str) -> int:
    """The database server's id of the pooled connection the next unit of work gets."""
    with database.read() as connection:
        return int(connection.exec_driver_sql(SERVER_ID[backend]).scalar_one())


def test_a_dropped_idle_connection_is_replaced_before_use(database_url: tuple[str, str]) -> None:
    backend, url = database_url
    database = one_connection_database(url, idle_ping_seconds=0.0)
    try:
        first = server_id(database, backend)
        kill(backend, first)
        for unit_of_work in (database.read, database.write):
            with unit_of_work() as connection:
                assert connection.exec_driver_sql("SELECT 1").scalar_one() == 1
        assert server_id(database, backend) != first
    finally:
        database.dispose()


def test_a_connection_dropped_within_the_idle_window_fails_retryably_once(database_url: tuple[str, str]) -> None:
    backend, url = database_url
    database = one_connection_database(url, idle_ping_seconds=3600.0)
    try:
        kill(backend, server_id(database, backend))
        with pytest.raises(Unavailable), database.read() as connection:
            connection.exec_driver_sql("SELECT 1").scalar_one()
        with database.read() as connection:
            assert connection.exec_driver_sql("SELECT 1").scalar_one() == 1
    finally:
        database.dispose()
