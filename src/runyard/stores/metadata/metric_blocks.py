"""Block summaries of metric series: the first, last, lowest and highest point of aligned step blocks.

A chart of a million-point series asks, for each of ~1,000 pixel columns, the column's first, last,
lowest and highest point (M4). Scanning the million points for that costs most of a second; merging
summaries costs a few thousand small reads. Level ``L`` (1 to ``LEVELS``) summarises the steps
``[block·16^L, (block+1)·16^L)``, so any step range splits into at most 15 raw steps and 15 blocks
per level at each end plus whole top-level blocks between (:func:`cover`).

Summaries are recomputed from the stored points (level 1) and from the level below (higher levels)
for every block a write touches, inside the writer's transaction: exact whatever the order of the
points, and duplicates ignored by the insert are not counted twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from runyard.stores.metadata import dialects
from runyard.stores.metadata.tables import metric_blocks, metrics

FANOUT_BITS = 4  # 16 children per block
LEVELS = 4  # blocks of 16, 256, 4,096 and 65,536 steps
# Infinities are stored clamped to the largest double; anything at the clamp is not finite.
STORED_INFINITY = 1.7976931348623157e308

_SUMMARY_COLUMNS = (
    "points",
    "first_step",
    "last_step",
    "min_value",
    "min_step",
    "max_value",
    "max_step",
    "nonfinite",
)
# A stored block row: its key columns, then its summary.
ROW_COLUMNS = ("run_uuid", "key", "level", "block", *_SUMMARY_COLUMNS)


@dataclass(slots=True)
class Summary:
    points: int
    first_step: int
    last_step: int
    min_value: float | None
    min_step: int | None
    max_value: float | None
    max_step: int | None
    nonfinite: int

    def add(self, other: Summary) -> None:
        """Merge ``other`` (in any order: equal extremes keep the earlier step)."""
        self.points += other.points
        self.first_step = min(self.first_step, other.first_step)
        self.last_step = max(self.last_step, other.last_step)
        self.nonfinite += other.nonfinite
        if other.min_value is not None and (
            self.min_value is None or (other.min_value, other.min_step) < (self.min_value, self.min_step)
        ):
            self.min_value, self.min_step = other.min_value, other.min_step
        if other.max_value is not None and (
            self.max_value is None or (-other.max_value, other.max_step) < (-self.max_value, self.max_step)
        ):
            self.max_value, self.max_step = other.max_value, other.max_step


def is_finite(value: float, is_nan: bool) -> bool:
    return not is_nan and -STORED_INFINITY < value < STORED_INFINITY


def _point_summary(step: int, value: float, is_nan: bool) -> Summary:
    if is_finite(value, is_nan):
        return Summary(1, step, step, value, step, value, step, 0)
    return Summary(1, step, step, None, None, None, None, 1)


def _summary_of_points(points: Sequence[tuple[int, float, bool]]) -> Summary:
    """The summary of ``(step, value, is_nan)`` points of one block, in any order."""
    steps = [step for step, _, _ in points]
    finite = [(value, step) for step, value, is_nan in points if is_finite(value, is_nan)]
    if not finite:
        return Summary(len(points), min(steps), max(steps), None, None, None, None, len(points))
    low = min(finite)  # the lowest value, then the earliest step holding it
    high = max(finite, key=lambda pair: (pair[0], -pair[1]))
    return Summary(len(points), min(steps), max(steps), low[0], low[1], high[0], high[1], len(points) - len(finite))


def _spans(blocks: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted blocks as runs of consecutive numbers: ``[(first, last), ...]``."""
    spans: list[tuple[int, int]] = []
    for block in sorted(set(blocks)):
        if spans and spans[-1][1] == block - 1:
            spans[-1] = (spans[-1][0], block)
        else:
            spans.append((block, block))
    return spans


def _children(span: tuple[int, int]) -> tuple[int, int]:
    """The first and last child (one level down) of the blocks in ``span``."""
    return span[0] << FANOUT_BITS, ((span[1] + 1) << FANOUT_BITS) - 1


