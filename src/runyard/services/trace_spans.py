"""Span ingest (OTLP ``/v1/traces``): store spans and create or complete their traces' info.

A batch may hold spans of many traces, from MLflow's client (which sends the trace's info
separately) or from any OpenTelemetry exporter (which never does). For a trace seen first here the
info is derived from its spans as MLflow does: the earliest start is the request time, the root
span's end gives the duration and its status the state, its inputs and outputs the previews, its
name the trace name, its ``mlflow.traceTag.*`` attributes and the resource's attributes the tags.
Either way the trace is tagged as keeping its spans in the tracking store, which tells the client
to fetch spans from here rather than from artifacts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import Connection

from runyard.domain.traces import (
    ARTIFACT_LOCATION_TAG,
    SCHEMA_VERSION,
    SCHEMA_VERSION_METADATA,
    SPAN_INPUTS_ATTRIBUTE,
    SPAN_OUTPUTS_ATTRIBUTE,
    SPANS_IN_TRACKING_STORE,
    SPANS_LOCATION_TAG,
    TRACE_NAME_TAG,
    TRACE_TAG_ATTRIBUTE_PREFIX,
    Span,
    SpanBatch,
    TraceInfo,
    TraceState,
    preview_of,
    state_of_root,
    validate_tag,
)
from runyard.services import traces as trace_service
from runyard.services.workspaces import workspace_scope
from runyard.stores.metadata import runs as run_store
from runyard.stores.metadata import traces as store


def _root(spans: Sequence[Span]) -> Span | None:
    return next((span for span in spans if span.parent_span_id is None), None)


def _derived_info(trace_id: str, experiment_id: str, spans: Sequence[Span]) -> TraceInfo:
    start_ns = min(span.start_time_ns for span in spans)
    root = _root(spans)
    state = state_of_root(list(spans)) or TraceState.IN_PROGRESS
    duration = None
    if root is not None and root.end_time_ns is not None:
        duration = (root.end_time_ns - start_ns) // 1_000_000
    return TraceInfo(
        trace_id=trace_id,
        experiment_id=experiment_id,
        request_time_ms=start_ns // 1_000_000,
        execution_duration_ms=duration,
        state=state,
        request_preview=preview_of(root.attributes.get(SPAN_INPUTS_ATTRIBUTE)) if root else None,
        response_preview=preview_of(root.attributes.get(SPAN_OUTPUTS_ATTRIBUTE)) if root else None,
        metadata={SCHEMA_VERSION_METADATA: SCHEMA_VERSION},
    )


def _root_tags(root: Span | None) -> dict[str, str]:
    if root is None:
        return {}
    tags = {TRACE_NAME_TAG: root.name}
    for key, value in root.attributes.items():
        if key.startswith(TRACE_TAG_ATTRIBUTE_PREFIX):
            text = value if isinstance(value, str) else str(value)
            tag_key, tag_value = validate_tag(key.removeprefix(TRACE_TAG_ATTRIBUTE_PREFIX), text)
            tags[tag_key] = tag_value
    return tags


def log_spans(connection: Connection, experiment_id: str | None, batch: SpanBatch, run_id: str | None = None) -> int:
    """Store ``batch`` under ``experiment_id``; returns the number of spans stored.

    ``run_id`` (the ``x-mlflow-run-id`` header) links the batch's finished traces to that run. The
    whole batch costs a fixed number of statements (one per table), whatever its number of traces.
    """
    experiment = trace_service.active_experiment(connection, experiment_id)
    by_trace: dict[str, list[Span]] = defaultdict(list)
    for span in batch.spans:
        by_trace[span.trace_id].append(span)
    # Sorted, so two batches touching the same traces lock them in the same order.
    trace_ids = sorted(by_trace)
    derived = {t: _derived_info(t, experiment.experiment_id, by_trace[t]) for t in trace_ids}
    current = store.lock_or_create(connection, [derived[t] for t in trace_ids])
    named = store.traces_with_tag(connection, trace_ids, TRACE_NAME_TAG)
    store.set_metadata_many(connection, {t: derived[t].metadata for t in trace_ids})
    tags: dict[str, dict[str, str]] = {}
    finished: list[str] = []
    for trace_id in trace_ids:
        root = _root(by_trace[trace_id])
        trace_tags = {**batch.resource_tags.get(trace_id, {}), **_root_tags(root)}
        _complete(connection, current[trace_id], derived[trace_id])
        if trace_id in named:
            # The client's start-trace call names the trace; a span batch must not rename it.
            trace_tags.pop(TRACE_NAME_TAG, None)
        trace_tags[ARTIFACT_LOCATION_TAG] = trace_service.artifact_location(experiment, trace_id)
        trace_tags[SPANS_LOCATION_TAG] = SPANS_IN_TRACKING_STORE
        tags[trace_id] = trace_tags
        if root is not None and root.end_time_ns is not None:
            finished.append(trace_id)
    store.set_tags_many(connection, tags)
    store.put_spans(connection, batch.spans)
    # As MLflow does, an unknown run in the header loses the link, never the spans.
    if run_id and finished and run_store.get_run_row(connection, run_id, workspace=workspace_scope()) is not None:
        store.link_runs(connection, finished, run_id)
    return len(batch.spans)


def _complete(connection: Connection, current: TraceInfo, derived: TraceInfo) -> None:
    """Fill in what an existing trace's info still lacks from a later batch of its spans."""
    values: dict[str, object] = {}
    if derived.request_time_ms < current.request_time_ms and current.state is TraceState.IN_PROGRESS:
        values["timestamp_ms"] = derived.request_time_ms
    if current.state is TraceState.IN_PROGRESS and derived.state is not TraceState.IN_PROGRESS:
        values["status"] = derived.state.value
        start = values.get("timestamp_ms", current.request_time_ms)
        if derived.execution_duration_ms is not None:
            assert isinstance(start, int)
            values["execution_time_ms"] = derived.request_time_ms + derived.execution_duration_ms - start
    if current.request_preview is None and derived.request_preview is not None:
        values["request_preview"] = derived.request_preview
    if current.response_preview is None and derived.response_preview is not None:
        values["response_preview"] = derived.response_preview
    store.update_trace(connection, current.trace_id, **values)
