"""``/api/3.0/mlflow/traces*`` and the ``/api/2.0/mlflow/traces*`` calls MLflow's client still makes.

Whole traces (``traces/get``, ``traces/batchGet``) are written by joining the stored span JSON into
the response as it is: a 10,000-span trace costs one range read and no per-span encoding.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from runyard.api import access
from runyard.api.deps import platform_of
from runyard.api.mlflow import traces_wire as wire
from runyard.api.openapi import json_schema_body
from runyard.api.otlp_decode import span_with_ids
from runyard.api.requests import read_json_object
from runyard.api.responses import JSONResponse
from runyard.domain.clock import now_ms
from runyard.domain.identity import Level
from runyard.domain.traces import TraceInfo, TraceState
from runyard.errors import InvalidParameter
from runyard.services import trace_assessments as assessments
from runyard.services import traces as service

v3_router = APIRouter(prefix="/traces", tags=["mlflow-traces"])
v2_router = APIRouter(prefix="/traces", tags=["mlflow-traces-v2"])

# Traces follow their experiment: reading needs READ on it, changing EDIT (jobs may trace their own run).
READ = [access.requires("experiment", Level.READ, jobs=True)]
EDIT = [access.requires("experiment", Level.EDIT, jobs=True)]
# Bodies are read as free JSON objects in MLflow's proto JSON shape.
OBJECT_BODY = json_schema_body({"type": "object"})


def _trace_bytes(trace: service.Trace) -> bytes:
    info = orjson.dumps(wire.trace_info_json(trace.info))
    spans = ",".join(span_with_ids(trace.info.trace_id, span) for span in trace.spans).encode()
    return b'{"trace_info":' + info + b',"spans":[' + spans + b"]}"


def _raw_json(body: bytes) -> Response:
    return Response(body, media_type="application/json")


async def _params(request: Request) -> dict[str, Any]:
    """A request's parameters: the query string for GET (repeated keys as lists), else the JSON body."""
    if request.method == "GET":
        data: dict[str, Any] = {}
        for key in request.query_params:
            values = request.query_params.getlist(key)
            data[key] = values if len(values) > 1 or key.endswith("_ids") else values[0]
        return data
    data = await read_json_object(request)
    for key in request.query_params:  # DELETE calls may put their fields in the query string
        data.setdefault(key, request.query_params[key])
    return data


def _string_list(data: dict[str, Any], name: str) -> list[str]:
    value = wire.field(data, name)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidParameter(f"Invalid value for parameter '{name}': expected a list of strings.")
    return value


