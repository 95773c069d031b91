"""Faithful chart data: M4 downsampling of metric series to a chart's pixel width.

For a chart W pixels wide, each pixel column keeps the first, last, smallest and largest point that
falls in it (M4), so a line drawn through what is returned covers exactly the pixels the raw series
would: a single-sample spike is never averaged away. A series with at most 4·W points in the visible
range is returned raw. Every series of one request shares the same bucket edges (one x range, one
width), so overlaid lines are bucketed alike. NaN and ±Inf are not plottable values; they are returned
apart as markers (at most one of each kind per pixel column). The visible range's minimum, maximum and
last point are always among the points returned.

Smoothing (an exponential moving average, debiased like TensorBoard's) is applied to the raw series,
in step order, before bucketing — smoothing a downsampled series would smooth different data at each
zoom level.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection

from runyard.errors import InvalidParameter, NotFound
from runyard.services.workspaces import workspace_scope
from runyard.stores.metadata import metric_blocks, metric_buckets
from runyard.stores.metadata import metrics as metric_store
from runyard.stores.metadata import runs as run_store

MAX_WIDTH = 10_000
MAX_SERIES = 200
# Infinities are stored clamped to the largest double (as MLflow's store does): read back as ±Inf.
_STORED_INFINITY = 1.7976931348623157e308


class XAxis(StrEnum):
    STEP = "step"
    WALL = "wall"  # milliseconds since the epoch
    RELATIVE = "relative"  # seconds since the run started


@dataclass(frozen=True, slots=True)
class RawPoint:
    """One stored point: ``value`` may be NaN or ±Inf."""

    step: int
    timestamp: int
    value: float


@dataclass(slots=True)
class SeriesResult:
    run_id: str
    key: str
    total_points: int  # every point of the series, whatever the range
    points_in_range: int
    downsampled: bool
    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    step: list[int] = field(default_factory=list)
    # Non-finite points: (x, step, "nan" | "inf" | "-inf").
    markers: list[tuple[float, int, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Downsampled:
    x_axis: XAxis
    width: int
    x_min: float | None
    x_max: float | None
    series: list[SeriesResult]


def _kind(value: float) -> str | None:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return None


def smooth(values: Sequence[float], weight: float) -> list[float]:
    """Debiased exponential moving average over the finite values; non-finite ones pass through."""
    if not 0.0 <= weight < 1.0:
        raise InvalidParameter(f"Invalid value {weight} for parameter 'smoothing': must be >= 0 and < 1")
    if weight == 0.0:
        return list(values)
    out: list[float] = []
    average = 0.0
    count = 0
    for value in values:
        if not math.isfinite(value):
            out.append(value)
            continue
        count += 1
        average = average * weight + (1.0 - weight) * value
        out.append(average / (1.0 - weight**count))
    return out


def bucket_of(x: float, x_min: float, x_max: float, width: int) -> int:
    """The pixel column of ``x`` in ``[x_min, x_max]`` split into ``width`` equal columns."""
    if x_max <= x_min:
        return 0
    index = int((x - x_min) / (x_max - x_min) * width)
    return min(max(index, 0), width - 1)


def m4_indices(xs: Sequence[float], ys: Sequence[float], x_min: float, x_max: float, width: int) -> list[int]:
    """Indices (ascending) of the points M4 keeps: per column the first, last, min and max finite point.

    ``xs`` must be ascending; every ``ys`` value must be finite.
    """
    keep: set[int] = set()
    current = -1
    first = last = lo = hi = -1
    # bucket_of, inlined: this loop runs once per raw point (a million for a long series).
    # Same expression as bucket_of, so every point lands in the same column bit for bit.
    span = x_max - x_min
    top = width - 1
    for i, x in enumerate(xs):
        column = int((x - x_min) / span * width) if span > 0 else 0
        column = 0 if column < 0 else (top if column > top else column)
        if column != current:
            if current >= 0:
                keep.update((first, last, lo, hi))
            current = column
            first = last = lo = hi = i
            continue
        last = i
        y = ys[i]
        if y < ys[lo]:
            lo = i
        elif y > ys[hi]:
            hi = i
    if current >= 0:
        keep.update((first, last, lo, hi))
    return sorted(keep)


def x_values(points: Sequence[RawPoint], axis: XAxis, start_time: int | None) -> list[float]:
    if axis is XAxis.STEP:
        return [float(p.step) for p in points]
    if axis is XAxis.WALL:
        return [float(p.timestamp) for p in points]
    origin = start_time if start_time is not None else (min(p.timestamp for p in points) if points else 0)
    return [(p.timestamp - origin) / 1000.0 for p in points]


@dataclass(frozen=True, slots=True)
class _Prepared:
    run_id: str
    key: str
    total: int
    xs: list[float]
    steps: list[int]
    values: list[float]


def validate_request(width: int, x_min: float | None, x_max: float | None, smoothing: float) -> None:
    if not 1 <= width <= MAX_WIDTH:
        raise InvalidParameter(f"Invalid value {width} for parameter 'width': must be between 1 and {MAX_WIDTH}")
    if x_min is not None and x_max is not None and x_min > x_max:
        raise InvalidParameter(f"Invalid range: x_min ({x_min:g}) is greater than x_max ({x_max:g})")
    if not 0.0 <= smoothing < 1.0:
        raise InvalidParameter(f"Invalid value {smoothing} for parameter 'smoothing': must be >= 0 and < 1")


def downsample(
    series: Sequence[tuple[str, str, Sequence[RawPoint], int | None]],
    *,
    width: int,
    axis: XAxis = XAxis.STEP,
    x_min: float | None = None,
    x_max: float | None = None,
    smoothing: float = 0.0,
) -> Downsampled:
    """Downsample ``(run_id, key, points, run_start_time)`` series to ``width`` shared pixel columns.

    ``points`` are in history order (step, then timestamp). ``x_min``/``x_max`` bound the visible range
    (inclusive); when omitted the range spans every series.
    """
    validate_request(width, x_min, x_max, smoothing)
    prepared: list[_Prepared] = []
    for run_id, key, points, start_time in series:
        xs = x_values(points, axis, start_time)
        values = smooth([p.value for p in points], smoothing)
        # Wall and relative time need not grow with step: order by x, keeping history order for ties.
        order = sorted(range(len(points)), key=lambda i: xs[i]) if axis is not XAxis.STEP else range(len(points))
        if x_min is None and x_max is None:
            kept = list(order)
        else:
            kept = [i for i in order if (x_min is None or xs[i] >= x_min) and (x_max is None or xs[i] <= x_max)]
        prepared.append(
            _Prepared(
                run_id,
                key,
                len(points),
                [xs[i] for i in kept],
                [points[i].step for i in kept],
                [values[i] for i in kept],
            )
        )
    all_x = [x for p in prepared for x in (p.xs[:1] + p.xs[-1:])]
    lo = x_min if x_min is not None else (min(all_x) if all_x else None)
    hi = x_max if x_max is not None else (max(all_x) if all_x else None)
    results = [_one_series(p, width, lo, hi) for p in prepared]
    return Downsampled(axis, width, lo, hi, results)


def _one_series(prepared: _Prepared, width: int, lo: float | None, hi: float | None) -> SeriesResult:
    result = SeriesResult(prepared.run_id, prepared.key, prepared.total, len(prepared.xs), downsampled=False)
    finite = [i for i, v in enumerate(prepared.values) if math.isfinite(v)]
    result.markers = _markers(prepared.xs, prepared.steps, prepared.values, lo, hi, width)
    if len(prepared.xs) <= 4 * width or lo is None or hi is None:
        chosen = finite
    else:
        result.downsampled = True
        fx = [prepared.xs[i] for i in finite]
        fy = [prepared.values[i] for i in finite]
        chosen = [finite[j] for j in m4_indices(fx, fy, lo, hi, width)]
    result.x = [prepared.xs[i] for i in chosen]
    result.y = [prepared.values[i] for i in chosen]
    result.step = [prepared.steps[i] for i in chosen]
    return result


def _markers(
    xs: Sequence[float], steps: Sequence[int], values: Sequence[float], lo: float | None, hi: float | None, width: int
) -> list[tuple[float, int, str]]:
    """The first NaN, +Inf and -Inf of each pixel column, in x order."""
    markers: list[tuple[float, int, str]] = []
    seen: set[tuple[int, str]] = set()
    for x, step, value in zip(xs, steps, values, strict=True):
        kind = _kind(value)
        if kind is None:
            continue
        column = bucket_of(x, lo or 0.0, hi or 0.0, width)
        if (column, kind) not in seen:
            seen.add((column, kind))
            markers.append((x, step, kind))
    return markers


def load_series(connection: Connection, run_id: str, key: str) -> tuple[list[RawPoint], int | None]:
    """Every stored point of ``key`` in ``run_id`` (non-finite values restored) and the run's start time."""
    row = run_store.get_run_row(connection, run_id, workspace=workspace_scope())
    if row is None:
        raise NotFound(f"Run with id={run_id} not found")
    rows = metric_store.history_in_range(connection, run_id, key, None, None)
    points = [RawPoint(step, timestamp, _restore(value, is_nan)) for value, timestamp, step, is_nan in rows]
    return points, row.start_time


