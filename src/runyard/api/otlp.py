"""``POST /v1/traces``: OTLP/HTTP span ingest, as MLflow serves it.

Any OpenTelemetry exporter can send here; the experiment comes from the ``x-mlflow-experiment-id``
header (MLflow's), and ``x-mlflow-run-id`` links the finished traces to a run. The whole batch is
stored in one transaction or not at all.
"""

from __future__ import annotations

from fastapi import APIRouter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from runyard.api import access
from runyard.api.deps import platform_of
from runyard.api.openapi import json_schema_body
from runyard.api.otlp_decode import JSON, MAX_BODY_BYTES, PROTOBUF, decompress, parse_request, to_batch
from runyard.domain.identity import Level
from runyard.errors import InvalidParameter
from runyard.services import trace_spans

EXPERIMENT_HEADER = "x-mlflow-experiment-id"
RUN_HEADER = "x-mlflow-run-id"

router = APIRouter(tags=["otlp"])


@router.post(
    "/v1/traces",
    dependencies=[access.requires("experiment", Level.EDIT, jobs=True)],
    # Declared as OTLP/JSON (an object); protobuf bodies (application/x-protobuf) are accepted too.
    openapi_extra=json_schema_body({"type": "object"}),
)
async def export_traces(request: Request) -> Response:
    """Ingest an OTLP trace export (protobuf or JSON, optionally gzip/deflate)."""
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";")[0].strip().lower()
    if media_type not in (PROTOBUF, JSON):
        raise InvalidParameter(f"Invalid Content-Type: {content_type!r}. Expected: {PROTOBUF} or {JSON}")
    experiment_id = request.headers.get(EXPERIMENT_HEADER)
    if not experiment_id:
        raise InvalidParameter(f"Missing required header '{EXPERIMENT_HEADER}' (the experiment to store spans in).")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise InvalidParameter(f"The request body exceeds {MAX_BODY_BYTES} bytes.")
    encoding = request.headers.get("content-encoding")
    # Decoding a large export is CPU work: off the event loop, like the database work after it.
    batch = await run_in_threadpool(lambda: to_batch(parse_request(decompress(body, encoding), media_type)))
    run_id = request.headers.get(RUN_HEADER)
    await platform_of(request).write(lambda c: trace_spans.log_spans(c, experiment_id, batch, run_id))
    if media_type == JSON:
        return Response(b"{}", media_type=JSON)
    return Response(ExportTraceServiceResponse().SerializeToString(), media_type=PROTOBUF)
