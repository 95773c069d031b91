"""SQL side of chart downsampling: range counts and M4 candidate rows computed by the database.

A million-point series must not cross the wire to be reduced to a few thousand. The x value of a
point is ``step``, ``timestamp`` (wall clock, ms) or ``(timestamp - origin) / 1000.0`` (seconds since
the run started), and its pixel column is ``(x - lo) / span * width`` truncated and clamped — the same
double-precision operations, in the same order, as the Python reference, so a point lands in the same
column on SQLite, PostgreSQL and MariaDB as it does in Python.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Double,
    Integer,
    and_,
    bindparam,
    case,
    cast,
    func,
    not_,
    or_,
    select,
)

from runyard.stores.metadata import dialects, metric_blocks
from runyard.stores.metadata.tables import metrics

# Infinities are stored clamped to the largest double; anything at the clamp is not finite.
STORED_INFINITY = 1.7976931348623157e308

# One stored row: (step, timestamp, value, is_nan).
Row = tuple[int, int, float, bool]


def x_expression(axis: str, origin: int | None) -> Any:
    if axis == "step":
        return metrics.c.step
    if axis == "wall":
        return metrics.c.timestamp
    # Integer subtraction first (exact), then one double division: what Python's (ts - origin) / 1000.0 does.
    delta = metrics.c.timestamp - bindparam("origin", origin, type_=BigInteger)
    return delta / bindparam("per_second", 1000.0, type_=Double())


def _series(run_id: str, key: str) -> Any:
    return and_(metrics.c.run_uuid == run_id, metrics.c.key == key)


_INT64 = (-(2**63), 2**63 - 1)


def _in_range(x: Any, x_min: float | None, x_max: float | None) -> list[Any]:
    conditions: list[Any] = []
    if x is metrics.c.step:
        # Integer bounds on the integer column (the same points): PostgreSQL compares a bigint with a
        # double by casting every row, which no index serves; with integers it scans the index range.
        if x_min is not None and math.isfinite(x_min):
            low = min(max(math.ceil(x_min), _INT64[0]), _INT64[1])
            conditions.append(x >= bindparam("x_min_step", low, type_=BigInteger))
            x_min = None
        if x_max is not None and math.isfinite(x_max):
            high = min(max(math.floor(x_max), _INT64[0]), _INT64[1])
            conditions.append(x <= bindparam("x_max_step", high, type_=BigInteger))
            x_max = None
    if x_min is not None:
        conditions.append(x >= bindparam("x_min", x_min, type_=Double()))
    if x_max is not None:
        conditions.append(x <= bindparam("x_max", x_max, type_=Double()))
    return conditions


def _finite() -> Any:
    return and_(
        not_(metrics.c.is_nan),
        metrics.c.value < bindparam("pos_inf", STORED_INFINITY, type_=Double()),
        metrics.c.value > bindparam("neg_inf", -STORED_INFINITY, type_=Double()),
    )


def series_stats(
    connection: Connection, run_id: str, key: str, x: Any, x_min: float | None, x_max: float | None
) -> tuple[int, int, Any, Any]:
    """(total points, points in range, smallest x in range, largest x in range)."""
    conditions = _in_range(x, x_min, x_max)
    if x is metrics.c.step:
        # Step follows (run, key) in the primary key: the bounds are two index seeks, and the counts
        # come from the block summaries (a few dozen rows) rather than a scan of the range.
        def bound(aggregate: Any) -> Any:
            return select(aggregate(metrics.c.step)).where(_series(run_id, key), *conditions).scalar_subquery()

        first, last = connection.execute(select(bound(func.min), bound(func.max))).one()
        total = metric_blocks.series_points(connection, run_id, key)
        if first is None:
            return total, 0, None, None
        in_range = total
        if conditions:
            in_range, _ = metric_blocks.range_totals(connection, run_id, key, metric_blocks.cover(first, last))
        return total, in_range, first, last
    # One scan: the range is a CASE inside the aggregates, not a WHERE.
    inside = and_(*conditions) if conditions else None
    if inside is None:
        columns = [func.count(), func.count(), func.min(x), func.max(x)]
    else:
        columns = [
            func.count(),
            func.coalesce(func.sum(case((inside, 1), else_=0)), 0),
            func.min(case((inside, x))),
            func.max(case((inside, x))),
        ]
    row = connection.execute(select(*columns).where(_series(run_id, key))).one()
    return int(row[0]), int(row[1]), row[2], row[3]


def min_timestamp(connection: Connection, run_id: str, key: str) -> int | None:
    value = connection.execute(select(func.min(metrics.c.timestamp)).where(_series(run_id, key))).scalar_one()
    return None if value is None else int(value)


def rows_in_range(
    connection: Connection,
    run_id: str,
    key: str,
    x: Any,
    x_min: float | None,
    x_max: float | None,
    *,
    finite: bool | None = None,
) -> list[Row]:
    """Points in range (all, only the finite ones, or only the others), in chart order: x, then history order."""
    kind = [] if finite is None else [_finite() if finite else not_(_finite())]
    statement = (
        select(metrics.c.step, metrics.c.timestamp, metrics.c.value, metrics.c.is_nan)
        .where(_series(run_id, key), *kind, *_in_range(x, x_min, x_max))
        .order_by(x, metrics.c.step, metrics.c.timestamp, metrics.c.value, metrics.c.is_nan)
    )
    return [(int(s), int(t), float(v), bool(n)) for s, t, v, n in connection.execute(statement)]


def column_expression(connection: Connection, x: Any, lo: float, hi: float, width: int) -> Any:
    """The pixel column of ``x``: ``int((x - lo) / span * width)`` clamped to the last column."""
    span = hi - lo
    if span <= 0:
        return bindparam("zero", 0, type_=Integer)
    scaled = (x - bindparam("lo", lo, type_=Double())) / bindparam("span", span, type_=Double())
    scaled = scaled * bindparam("width_f", float(width), type_=Double())
    # Truncation toward zero like Python's int(); scaled >= 0 in range, so FLOOR is the same.
    raw = cast(scaled, Integer) if connection.dialect.name == "sqlite" else func.floor(scaled)
    top = bindparam("top", width - 1, type_=Integer)
    return case((raw > top, top), else_=raw)


def column_extremes(
    connection: Connection, run_id: str, key: str, x: Any, lo: float, hi: float, width: int
) -> tuple[dict[int, tuple[Any, Any, float, float]], int]:
    """Per pixel column of the finite points in [lo, hi]: (smallest x, largest x, min value, max value).

    Also the number of non-finite points in [lo, hi], counted in the same pass.
    """
    column = column_expression(connection, x, lo, hi, width).label("b")
    finite = _finite()
    statement = (
        select(
            column,
            func.min(case((finite, x))),
            func.max(case((finite, x))),
            func.min(case((finite, metrics.c.value))),
            func.max(case((finite, metrics.c.value))),
            func.sum(case((finite, 0), else_=1)),
        )
        .where(_series(run_id, key), *_in_range(x, lo, hi))
        .group_by(column)
    )
    extremes: dict[int, tuple[Any, Any, float, float]] = {}
    odd = 0
    for b, x0, x1, v0, v1, others in connection.execute(statement):
        odd += int(others or 0)
        if x0 is not None:
            extremes[int(b)] = (x0, x1, float(v0), float(v1))
    return extremes, odd


# SQLite allows 32766 bound parameters per statement; stay well below in one IN list.
_IN_CHUNK = 15_000


def rows_matching(
    connection: Connection,
    run_id: str,
    key: str,
    x: Any,
    lo: float,
    hi: float,
    xs: set[Any],
    values: set[float],
) -> list[Row]:
    """Finite points in [lo, hi] whose x is one of ``xs`` or whose value is one of ``values``."""
    batches: list[Any]
    split = x is metrics.c.step and connection.dialect.name != "mysql"
    if len(xs) + len(values) <= _IN_CHUNK and not split:
        # Usual case (width up to a few thousand): one scan for both lists. MariaDB turns a long IN
        # list into a join with a temporary table; one such scan beats seeks plus a scan there.
        batches = [or_(x.in_(sorted(xs)), metrics.c.value.in_(sorted(values)))]
    else:
        # On the step axis (SQLite, PostgreSQL) the steps are index seeks; only the values need a scan.
        batches = [
            column.in_(members[offset : offset + _IN_CHUNK])
            for column, members in ((x, sorted(xs)), (metrics.c.value, sorted(values)))
            for offset in range(0, len(members), _IN_CHUNK)
        ]
    found: set[Row] = set()
    for condition in batches:
        statement = select(metrics.c.step, metrics.c.timestamp, metrics.c.value, metrics.c.is_nan).where(
            _series(run_id, key), _finite(), *_in_range(x, lo, hi), condition
        )
        found.update((int(s), int(t), float(v), bool(n)) for s, t, v, n in connection.execute(statement))
    return list(found)


# Columns per statement: at most ten bound values each (MariaDB's inline form), under SQLite's limit.
_COLUMNS_PER_STATEMENT = 2_000


def step_column_bounds(lo: float, hi: float, width: int, column_of: Any) -> list[tuple[int, int, int]]:
    """(column, first step, last step) of every pixel column holding an integer step in [lo, hi].

    ``column_of(step)`` is the reference's column function, so a step lands where the reference puts it.
    """
    first, last = math.ceil(lo), math.floor(hi)
    if first > last:
        return []
    span = hi - lo
    bounds: list[tuple[int, int, int]] = []
    start = first
    while start <= last:
        column = column_of(start)
        # The estimate of the column's last step, corrected by the exact column function.
        end = min(last, max(start, math.floor(lo + (column + 1) * span / width)))
        while end > start and column_of(end) > column:
            end -= 1
        while end < last and column_of(end + 1) == column:
            end += 1
        bounds.append((column, start, end))
        start = end + 1
    return bounds


def column_first_last(connection: Connection, run_id: str, key: str, bounds: list[tuple[int, int, int]]) -> set[int]:
    """Step axis: the steps of each pixel column's first and last finite point (index seeks)."""
    quote = connection.dialect.identifier_preparer.quote
    m = dialects.marker(connection)
    finite = f"is_nan = {m} AND value < {m} AND value > {m}"
    where = f"run_uuid = {m} AND {quote('key')} = {m} AND step BETWEEN {{s0}} AND {{s1}} AND {finite}"
    # ORDER BY … LIMIT 1 stops at the first finite point: min()/max() would read the whole column
    # on databases that cannot seek past the finiteness test.
    subqueries = [
        f"SELECT step FROM metrics WHERE {where} ORDER BY step LIMIT 1",
        f"SELECT step FROM metrics WHERE {where} ORDER BY step DESC LIMIT 1",
    ]
    shared = (run_id, key, False, STORED_INFINITY, -STORED_INFINITY)
    steps: set[int] = set()
    for offset in range(0, len(bounds), _COLUMNS_PER_STATEMENT):
        rows = [(start, end) for _, start, end in bounds[offset : offset + _COLUMNS_PER_STATEMENT]]
        # Straight to the driver: thousands of parameters cost SQLAlchemy's text() more than the query.
        sql, parameters = dialects.subqueries_per_row(connection, ("s0", "s1"), rows, subqueries, shared)
        for row in dialects.driver_rows(connection, sql, parameters):
            steps.update(int(step) for step in row if step is not None)
    return steps