def _restore(value: float, is_nan: bool) -> float:
    if is_nan:
        return math.nan
    if value >= _STORED_INFINITY:
        return math.inf
    if value <= -_STORED_INFINITY:
        return -math.inf
    return value


def downsample_metrics(
    connection: Connection,
    run_ids: Sequence[str],
    keys: Sequence[str],
    *,
    width: int,
    axis: XAxis = XAxis.STEP,
    x_min: float | None = None,
    x_max: float | None = None,
    smoothing: float = 0.0,
) -> Downsampled:
    """Every (run, key) pair of ``run_ids`` × ``keys`` downsampled onto one set of bucket edges."""
    if not run_ids:
        raise InvalidParameter("Missing value for required parameter 'run_id'.")
    if not keys:
        raise InvalidParameter("Missing value for required parameter 'key'.")
    if len(run_ids) * len(keys) > MAX_SERIES:
        raise InvalidParameter(
            f"Too many series: {len(run_ids)} runs × {len(keys)} keys; at most {MAX_SERIES} per request"
        )
    validate_request(width, x_min, x_max, smoothing)
    pairs = [(run_id, key) for run_id in dict.fromkeys(run_ids) for key in dict.fromkeys(keys)]
    if smoothing == 0.0:
        starts = _start_times(connection, list(dict.fromkeys(run_ids)))
        series = [(run_id, key, starts[run_id]) for run_id, key in pairs]
        return downsample_in_database(connection, series, width=width, axis=axis, x_min=x_min, x_max=x_max)
    # Smoothing needs every raw point in step order: the Python reference path.
    loaded = []
    for run_id, key in pairs:
        points, start_time = load_series(connection, run_id, key)
        loaded.append((run_id, key, points, start_time))
    return downsample(loaded, width=width, axis=axis, x_min=x_min, x_max=x_max, smoothing=smoothing)


