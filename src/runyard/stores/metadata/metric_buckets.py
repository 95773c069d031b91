"""SQL side of chart downsampling: range counts and M4 candidate rows computed by the database.

A million-point series must not cross the wire to be reduced to a few thousand. The x value of a
point is ``step``, ``timestamp`` (wall clock, ms) or ``(timestamp - origin) / 1000.0`` (seconds since
the run started), and its pixel column is ``(x - lo) / span * width`` truncated and clamped — the same
double-precision operations, in the same order, as the Python reference, so a point lands in the same
column on SQLite, PostgreSQL and MariaDB as it does in Python.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Connection, Double, Integer, and_, bindparam, case, cast, func, not_, or_, select

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


def _in_range(x: Any, x_min: float | None, x_max: float | None) -> list[Any]:
    conditions: list[Any] = []
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
    total = connection.execute(select(func.count()).select_from(metrics).where(_series(run_id, key))).scalar_one()
    row = connection.execute(
        select(func.count(), func.min(x), func.max(x)).where(_series(run_id, key), *_in_range(x, x_min, x_max))
    ).one()
    return int(total), int(row[0]), row[1], row[2]


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


def m4_candidates(
    connection: Connection, run_id: str, key: str, x: Any, lo: float, hi: float, width: int
) -> list[tuple[int, Row]]:
    """(column, row) for every finite point in [lo, hi] that may be its column's first, last, min or max.

    Per column the database finds the smallest and largest x and value, then the smallest x among the
    points holding the min (and the max) value; only points matching those come back — a handful per
    column (more only when many points share one x), from which the caller picks exactly as the
    reference does.
    """
    span = hi - lo
    if span > 0:
        scaled = (x - bindparam("lo", lo, type_=Double())) / bindparam("span", span, type_=Double())
        scaled = scaled * bindparam("width_f", float(width), type_=Double())
        # Truncation toward zero like Python's int(); scaled >= 0 here, so FLOOR is the same.
        raw = cast(scaled, Integer) if connection.dialect.name == "sqlite" else func.floor(scaled)
        top = bindparam("top", width - 1, type_=Integer)
        column: Any = case((raw > top, top), else_=raw)
    else:
        column = bindparam("zero", 0, type_=Integer)
    points = (
        select(
            metrics.c.step.label("step"),
            metrics.c.timestamp.label("ts"),
            metrics.c.value.label("v"),
            x.label("x"),
            column.label("b"),
        )
        .where(_series(run_id, key), _finite(), *_in_range(x, lo, hi))
        .cte("pts")
    )
    agg = (
        select(
            points.c.b,
            func.min(points.c.x).label("x0"),
            func.max(points.c.x).label("x1"),
            func.min(points.c.v).label("v0"),
            func.max(points.c.v).label("v1"),
        )
        .group_by(points.c.b)
        .cte("agg")
    )
    ext = (
        select(
            points.c.b,
            func.min(case((points.c.v == agg.c.v0, points.c.x))).label("xv0"),
            func.min(case((points.c.v == agg.c.v1, points.c.x))).label("xv1"),
        )
        .join_from(points, agg, points.c.b == agg.c.b)
        .where(or_(points.c.v == agg.c.v0, points.c.v == agg.c.v1))
        .group_by(points.c.b)
        .cte("ext")
    )
    statement = (
        select(points.c.b, points.c.step, points.c.ts, points.c.v)
        .join_from(points, agg, points.c.b == agg.c.b)
        .join(ext, points.c.b == ext.c.b)
        .where(
            or_(
                points.c.x == agg.c.x0,
                points.c.x == agg.c.x1,
                and_(points.c.x == ext.c.xv0, points.c.v == agg.c.v0),
                and_(points.c.x == ext.c.xv1, points.c.v == agg.c.v1),
            )
        )
    )
    return [(int(b), (int(s), int(t), float(v), False)) for b, s, t, v in connection.execute(statement)]