def record(
    connection: Connection, run_id: str, points: Sequence[tuple[str, float, int, int, bool]], *, all_new: bool
) -> None:
    """Fold newly stored ``(key, value, timestamp, step, is_nan)`` points into their blocks, every level.

    ``all_new``: every point was inserted (none was already stored). Then each block's summary is
    merged with the batch's in one upsert statement; otherwise a re-logged point would be counted
    twice, and the touched blocks are recomputed from the stored points instead.
    """
    if not points:
        return
    if not all_new:
        steps_by_key: dict[str, set[int]] = {}
        for key, _, _, step, _ in points:
            steps_by_key.setdefault(key, set()).add(step)
        refresh(connection, run_id, steps_by_key)
        return
    # Level 1 straight from the points (grouped, then min/max over each group); each level above
    # from the one below, so the per-point work is one dict append.
    groups: dict[tuple[str, int], list[tuple[int, float, bool]]] = {}
    for key, value, _, step, is_nan in points:
        groups.setdefault((key, step >> FANOUT_BITS), []).append((step, value, is_nan))
    level_summaries = {group: _summary_of_points(members) for group, members in groups.items()}
    batch: dict[tuple[str, int, int], Summary] = {
        (key, 1, block): summary for (key, block), summary in level_summaries.items()
    }
    for level in range(2, LEVELS + 1):
        parents: dict[tuple[str, int], Summary] = {}
        for (key, block), summary in level_summaries.items():
            parent = parents.get((key, block >> FANOUT_BITS))
            if parent is None:
                parents[(key, block >> FANOUT_BITS)] = Summary(**_as_row(summary))
            else:
                parent.add(summary)
        batch.update(((key, level, block), summary) for (key, block), summary in parents.items())
        level_summaries = parents
    rows = [
        (run_id, key, level, block, *(getattr(summary, column) for column in _SUMMARY_COLUMNS))
        for (key, level, block), summary in batch.items()
    ]
    connection.exec_driver_sql(_merge_sql(connection), rows)


def _merge_sql(connection: Connection) -> str:
    """An upsert merging a block's new summary into the stored one (driver markers, for executemany)."""
    quote = connection.dialect.identifier_preparer.quote
    name = connection.dialect.name
    columns = ROW_COLUMNS
    insert = (
        f"INSERT INTO metric_blocks ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join([dialects.marker(connection)] * len(columns))})"
    )
    lowest, highest = ("min", "max") if name == "sqlite" else ("LEAST", "GREATEST")

    def new(column: str) -> str:
        return f"VALUES({column})" if name == "mysql" else f"excluded.{column}"

    def old(column: str) -> str:
        return f"metric_blocks.{column}"

    def takes(value: str, step: str, better: str) -> str:
        return (
            f"{new(value)} IS NOT NULL AND ({old(value)} IS NULL OR {new(value)} {better} {old(value)} "
            f"OR ({new(value)} = {old(value)} AND {new(step)} < {old(step)}))"
        )

    take_min = takes("min_value", "min_step", "<")
    take_max = takes("max_value", "max_step", ">")
    # MariaDB applies the assignments in order, each seeing the ones before: a step is assigned
    # before its value, so its condition still reads the stored value (the value's condition then
    # differs only where the two values are equal).
    assignments = [
        f"points = {old('points')} + {new('points')}",
        f"first_step = {lowest}({old('first_step')}, {new('first_step')})",
        f"last_step = {highest}({old('last_step')}, {new('last_step')})",
        f"nonfinite = {old('nonfinite')} + {new('nonfinite')}",
        f"min_step = CASE WHEN {take_min} THEN {new('min_step')} ELSE {old('min_step')} END",
        f"min_value = CASE WHEN {take_min} THEN {new('min_value')} ELSE {old('min_value')} END",
        f"max_step = CASE WHEN {take_max} THEN {new('max_step')} ELSE {old('max_step')} END",
        f"max_value = CASE WHEN {take_max} THEN {new('max_value')} ELSE {old('max_value')} END",
    ]
    if name == "mysql":
        return f"{insert} ON DUPLICATE KEY UPDATE {', '.join(assignments)}"
    keys = ", ".join(quote(c) for c in ("run_uuid", "key", "level", "block"))
    return f"{insert} ON CONFLICT ({keys}) DO UPDATE SET {', '.join(assignments)}"


