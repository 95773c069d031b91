"""Trace metrics (MLflow's ``QueryTraceMetrics``): trace counts and latency, span and assessment counts.

Supported: view ``TRACES``: ``trace_count`` (``COUNT``, by ``trace_name`` and/or ``trace_status``)
and ``latency`` (``AVG``/``MIN``/``MAX``/``PERCENTILE`` of the execution time, by ``trace_name``);
view ``SPANS``: ``span_count`` (``COUNT``, by ``span_name``, ``span_type`` and/or ``span_status``);
view ``ASSESSMENTS``: ``assessment_count`` (``COUNT`` of valid assessments, by ``assessment_name``
and/or ``assessment_value``); optionally per time bucket, with search-traces filters. Other metrics
(span latency and cost, assessment values, tokens, sessions) are refused with a message naming what
is supported.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from runyard.domain.search_ast import And, Expr
from runyard.domain.search_filter import parse_filter
from runyard.domain.traces_search import TRACES
from runyard.errors import InvalidParameter
from runyard.services import experiments as experiment_service
from runyard.stores.metadata import trace_metrics as store

MAX_RESULTS = 1000
MAX_BUCKETS = 10_000

# view → metric → (aggregations, dimensions) it supports, as MLflow's *_METRICS_CONFIGS.
SUPPORTED_BY_VIEW = {
    "TRACES": {
        "trace_count": (frozenset({"COUNT"}), frozenset({"trace_name", "trace_status"})),
        "latency": (frozenset({"AVG", "MIN", "MAX", "PERCENTILE"}), frozenset({"trace_name"})),
    },
    "SPANS": {"span_count": (frozenset({"COUNT"}), frozenset({"span_name", "span_type", "span_status"}))},
    "ASSESSMENTS": {"assessment_count": (frozenset({"COUNT"}), frozenset({"assessment_name", "assessment_value"}))},
}


@dataclass(frozen=True)
class Aggregation:
    kind: str  # COUNT, SUM, AVG, MIN, MAX, PERCENTILE
    percentile: float | None = None

    @property
    def label(self) -> str:
        """The key of this aggregation's value in a data point (MLflow's ``str(MetricAggregation)``)."""
        return f"P{self.percentile}" if self.kind == "PERCENTILE" else self.kind


@dataclass(frozen=True)
class DataPoint:
    metric_name: str
    dimensions: dict[str, str]
    values: dict[str, float] = field(default_factory=dict)


def _validate(view_type: str, metric_name: str, aggregations: Sequence[Aggregation], dimensions: Sequence[str]) -> None:
    if view_type not in SUPPORTED_BY_VIEW:
        raise InvalidParameter(
            f"view_type '{view_type}' is not supported; runyard serves trace metrics for "
            f"{', '.join(SUPPORTED_BY_VIEW)}."
        )
    supported = SUPPORTED_BY_VIEW[view_type]
    if metric_name not in supported:
        raise InvalidParameter(f"metric_name must be one of {sorted(supported)} for {view_type}, got '{metric_name}'")
    kinds, dims = supported[metric_name]
    if not aggregations:
        raise InvalidParameter("Missing value for required parameter 'aggregations'.")
    if invalid := sorted({a.kind for a in aggregations} - kinds):
        raise InvalidParameter(
            f"Found invalid aggregation_type(s): {invalid}. Supported aggregation types: {sorted(kinds)}"
        )
    for aggregation in aggregations:
        if aggregation.kind == "PERCENTILE":
            if aggregation.percentile is None or not 0 <= aggregation.percentile <= 100:
                raise InvalidParameter("PERCENTILE needs a percentile_value between 0 and 100.")
        elif aggregation.percentile is not None:
            raise InvalidParameter(f"percentile_value is only allowed for PERCENTILE, got {aggregation.kind}.")
    if invalid := sorted(set(dimensions) - dims):
        raise InvalidParameter(f"Found invalid dimension(s): {invalid}. Supported dimensions: {sorted(dims)}")


def _percentile(values: Sequence[float], percentile: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default, PostgreSQL's percentile_cont)."""
    position = (len(values) - 1) * percentile / 100
    low = math.floor(position)
    high = min(low + 1, len(values) - 1)
    return float(values[low] + (values[high] - values[low]) * (position - low))


