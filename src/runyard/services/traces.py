"""Traces: record a trace's info (start-trace), read, search, tag, delete, link to runs.

MLflow's client sends a trace in two parts: its spans as they end (OTLP ``/v1/traces``, see
``services.trace_spans``) and, when the root span ends, the trace's info (``POST /traces``). The two
may arrive in either order; whichever comes first creates the trace, the other completes it. The info
the client sends is authoritative for the trace's fields; spans only fill in what is still missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from runyard.domain import validation
from runyard.domain.search_ast import And, Expr
from runyard.domain.search_filter import parse_filter, parse_order_by
from runyard.domain.traces import (
    ARTIFACT_LOCATION_TAG,
    DEFAULT_SEARCH_RESULTS,
    MAX_SEARCH_RESULTS,
    StoredSpan,
    TraceInfo,
    TraceState,
    validate_client_request_id,
    validate_metadata,
    validate_tag,
    validate_trace_id,
)
from runyard.domain.traces_correlation import Correlation, correlation
from runyard.domain.traces_search import TRACES
from runyard.domain.tracking import Experiment, Page
from runyard.errors import InvalidParameter, NotFound
from runyard.services import experiments as experiment_service
from runyard.services import runs as run_service
from runyard.services.metric_history import decode_offset_token, encode_offset_token
from runyard.services.workspaces import workspace_scope
from runyard.stores.metadata import experiments as experiment_store
from runyard.stores.metadata import trace_assessments as assessment_store
from runyard.stores.metadata import trace_search
from runyard.stores.metadata import traces as store

MAX_LINKED_TRACES = 100


@dataclass(frozen=True, slots=True)
class Trace:
    """A trace's info and its spans, in start order."""

    info: TraceInfo
    spans: list[StoredSpan]


def active_experiment(connection: Connection, experiment_id: str | int | None) -> Experiment:
    experiment = experiment_service.get_experiment(connection, experiment_id)
    experiment_service.require_active(experiment)
    return experiment


def artifact_location(experiment: Experiment, trace_id: str) -> str:
    """Where a trace's attachments (and the spans of clients that upload them) live."""
    return f"{experiment.artifact_location.rstrip('/')}/traces/{trace_id}/artifacts"


def not_found(trace_id: str) -> NotFound:
    return NotFound(f"Trace with ID '{trace_id}' not found.")


def start_trace(connection: Connection, info: TraceInfo) -> TraceInfo:
    """Record a finished (or, for v2 clients, a starting) trace's info; returns it as stored."""
    validate_trace_id(info.trace_id)
    experiment = active_experiment(connection, info.experiment_id)
    tags = dict(validate_tag(key, value) for key, value in info.tags.items())
    validate_metadata(info.metadata)
    validate_client_request_id(info.client_request_id)
    store.lock_or_create(connection, [info])
    # The client's info is authoritative: it replaces what spans that came first filled in.
    values: dict[str, object] = {
        "experiment_id": int(info.experiment_id),
        "timestamp_ms": info.request_time_ms,
        "execution_time_ms": info.execution_duration_ms,
        "status": info.state.value,
        "client_request_id": info.client_request_id,
    }
    if info.request_preview is not None:
        values["request_preview"] = info.request_preview
    if info.response_preview is not None:
        values["response_preview"] = info.response_preview
    store.update_trace(connection, info.trace_id, **values)
    tags[ARTIFACT_LOCATION_TAG] = artifact_location(experiment, info.trace_id)
    store.set_tags(connection, info.trace_id, tags)
    store.set_metadata(connection, info.trace_id, info.metadata)
    existing = {
        a.assessment_id
        for a in assessment_store.assessments_by_trace(connection, [info.trace_id]).get(info.trace_id, [])
    }
    assessment_store.insert_assessments(connection, [a for a in info.assessments if a.assessment_id not in existing])
    return get_trace_info(connection, info.trace_id)


