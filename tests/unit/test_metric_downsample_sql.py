"""The database's M4 bucketing must give exactly the Python reference's answer (SQLite, in memory)."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, insert

from runyard.services.metric_downsample import RawPoint, XAxis, downsample, downsample_in_database
from runyard.stores.metadata import metrics as metric_store
from runyard.stores.metadata.metric_buckets import STORED_INFINITY
from runyard.stores.metadata.tables import metadata, metrics

# Few distinct values and steps, so ties (equal min/max values, repeated steps) are common.
values = st.one_of(
    st.sampled_from([0.0, 1.0, -1.0, 2.5, math.nan, math.inf, -math.inf]),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
)
points = st.lists(st.tuples(st.integers(0, 300), st.integers(0, 5_000_000), values), max_size=400)


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
)
def test_the_database_path_returns_what_the_python_reference_returns(
    series: list[list[tuple[int, int, float]]],
    width: int,
    axis: XAxis,
    bounds: tuple[float | None, float | None],
    start_time: int | None,
) -> None:
    x_min, x_max = bounds
    if x_min is not None and x_max is not None and x_min > x_max:
        x_min, x_max = x_max, x_min
    if axis is XAxis.STEP:  # bounds in steps, not seconds
        x_min = None if x_min is None else x_min / 10
        x_max = None if x_max is None else x_max / 10
    engine = create_engine("sqlite://")
    metadata.create_all(engine, tables=[metrics])
    with engine.begin() as connection:
        rows = {
            (f"run{i}", "loss", step, ts, *_stored(value)) for i, pts in enumerate(series) for step, ts, value in pts
        }
        if rows:
            connection.execute(
                insert(metrics),
                [
                    {"run_uuid": r, "key": k, "step": s, "timestamp": t, "value": v, "is_nan": n}
                    for r, k, s, t, v, n in rows
                ],
            )
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