@dataclass(frozen=True, slots=True)
class _Stats:
    run_id: str
    key: str
    origin: int
    x: object  # the SQL expression of this series' x value
    total: int
    in_range: int
    first_x: float | None
    last_x: float | None


def downsample_in_database(
    connection: Connection,
    series: Sequence[tuple[str, str, int | None]],
    *,
    width: int,
    axis: XAxis = XAxis.STEP,
    x_min: float | None = None,
    x_max: float | None = None,
) -> Downsampled:
    """``(run_id, key, run_start_time)`` series, answered as :func:`downsample` answers without smoothing.

    The bucketing is done by the database.

    Only counts, the M4 candidates of each column and the non-finite points cross the wire, so a
    million-point series costs a few aggregate scans of its index range instead of a million rows.
    """
    validate_request(width, x_min, x_max, 0.0)
    # Series short enough to come back raw whatever the range are read in one statement together
    # (a chart of 1,000 runs is 1,000 such series); only the long ones are reduced by the database.
    small = _small_series(connection, series, axis, width, x_min, x_max)
    stats: list[_Stats] = []
    for run_id, key, start_time in series:
        if (run_id, key) in small:
            stats.append(small[(run_id, key)][0])
            continue
        origin = 0
        if axis is XAxis.RELATIVE:
            start = start_time if start_time is not None else metric_buckets.min_timestamp(connection, run_id, key)
            origin = start if start is not None else 0
        x = metric_buckets.x_expression(axis.value, origin)
        total, in_range, first, last = metric_buckets.series_stats(connection, run_id, key, x, x_min, x_max)
        stats.append(
            _Stats(
                run_id,
                key,
                origin,
                x,
                total,
                in_range,
                None if first is None else float(first),
                None if last is None else float(last),
            )
        )
    firsts = [s.first_x for s in stats if s.first_x is not None]
    lasts = [s.last_x for s in stats if s.last_x is not None]
    lo = x_min if x_min is not None else (min(firsts + lasts) if firsts else None)
    hi = x_max if x_max is not None else (max(firsts + lasts) if lasts else None)
    results = [
        _one_series(small[(s.run_id, s.key)][1], width, lo, hi)
        if (s.run_id, s.key) in small
        else _series_in_database(connection, s, axis, width, lo, hi)
        for s in stats
    ]
    return Downsampled(axis, width, lo, hi, results)