def _in_workspace(connection: Connection, infos: Sequence[TraceInfo]) -> list[TraceInfo]:
    """Those of ``infos`` whose experiment is in the request's workspace (a guessed id finds nothing)."""
    scope = workspace_scope()
    if scope is None or not infos:
        return list(infos)
    visible = {str(e) for e in experiment_store.ids_among(connection, [int(i.experiment_id) for i in infos], scope)}
    return [info for info in infos if info.experiment_id in visible]


def get_trace_info(connection: Connection, trace_id: str | None) -> TraceInfo:
    trace_id = validate_trace_id(trace_id)
    infos = _in_workspace(connection, store.get_infos(connection, [trace_id]))
    if not infos:
        raise not_found(trace_id)
    return infos[0]


def get_trace(connection: Connection, trace_id: str | None) -> Trace:
    info = get_trace_info(connection, trace_id)
    return Trace(info, store.span_contents(connection, [info.trace_id])[info.trace_id])


def _check_batch(trace_ids: Sequence[str]) -> None:
    if not trace_ids:
        raise InvalidParameter("Missing value for required parameter 'trace_ids'.")
    if len(trace_ids) > MAX_SEARCH_RESULTS:
        raise InvalidParameter(
            f"At most {MAX_SEARCH_RESULTS} trace ids may be requested at once, got {len(trace_ids)}."
        )


def batch_get_trace_infos(
    connection: Connection, trace_ids: Sequence[str], experiment_ids: Sequence[str] | None = None
) -> list[TraceInfo]:
    """The infos of the traces that exist (missing ids are left out, as in MLflow)."""
    _check_batch(trace_ids)
    infos = _in_workspace(connection, store.get_infos(connection, trace_ids))
    if experiment_ids is not None:
        allowed = set(experiment_ids)
        infos = [info for info in infos if info.experiment_id in allowed]
    return infos


def batch_get_traces(
    connection: Connection, trace_ids: Sequence[str], experiment_ids: Sequence[str] | None = None
) -> list[Trace]:
    infos = batch_get_trace_infos(connection, trace_ids, experiment_ids)
    spans = store.span_contents(connection, [info.trace_id for info in infos])
    return [Trace(info, spans[info.trace_id]) for info in infos]


def search_traces(
    connection: Connection,
    *,
    experiment_ids: Sequence[str],
    filter_string: str | None = None,
    max_results: int | None = None,
    order_by: Sequence[str] = (),
    page_token: str | None = None,
) -> Page[TraceInfo]:
    """One page of the experiments' traces matching ``filter_string`` (newest first by default)."""
    if not experiment_ids:
        raise InvalidParameter("At least one experiment (location) must be specified to search traces.")
    limit = DEFAULT_SEARCH_RESULTS if max_results is None else max_results
    if limit < 1 or limit > MAX_SEARCH_RESULTS:
        raise InvalidParameter(
            f"Invalid value {limit} for parameter 'max_results' supplied. It must be at most {MAX_SEARCH_RESULTS}."
        )
    # As in MLflow, an experiment that does not exist simply has no traces.
    ids = [validation.parse_experiment_id(e) for e in experiment_ids]
    scope = workspace_scope()
    if scope is not None:
        ids = experiment_store.ids_among(connection, ids, scope)
    expr = parse_filter(filter_string, TRACES)
    order_keys = parse_order_by(order_by, TRACES)
    offset = decode_offset_token(page_token)
    rows = trace_search.search_trace_rows(
        connection,
        experiment_ids=[int(i) for i in ids],
        expr=expr,
        order_keys=order_keys,
        offset=offset,
        limit=limit + 1,
    )
    token = encode_offset_token(offset + limit) if len(rows) > limit else None
    return Page(store.infos_from_rows(connection, rows[:limit]), token)


