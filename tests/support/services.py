"""The real services the tests use: PostgreSQL, MariaDB, Redis on 127.0.0.1, and an S3 server we start.

Outside CI a missing service skips the tests that need it; with ``CI=true`` it fails them, so a CI
run can never pass by silently testing less.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import pytest
import sqlalchemy as sa

POSTGRES_ADMIN_URL = os.environ.get("RUNYARD_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MARIADB_ADMIN_URL = os.environ.get("RUNYARD_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306/test")
REDIS_URL = os.environ.get("RUNYARD_TEST_REDIS", "redis://127.0.0.1:6379/0")

BACKENDS = ("sqlite", "postgresql", "mariadb")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def prerequisite_missing(message: str) -> NoReturn:
    """Fail in CI, skip elsewhere: the single place that decides what a missing prerequisite means."""
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


def require(condition: object, message: str) -> None:
    """Go on only when ``condition`` holds (a machine fact a test needs, such as running as root)."""
    if not condition:
        prerequisite_missing(message)


def service_missing(what: str, error: BaseException) -> NoReturn:
    prerequisite_missing(f"{what} is not reachable: {error}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def admin_engine(backend: str) -> sa.Engine:
    url = POSTGRES_ADMIN_URL if backend == "postgresql" else MARIADB_ADMIN_URL
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)


@contextmanager
def fresh_database(backend: str, tmp_dir: str) -> Iterator[str]:
    """A new, empty database of ``backend``; dropped afterwards. Yields a runyard database URL."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_dir}/runyard-{uuid.uuid4().hex[:8]}.db"
        return
    name = f"ry_test_{uuid.uuid4().hex[:12]}"
    engine = admin_engine(backend)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {name}")
    except sa.exc.OperationalError as error:
        engine.dispose()
        service_missing(backend, error)
    try:
        if backend == "postgresql":
            yield f"postgresql://postgres@127.0.0.1:5432/{name}"
        else:
            yield f"mysql://root@127.0.0.1:3306/{name}"
    finally:
        with engine.connect() as connection:
            if backend == "postgresql":
                connection.exec_driver_sql(
                    f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
                )
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
            else:
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        engine.dispose()
