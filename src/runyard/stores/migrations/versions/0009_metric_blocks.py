"""Block summaries of metric series, for charts of long series; filled from the points already stored.

Revision ID: 0009_metric_blocks
Revises: 0008_evaluation

Level ``L`` summarises the steps ``[block·16^L, (block+1)·16^L)`` of one (run, key) series for
L = 1…4. The table and the summarising are frozen here (never imported from the live
``metric_blocks``) so this revision always writes exactly what it was written for. The existing
points are read once, in step order, and summarised as they stream; progress is reported every
million points.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009_metric_blocks"
down_revision = "0008_evaluation"
branch_labels = None
depends_on = None

FANOUT_BITS = 4
LEVELS = 4
STORED_INFINITY = 1.7976931348623157e308
_FLUSH_ROWS = 5_000
_REPORT_EVERY = 1_000_000


def _columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("run_uuid", sa.String(length=32), primary_key=True),
        sa.Column("key", sa.String(length=250), primary_key=True),
        sa.Column("level", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("block", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("first_step", sa.BigInteger(), nullable=False),
        sa.Column("last_step", sa.BigInteger(), nullable=False),
        sa.Column("min_value", sa.Double(), nullable=True),
        sa.Column("min_step", sa.BigInteger(), nullable=True),
        sa.Column("max_value", sa.Double(), nullable=True),
        sa.Column("max_step", sa.BigInteger(), nullable=True),
        sa.Column("nonfinite", sa.BigInteger(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "metric_blocks",
        *_columns(),
        sa.PrimaryKeyConstraint("run_uuid", "key", "level", "block", name=op.f("pk_metric_blocks")),
    )
    _summarise_stored_points()


def downgrade() -> None:
    op.drop_table("metric_blocks")


class _Open:
    """The block being summarised at one level."""

    __slots__ = ("block", "row")

    def __init__(self, block: int, row: dict[str, Any]) -> None:
        self.block = block
        self.row = row


def _merge(into: dict[str, Any], other: dict[str, Any]) -> None:
    # ``other`` holds later steps: ties keep the earlier step.
    into["points"] += other["points"]
    into["last_step"] = other["last_step"]
    into["nonfinite"] += other["nonfinite"]
    if other["min_value"] is not None and (into["min_value"] is None or other["min_value"] < into["min_value"]):
        into["min_value"], into["min_step"] = other["min_value"], other["min_step"]
    if other["max_value"] is not None and (into["max_value"] is None or other["max_value"] > into["max_value"]):
        into["max_value"], into["max_step"] = other["max_value"], other["max_step"]


def _summarise_stored_points() -> None:
    bind = op.get_bind()
    report: Callable[[str], None] | None = op.get_context().config.attributes.get("report")  # type: ignore[union-attr]
    total = bind.execute(sa.text("SELECT count(*) FROM metrics")).scalar_one()
    if not total:
        return
    table = sa.Table("metric_blocks", sa.MetaData(), *_columns())
    metrics = sa.table(
        "metrics",
        sa.column("run_uuid"),
        sa.column("key"),
        sa.column("step"),
        sa.column("timestamp"),
        sa.column("value"),
        sa.column("is_nan"),
    )
    pending: list[dict[str, Any]] = []
    open_blocks: list[_Open | None] = [None] * (LEVELS + 1)
    series: tuple[str, str] | None = None

    def close(level: int) -> None:
        current = open_blocks[level]
        if current is None:
            return
        open_blocks[level] = None
        pending.append({"run_uuid": series[0], "key": series[1], "level": level, "block": current.block, **current.row})  # type: ignore[index]
        if level < LEVELS:
            feed(level + 1, current.block >> FANOUT_BITS, dict(current.row))

    def feed(level: int, block: int, row: dict[str, Any]) -> None:
        current = open_blocks[level]
        if current is not None and current.block != block:
            close(level)
            current = None
        if current is None:
            open_blocks[level] = _Open(block, row)
        else:
            _merge(current.row, row)

    def close_all() -> None:
        for level in range(1, LEVELS + 1):
            close(level)

    seen = 0
    for run_uuid, key in bind.execute(sa.select(metrics.c.run_uuid, metrics.c.key).distinct()).all():
        close_all()
        series = (run_uuid, key)
        for step, value, is_nan in _points_in_step_order(bind, metrics, run_uuid, key):
            finite = not is_nan and -STORED_INFINITY < value < STORED_INFINITY
            point = {
                "points": 1,
                "first_step": step,
                "last_step": step,
                "min_value": float(value) if finite else None,
                "min_step": step if finite else None,
                "max_value": float(value) if finite else None,
                "max_step": step if finite else None,
                "nonfinite": 0 if finite else 1,
            }
            feed(1, step >> FANOUT_BITS, point)
            seen += 1
            if len(pending) >= _FLUSH_ROWS:
                bind.execute(table.insert(), pending)
                pending.clear()
            if report is not None and seen % _REPORT_EVERY == 0:
                report(f"{revision}: summarised {seen:,} of {total:,} metric points")
    close_all()
    if pending:
        bind.execute(table.insert(), pending)
    if report is not None:
        report(f"{revision}: summarised {seen:,} of {total:,} metric points")


def _points_in_step_order(bind: sa.Connection, metrics: Any, run_uuid: str, key: str) -> Any:
    """(step, value, is_nan) of one series in (step, timestamp) order, a page at a time.

    Pages end on a whole step (the points of one step are never split), so no cursor stays open
    while summaries are written: MariaDB's unbuffered results allow no other statement meanwhile.
    """
    page = 100_000
    after: int | None = None
    columns = (metrics.c.step, metrics.c.value, metrics.c.is_nan)
    series = sa.and_(metrics.c.run_uuid == run_uuid, metrics.c.key == key)
    while True:
        statement = sa.select(*columns).where(series).order_by(metrics.c.step, metrics.c.timestamp)
        if after is not None:
            statement = statement.where(metrics.c.step >= after)
        rows = [(int(step), float(value), bool(is_nan)) for step, value, is_nan in bind.execute(statement.limit(page))]
        if len(rows) < page:
            yield from rows
            return
        last = rows[-1][0]
        if rows[0][0] == last:
            # One step holds a whole page: read that step alone, then go on after it.
            statement = sa.select(*columns).where(series, metrics.c.step == last).order_by(metrics.c.timestamp)
            yield from ((int(s), float(v), bool(n)) for s, v, n in bind.execute(statement))
            after = last + 1
            continue
        yield from (row for row in rows if row[0] < last)
        after = last