def refresh(connection: Connection, run_id: str, steps_by_key: Mapping[str, Iterable[int]]) -> None:
    """Recompute every block holding one of the given steps, at every level. The caller holds the run's lock."""
    touched = {key: _spans(step >> FANOUT_BITS for step in steps) for key, steps in steps_by_key.items()}
    for level in range(1, LEVELS + 1):
        summaries: dict[tuple[str, int], Summary] = {}
        # Keys touched over the same blocks (a batch logged at one step) are read by one statement.
        by_spans: dict[tuple[tuple[int, int], ...], list[str]] = {}
        for key, key_spans in touched.items():
            by_spans.setdefault(tuple(key_spans), []).append(key)
        for shared, keys in by_spans.items():
            sources = (
                _level_one_sources(connection, run_id, keys, shared)
                if level == 1
                else _upper_sources(connection, run_id, keys, shared, level)
            )
            for key, block, summary in sources:
                current = summaries.get((key, block))
                if current is None:
                    summaries[(key, block)] = summary
                else:
                    current.add(summary)
        dialects.upsert(
            connection,
            metric_blocks,
            [
                {"run_uuid": run_id, "key": key, "level": level, "block": block, **_as_row(summary)}
                for (key, block), summary in summaries.items()
            ],
            key_columns=("run_uuid", "key", "level", "block"),
            update_columns=_SUMMARY_COLUMNS,
        )
        touched = {key: _parent_spans(spans) for key, spans in touched.items()}


