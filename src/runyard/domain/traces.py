"""Traces of GenAI applications: trace info, spans and assessments (pure values and rules).

A trace is one request through an application. Its *info* (id, experiment, start time, duration,
state, previews, metadata, tags, assessments) is what searches return; its *spans* (one per
operation, a tree through ``parent_span_id``) are loaded only when a client asks for the whole trace.
Trace ids are MLflow's: ``tr-`` and the 32 hex digits of the OpenTelemetry trace id.

Spans are kept as the client sent them, one OTLP span (protobuf JSON mapping) per span, with the
columns searches need (name, type, status, times) beside it, so a trace is returned without
re-encoding anything.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from runyard.errors import InvalidParameter

TRACE_ID_PREFIX = "tr-"
MAX_TRACE_ID_LENGTH = 50
MAX_TAG_KEY_LENGTH = 250
MAX_TAG_VALUE_LENGTH = 8000
MAX_PREVIEW_LENGTH = 1000
MAX_ASSESSMENT_NAME_LENGTH = 250
MAX_SEARCH_RESULTS = 500
DEFAULT_SEARCH_RESULTS = 100
MAX_BATCH_GET = 100

# Tag and metadata keys MLflow's client and UI read.
SPANS_LOCATION_TAG = "mlflow.trace.spansLocation"
SPANS_IN_TRACKING_STORE = "TRACKING_STORE"
ARTIFACT_LOCATION_TAG = "mlflow.artifactLocation"
TRACE_NAME_TAG = "mlflow.traceName"
TRACE_TAG_ATTRIBUTE_PREFIX = "mlflow.traceTag."
SOURCE_RUN_METADATA = "mlflow.sourceRun"
SCHEMA_VERSION_METADATA = "mlflow.trace_schema.version"
SCHEMA_VERSION = "3"
# Span attributes MLflow writes (values are JSON-encoded strings).
SPAN_TYPE_ATTRIBUTE = "mlflow.spanType"
SPAN_INPUTS_ATTRIBUTE = "mlflow.spanInputs"
SPAN_OUTPUTS_ATTRIBUTE = "mlflow.spanOutputs"


class TraceState(enum.StrEnum):
    STATE_UNSPECIFIED = "STATE_UNSPECIFIED"
    OK = "OK"
    ERROR = "ERROR"
    IN_PROGRESS = "IN_PROGRESS"


class AssessmentKind(enum.StrEnum):
    FEEDBACK = "feedback"
    EXPECTATION = "expectation"


@dataclass(slots=True)
class Assessment:
    """A judgement about a trace (feedback) or the answer it should have given (expectation).

    ``body`` holds the wire fields runyard does not interpret (source, the feedback or expectation
    object, rationale, metadata, span_id, run_id, overrides); ``value_json`` is the value as JSON
    text, kept apart so searches can compare it.
    """

    assessment_id: str
    trace_id: str
    name: str
    kind: AssessmentKind
    value_json: str | None
    valid: bool
    create_time_ms: int
    last_update_time_ms: int
    body: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class TraceInfo:
    trace_id: str
    experiment_id: str
    request_time_ms: int
    execution_duration_ms: int | None
    state: TraceState
    client_request_id: str | None = None
    request_preview: str | None = None
    response_preview: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    assessments: list[Assessment] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Span:
    """One stored span: the columns searches use and the OTLP span itself (``content``, JSON text)."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    span_type: str | None
    status: str
    start_time_ns: int
    end_time_ns: int | None
    content: str  # the OTLP span's JSON without its ids (kept in columns, so text searches never match them)
    # Decoded attribute values of the spans a trace's info is derived from (root spans only).
    attributes: dict[str, Any] = field(default_factory=dict, compare=False)


class StoredSpan(NamedTuple):
    """A span as read back: its ids and its stored JSON (the OTLP span without its ids)."""

    span_id: str
    parent_span_id: str | None
    content: str


@dataclass(frozen=True, slots=True)
class SpanBatch:
    """Spans of one OTLP export, grouped by trace, with the resource attributes that came with them."""

    spans: tuple[Span, ...]
    resource_tags: dict[str, dict[str, str]] = field(default_factory=dict)  # trace id → tags


def trace_id_from_otel(otel_trace_id: bytes) -> str:
    """MLflow's trace id for an OpenTelemetry trace id (16 bytes)."""
    return TRACE_ID_PREFIX + otel_trace_id.hex()


def otel_trace_id(trace_id: str) -> bytes:
    """The OpenTelemetry trace id (16 bytes) of an MLflow trace id made by ``trace_id_from_otel``."""
    return bytes.fromhex(trace_id.removeprefix(TRACE_ID_PREFIX))


def validate_trace_id(trace_id: str | None) -> str:
    if not trace_id:
        raise InvalidParameter("Missing value for required parameter 'trace_id'.")
    if len(trace_id) > MAX_TRACE_ID_LENGTH:
        raise InvalidParameter(f"Trace ID '{trace_id[:60]}' exceeds the maximum length of {MAX_TRACE_ID_LENGTH}.")
    return trace_id


def validate_tag(key: str | None, value: str | None) -> tuple[str, str]:
    """A trace tag, with MLflow's limits (keys 250 characters; longer values are cut to 8,000)."""
    if not key:
        raise InvalidParameter("Missing value for required parameter 'key'.")
    if len(key) > MAX_TAG_KEY_LENGTH:
        raise InvalidParameter(f"Trace tag key '{key[:60]}…' exceeds the maximum length of {MAX_TAG_KEY_LENGTH}.")
    return key, (value or "")[:MAX_TAG_VALUE_LENGTH]


def validate_metadata(metadata: dict[str, str]) -> dict[str, str]:
    for key in metadata:
        if not key or len(key) > MAX_TAG_KEY_LENGTH:
            raise InvalidParameter(
                f"Trace metadata key '{key[:60]}' must be 1 to {MAX_TAG_KEY_LENGTH} characters long."
            )
    return metadata


def validate_client_request_id(client_request_id: str | None) -> str | None:
    if client_request_id is not None and len(client_request_id) > MAX_TRACE_ID_LENGTH:
        raise InvalidParameter(f"'client_request_id' exceeds the maximum length of {MAX_TRACE_ID_LENGTH} characters.")
    return client_request_id


def truncate_preview(text: str | None) -> str | None:
    if text is None:
        return None
    return text if len(text) <= MAX_PREVIEW_LENGTH else text[: MAX_PREVIEW_LENGTH - 3] + "..."


def decode_attribute(value: Any) -> Any:
    """An MLflow span attribute's value: MLflow stores JSON text in string attributes."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def preview_of(value: Any) -> str | None:
    """The request/response preview MLflow shows for a root span's inputs or outputs."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value
        try:
            decoded = json.loads(value)
        except ValueError:
            decoded = None
        if decoded is not None and not isinstance(decoded, str):
            text = json.dumps(decoded, ensure_ascii=False)
        elif isinstance(decoded, str):
            text = decoded
    else:
        text = json.dumps(value, ensure_ascii=False, default=str)
    return truncate_preview(text)


def state_of_root(spans: list[Span]) -> TraceState | None:
    """The trace state a finished root span implies (``None`` while the root is missing)."""
    for span in spans:
        if span.parent_span_id is None and span.end_time_ns is not None:
            return TraceState.ERROR if span.status == "ERROR" else TraceState.OK
    return None
