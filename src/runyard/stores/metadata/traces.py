"""Trace rows: trace info with its tags and metadata, spans, run links."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Row, delete, literal, select, union_all, update

from runyard.domain.traces import Span, StoredSpan, TraceInfo, TraceState
from runyard.stores.metadata import dialects
from runyard.stores.metadata.trace_assessments import assessments_by_trace
from runyard.stores.metadata.trace_sql import among
from runyard.stores.metadata.trace_tables import (
    SPAN_NAME_LENGTH,
    trace_assessments,
    trace_info,
    trace_request_metadata,
    trace_run_links,
    trace_spans,
    trace_tags,
)

# Deleting by id goes in chunks: a few thousand bound parameters is within every driver's limit.
_CHUNK = 500


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def lock_trace(connection: Connection, trace_id: str) -> Row[Any] | None:
    """The trace's row, locked for the rest of the transaction (where the database can)."""
    statement = select(trace_info).where(trace_info.c.request_id == trace_id)
    if connection.dialect.name != "sqlite":
        statement = statement.with_for_update()
    return connection.execute(statement).first()


def _info_row(info: TraceInfo) -> dict[str, Any]:
    return {
        "request_id": info.trace_id,
        "experiment_id": int(info.experiment_id),
        "timestamp_ms": info.request_time_ms,
        "execution_time_ms": info.execution_duration_ms,
        "status": info.state.value,
        "client_request_id": info.client_request_id,
        "request_preview": info.request_preview,
        "response_preview": info.response_preview,
    }


def insert_traces_ignoring_existing(connection: Connection, infos: Sequence[TraceInfo]) -> None:
    if infos:
        connection.execute(dialects.insert_ignoring_duplicates(connection, trace_info), [_info_row(i) for i in infos])


def lock_traces(connection: Connection, trace_ids: Sequence[str]) -> dict[str, TraceInfo]:
    """The infos (without tags, metadata or assessments) of those of ``trace_ids`` that exist, locked."""
    found: dict[str, TraceInfo] = {}
    for chunk in _chunks(list(trace_ids)):
        statement = select(trace_info).where(trace_info.c.request_id.in_(list(chunk))).order_by(trace_info.c.request_id)
        if connection.dialect.name != "sqlite":
            statement = statement.with_for_update()
        for row in connection.execute(statement):
            found[row.request_id] = _to_info(row, {}, {})
    return found


def lock_or_create(connection: Connection, infos: Sequence[TraceInfo]) -> dict[str, TraceInfo]:
    """Lock each trace's row, creating those that do not exist from ``infos``; returns the rows' infos.

    Every writer of a trace takes its row lock before touching the trace's child rows, so two writers
    of one trace queue on that lock instead of deadlocking on each other's child rows (whose foreign
    key checks need the parent row). Existing rows are locked before any insert, so an insert never
    holds a shared lock it must then upgrade (InnoDB's classic deadlock).
    """
    found = lock_traces(connection, [info.trace_id for info in infos])
    missing = sorted((info for info in infos if info.trace_id not in found), key=lambda info: info.trace_id)
    if missing:
        # A concurrent writer may create one of these first: its row is kept, and locked below.
        insert_traces_ignoring_existing(connection, missing)
        found.update(lock_traces(connection, [info.trace_id for info in missing]))
    return found


def traces_with_tag(connection: Connection, trace_ids: Sequence[str], key: str) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(list(trace_ids)):
        found.update(
            connection.execute(
                select(trace_tags.c.request_id).where(trace_tags.c.request_id.in_(list(chunk)), trace_tags.c.key == key)
            ).scalars()
        )
    return found


def set_tags_many(connection: Connection, tags: Mapping[str, Mapping[str, str]]) -> None:
    """Upsert the tags of many traces in one statement."""
    dialects.upsert(
        connection,
        trace_tags,
        [
            {"request_id": trace_id, "key": key, "value": value}
            for trace_id in sorted(tags)
            for key, value in sorted(tags[trace_id].items())
        ],
        key_columns=("request_id", "key"),
        update_columns=("value",),
    )


