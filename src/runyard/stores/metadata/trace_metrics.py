"""Trace metrics queries: traces (or their spans or assessments) grouped by time bucket, status and name,
with SQL aggregates.

Percentiles are computed by the caller from the grouped values (``grouped_values``): one ordered
read, the same result on every database (linear interpolation, PostgreSQL's ``percentile_cont``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Select, and_, func, select, true
from sqlalchemy.sql.elements import Label

from runyard.domain.search_ast import Expr
from runyard.stores.metadata.trace_search import TraceQuery
from runyard.stores.metadata.trace_tables import trace_assessments, trace_info, trace_spans, trace_tags

TRACE_NAME_TAG = "mlflow.traceName"
_name_tag = trace_tags.alias("metric_name_tag")


@dataclass(frozen=True)
class Scope:
    """Which traces a metric covers and how they are grouped."""

    experiment_ids: Sequence[int]
    expr: Expr | None  # search-traces filters
    dimensions: Sequence[str]  # trace_name, trace_status
    bucket_ms: int | None  # time buckets (by request time), or none
    start_ms: int | None
    end_ms: int | None
    view: str = "TRACES"  # TRACES (one row a trace), SPANS or ASSESSMENTS (one row a span/assessment of them)


NANOS_PER_MS = 1_000_000
SPAN_DIMENSIONS = {
    "span_name": trace_spans.c.name,
    "span_type": trace_spans.c.type,
    "span_status": trace_spans.c.status,
    "assessment_name": trace_assessments.c.name,
    "assessment_value": trace_assessments.c.value,  # the value's JSON text, as MLflow groups it
}


def _conditions(connection: Connection, scope: Scope) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [trace_info.c.experiment_id.in_(list(scope.experiment_ids))]
    if scope.expr is not None:
        conditions.append(TraceQuery(connection.dialect.name).condition(scope.expr))
    if scope.view == "SPANS":  # spans fall in the range by their start time, as in MLflow
        start = trace_spans.c.start_time_unix_nano
        if scope.start_ms is not None:
            conditions.append(start >= scope.start_ms * NANOS_PER_MS)
        if scope.end_ms is not None:
            conditions.append(start < scope.end_ms * NANOS_PER_MS)
        return conditions
    if scope.view == "ASSESSMENTS":  # an overridden assessment is no longer valid: counted once, as in MLflow
        conditions.append(trace_assessments.c.valid == true())
    if scope.start_ms is not None:
        conditions.append(trace_info.c.timestamp_ms >= scope.start_ms)
    if scope.end_ms is not None:
        conditions.append(trace_info.c.timestamp_ms < scope.end_ms)
    return conditions


def _groups(dimensions: Sequence[str], bucket_ms: int | None, view: str = "TRACES") -> list[Label[Any]]:
    columns: list[Label[Any]] = []
    if bucket_ms is not None and view == "SPANS":
        start, bucket_ns = trace_spans.c.start_time_unix_nano, bucket_ms * NANOS_PER_MS
        columns.append(((start - start % bucket_ns) / NANOS_PER_MS).label("time_bucket"))
    elif bucket_ms is not None:
        columns.append((trace_info.c.timestamp_ms - trace_info.c.timestamp_ms % bucket_ms).label("time_bucket"))
    for dimension in dimensions:
        if dimension in SPAN_DIMENSIONS:
            columns.append(SPAN_DIMENSIONS[dimension].label(dimension))
        elif dimension == "trace_status":
            columns.append(trace_info.c.status.label("trace_status"))
        elif dimension == "trace_name":
            columns.append(_name_tag.c.value.label("trace_name"))
        else:
            raise ValueError(f"unknown trace metric dimension {dimension!r}")
    return columns


def _source(dimensions: Sequence[str], view: str = "TRACES") -> Any:
    if view == "SPANS":
        return trace_spans.join(trace_info, trace_spans.c.trace_id == trace_info.c.request_id)
    if view == "ASSESSMENTS":
        return trace_assessments.join(trace_info, trace_assessments.c.trace_id == trace_info.c.request_id)
    if "trace_name" not in dimensions:
        return trace_info
    return trace_info.outerjoin(
        _name_tag, and_(_name_tag.c.request_id == trace_info.c.request_id, _name_tag.c.key == TRACE_NAME_TAG)
    )


def aggregate(connection: Connection, scope: Scope, aggregates: Sequence[str]) -> list[Row[Any]]:
    """One row per group: the group's keys (time bucket first), then each of ``aggregates``.

    ``aggregates`` are ``COUNT`` (traces, or spans or assessments in those views) or ``SUM``/``AVG``/``MIN``/``MAX``
    of the trace latency.
    """
    groups = _groups(scope.dimensions, scope.bucket_ms, scope.view)
    latency = trace_info.c.execution_time_ms
    functions = {"COUNT": func.count(), "SUM": func.sum(latency), "AVG": func.avg(latency),
                 "MIN": func.min(latency), "MAX": func.max(latency)}  # fmt: skip
    statement: Select[Any] = (
        select(*groups, *(functions[name].label(name) for name in aggregates))
        .select_from(_source(scope.dimensions, scope.view))
        .where(*_conditions(connection, scope))
        .group_by(*groups)
        .order_by(*groups)
    )
    return list(connection.execute(statement).all())


def grouped_values(connection: Connection, scope: Scope) -> list[Row[Any]]:
    """Every trace's group keys and latency, ordered by group and latency (for percentiles)."""
    groups = _groups(scope.dimensions, scope.bucket_ms)
    latency = trace_info.c.execution_time_ms
    statement: Select[Any] = (
        select(*groups, latency)
        .select_from(_source(scope.dimensions))
        .where(*_conditions(connection, scope), latency.is_not(None))
        .order_by(*groups, latency)
    )
    return list(connection.execute(statement).all())