def _dimensions(keys: Sequence[Any], names: Sequence[str]) -> dict[str, str] | None:
    dims: dict[str, str] = {}
    for name, value in zip(names, keys, strict=True):
        if value is None:
            return None  # MLflow leaves out groups with a missing dimension (a trace without a name)
        if name == "time_bucket":
            value = datetime.fromtimestamp(int(value) / 1000, tz=UTC).isoformat()
        dims[name] = str(value)
    return dims


def query_trace_metrics(
    connection: Connection,
    *,
    experiment_ids: Sequence[str],
    view_type: str,
    metric_name: str,
    aggregations: Sequence[Aggregation],
    dimensions: Sequence[str] = (),
    filters: Sequence[str] = (),
    time_interval_seconds: int | None = None,
    start_time_ms: int | None = None,
    end_time_ms: int | None = None,
    max_results: int | None = None,
) -> list[DataPoint]:
    """The metric's data points, one per (time bucket, dimension values) group, in group order."""
    if not experiment_ids:
        raise InvalidParameter("Missing value for required parameter 'experiment_ids'.")
    _validate(view_type, metric_name, aggregations, dimensions)
    limit = MAX_RESULTS if max_results is None else max_results
    if not 1 <= limit <= MAX_RESULTS:
        raise InvalidParameter(f"max_results must be between 1 and {MAX_RESULTS}, got {limit}.")
    bucket_ms: int | None = None
    if time_interval_seconds is not None:
        if time_interval_seconds <= 0:
            raise InvalidParameter(f"time_interval_seconds must be positive, got {time_interval_seconds}.")
        if start_time_ms is None or end_time_ms is None:
            raise InvalidParameter("start_time_ms and end_time_ms are required if time_interval_seconds is set")
        bucket_ms = time_interval_seconds * 1000
        if (end_time_ms - start_time_ms) // bucket_ms > MAX_BUCKETS:
            raise InvalidParameter(f"The time range holds more than {MAX_BUCKETS} buckets of {time_interval_seconds}s.")
    ids = [int(experiment_service.get_experiment(connection, e).experiment_id) for e in experiment_ids]
    parsed = [p for p in (parse_filter(f, TRACES) for f in filters) if p is not None]
    expr: Expr | None = None if not parsed else parsed[0] if len(parsed) == 1 else And(tuple(parsed))
    names = (["time_bucket"] if bucket_ms is not None else []) + list(dimensions)
    scope = store.Scope(ids, expr, dimensions, bucket_ms, start_time_ms, end_time_ms, view_type)
    points: dict[tuple[Any, ...], DataPoint] = {}
    simple = [a for a in aggregations if a.kind != "PERCENTILE"]
    if simple:
        for row in store.aggregate(connection, scope, [a.kind for a in simple]):
            keys, values = tuple(row[: len(names)]), row[len(names) :]
            dims = _dimensions(keys, names)
            if dims is None:
                continue
            point = points.setdefault(keys, DataPoint(metric_name, dims))
            for aggregation, value in zip(simple, values, strict=True):
                if value is not None:
                    point.values[aggregation.label] = float(value)
    percentiles = [a for a in aggregations if a.kind == "PERCENTILE"]
    if percentiles:
        rows = store.grouped_values(connection, scope)
        for keys, group in itertools.groupby(rows, key=lambda row: tuple(row[: len(names)])):
            dims = _dimensions(keys, names)
            if dims is None:
                continue
            latencies = [float(row[len(names)]) for row in group]
            point = points.setdefault(keys, DataPoint(metric_name, dims))
            for aggregation in percentiles:
                assert aggregation.percentile is not None
                point.values[aggregation.label] = _percentile(latencies, aggregation.percentile)
    ordered = [points[key] for key in sorted(points, key=lambda k: tuple((str(type(p)), p) for p in k))]
    return [point for point in ordered if point.values][:limit]