def set_metadata_many(connection: Connection, metadata: Mapping[str, Mapping[str, str]]) -> None:
    dialects.upsert(
        connection,
        trace_request_metadata,
        [
            {"request_id": trace_id, "key": key, "value": value}
            for trace_id in sorted(metadata)
            for key, value in sorted(metadata[trace_id].items())
        ],
        key_columns=("request_id", "key"),
        update_columns=("value",),
    )


def update_trace(connection: Connection, trace_id: str, **values: Any) -> None:
    if values:
        connection.execute(update(trace_info).where(trace_info.c.request_id == trace_id).values(**values))


def set_tags(connection: Connection, trace_id: str, tags: Mapping[str, str]) -> None:
    set_tags_many(connection, {trace_id: tags})


def delete_tag(connection: Connection, trace_id: str, key: str) -> int:
    result = connection.execute(delete(trace_tags).where(trace_tags.c.request_id == trace_id, trace_tags.c.key == key))
    return result.rowcount


def set_metadata(connection: Connection, trace_id: str, metadata: Mapping[str, str]) -> None:
    set_metadata_many(connection, {trace_id: metadata})


def _tags_and_metadata(
    connection: Connection, trace_ids: Sequence[str]
) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """Each trace's tags and metadata, in one query (a page of search results costs one round trip)."""
    tags: dict[str, dict[str, str]] = {trace_id: {} for trace_id in trace_ids}
    metadata: dict[str, dict[str, str]] = {trace_id: {} for trace_id in trace_ids}
    dialect = connection.dialect.name
    for chunk in _chunks(list(trace_ids)):
        parts = [
            select(literal(kind).label("kind"), table.c.request_id, table.c.key, table.c.value).where(
                among(table.c.request_id, chunk, dialect)
            )
            for kind, table in ((0, trace_tags), (1, trace_request_metadata))
        ]
        for kind, request_id, key, value in connection.execute(union_all(*parts)):
            (metadata if kind else tags)[request_id][key] = value or ""
    return tags, metadata


def _to_info(row: Row[Any], tags: dict[str, str], metadata: dict[str, str]) -> TraceInfo:
    return TraceInfo(
        trace_id=row.request_id,
        experiment_id=str(row.experiment_id),
        request_time_ms=row.timestamp_ms,
        execution_duration_ms=row.execution_time_ms,
        state=TraceState(row.status),
        client_request_id=row.client_request_id,
        request_preview=row.request_preview,
        response_preview=row.response_preview,
        metadata=metadata,
        tags=tags,
    )


def infos_from_rows(connection: Connection, rows: Sequence[Row[Any]]) -> list[TraceInfo]:
    """Trace infos (tags, metadata and assessments included) for ``trace_info`` rows, in their order."""
    ids = [row.request_id for row in rows]
    tags, metadata = _tags_and_metadata(connection, ids)
    assessments = assessments_by_trace(connection, ids)
    infos = []
    for row in rows:
        info = _to_info(row, tags[row.request_id], metadata[row.request_id])
        info.assessments = assessments.get(row.request_id, [])
        infos.append(info)
    return infos


def get_infos(connection: Connection, trace_ids: Sequence[str]) -> list[TraceInfo]:
    """The infos of those of ``trace_ids`` that exist, in the order asked for."""
    unique = list(dict.fromkeys(trace_ids))
    rows: dict[str, Row[Any]] = {}
    for chunk in _chunks(unique):
        for row in connection.execute(select(trace_info).where(trace_info.c.request_id.in_(list(chunk)))):
            rows[row.request_id] = row
    return infos_from_rows(connection, [rows[trace_id] for trace_id in unique if trace_id in rows])