def calculate_filter_correlation(
    connection: Connection,
    *,
    experiment_ids: Sequence[str],
    filter_string1: str | None,
    filter_string2: str | None,
    base_filter: str | None = None,
) -> Correlation:
    """NPMI of two filters over the experiments' traces (those matching ``base_filter``, if given)."""
    if not experiment_ids:
        raise InvalidParameter("Missing value for required parameter 'experiment_ids'.")
    if not filter_string1 or not filter_string2:
        raise InvalidParameter("Missing value for required parameter 'filter_string1' or 'filter_string2'.")
    ids = [int(experiment_service.get_experiment(connection, e).experiment_id) for e in experiment_ids]
    base = parse_filter(base_filter, TRACES)
    first = parse_filter(filter_string1, TRACES)
    second = parse_filter(filter_string2, TRACES)

    def count(*parts: Expr | None) -> int:
        present = tuple(part for part in parts if part is not None)
        expr = None if not present else present[0] if len(present) == 1 else And(present)
        return trace_search.count_traces(connection, experiment_ids=ids, expr=expr)

    return correlation(count(base, first, second), count(base, first), count(base, second), count(base))


def delete_traces(
    connection: Connection,
    experiment_id: str | None,
    *,
    max_timestamp_millis: int | None = None,
    max_traces: int | None = None,
    trace_ids: Sequence[str] = (),
) -> int:
    """Delete traces by id, or those that started at or before a time; returns how many went."""
    experiment = experiment_service.get_experiment(connection, experiment_id)
    if max_timestamp_millis is None and not trace_ids:
        raise InvalidParameter("Either `max_timestamp_millis` or `trace_ids` must be specified.")
    if max_timestamp_millis is not None and trace_ids:
        raise InvalidParameter("Only one of `max_timestamp_millis` and `trace_ids` can be specified.")
    if max_traces is not None and max_traces < 1:
        raise InvalidParameter(f"`max_traces` must be a positive integer, got {max_traces}.")
    if trace_ids:
        if max_traces is not None:
            raise InvalidParameter("`max_traces` can't be specified if `trace_ids` is specified.")
        return store.delete_by_ids(connection, int(experiment.experiment_id), list(trace_ids))
    assert max_timestamp_millis is not None
    return store.delete_older(connection, int(experiment.experiment_id), max_timestamp_millis, max_traces)


def _require_trace(connection: Connection, trace_id: str | None) -> str:
    trace_id = get_trace_info(connection, trace_id).trace_id  # in this workspace
    if store.lock_trace(connection, trace_id) is None:
        raise not_found(trace_id)
    return trace_id


def set_trace_tag(connection: Connection, trace_id: str | None, key: str | None, value: str | None) -> None:
    key, value = validate_tag(key, value)
    store.set_tags(connection, _require_trace(connection, trace_id), {key: value})


def delete_trace_tag(connection: Connection, trace_id: str | None, key: str | None) -> None:
    if not key:
        raise InvalidParameter("Missing value for required parameter 'key'.")
    trace_id = _require_trace(connection, trace_id)
    if store.delete_tag(connection, trace_id, key) == 0:
        raise NotFound(f"No trace tag with key '{key}' for trace with ID '{trace_id}'")


def link_traces_to_run(connection: Connection, trace_ids: Sequence[str], run_id: str | None) -> None:
    """Associate traces with a run, so ``run_id`` searches find them."""
    if not trace_ids:
        raise InvalidParameter("Missing value for required parameter 'trace_ids'.")
    if len(trace_ids) > MAX_LINKED_TRACES:
        raise InvalidParameter(f"Cannot link more than {MAX_LINKED_TRACES} traces to a run in a single request.")
    run = run_service.get_run(connection, run_id)
    missing = [t for t in trace_ids if t not in store.existing_ids(connection, trace_ids)]
    if missing:
        raise not_found(missing[0])
    store.link_runs(connection, trace_ids, run.info.run_id)


__all__ = [
    "Trace",
    "TraceState",
    "batch_get_trace_infos",
    "batch_get_traces",
    "delete_traces",
    "delete_trace_tag",
    "get_trace",
    "get_trace_info",
    "link_traces_to_run",
    "search_traces",
    "set_trace_tag",
    "start_trace",
]
