"""Trace endpoints of MLflow's web UI and client beside the core trace API.

- ``GET /ajax-api/{2.0,3.0}/mlflow/get-trace-artifact``: a trace's spans as MLflow's ``traces.json``
  artifact (``{"spans": [Span.to_dict(), …]}``), or with ``path`` one of its attachments.
- ``POST /{api,ajax-api}/2.0/mlflow/traces/link-prompts``: record prompt versions a trace used.
- ``GET /{api,ajax-api}/2.0/mlflow/unified-traces``: MLflow's ``SearchUnifiedTraces``, a search of the
  stored traces of experiments (optionally of one logged model), answered with v2 trace infos.
- ``POST /{api,ajax-api}/3.0/mlflow/traces/metrics``: trace counts and latency, span and assessment counts, grouped
  (MLflow's ``QueryTraceMetrics``; see ``services/trace_metrics.py`` for what is supported).
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from runyard.api import access
from runyard.api.deps import platform_of
from runyard.api.mlflow import traces as core
from runyard.api.mlflow import traces_wire as wire
from runyard.api.mlflow.artifacts import file_response
from runyard.api.openapi import json_body, query
from runyard.api.otlp_decode import span_with_ids
from runyard.api.requests import parse_json, parse_query
from runyard.api.responses import JSONResponse
from runyard.domain.identity import Level
from runyard.errors import InvalidParameter
from runyard.services import logged_models as logged_model_service
from runyard.services import trace_extras as service
from runyard.services import trace_metrics
from runyard.services import traces as trace_service

TRACE_DATA_FILE = "traces.json"

ui_router = APIRouter(tags=["mlflow-traces"])
v2_router = APIRouter(prefix="/traces", tags=["mlflow-traces-v2"])
v3_router = APIRouter(prefix="/traces", tags=["mlflow-traces"])
unified_router = APIRouter(tags=["mlflow-traces-v2"])

MODEL_ID_METADATA = "mlflow.modelId"


class TraceArtifactQuery(BaseModel):
    request_id: str | None = None
    path: str | None = None


class UnifiedTracesQuery(BaseModel):
    experiment_ids: list[str] = Field(default_factory=list)
    model_id: str | None = None
    sql_warehouse_id: str | None = None
    filter: str | None = None
    max_results: int | None = None
    order_by: list[str] = Field(default_factory=list)
    page_token: str | None = None


class PromptVersionIn(BaseModel):
    name: str = ""
    version: str | int = ""


class AggregationIn(BaseModel):
    aggregation_type: str | int | None = None
    percentile_value: float | None = None


class TraceMetricsQuery(BaseModel):
    experiment_ids: list[str] = Field(default_factory=list)
    view_type: str | int | None = None
    metric_name: str | None = None
    aggregations: list[AggregationIn] = Field(default_factory=list)
    dimensions: list[str] = Field(default_factory=list)
    filters: list[str] = Field(default_factory=list)
    time_interval_seconds: int | None = None
    start_time_ms: int | None = None
    end_time_ms: int | None = None
    max_results: int | None = None
    page_token: str | None = None


# The proto enums' numbers, as a client sending numbers instead of names would.
VIEW_TYPES = {1: "TRACES", 2: "SPANS", 3: "ASSESSMENTS"}
AGGREGATION_TYPES = {1: "COUNT", 2: "SUM", 3: "AVG", 4: "PERCENTILE", 5: "MIN", 6: "MAX"}


def _enum_name(value: str | int | None, names: dict[int, str], field: str) -> str:
    if value is None or value == "":
        raise InvalidParameter(f"Missing value for required parameter '{field}'.")
    if isinstance(value, int) or value.isdigit():
        number = int(value)
        if number not in names:
            raise InvalidParameter(f"Invalid value {value!r} for parameter '{field}'.")
        return names[number]
    if value not in names.values():
        raise InvalidParameter(
            f"Invalid value {value!r} for parameter '{field}': expected one of {sorted(names.values())}."
        )
    return value


class LinkPrompts(BaseModel):
    trace_id: str | None = None
    prompt_versions: list[PromptVersionIn] = Field(default_factory=list)


# --- spans as MLflow's Span.to_dict() ---


def _value(data: dict[str, Any]) -> Any:
    """An OTLP ``AnyValue`` in its protobuf JSON form, as the plain value it holds."""
    for kind, value in data.items():
        if kind == "int_value":
            return int(value)
        if kind == "array_value":
            return [_value(item) for item in (value or {}).get("values", [])]
        if kind == "kvlist_value":
            return {pair["key"]: _value(pair.get("value", {})) for pair in (value or {}).get("values", [])}
        return value
    return None


def _attributes(items: list[dict[str, Any]] | None) -> dict[str, Any]:
    return {item["key"]: _value(item.get("value", {})) for item in items or []}


def _nanos(value: Any) -> int | None:
    return int(value) if value not in (None, "") else None


def mlflow_span_dict(span: dict[str, Any]) -> dict[str, Any]:
    """A span's OTLP JSON (ids in base64) as MLflow's ``Span.to_dict()`` writes it."""
    status = span.get("status") or {}
    return {
        "trace_id": span.get("trace_id"),
        "span_id": span.get("span_id"),
        "parent_span_id": span.get("parent_span_id"),
        "name": span.get("name", ""),
        "start_time_unix_nano": _nanos(span.get("start_time_unix_nano")),
        "end_time_unix_nano": _nanos(span.get("end_time_unix_nano")),
        "events": [
            {
                "name": event.get("name", ""),
                "time_unix_nano": _nanos(event.get("time_unix_nano")),
                "attributes": _attributes(event.get("attributes")),
            }
            for event in span.get("events") or []
        ],
        "status": {"code": status.get("code", "STATUS_CODE_UNSET"), "message": status.get("message", "")},
        "attributes": _attributes(span.get("attributes")),
        "links": [
            {
                "trace_id": link.get("trace_id"),
                "span_id": link.get("span_id"),
                "attributes": _attributes(link.get("attributes")),
            }
            for link in span.get("links") or []
        ],
    }


@ui_router.get(
    "/ajax-api/2.0/mlflow/get-trace-artifact",
    dependencies=[access.requires("experiment", Level.READ, jobs=True)],
    openapi_extra=query(TraceArtifactQuery),
)
@ui_router.get(
    "/ajax-api/3.0/mlflow/get-trace-artifact",
    dependencies=[access.requires("experiment", Level.READ, jobs=True)],
    openapi_extra=query(TraceArtifactQuery),
)
async def get_trace_artifact(request: Request) -> Response:
    """A trace's spans as the ``traces.json`` download MLflow's UI reads, or one of its attachments."""
    given = parse_query(request, TraceArtifactQuery)
    if not given.request_id:
        raise InvalidParameter('Request must include the "request_id" query parameter.')
    platform = platform_of(request)
    if given.path is not None:
        store_path = await platform.read(lambda c: service.attachment_path(c, given.request_id, given.path))
        return await file_response(platform.artifacts, store_path)
    trace = await platform.read(lambda c: trace_service.get_trace(c, given.request_id))
    spans = [mlflow_span_dict(orjson.loads(span_with_ids(trace.info.trace_id, s))) for s in trace.spans]
    return Response(
        orjson.dumps({"spans": spans}),
        headers={
            "Content-Type": "application/octet-stream",
            "Content-Disposition": f'attachment; filename="{TRACE_DATA_FILE}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@v2_router.post(
    "/link-prompts",
    dependencies=[access.requires("experiment", Level.EDIT, jobs=True)],
    openapi_extra=json_body(LinkPrompts),
)
async def link_prompts(request: Request) -> Response:
    """Record prompt versions a trace used (in its ``mlflow.linkedPrompts`` tag)."""
    body = await parse_json(request, LinkPrompts)
    refs = [service.PromptVersionRef(p.name, str(p.version)) for p in body.prompt_versions]
    await platform_of(request).write(lambda c: service.link_prompts(c, body.trace_id, refs))
    return JSONResponse({})


@v3_router.post(
    "/metrics",
    dependencies=[access.requires("experiment", Level.READ, jobs=True)],
    openapi_extra=json_body(TraceMetricsQuery),
)
async def query_trace_metrics(request: Request) -> Response:
    """Trace counts and latency of experiments, grouped by time bucket, name or status."""
    body = await parse_json(request, TraceMetricsQuery)
    if body.page_token:
        raise InvalidParameter("Invalid page_token: trace metrics answer in one page.")
    view_type = _enum_name(body.view_type, VIEW_TYPES, "view_type")
    if not body.metric_name:
        raise InvalidParameter("Missing value for required parameter 'metric_name'.")
    metric_name = body.metric_name
    aggregations = [
        trace_metrics.Aggregation(
            _enum_name(a.aggregation_type, AGGREGATION_TYPES, "aggregations.aggregation_type"), a.percentile_value
        )
        for a in body.aggregations
    ]
    points = await platform_of(request).read(
        lambda c: trace_metrics.query_trace_metrics(
            c,
            experiment_ids=body.experiment_ids,
            view_type=view_type,
            metric_name=metric_name,
            aggregations=aggregations,
            dimensions=body.dimensions,
            filters=body.filters,
            time_interval_seconds=body.time_interval_seconds,
            start_time_ms=body.start_time_ms,
            end_time_ms=body.end_time_ms,
            max_results=body.max_results,
        )
    )
    return JSONResponse(
        {
            "data_points": [
                {"metric_name": p.metric_name, "dimensions": p.dimensions, "values": p.values} for p in points
            ]
        }
    )


@unified_router.get(
    "/unified-traces",
    dependencies=[access.requires("experiment", Level.READ, jobs=True)],
    openapi_extra=query(UnifiedTracesQuery),
)
async def search_unified_traces(request: Request) -> Response:
    """Search traces (``SearchUnifiedTraces``); ``model_id`` keeps the traces a logged model produced.

    runyard stores every trace itself, so there is no separate online store to merge and
    ``sql_warehouse_id`` is accepted and ignored.
    """
    params = parse_query(request, UnifiedTracesQuery)
    experiment_ids = params.experiment_ids
    filter_string = params.filter
    if params.model_id:
        # The access check reads the logged model's experiment: the search stays inside it.
        model_id = params.model_id
        model = await platform_of(request).read(lambda c: logged_model_service.get_logged_model(c, model_id))
        outside = [e for e in experiment_ids if e != model.experiment_id]
        if outside:
            raise InvalidParameter(
                f"Logged model '{model_id}' belongs to experiment {model.experiment_id}, not {', '.join(outside)}."
            )
        experiment_ids = [model.experiment_id]
        by_model = f"metadata.`{MODEL_ID_METADATA}` = '{model.model_id}'"
        filter_string = f"({filter_string}) AND {by_model}" if filter_string else by_model
    if not experiment_ids:
        raise InvalidParameter("Missing value for required parameter 'experiment_ids'.")
    data = {
        "filter": filter_string,
        "max_results": params.max_results,
        "order_by": params.order_by,
        "page_token": params.page_token,
    }
    return await core.search_traces_page(request, data, experiment_ids, wire.trace_info_v2_json)
