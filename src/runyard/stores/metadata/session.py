"""The unit of work: callers (routes, CLI commands, loops) own the transaction; stores only execute.

``Database.write()`` opens one transaction that commits on success and rolls back on any error;
``Database.read()`` opens a read-only one. Services receive the resulting ``Connection``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from runyard.errors import Unavailable
from runyard.stores.metadata.engine import IMMEDIATE_OPTION, make_engine


class Database:
    """The metadata database: an engine and the unit-of-work context managers over it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._write_engine = engine.execution_options(**{IMMEDIATE_OPTION: True})
        # Reads on PostgreSQL run in autocommit: under READ COMMITTED each statement takes its own
        # snapshot anyway, so a transaction around them would only add BEGIN and ROLLBACK round trips
        # (psycopg switches autocommit without a query; PyMySQL would spend a query on each switch).
        # SQLite keeps its transaction: there it pins one snapshot for the whole read.
        self._read_engine = (
            engine.execution_options(isolation_level="AUTOCOMMIT") if engine.dialect.name == "postgresql" else engine
        )
        # SQLite has one writer at a time. Queueing writers on a lock here hands the database over the
        # moment it is free; leaving it to SQLite's busy handler makes waiting writers sleep in steps of
        # up to 100 ms, which caps concurrent ingestion far below what one writer can do.
        self._write_lock: threading.Lock | None = threading.Lock() if engine.dialect.name == "sqlite" else None

    @classmethod
    def from_url(cls, url: str) -> Database:
        return cls(make_engine(url))

    @property
    def dialect(self) -> str:
        """``sqlite``, ``postgresql`` or ``mysql``."""
        return self.engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One read-write transaction: committed when the block ends, rolled back on error."""
        if self._write_lock is None:
            with _unavailable_on_connection_loss(), self._write_engine.begin() as connection:
                yield connection
            return
        with self._write_lock, _unavailable_on_connection_loss(), self._write_engine.begin() as connection:
            yield connection

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """One read transaction (never commits anything)."""
        with _unavailable_on_connection_loss(), self._read_engine.connect() as connection:
            yield connection

    def dispose(self) -> None:
        self.engine.dispose()


@contextmanager
def _unavailable_on_connection_loss() -> Iterator[None]:
    """Turn a lost or refused database connection into ``Unavailable`` (HTTP 503, retryable)."""
    try:
        yield
    except OperationalError as error:
        if _is_connection_problem(error):
            raise Unavailable(f"the metadata database is unavailable: {error.orig}") from error
        raise
    except DBAPIError as error:
        if error.connection_invalidated:
            raise Unavailable("the metadata database connection was lost; retry the request") from error
        raise


def _is_connection_problem(error: OperationalError) -> bool:
    text = str(error.orig).lower()
    return error.connection_invalidated or any(
        marker in text
        for marker in (
            "connection refused",
            "could not connect",
            "server closed",
            "lost connection",
            "can't connect",
            "database is locked",
            "connection reset",
            "terminating connection",
        )
    )
