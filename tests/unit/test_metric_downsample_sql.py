"""The database's M4 bucketing must give exactly the Python reference's answer (SQLite, in memory)."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine

from runyard.services.metric_downsample import RawPoint, XAxis, downsample, downsample_in_database
from runyard.stores.metadata import metrics as metric_store
from runyard.stores.metadata.metric_blocks import cover
from runyard.stores.metadata.metric_buckets import STORED_INFINITY
from runyard.stores.metadata.tables import metadata, metric_blocks, metrics

# Few distinct values and steps, so ties (equal min/max values, repeated steps) are common.
values = st.one_of(
    st.sampled_from([0.0, 1.0, -1.0, 2.5, math.nan, math.inf, -math.inf]),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
)
points = st.lists(st.tuples(st.integers(-20, 300), st.integers(0, 5_000_000), values), max_size=400)


def _stored(value: float) -> tuple[float, bool]:
    if math.isnan(value):
        return 0.0, True
    return max(min(value, STORED_INFINITY), -STORED_INFINITY), False


def _restored(value: float, is_nan: bool) -> float:
    if is_nan:
        return math.nan
    return math.inf if value >= STORED_INFINITY else (-math.inf if value <= -STORED_INFINITY else value)


@settings(max_examples=150, deadline=None)
@given(
    series=st.lists(points, min_size=1, max_size=3),
    width=st.integers(1, 40),
    axis=st.sampled_from(list(XAxis)),
    bounds=st.tuples(st.one_of(st.none(), st.floats(-10, 4000)), st.one_of(st.none(), st.floats(0, 6000))),
    start_time=st.one_of(st.none(), st.integers(0, 1_000_000)),
    # Spread steps apart so every level of the block summaries takes part, not only the first.
    spread=st.sampled_from([1, 37, 5_003]),
    batches=st.integers(1, 3),
)
def test_the_database_path_returns_what_the_python_reference_returns(
    series: list[list[tuple[int, int, float]]],
    width: int,
    axis: XAxis,
    bounds: tuple[float | None, float | None],
    start_time: int | None,
    spread: int,
    batches: int,
) -> None:
    x_min, x_max = bounds
    if x_min is not None and x_max is not None and x_min > x_max:
        x_min, x_max = x_max, x_min
    if axis is XAxis.STEP:  # bounds in steps, not seconds
        x_min = None if x_min is None else x_min / 10 * spread
        x_max = None if x_max is None else x_max / 10 * spread
    engine = create_engine("sqlite://")
    metadata.create_all(engine, tables=[metrics, metric_blocks])
    with engine.begin() as connection:
        for i, pts in enumerate(series):
            # Written as ingestion writes them, in a few batches: the summaries follow each batch.
            stored = [("loss", *_stored(value), ts, step * spread) for step, ts, value in pts]
            rows = [(key, value, ts, step, is_nan) for key, value, is_nan, ts, step in stored]
            for batch in range(batches):
                if rows[batch::batches]:
                    metric_store.insert_points(connection, f"run{i}", rows[batch::batches])
        loaded = []
        for i in range(len(series)):
            history = metric_store.history_in_range(connection, f"run{i}", "loss", None, None)
            raw = [RawPoint(step, ts, _restored(value, is_nan)) for value, ts, step, is_nan in history]
            loaded.append((f"run{i}", "loss", raw, start_time))
        expected = downsample(loaded, width=width, axis=axis, x_min=x_min, x_max=x_max)
        actual = downsample_in_database(
            connection,
            [(f"run{i}", "loss", start_time) for i in range(len(series))],
            width=width,
            axis=axis,
            x_min=x_min,
            x_max=x_max,
        )
    assert actual == expected


@pytest.mark.parametrize("spread", [1, 3, 1_021])
@pytest.mark.parametrize("seed", [1])
def test_long_series_from_block_summaries_match_the_reference(spread: int, seed: int) -> None:
    """Long enough to be downsampled at every width tried, so every column is answered from the summaries."""
    generator = random.Random(seed)
    engine = create_engine("sqlite://")
    metadata.create_all(engine, tables=[metrics, metric_blocks])
    special = [math.nan, math.inf, -math.inf, 0.0]
    with engine.begin() as connection:
        for batch in range(3):
            rows = []
            for _ in range(4_000):
                step = generator.randrange(-500, 20_000) * spread
                value = generator.choice(special) if generator.random() < 0.01 else round(generator.gauss(0, 1), 1)
                stored, is_nan = _stored(value)
                rows.append(("loss", stored, generator.randrange(10**6) + batch, step, is_nan))
            metric_store.insert_points(connection, "run", rows)
        history = metric_store.history_in_range(connection, "run", "loss", None, None)
        raw = [RawPoint(step, ts, _restored(value, is_nan)) for value, ts, step, is_nan in history]
        for width in (7, 300, 1_000):
            for bounds in ((None, None), (1_234.5 * spread, 9_876.0 * spread), (-600.0 * spread, 0.0)):
                expected = downsample([("run", "loss", raw, None)], width=width, x_min=bounds[0], x_max=bounds[1])
                actual = downsample_in_database(
                    connection, [("run", "loss", None)], width=width, x_min=bounds[0], x_max=bounds[1]
                )
                assert actual.series[0].downsampled == (actual.series[0].points_in_range > 4 * width)
                assert actual == expected, (width, bounds)


@given(st.integers(-(10**7), 10**7), st.integers(0, 10**7))
def test_a_cover_holds_exactly_the_steps_of_its_range_in_order(first: int, length: int) -> None:
    last = first + length
    arms = cover(first, last)
    position = first
    for level, lo, hi in arms:
        size = 16**level
        assert lo <= hi
        assert lo * size == position  # contiguous, in step order, aligned to its level
        position = (hi + 1) * size
    assert position == last + 1
    assert len(arms) <= 2 * 4 + 1
