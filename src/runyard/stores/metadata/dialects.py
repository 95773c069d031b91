"""Dialect differences in one place: idempotent inserts and upserts.

SQLite and PostgreSQL share ``INSERT … ON CONFLICT``; MySQL/MariaDB use ``INSERT IGNORE`` and
``ON DUPLICATE KEY UPDATE``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Insert, Table, insert
from sqlalchemy.dialects import mysql, postgresql, sqlite


def insert_ignoring_duplicates(connection: Connection, table: Table) -> Insert:
    """An INSERT that silently skips rows whose primary key already exists."""
    name = connection.dialect.name
    if name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    if name == "mysql":
        return insert(table).prefix_with("IGNORE")
    return insert(table)


def upsert(
    connection: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    key_columns: Sequence[str],
    update_columns: Sequence[str],
) -> None:
    """Insert ``rows``; where the key exists, overwrite ``update_columns``."""
    if not rows:
        return
    name = connection.dialect.name
    if name in ("postgresql", "sqlite"):
        module: Any = postgresql if name == "postgresql" else sqlite
        statement = module.insert(table)
        statement = statement.on_conflict_do_update(
            index_elements=list(key_columns),
            set_={column: statement.excluded[column] for column in update_columns},
        )
        connection.execute(statement, list(rows))
        return
    if name == "mysql":
        my_statement = mysql.insert(table)
        my_statement = my_statement.on_duplicate_key_update(
            {column: my_statement.inserted[column] for column in update_columns}
        )
        connection.execute(my_statement, list(rows))
        return
    raise NotImplementedError(f"unsupported database dialect {name!r}")