def _optional_int(data: dict[str, Any], name: str) -> int | None:
    value = wire.field(data, name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidParameter(
            f"Invalid value {orjson.dumps(value).decode()} for parameter '{name}' supplied."
        ) from None


# --- v3 -------------------------------------------------------------------------------------------------


@v3_router.post(
    "",
    dependencies=EDIT,
    openapi_extra=OBJECT_BODY,
)
async def start_trace(request: Request) -> Response:
    """Record a trace's info (MLflow calls this when the root span ends)."""
    data = await read_json_object(request)
    trace = data.get("trace")
    if not isinstance(trace, dict):
        raise InvalidParameter("Missing value for required parameter 'trace'.")
    info = wire.parse_trace_info(wire.field(trace, "trace_info"))
    stored = await platform_of(request).write(lambda c: service.start_trace(c, info))
    return JSONResponse({"trace": {"trace_info": wire.trace_info_json(stored)}})


@v3_router.post(
    "/search",
    dependencies=READ,
    openapi_extra=OBJECT_BODY,
)
async def search_traces(request: Request) -> Response:
    """Search the traces of experiments (MLflow's trace filter grammar, order_by, paging)."""
    data = await read_json_object(request)
    locations = wire.field(data, "locations") or []
    experiment_ids = [
        str(wire.field(wire.field(location, "mlflow_experiment") or {}, "experiment_id"))
        for location in locations
        if isinstance(location, dict) and wire.field(location, "mlflow_experiment")
    ]
    experiment_ids += _string_list(data, "experiment_ids")
    return await search_traces_page(request, data, experiment_ids, wire.trace_info_json)


async def search_traces_page(
    request: Request,
    data: dict[str, Any],
    experiment_ids: list[str],
    info_json: Callable[[TraceInfo], dict[str, Any]],
) -> Response:
    """One search for both API versions; they differ in how experiments are named and infos are shaped."""
    page = await platform_of(request).read(
        lambda c: service.search_traces(
            c,
            experiment_ids=experiment_ids,
            filter_string=wire.field(data, "filter"),
            max_results=_optional_int(data, "max_results"),
            order_by=_string_list(data, "order_by"),
            page_token=wire.field(data, "page_token") or None,
        )
    )
    body: dict[str, Any] = {"traces": [info_json(info) for info in page.items]}
    if page.next_page_token:
        body["next_page_token"] = page.next_page_token
    return JSONResponse(body)


@v3_router.post(
    "/batchGetInfos",
    dependencies=READ,
    openapi_extra=OBJECT_BODY,
)
async def batch_get_trace_infos(request: Request) -> Response:
    """Trace infos by id (no spans)."""
    data = await read_json_object(request)
    trace_ids = _string_list(data, "trace_ids")
    experiment_ids = _string_list(data, "experiment_ids") if "experiment_ids" in data else None
    infos = await platform_of(request).read(lambda c: service.batch_get_trace_infos(c, trace_ids, experiment_ids))
    return JSONResponse({"trace_infos": [wire.trace_info_json(info) for info in infos]})


@v3_router.get("/batchGet", dependencies=READ)
async def batch_get_traces(request: Request) -> Response:
    """Whole traces (info and spans) by id."""
    data = await _params(request)
    trace_ids = _string_list(data, "trace_ids")
    experiment_ids = _string_list(data, "experiment_ids") if "experiment_ids" in data else None
    traces = await platform_of(request).read(lambda c: service.batch_get_traces(c, trace_ids, experiment_ids))
    return _raw_json(b'{"traces":[' + b",".join(_trace_bytes(t) for t in traces) + b"]}")


@v3_router.get("/get", dependencies=READ)
async def get_trace(request: Request) -> Response:
    """One whole trace (info and spans)."""
    data = await _params(request)
    trace_id = wire.field(data, "trace_id")
    trace = await platform_of(request).read(lambda c: service.get_trace(c, trace_id))
    return _raw_json(b'{"trace":' + _trace_bytes(trace) + b"}")


@v3_router.post(
    "/calculate-filter-correlation",
    dependencies=READ,
    openapi_extra=OBJECT_BODY,
)
async def calculate_filter_correlation(request: Request) -> Response:
    """How strongly two filters match the same traces (NPMI), as MLflow's UI shows it."""
    data = await read_json_object(request)
    result = await platform_of(request).read(
        lambda c: service.calculate_filter_correlation(
            c,
            experiment_ids=_string_list(data, "experiment_ids"),
            filter_string1=wire.field(data, "filter_string1"),
            filter_string2=wire.field(data, "filter_string2"),
            base_filter=wire.field(data, "base_filter"),
        )
    )
    return JSONResponse(wire.correlation_json(result))


@v3_router.post(
    "/delete-traces",
    dependencies=EDIT,
    openapi_extra=OBJECT_BODY,
)
async def delete_traces_v3(request: Request) -> Response:
    """Delete traces by id or by age."""
    return await _delete_traces(request)


async def _delete_traces(request: Request) -> Response:
    data = await read_json_object(request)
    experiment_id = wire.field(data, "experiment_id")
    if not experiment_id:
        raise InvalidParameter("Missing value for required parameter 'experiment_id'.")
    deleted = await platform_of(request).write(
        lambda c: service.delete_traces(
            c,
            str(experiment_id),
            max_timestamp_millis=_optional_int(data, "max_timestamp_millis"),
            max_traces=_optional_int(data, "max_traces"),
            trace_ids=_string_list(data, "request_ids") or _string_list(data, "trace_ids"),
        )
    )
    return JSONResponse({"traces_deleted": deleted})


@v3_router.get("/{trace_id}", dependencies=READ)
async def get_trace_info(request: Request, trace_id: str) -> Response:
    """A trace's info."""
    info = await platform_of(request).read(lambda c: service.get_trace_info(c, trace_id))
    return JSONResponse({"trace": {"trace_info": wire.trace_info_json(info)}})


@v3_router.patch(
    "/{trace_id}/tags",
    dependencies=EDIT,
    openapi_extra=OBJECT_BODY,
)
@v2_router.patch(
    "/{trace_id}/tags",
    dependencies=EDIT,
    openapi_extra=OBJECT_BODY,
)
async def set_trace_tag(request: Request, trace_id: str) -> Response:
    """Set a tag on a trace."""
    data = await read_json_object(request)
    key, value = wire.field(data, "key"), wire.field(data, "value")
    await platform_of(request).write(lambda c: service.set_trace_tag(c, trace_id, key, value))
    return JSONResponse({})


@v3_router.delete(
    "/{trace_id}/tags",
    dependencies=EDIT,
    openapi_extra=OBJECT_BODY,
)
@v2_router.delete(
    "/{trace_id}/tags",
    dependencies=EDIT,
    openapi_extra=OBJECT_BODY,
)
async def delete_trace_tag(request: Request, trace_id: str) -> Response:
    """Delete a tag from a trace."""
    data = await _params(request)
    key = wire.field(data, "key")
    await platform_of(request).write(lambda c: service.delete_trace_tag(c, trace_id, key))
    return JSONResponse({})


@v3_router.post(
    "/{trace_id}/assessments",
    dependencies=EDIT,
    openapi_extra=OBJECT_BODY,
)
async def create_assessment(request: Request, trace_id: str) -> Response:
    """Attach feedback or an expectation to a trace."""
    data = await read_json_object(request)
    assessment = wire.parse_assessment(wire.field(data, "assessment"), trace_id)
    created = await platform_of(request).write(lambda c: assessments.create_assessment(c, assessment))
    return JSONResponse({"assessment": wire.assessment_json(created)})


@v3_router.get("/{trace_id}/assessments/{assessment_id}", dependencies=READ)
async def get_assessment(request: Request, trace_id: str, assessment_id: str) -> Response:
    """One assessment."""
    found = await platform_of(request).read(lambda c: assessments.get_assessment(c, trace_id, assessment_id))
    return JSONResponse({"assessment": wire.assessment_json(found)})


@v3_router.patch(
    "/{trace_id}/assessments/{assessment_id}",
    dependencies=EDIT,
    openapi_extra=OBJECT_BODY,
)
async def update_assessment(request: Request, trace_id: str, assessment_id: str) -> Response:
    """Change the fields of an assessment its update mask names."""
    data = await read_json_object(request)
    paths = wire.update_mask_paths(wire.field(data, "update_mask"))
    change = wire.parse_assessment_update(wire.field(data, "assessment"), paths)
    updated = await platform_of(request).write(
        lambda c: assessments.update_assessment(c, trace_id, assessment_id, change)
    )
    return JSONResponse({"assessment": wire.assessment_json(updated)})


@v3_router.delete(
    "/{trace_id}/assessments/{assessment_id}",
    dependencies=EDIT,
    openapi_extra=OBJECT_BODY,
)
async def delete_assessment(request: Request, trace_id: str, assessment_id: str) -> Response:
    """Delete an assessment."""
    await platform_of(request).write(lambda c: assessments.delete_assessment(c, trace_id, assessment_id))
    return JSONResponse({})


# --- v2 ---------------------------------------------------------------------------------------------------


@v2_router.post(
    "",
    dependencies=EDIT,
    openapi_extra=OBJECT_BODY,
)
async def start_trace_v2(request: Request) -> Response:
    """Begin a trace (MLflow 2's two-call protocol)."""
    data = await read_json_object(request)
    experiment_id = wire.field(data, "experiment_id")
    if not experiment_id:
        raise InvalidParameter("Missing value for required parameter 'experiment_id'.")
    timestamp = _optional_int(data, "timestamp_ms")
    info = TraceInfo(
        trace_id="tr-" + uuid.uuid4().hex,
        experiment_id=str(experiment_id),
        request_time_ms=now_ms() if timestamp is None else timestamp,
        execution_duration_ms=None,
        state=TraceState.IN_PROGRESS,
        metadata=wire.string_map(wire.field(data, "request_metadata"), "request_metadata"),
        tags=wire.string_map(wire.field(data, "tags"), "tags"),
    )
    stored = await platform_of(request).write(lambda c: service.start_trace(c, info))
    return JSONResponse({"trace_info": wire.trace_info_v2_json(stored)})


@v2_router.patch(
    "/{request_id}",
    dependencies=EDIT,
    openapi_extra=OBJECT_BODY,
)
async def end_trace_v2(request: Request, request_id: str) -> Response:
    """Finish a trace begun with the v2 call."""
    data = await read_json_object(request)
    end = _optional_int(data, "timestamp_ms")
    status = wire.parse_v2_status(wire.field(data, "status"))
    metadata = wire.string_map(wire.field(data, "request_metadata"), "request_metadata")
    tags = wire.string_map(wire.field(data, "tags"), "tags")

    def finish(connection: Any) -> TraceInfo:
        current = service.get_trace_info(connection, request_id)
        current.state = status
        current.execution_duration_ms = None if end is None else max(0, end - current.request_time_ms)
        current.metadata = metadata
        current.tags = tags
        current.assessments = []
        return service.start_trace(connection, current)

    stored = await platform_of(request).write(finish)
    return JSONResponse({"trace_info": wire.trace_info_v2_json(stored)})


@v2_router.get("/{request_id}/info", dependencies=READ)
async def get_trace_info_v2(request: Request, request_id: str) -> Response:
    """A trace's info in the v2 shape."""
    info = await platform_of(request).read(lambda c: service.get_trace_info(c, request_id))
    return JSONResponse({"trace_info": wire.trace_info_v2_json(info)})


@v2_router.get("", dependencies=READ)
async def search_traces_v2(request: Request) -> Response:
    """Search traces (the v2 query-string form)."""
    data = await _params(request)
    return await search_traces_page(request, data, _string_list(data, "experiment_ids"), wire.trace_info_v2_json)


@v2_router.post(
    "/delete-traces",
    dependencies=EDIT,
    openapi_extra=OBJECT_BODY,
)
async def delete_traces_v2(request: Request) -> Response:
    """Delete traces by id or by age."""
    return await _delete_traces(request)


@v2_router.post(
    "/link-to-run",
    dependencies=EDIT,
    openapi_extra=OBJECT_BODY,
)
async def link_traces_to_run(request: Request) -> Response:
    """Associate traces with a run."""
    data = await read_json_object(request)
    trace_ids = _string_list(data, "trace_ids")
    run_id = wire.field(data, "run_id")
    await platform_of(request).write(lambda c: service.link_traces_to_run(c, trace_ids, run_id))
    return JSONResponse({})