def _small_series(
    connection: Connection,
    series: Sequence[tuple[str, str, int | None]],
    axis: XAxis,
    width: int,
    x_min: float | None,
    x_max: float | None,
) -> dict[tuple[str, str], tuple[_Stats, _Prepared]]:
    """The series of at most 4·width points in all, with their points in range, read together."""
    totals = metric_blocks.series_totals(connection, [(run_id, key) for run_id, key, _ in series])
    chosen = {(run_id, key): start for run_id, key, start in series if totals.get((run_id, key), 0) <= 4 * width}
    if not chosen:
        return {}
    points: dict[tuple[str, str], list[metric_buckets.Row]] = {pair: [] for pair in chosen}
    for run_id, key, step, ts, value, is_nan in metric_buckets.rows_of_series(connection, list(chosen)):
        points[(run_id, key)].append((step, ts, value, is_nan))
    answer: dict[tuple[str, str], tuple[_Stats, _Prepared]] = {}
    for (run_id, key), rows in points.items():
        start = chosen[(run_id, key)]
        origin = 0
        if axis is XAxis.RELATIVE:
            origin = start if start is not None else min((ts for _, ts, _, _ in rows), default=0)
        # Chart order: x, then history order (step, timestamp, value, is_nan), as the database sorts.
        placed = sorted((_x_of(axis, origin, step, ts), step, ts, value, is_nan) for step, ts, value, is_nan in rows)
        kept = [p for p in placed if (x_min is None or p[0] >= x_min) and (x_max is None or p[0] <= x_max)]
        prepared = _Prepared(
            run_id,
            key,
            len(rows),
            [p[0] for p in kept],
            [p[1] for p in kept],
            [_restore(p[3], p[4]) for p in kept],
        )
        first = kept[0][0] if kept else None
        last = kept[-1][0] if kept else None
        stats = _Stats(run_id, key, origin, None, len(rows), len(kept), first, last)
        answer[(run_id, key)] = (stats, prepared)
    return answer


def _start_times(connection: Connection, run_ids: Sequence[str]) -> dict[str, int | None]:
    found = run_store.start_times(connection, run_ids, workspace=workspace_scope())
    for run_id in run_ids:
        if run_id not in found:
            raise NotFound(f"Run with id={run_id} not found")
    return found


def _x_of(axis: XAxis, origin: int, step: int, timestamp: int) -> float:
    if axis is XAxis.STEP:
        return float(step)
    if axis is XAxis.WALL:
        return float(timestamp)
    return (timestamp - origin) / 1000.0


def _series_in_database(
    connection: Connection, stats: _Stats, axis: XAxis, width: int, lo: float | None, hi: float | None
) -> SeriesResult:
    if stats.in_range <= 4 * width or lo is None or hi is None:
        # Few enough points to return raw: fetch them and let the reference decide.
        rows = metric_buckets.rows_in_range(connection, stats.run_id, stats.key, stats.x, lo, hi)
        prepared = _Prepared(
            stats.run_id,
            stats.key,
            stats.total,
            [_x_of(axis, stats.origin, step, ts) for step, ts, _, _ in rows],
            [step for step, _, _, _ in rows],
            [_restore(value, is_nan) for _, _, value, is_nan in rows],
        )
        return _one_series(prepared, width, lo, hi)
    result = SeriesResult(stats.run_id, stats.key, stats.total, stats.in_range, downsampled=True)
    if axis is XAxis.STEP:
        return _step_series_from_blocks(connection, stats, result, width, lo, hi)
    # The database finds each column's x and value extremes in one aggregate pass (counting the
    # non-finite points on the way); only the points holding them come back, and the per-column choice
    # (ties to the earliest point in chart order) is made here exactly as m4_indices makes it.
    extremes, odd_count = metric_buckets.column_extremes(connection, stats.run_id, stats.key, stats.x, lo, hi, width)
    if odd_count:
        odd = metric_buckets.rows_in_range(connection, stats.run_id, stats.key, stats.x, lo, hi, finite=False)
        result.markers = _markers(
            [_x_of(axis, stats.origin, step, ts) for step, ts, _, _ in odd],
            [step for step, _, _, _ in odd],
            [_restore(value, is_nan) for _, _, value, is_nan in odd],
            lo,
            hi,
            width,
        )
    _choose(
        result,
        axis,
        stats,
        width,
        lo,
        hi,
        extremes,
        metric_buckets.rows_matching(
            connection,
            stats.run_id,
            stats.key,
            stats.x,
            lo,
            hi,
            {bound for x0, x1, _, _ in extremes.values() for bound in (x0, x1)},
            {bound for _, _, v0, v1 in extremes.values() for bound in (v0, v1)},
        ),
    )
    return result


