"""M4 downsampling: what a chart is drawn from must keep every column's extremes exactly."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runyard.errors import InvalidParameter
from runyard.services.metric_downsample import RawPoint, XAxis, bucket_of, downsample, smooth

finite = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)


@st.composite
def series(draw: st.DrawFn) -> list[RawPoint]:
    steps = sorted(draw(st.lists(st.integers(0, 100_000), min_size=1, max_size=600)))
    values = draw(st.lists(finite, min_size=len(steps), max_size=len(steps)))
    return [RawPoint(step, 1_000 * i, value) for i, (step, value) in enumerate(zip(steps, values, strict=True))]


@settings(max_examples=200, deadline=None)
@given(points=series(), width=st.integers(1, 120))
def test_each_bucket_keeps_the_raw_min_max_first_and_last(points: list[RawPoint], width: int) -> None:
    result = downsample([("r", "loss", points, None)], width=width).series[0]
    lo, hi = float(points[0].step), float(points[-1].step)
    raw: dict[int, list[tuple[float, float]]] = {}
    for p in points:
        raw.setdefault(bucket_of(p.step, lo, hi, width), []).append((float(p.step), p.value))
    kept: dict[int, list[tuple[float, float]]] = {}
    for x, y in zip(result.x, result.y, strict=True):
        kept.setdefault(bucket_of(x, lo, hi, width), []).append((x, y))
    assert kept.keys() == raw.keys()
    for column, raw_points in raw.items():
        returned = kept[column]
        assert min(y for _, y in returned) == min(y for _, y in raw_points)
        assert max(y for _, y in returned) == max(y for _, y in raw_points)
        assert returned[0] == raw_points[0] and returned[-1] == raw_points[-1]
    # Never more than four points per pixel column, and the last point always kept.
    assert len(result.x) <= 4 * width if result.downsampled else len(result.x) == len(points)
    assert (result.x[-1], result.y[-1]) == (float(points[-1].step), points[-1].value)


def test_a_single_sample_spike_in_a_million_points_survives() -> None:
    points = [RawPoint(i, i, math.sin(i / 1000)) for i in range(1_000_000)]
    points[654_321] = RawPoint(654_321, 654_321, 50.0)
    points[123_456] = RawPoint(123_456, 123_456, -50.0)
    result = downsample([("r", "loss", points, None)], width=800).series[0]
    assert result.downsampled and result.points_in_range == 1_000_000
    assert len(result.x) <= 4 * 800
    assert max(result.y) == 50.0 and result.step[result.y.index(50.0)] == 654_321
    assert min(result.y) == -50.0


def test_small_series_are_returned_raw() -> None:
    points = [RawPoint(i, i, float(i)) for i in range(40)]
    result = downsample([("r", "k", points, None)], width=10).series[0]
    assert not result.downsampled and result.y == [float(i) for i in range(40)]


def test_all_series_share_bucket_edges_over_the_union_of_their_ranges() -> None:
    a = [RawPoint(i, i, 1.0) for i in range(0, 1000)]
    b = [RawPoint(i, i, 2.0) for i in range(500, 3000)]
    result = downsample([("a", "k", a, None), ("b", "k", b, None)], width=10)
    assert (result.x_min, result.x_max) == (0.0, 2999.0)
    # Series a covers only the first third of the shared columns: at most 4 points in each of 4 columns.
    assert {bucket_of(x, 0.0, 2999.0, 10) for x in result.series[0].x} <= {0, 1, 2, 3}


def test_nan_and_infinities_are_markers_not_values() -> None:
    points = [RawPoint(i, i, float(i)) for i in range(10)]
    points[3] = RawPoint(3, 3, math.nan)
    points[5] = RawPoint(5, 5, math.inf)
    points[7] = RawPoint(7, 7, -math.inf)
    result = downsample([("r", "k", points, None)], width=100).series[0]
    assert all(math.isfinite(y) for y in result.y) and len(result.y) == 7
    assert [(m[1], m[2]) for m in result.markers] == [(3, "nan"), (5, "inf"), (7, "-inf")]


def test_the_visible_range_limits_points_and_edges() -> None:
    points = [RawPoint(i, i, float(i)) for i in range(10_000)]
    result = downsample([("r", "k", points, None)], width=10, x_min=100, x_max=199)
    series = result.series[0]
    assert series.points_in_range == 100 and series.total_points == 10_000
    assert min(series.x) == 100 and max(series.x) == 199


def test_relative_time_counts_seconds_from_the_run_start() -> None:
    points = [RawPoint(i, 5_000 + 1_000 * i, float(i)) for i in range(5)]
    result = downsample([("r", "k", points, 4_000)], width=10, axis=XAxis.RELATIVE).series[0]
    assert result.x == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_smoothing_happens_on_raw_points_before_bucketing() -> None:
    assert smooth([1.0, 1.0, 1.0], 0.9) == pytest.approx([1.0, 1.0, 1.0])  # debiased: no ramp from zero
    smoothed = smooth([0.0, 10.0, math.nan, 10.0], 0.5)
    assert math.isnan(smoothed[2]) and smoothed[1] == pytest.approx(10 * 0.5 / 0.75)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"width": 0}, "parameter 'width'"),
        ({"width": 10, "x_min": 5, "x_max": 1}, "x_min (5) is greater than x_max (1)"),
        ({"width": 10, "smoothing": 1.0}, "parameter 'smoothing'"),
    ],
)
def test_bad_requests_are_refused_with_the_parameter_named(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(InvalidParameter, match=message.replace("(", r"\(").replace(")", r"\)")):
        downsample([("r", "k", [RawPoint(0, 0, 1.0)], None)], **kwargs)  # type: ignore[arg-type]