def _parent_spans(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The blocks one level up holding the blocks of ``spans``, as spans."""
    parents: list[tuple[int, int]] = []
    for first, last in spans:
        lo, hi = first >> FANOUT_BITS, last >> FANOUT_BITS
        if parents and parents[-1][1] >= lo - 1:
            parents[-1] = (parents[-1][0], max(parents[-1][1], hi))
        else:
            parents.append((lo, hi))
    return parents


def _as_row(summary: Summary) -> dict[str, Any]:
    return {column: getattr(summary, column) for column in _SUMMARY_COLUMNS}


def _level_one_sources(
    connection: Connection, run_id: str, keys: Sequence[str], spans: Sequence[tuple[int, int]]
) -> Iterator[tuple[str, int, Summary]]:
    """Every stored point of the blocks in ``spans``, in step order, as one-point summaries."""
    for chunk in _chunks(spans):
        ranges = [and_(metrics.c.step >= lo, metrics.c.step <= hi) for lo, hi in map(_children, chunk)]
        statement = (
            select(metrics.c.key, metrics.c.step, metrics.c.value, metrics.c.is_nan)
            .where(metrics.c.run_uuid == run_id, metrics.c.key.in_(keys), or_(*ranges))
            .order_by(metrics.c.key, metrics.c.step, metrics.c.timestamp)
        )
        for key, step, value, is_nan in connection.execute(statement):
            yield key, int(step) >> FANOUT_BITS, _point_summary(int(step), float(value), bool(is_nan))


# Spans per statement: SQLite parses a chain of OR terms as a tree at most 1,000 deep.
_SPANS_PER_STATEMENT = 250


def _chunks(spans: Sequence[tuple[int, int]]) -> Iterator[Sequence[tuple[int, int]]]:
    for offset in range(0, len(spans), _SPANS_PER_STATEMENT):
        yield spans[offset : offset + _SPANS_PER_STATEMENT]


def _upper_sources(
    connection: Connection, run_id: str, keys: Sequence[str], spans: Sequence[tuple[int, int]], level: int
) -> Iterator[tuple[str, int, Summary]]:
    """The level-below summaries of the blocks in ``spans``, in block order."""
    b = metric_blocks.c
    for chunk in _chunks(spans):
        ranges = [and_(b.block >= lo, b.block <= hi) for lo, hi in map(_children, chunk)]
        statement = (
            select(b.key, b.block, *(b[column] for column in _SUMMARY_COLUMNS))
            .where(b.run_uuid == run_id, b.key.in_(keys), b.level == level - 1, or_(*ranges))
            .order_by(b.key, b.block)
        )
        for key, block, *values in connection.execute(statement):
            yield key, int(block) >> FANOUT_BITS, _summary_of(values)


def _summary_of(values: Sequence[Any]) -> Summary:
    points, first, last, v0, s0, v1, s1, nonfinite = values
    return Summary(
        int(points),
        int(first),
        int(last),
        None if v0 is None else float(v0),
        None if s0 is None else int(s0),
        None if v1 is None else float(v1),
        None if s1 is None else int(s1),
        int(nonfinite),
    )


def rebuild(connection: Connection, run_id: str, key: str) -> None:
    """Summaries of one whole series from its stored points (for points loaded around ``refresh``)."""
    connection.execute(metric_blocks.delete().where(metric_blocks.c.run_uuid == run_id, metric_blocks.c.key == key))
    steps = connection.execute(
        select(metrics.c.step).where(metrics.c.run_uuid == run_id, metrics.c.key == key).distinct()
    ).scalars()
    refresh(connection, run_id, {key: [int(step) for step in steps]})


def summaries_of(points: Iterable[tuple[str, str, int, float, bool]]) -> Iterator[dict[str, Any]]:
    """Block rows of every level for ``(run, key, step, value, is_nan)`` points given series by series in
    step order: what :func:`refresh` would store for them, computed as they stream (for bulk loads)."""
    open_blocks: list[tuple[int, Summary] | None] = [None] * (LEVELS + 1)
    series: tuple[str, str] | None = None

    def close(level: int) -> Iterator[dict[str, Any]]:
        current = open_blocks[level]
        if current is None or series is None:
            return
        open_blocks[level] = None
        block, summary = current
        yield {"run_uuid": series[0], "key": series[1], "level": level, "block": block, **_as_row(summary)}
        if level < LEVELS:
            yield from feed(level + 1, block >> FANOUT_BITS, Summary(**_as_row(summary)))

    def feed(level: int, block: int, summary: Summary) -> Iterator[dict[str, Any]]:
        current = open_blocks[level]
        if current is not None and current[0] != block:
            yield from close(level)
            current = None
        if current is None:
            open_blocks[level] = (block, summary)
        else:
            current[1].add(summary)

    for run_id, key, step, value, is_nan in points:
        if series != (run_id, key):
            for level in range(1, LEVELS + 1):
                yield from close(level)
            series = (run_id, key)
        yield from feed(1, step >> FANOUT_BITS, _point_summary(step, value, is_nan))
    for level in range(1, LEVELS + 1):
        yield from close(level)


# An arm of a cover: (level, first, last) — level 0 is raw steps, level L blocks of 16^L steps.
Arm = tuple[int, int, int]


def cover(first_step: int, last_step: int, levels: int = LEVELS) -> list[Arm]:
    """Arms in step order that together hold exactly the steps ``[first_step, last_step]``."""
    arms: list[Arm] = []
    right: list[Arm] = []
    level, lo, hi = 0, first_step, last_step
    while lo <= hi:
        if level == levels:
            arms.append((level, lo, hi))
            break
        parent_lo = -((-lo) >> FANOUT_BITS)  # the first parent starting at or after lo
        parent_hi = ((hi + 1) >> FANOUT_BITS) - 1  # the last parent ending at or before hi
        if parent_lo > parent_hi:
            arms.append((level, lo, hi))
            break
        if lo < parent_lo << FANOUT_BITS:
            arms.append((level, lo, (parent_lo << FANOUT_BITS) - 1))
        if (parent_hi + 1) << FANOUT_BITS <= hi:
            right.append((level, (parent_hi + 1) << FANOUT_BITS, hi))
        level, lo, hi = level + 1, parent_lo, parent_hi
    return arms + right[::-1]


# Arms per statement: at most fourteen bound values each (MariaDB's inline form), under SQLite's
# limit of 32,766 and the 65,535 of PostgreSQL and MariaDB.
_ARMS_PER_STATEMENT = 2_000


def _arm_subqueries(connection: Connection, raw: bool) -> list[str]:
    """For an arm ``{lvl}, {lo}, {hi}``: the first step holding its lowest value, and its highest.

    Sent straight to the driver (positional markers): a statement of thousands of parameters costs
    more to build through SQLAlchemy's text() than the database takes to answer it.
    """
    quote = connection.dialect.identifier_preparer.quote
    m = dialects.marker(connection)
    series = f"run_uuid = {m} AND {quote('key')} = {m}"
    if raw:
        finite = f"is_nan = {m} AND value < {m} AND value > {m}"
        where = f"{series} AND step BETWEEN {{lo}} AND {{hi}} AND {finite}"
        table, low_value, low_step, high_value, high_step = "metrics", "value", "step", "value", "step"
    else:
        where = f"{series} AND {quote('level')} = {{lvl}} AND block BETWEEN {{lo}} AND {{hi}} AND min_value IS NOT NULL"
        table, low_value, low_step, high_value, high_step = (
            "metric_blocks",
            "min_value",
            "min_step",
            "max_value",
            "max_step",
        )
    # Ties go to the earlier step: the reference keeps the first point of a column's extreme.
    return [
        f"SELECT {low_step} FROM {table} WHERE {where} ORDER BY {low_value}, {low_step} LIMIT 1",
        f"SELECT {high_step} FROM {table} WHERE {where} ORDER BY {high_value} DESC, {high_step} LIMIT 1",
    ]


def arm_extreme_steps(connection: Connection, run_id: str, key: str, arms: Sequence[Arm]) -> set[int]:
    """Per arm, the first step holding its lowest finite value and the first holding its highest.

    A range's extremes are among the extremes of the arms covering it, so the points at these steps
    hold every column's lowest and highest point (the caller compares their values).
    """
    steps: set[int] = set()
    for raw in (True, False):
        chosen = [arm for arm in arms if (arm[0] == 0) == raw]
        # The series (and for raw points the finiteness bounds) once per subquery.
        shared: tuple[Any, ...] = (run_id, key)
        if raw:
            shared += (False, STORED_INFINITY, -STORED_INFINITY)
        subqueries = _arm_subqueries(connection, raw)
        for offset in range(0, len(chosen), _ARMS_PER_STATEMENT):
            sql, parameters = dialects.subqueries_per_row(
                connection, ("lvl", "lo", "hi"), chosen[offset : offset + _ARMS_PER_STATEMENT], subqueries, shared
            )
            for row in dialects.driver_rows(connection, sql, parameters):
                steps.update(int(step) for step in row if step is not None)
    return steps


def range_totals(connection: Connection, run_id: str, key: str, arms: Sequence[Arm]) -> tuple[int, int]:
    """(points, non-finite points) in the steps the arms cover."""
    points = nonfinite = 0
    b = metric_blocks.c
    raw = [and_(metrics.c.step >= lo, metrics.c.step <= hi) for level, lo, hi in arms if level == 0]
    if raw:
        for value, is_nan in connection.execute(
            select(metrics.c.value, metrics.c.is_nan).where(
                metrics.c.run_uuid == run_id, metrics.c.key == key, or_(*raw)
            )
        ):
            points += 1
            nonfinite += 0 if is_finite(float(value), bool(is_nan)) else 1
    blocks = [and_(b.level == level, b.block >= lo, b.block <= hi) for level, lo, hi in arms if level > 0]
    if blocks:
        row = connection.execute(
            select(func.coalesce(func.sum(b.points), 0), func.coalesce(func.sum(b.nonfinite), 0)).where(
                b.run_uuid == run_id, b.key == key, or_(*blocks)
            )
        ).one()
        points += int(row[0])
        nonfinite += int(row[1])
    return points, nonfinite


def nonfinite_spans(
    connection: Connection, run_id: str, key: str, first_step: int, last_step: int
) -> list[tuple[int, int]]:
    """Step ranges (level-1 blocks, clipped to the range) that hold non-finite points."""
    b = metric_blocks.c
    series = (b.run_uuid == run_id, b.key == key)
    top = LEVELS * FANOUT_BITS
    # Most series hold no NaN or infinity: the top level (a handful of rows) says so at once.
    any_nonfinite = connection.execute(
        select(func.coalesce(func.sum(b.nonfinite), 0)).where(
            *series, b.level == LEVELS, b.block >= first_step >> top, b.block <= last_step >> top
        )
    ).scalar_one()
    if not any_nonfinite:
        return []
    blocks = connection.execute(
        select(b.block)
        .where(
            *series,
            b.level == 1,
            b.nonfinite > 0,
            b.block >= first_step >> FANOUT_BITS,
            b.block <= last_step >> FANOUT_BITS,
        )
        .order_by(b.block)
    ).scalars()
    spans = []
    for first, last in _spans(int(block) for block in blocks):
        lo, hi = _children((first, last))
        spans.append((max(lo, first_step), min(hi, last_step)))
    return spans


def series_totals(connection: Connection, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Every point of each (run, key) series, from the top-level blocks (absent: no point)."""
    if not pairs:
        return {}
    b = metric_blocks.c
    statement = (
        select(b.run_uuid, b.key, func.sum(b.points))
        .where(b.run_uuid.in_({run for run, _ in pairs}), b.key.in_({key for _, key in pairs}), b.level == LEVELS)
        .group_by(b.run_uuid, b.key)
    )
    return {(run, key): int(total) for run, key, total in connection.execute(statement)}


def series_points(connection: Connection, run_id: str, key: str) -> int:
    """Every point of the series, from its top-level blocks."""
    b = metric_blocks.c
    value = connection.execute(
        select(func.coalesce(func.sum(b.points), 0)).where(b.run_uuid == run_id, b.key == key, b.level == LEVELS)
    ).scalar_one()
    return int(value)