def _step_series_from_blocks(
    connection: Connection, stats: _Stats, result: SeriesResult, width: int, lo: float, hi: float
) -> SeriesResult:
    """The step axis: M4 candidates column by column from the block summaries, no scan of the range."""
    bounds = metric_buckets.step_column_bounds(lo, hi, width, lambda step: bucket_of(float(step), lo, hi, width))
    odd: list[metric_buckets.Row] = []
    if bounds:
        for first, last in metric_blocks.nonfinite_spans(
            connection, stats.run_id, stats.key, bounds[0][1], bounds[-1][2]
        ):
            odd.extend(
                metric_buckets.rows_in_range(
                    connection, stats.run_id, stats.key, stats.x, float(first), float(last), finite=False
                )
            )
    result.markers = _markers(
        [float(step) for step, _, _, _ in odd],
        [step for step, _, _, _ in odd],
        [_restore(value, is_nan) for _, _, value, is_nan in odd],
        lo,
        hi,
        width,
    )
    steps = metric_buckets.column_first_last(connection, stats.run_id, stats.key, bounds)
    # Each column's lowest and highest point is the extreme of one of the arms covering its steps:
    # the points at every arm's extreme steps are fetched, and compared below.
    arms = [arm for _, start, end in bounds for arm in metric_blocks.cover(start, end)]
    steps.update(metric_blocks.arm_extreme_steps(connection, stats.run_id, stats.key, arms))
    # Every column's first, last, lowest and highest point is among the points at these steps.
    rows = metric_buckets.rows_at_steps(connection, stats.run_id, stats.key, steps)
    for step, value in _m4_of_step_rows(rows, lo, hi, width):
        result.x.append(float(step))
        result.y.append(value)
        result.step.append(step)
    return result


def _m4_of_step_rows(rows: list[metric_buckets.Row], lo: float, hi: float, width: int) -> list[tuple[int, float]]:
    """(step, value) of each column's first, last, lowest and highest row, in chart order.

    On the step axis chart order is history order (step, timestamp, value): sorted that way, each
    column's rows are consecutive, and ties go to the earliest row as in :func:`m4_indices`.
    """
    rows.sort()
    kept: set[tuple[Any, ...]] = set()
    current = -1
    first: tuple[Any, ...] = ()
    last = low = high = first
    span = hi - lo
    top = width - 1
    for row in rows:
        # bucket_of, inlined (the same expression, so a step lands where the reference puts it).
        column = int((float(row[0]) - lo) / span * width) if span > 0 else 0
        column = 0 if column < 0 else (top if column > top else column)
        if column != current:
            if current >= 0:
                kept.update((first, last, low, high))
            current = column
            first = last = low = high = row
            continue
        last = row
        if row[2] < low[2]:
            low = row
        elif row[2] > high[2]:
            high = row
    if current >= 0:
        kept.update((first, last, low, high))
    return [(int(row[0]), float(row[2])) for row in sorted(kept)]


def _choose(
    result: SeriesResult,
    axis: XAxis,
    stats: _Stats,
    width: int,
    lo: float,
    hi: float,
    extremes: dict[int, tuple[Any, Any, float, float]],
    rows: Sequence[tuple[int, int, float, bool]],
) -> None:
    """Per column, the first, last, lowest and highest of the candidate ``rows`` (ties to chart order)."""
    by_column: dict[int, list[tuple[float, int, int, float]]] = {}
    for step, ts, value, _ in rows:
        x = _x_of(axis, stats.origin, step, ts)
        column = bucket_of(x, lo, hi, width)
        x0, x1, v0, v1 = extremes[column]
        if float(x0) == x or float(x1) == x or value == v0 or value == v1:
            by_column.setdefault(column, []).append((x, step, ts, value))
    chosen: set[tuple[float, int, int, float]] = set()
    for candidates in by_column.values():
        chosen.add(min(candidates))
        chosen.add(max(candidates))
        chosen.add(min(candidates, key=lambda c: (c[3], c)))
        chosen.add(min(candidates, key=lambda c: (-c[3], c)))
    for x, step, _, value in sorted(chosen):
        result.x.append(x)
        result.y.append(value)
        result.step.append(step)
