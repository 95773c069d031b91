"""Dialect differences in one place: idempotent inserts and upserts, and statements sent to the driver.

SQLite and PostgreSQL share ``INSERT … ON CONFLICT``; MySQL/MariaDB use ``INSERT IGNORE`` and
``ON DUPLICATE KEY UPDATE``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Boolean, Connection, Float, Insert, Integer, String, Table, insert
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.types import TypeEngine


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


def executemany_ignoring_duplicates(
    connection: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    writers_serialized: bool = False,
) -> int:
    """Insert many rows given as tuples, skipping existing primary keys, straight through the driver.

    Returns how many rows were inserted (fewer than given when some were already there).

    This is the ingestion hot path: it bypasses SQLAlchemy's per-row parameter processing (which costs
    more than the insert itself for a 1000-row batch) while still running inside the caller's transaction.

    ``writers_serialized``: the caller holds a lock that every writer of these primary keys takes (the
    run's row lock for metric points). PostgreSQL then skips existing keys with one anti-join rather
    than ``ON CONFLICT``, whose speculative insertion per row costs about as much as the insert itself;
    without such a lock two writers could both find a key absent, and only ``ON CONFLICT`` is safe.
    """
    if not rows:
        return 0
    name = connection.dialect.name
    target, marker, quoted = _driver_sql_parts(connection, table, columns)
    column_list = ", ".join(quoted)
    values = ", ".join([marker] * len(columns))
    if name == "postgresql" and writers_serialized:
        key_names = [column.name for column in table.primary_key.columns]
        # One row per key: the anti-join only sees rows already in the table, not earlier ones of this batch.
        if set(key_names) == set(columns):  # every column is in the key (metric points): whole rows
            unique = list(dict.fromkeys(rows))
        else:
            positions = [list(columns).index(key) for key in key_names]
            first: dict[tuple[Any, ...], tuple[Any, ...]] = {}
            for row in rows:
                first.setdefault(tuple(row[i] for i in positions), row)
            unique = list(first.values())
        rows_sql, parameters = _pg_unnest(connection, table, columns, unique)
        quote = connection.dialect.identifier_preparer.quote
        matches = " AND ".join(f"existing.{quote(key)} = new.{quote(key)}" for key in key_names)
        sql = (
            f"INSERT INTO {target} ({column_list}) SELECT * FROM ({rows_sql}) AS new ({column_list}) "
            f"WHERE NOT EXISTS (SELECT 1 FROM {target} AS existing WHERE {matches})"
        )
        return _pg_execute(connection, sql, parameters)
    if name == "postgresql":
        rows_sql, parameters = _pg_unnest(connection, table, columns, rows)
        return _pg_execute(
            connection, f"INSERT INTO {target} ({column_list}) {rows_sql} ON CONFLICT DO NOTHING", parameters
        )
    if name == "mysql":
        # PyMySQL turns this executemany into multi-row INSERT statements.
        sql = f"INSERT IGNORE INTO {target} ({column_list}) VALUES ({values})"
    else:
        sql = f"INSERT INTO {target} ({column_list}) VALUES ({values}) ON CONFLICT DO NOTHING"
    return int(connection.exec_driver_sql(sql, list(rows)).rowcount)


def _pg_unnest(
    connection: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> tuple[str, tuple[Any, ...]]:
    """``SELECT * FROM unnest(…)`` over one array parameter per column, and those arrays.

    One statement for a whole batch: each column travels as one array and unnest() turns them back
    into rows (psycopg's executemany would send one statement per row). Numbers, booleans and strings
    travel as array literals built here with ``str.join`` (about ten times cheaper than psycopg's
    per-element array dumping); anything else as a list psycopg dumps.
    """
    arrays: list[str] = []
    parameters: list[Any] = []
    for column, values in zip(columns, zip(*rows, strict=True), strict=True):
        column_type = table.c[column].type
        sql_type = column_type.compile(dialect=connection.dialect)
        literal = None if None in values else _array_literal(column_type, values)
        arrays.append(f"%b::{sql_type}[]" if literal is None else f"%s::{sql_type}[]")
        parameters.append(list(values) if literal is None else literal)
    return f"SELECT * FROM unnest({', '.join(arrays)})", tuple(parameters)


def _array_literal(column_type: TypeEngine[Any], values: Sequence[Any]) -> str | None:
    """A PostgreSQL array literal of ``values`` (no NULLs), or ``None`` for a type not handled here."""
    if isinstance(column_type, Boolean):
        return "{" + ",".join("t" if value else "f" for value in values) + "}"
    if isinstance(column_type, Integer | Float):
        # repr() of a float is its shortest exact form ("inf", "-inf", "nan" included), which float8 parses back.
        return "{" + ",".join(map(repr, values)) + "}"
    if isinstance(column_type, String):
        quoted: dict[str, str] = {}  # keys and run ids repeat throughout a batch
        for value in values:
            if value not in quoted:
                quoted[value] = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return "{" + ",".join([quoted[value] for value in values]) + "}"
    return None


def _pg_execute(connection: Connection, sql: str, parameters: tuple[Any, ...]) -> int:
    # Straight through the raw cursor (SQLAlchemy would inspect every array element); it shares the
    # connection, hence the caller's transaction. Returns the rows the statement wrote.
    dbapi_connection: Any = connection.connection.dbapi_connection
    with dbapi_connection.cursor() as cursor:
        cursor.execute(sql, parameters)
        return int(cursor.rowcount)


def upsert_if_newer(
    connection: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    key_columns: Sequence[str],
    order_columns: Sequence[str],
) -> bool:
    """Insert ``rows``; where the key exists, replace the row only if ``order_columns`` compare greater.

    One statement, no read first (PostgreSQL: for the whole batch; SQLite: one per row, in-process).
    ``rows`` must hold each key once. Returns ``False`` on MySQL/MariaDB, whose upsert cannot compare
    row values: the caller does the comparison there.
    """
    name = connection.dialect.name
    if name not in ("postgresql", "sqlite"):
        return False
    if not rows:
        return True
    target, marker, quoted = _driver_sql_parts(connection, table, columns)
    preparer = connection.dialect.identifier_preparer
    keys = ", ".join(preparer.quote(column) for column in key_columns)
    assignments = ", ".join(
        f"{column} = excluded.{column}"
        for column_name, column in zip(columns, quoted, strict=True)
        if column_name not in key_columns
    )
    ordered = [preparer.quote(column) for column in order_columns]
    newer = f"({', '.join(f'excluded.{c}' for c in ordered)}) > ({', '.join(f'{target}.{c}' for c in ordered)})"
    conflict = f"ON CONFLICT ({keys}) DO UPDATE SET {assignments} WHERE {newer}"
    if name == "postgresql":
        rows_sql, parameters = _pg_unnest(connection, table, columns, rows)
        _pg_execute(connection, f"INSERT INTO {target} ({', '.join(quoted)}) {rows_sql} {conflict}", parameters)
    else:
        values = ", ".join([marker] * len(columns))
        connection.exec_driver_sql(
            f"INSERT INTO {target} ({', '.join(quoted)}) VALUES ({values}) {conflict}", list(rows)
        )
    return True


_COMPILED: dict[int, tuple[ClauseElement, str]] = {}


def fetch_tuples(connection: Connection, statement: ClauseElement, parameters: Mapping[str, Any]) -> list[Any]:
    """PostgreSQL: the rows of ``statement`` as the driver's plain tuples.

    For hot, fixed statements (compiled once per process) whose columns need no conversion from the
    driver's types: SQLAlchemy's per-row result processing is skipped, which for a page of search
    results costs more than the query. ``statement`` must have no expanding (``IN``) parameters.
    """
    cached = _COMPILED.get(id(statement))
    if cached is None or cached[0] is not statement:
        cached = (statement, str(statement.compile(dialect=connection.dialect)))
        _COMPILED[id(statement)] = cached
    return driver_rows(connection, cached[1], parameters)


def driver_rows(connection: Connection, sql: str, parameters: Sequence[Any] | Mapping[str, Any]) -> list[Any]:
    """The rows of driver-level ``sql`` as the driver's plain tuples.

    SQLAlchemy's per-row result processing is skipped: for the thousands of small rows a chart
    query reads, it costs more than the database takes to find them. The statement runs on the
    connection's driver connection, hence in the caller's transaction.
    """
    dbapi_connection: Any = connection.connection.dbapi_connection
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(sql, parameters)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def marker(connection: Connection) -> str:
    """The driver's positional parameter marker, for statements passed straight to the driver."""
    return "?" if connection.dialect.paramstyle == "qmark" else "%s"


# MariaDB's default eq_range_index_dive_limit: from this many IN values on, it guesses the rows of
# each from index statistics, and a guess can make it read the whole series instead of seeking.
_MARIADB_INDEX_DIVE_LIMIT = 200


def in_list_seek_limit(connection: Connection) -> int | None:
    """The longest IN list the database is sure to answer with one index seek per value (None: no limit)."""
    return _MARIADB_INDEX_DIVE_LIMIT - 1 if connection.dialect.name == "mysql" else None


def subqueries_per_row(
    connection: Connection,
    names: Sequence[str],
    rows: Sequence[Sequence[int]],
    subqueries: Sequence[str],
    shared: Sequence[Any],
) -> tuple[str, tuple[Any, ...]]:
    """One driver statement answering each scalar subquery for every row of integers, row by row.

    A subquery names the row's integers as ``{name}`` placeholders and takes the ``shared``
    parameters (in order) after them. SQLite and PostgreSQL get the rows as a VALUES list the
    subqueries correlate with: they seek the index for a range bound read from the outer row.
    MariaDB does not (it reads the whole series for every row), so there each row's integers are
    written into its own subqueries, joined with UNION ALL, and every subquery seeks its range.
    """
    m = marker(connection)
    if connection.dialect.name != "mysql":
        outer = {name: f"r.{name}" for name in names}
        columns = ", ".join(f"({subquery.format(**outer)})" for subquery in subqueries)
        row_values = ", ".join(["(" + ", ".join([m] * len(names)) + ")"] * len(rows))
        sql = f"WITH r({', '.join(names)}) AS (VALUES {row_values}) SELECT {columns} FROM r"
        return sql, (*[value for row in rows for value in row], *(tuple(shared) * len(subqueries)))
    selects = []
    for row in rows:
        # int() keeps anything but an integer out of the statement text.
        inline = {name: str(int(value)) for name, value in zip(names, row, strict=True)}
        selects.append("SELECT " + ", ".join(f"({subquery.format(**inline)})" for subquery in subqueries))
    return " UNION ALL ".join(selects), tuple(shared) * (len(subqueries) * len(rows))


def _driver_sql_parts(connection: Connection, table: Table, columns: Sequence[str]) -> tuple[str, str, list[str]]:
    """(quoted table, parameter marker, quoted columns) for SQL sent straight to the driver."""
    preparer = connection.dialect.identifier_preparer
    return preparer.format_table(table), marker(connection), [preparer.quote(column) for column in columns]


def executemany_insert(
    connection: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Insert many rows given as tuples in one driver ``executemany`` (the scheduler's hot path).

    psycopg pipelines the rows in one round trip, PyMySQL folds them into multi-row INSERTs.
    """
    if not rows:
        return
    target, marker, quoted = _driver_sql_parts(connection, table, columns)
    sql = f"INSERT INTO {target} ({', '.join(quoted)}) VALUES ({', '.join([marker] * len(columns))})"
    connection.exec_driver_sql(sql, list(rows))


def executemany_update(
    connection: Connection,
    table: Table,
    set_columns: Sequence[str],
    key_columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
) -> None:
    """``UPDATE table SET set_columns WHERE key_columns`` for many rows (set values first, then keys)."""
    if not rows:
        return
    target, marker, quoted = _driver_sql_parts(connection, table, [*set_columns, *key_columns])
    assignments = ", ".join(f"{column} = {marker}" for column in quoted[: len(set_columns)])
    condition = " AND ".join(f"{column} = {marker}" for column in quoted[len(set_columns) :])
    connection.exec_driver_sql(f"UPDATE {target} SET {assignments} WHERE {condition}", list(rows))


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
