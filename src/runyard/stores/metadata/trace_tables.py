"""SQLAlchemy Core tables of traces (the live schema; migration ``0006_traces`` keeps a frozen copy).

A trace's spans are rows of ``trace_spans``, one per span, holding the OTLP span as JSON text: a
trace with 10,000 spans is one indexed range read on the (trace, span) primary key, and the text
goes back to the client as it came. Child rows cascade with their trace, so deleting traces is one
statement per batch.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Double, ForeignKey, Index, Integer, String, Table

from runyard.stores.metadata.tables import KEY_LENGTH, LONG_TEXT, RUN_ID_LENGTH, metadata

TRACE_ID_LENGTH = 50
SPAN_ID_LENGTH = 50
SPAN_NAME_LENGTH = 500
PREVIEW_LENGTH = 1000


def _trace_fk() -> ForeignKey:
    return ForeignKey("trace_info.request_id", ondelete="CASCADE")


trace_info = Table(
    "trace_info",
    metadata,
    Column("request_id", String(TRACE_ID_LENGTH), primary_key=True),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id"), nullable=False),
    Column("timestamp_ms", BigInteger, nullable=False),
    Column("execution_time_ms", BigInteger, nullable=True),
    Column("status", String(50), nullable=False),
    Column("client_request_id", String(TRACE_ID_LENGTH), nullable=True),
    Column("request_preview", String(PREVIEW_LENGTH), nullable=True),
    Column("response_preview", String(PREVIEW_LENGTH), nullable=True),
    # The default search (newest first within experiments) walks this index.
    Index(None, "experiment_id", "timestamp_ms", "request_id"),
)

trace_tags = Table(
    "trace_tags",
    metadata,
    Column("request_id", String(TRACE_ID_LENGTH), _trace_fk(), primary_key=True),
    Column("key", String(KEY_LENGTH), primary_key=True),
    Column("value", LONG_TEXT, nullable=True),
)

trace_request_metadata = Table(
    "trace_request_metadata",
    metadata,
    Column("request_id", String(TRACE_ID_LENGTH), _trace_fk(), primary_key=True),
    Column("key", String(KEY_LENGTH), primary_key=True),
    Column("value", LONG_TEXT, nullable=True),
)

trace_spans = Table(
    "trace_spans",
    metadata,
    Column("trace_id", String(TRACE_ID_LENGTH), _trace_fk(), primary_key=True),
    Column("span_id", String(SPAN_ID_LENGTH), primary_key=True),
    Column("parent_span_id", String(SPAN_ID_LENGTH), nullable=True),
    Column("name", String(SPAN_NAME_LENGTH), nullable=True),
    Column("type", String(SPAN_NAME_LENGTH), nullable=True),
    Column("status", String(50), nullable=False),
    Column("start_time_unix_nano", BigInteger, nullable=False),
    Column("end_time_unix_nano", BigInteger, nullable=True),
    Column("content", LONG_TEXT, nullable=False),
)

trace_assessments = Table(
    "trace_assessments",
    metadata,
    Column("assessment_id", String(TRACE_ID_LENGTH), primary_key=True),
    Column("trace_id", String(TRACE_ID_LENGTH), _trace_fk(), nullable=False),
    Column("name", String(KEY_LENGTH), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("value", LONG_TEXT, nullable=True),
    # The value as a number where it is one (feedback scores, booleans), for <, <=, >, >= searches.
    Column("numeric_value", Double(), nullable=True),
    Column("valid", Boolean, nullable=False),
    Column("create_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
    Column("body", LONG_TEXT, nullable=False),
    Index(None, "trace_id", "create_time"),
)

# Traces linked to runs (``link-to-run``, the ``x-mlflow-run-id`` OTLP header), besides the
# ``mlflow.sourceRun`` metadata a trace made inside a run carries.
trace_run_links = Table(
    "trace_run_links",
    metadata,
    Column("trace_id", String(TRACE_ID_LENGTH), _trace_fk(), primary_key=True),
    Column("run_id", String(RUN_ID_LENGTH), primary_key=True),
    Index(None, "run_id"),
)