def rows_of_series(
    connection: Connection, pairs: Sequence[tuple[str, str]]
) -> list[tuple[str, str, int, int, float, bool]]:
    """Every point of each (run, key) series: ``(run, key, step, timestamp, value, is_nan)``, unordered."""
    wanted = set(pairs)
    statement = select(
        metrics.c.run_uuid, metrics.c.key, metrics.c.step, metrics.c.timestamp, metrics.c.value, metrics.c.is_nan
    ).where(metrics.c.run_uuid.in_({run for run, _ in pairs}), metrics.c.key.in_({key for _, key in pairs}))
    return [
        (r, k, int(s), int(t), float(v), bool(n))
        for r, k, s, t, v, n in connection.execute(statement)
        if (r, k) in wanted
    ]


def rows_at_steps(connection: Connection, run_id: str, key: str, steps: set[int]) -> list[Row]:
    """Every finite point at one of ``steps`` (index seeks), unordered, as the driver returns it.

    The columns need no conversion (integers, a float, and ``is_nan`` false); a chart reads
    thousands of these rows.
    """
    quote = connection.dialect.identifier_preparer.quote
    m = dialects.marker(connection)
    per_select = dialects.in_list_seek_limit(connection) or _IN_CHUNK
    found: list[Row] = []
    members = sorted(steps)
    for offset in range(0, len(members), _IN_CHUNK):
        chunk = members[offset : offset + _IN_CHUNK]
        parts = [chunk[start : start + per_select] for start in range(0, len(chunk), per_select)]
        # Straight to the driver: an expanding IN of thousands of steps costs SQLAlchemy more than the query.
        sql = " UNION ALL ".join(
            f"SELECT step, timestamp, value, is_nan FROM metrics WHERE run_uuid = {m} AND {quote('key')} = {m} "
            f"AND is_nan = {m} AND value < {m} AND value > {m} AND step IN ({', '.join([m] * len(part))})"
            for part in parts
        )
        parameters = tuple(
            value for part in parts for value in (run_id, key, False, STORED_INFINITY, -STORED_INFINITY, *part)
        )
        found.extend(dialects.driver_rows(connection, sql, parameters))
    return found


def nonfinite_count(connection: Connection, run_id: str, key: str, x: Any, lo: float, hi: float) -> int:
    statement = select(func.count()).where(_series(run_id, key), not_(_finite()), *_in_range(x, lo, hi))
    return int(connection.execute(statement).scalar_one())