def put_spans(connection: Connection, spans: Sequence[Span]) -> None:
    """Store spans; a span sent again (same trace and span id) replaces the stored one."""
    # One row per key: an upsert may not touch the same row twice in one statement (the last copy wins).
    spans = list({(span.trace_id, span.span_id): span for span in spans}.values())
    dialects.upsert(
        connection,
        trace_spans,
        [
            {
                "trace_id": span.trace_id,
                "span_id": span.span_id,
                "parent_span_id": span.parent_span_id,
                "name": span.name[:SPAN_NAME_LENGTH],
                "type": span.span_type[:SPAN_NAME_LENGTH] if span.span_type else None,
                "status": span.status,
                "start_time_unix_nano": span.start_time_ns,
                "end_time_unix_nano": span.end_time_ns,
                "content": span.content,
            }
            for span in spans
        ],
        key_columns=("trace_id", "span_id"),
        update_columns=(
            "parent_span_id",
            "name",
            "type",
            "status",
            "start_time_unix_nano",
            "end_time_unix_nano",
            "content",
        ),
    )


def span_contents(connection: Connection, trace_ids: Sequence[str]) -> dict[str, list[StoredSpan]]:
    """Each trace's spans (span id, parent id, stored JSON), in start order: one range read per trace."""
    result: dict[str, list[StoredSpan]] = {trace_id: [] for trace_id in trace_ids}
    columns = (trace_spans.c.trace_id, trace_spans.c.span_id, trace_spans.c.parent_span_id, trace_spans.c.content)
    for chunk in _chunks(list(trace_ids)):
        rows = connection.execute(
            select(*columns)
            .where(trace_spans.c.trace_id.in_(list(chunk)))
            .order_by(trace_spans.c.trace_id, trace_spans.c.start_time_unix_nano, trace_spans.c.span_id)
        )
        for trace_id, span_id, parent_span_id, content in rows:
            result[trace_id].append(StoredSpan(span_id, parent_span_id, content))
    return result


def link_runs(connection: Connection, trace_ids: Sequence[str], run_id: str) -> None:
    if not trace_ids:
        return
    rows = [{"trace_id": trace_id, "run_id": run_id} for trace_id in dict.fromkeys(trace_ids)]
    connection.execute(dialects.insert_ignoring_duplicates(connection, trace_run_links), rows)


def existing_ids(connection: Connection, trace_ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(list(dict.fromkeys(trace_ids))):
        found.update(
            connection.execute(
                select(trace_info.c.request_id).where(trace_info.c.request_id.in_(list(chunk)))
            ).scalars()
        )
    return found


def delete_by_ids(connection: Connection, experiment_id: int, trace_ids: Sequence[str]) -> int:
    deleted = 0
    for chunk in _chunks(list(dict.fromkeys(trace_ids))):
        deleted += _delete_where(
            connection, [trace_info.c.experiment_id == experiment_id, trace_info.c.request_id.in_(list(chunk))]
        )
    return deleted


def delete_older(connection: Connection, experiment_id: int, max_timestamp_ms: int, max_traces: int | None) -> int:
    """Delete the experiment's traces that started at or before ``max_timestamp_ms`` (oldest first)."""
    statement = (
        select(trace_info.c.request_id)
        .where(trace_info.c.experiment_id == experiment_id, trace_info.c.timestamp_ms <= max_timestamp_ms)
        .order_by(trace_info.c.timestamp_ms, trace_info.c.request_id)
    )
    if max_traces is not None:
        statement = statement.limit(max_traces)
    ids = list(connection.execute(statement).scalars())
    return delete_by_ids(connection, experiment_id, ids)


def _delete_where(connection: Connection, conditions: list[Any]) -> int:
    ids = list(connection.execute(select(trace_info.c.request_id).where(*conditions)).scalars())
    if not ids:
        return 0
    # Children first, by statement: the same on every database, whatever its cascade settings.
    for table, column in (
        (trace_spans, trace_spans.c.trace_id),
        (trace_tags, trace_tags.c.request_id),
        (trace_request_metadata, trace_request_metadata.c.request_id),
        (trace_assessments, trace_assessments.c.trace_id),
        (trace_run_links, trace_run_links.c.trace_id),
    ):
        connection.execute(delete(table).where(column.in_(ids)))
    result = connection.execute(delete(trace_info).where(trace_info.c.request_id.in_(ids)))
    return result.rowcount
