"""OTLP ``POST /v1/traces``: OpenTelemetry exporters and hand-made bodies (protobuf, JSON, gzip, deflate)."""

from __future__ import annotations

import gzip
import json
import os
import zlib

import httpx
import pytest
from mlflow import MlflowClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from tests.conftest import unique
from tests.support.servers import LiveServer

HEADER = "x-mlflow-experiment-id"


@pytest.fixture
def experiment_id(mlflow_client: MlflowClient) -> str:
    return str(mlflow_client.create_experiment(unique("otlp")))


def _request(trace_id: bytes, count: int, *, service: str = "checkout") -> ExportTraceServiceRequest:
    """One trace: a root span and ``count - 1`` children, each 1 ms long."""
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.append(KeyValue(key="service.name", value=AnyValue(string_value=service)))
    scope = resource_spans.scope_spans.add()
    start = 1_700_000_000_000_000_000
    for index in range(count):
        span = Span(
            trace_id=trace_id,
            span_id=(index + 1).to_bytes(8, "big"),
            name="root" if index == 0 else f"child-{index}",
            start_time_unix_nano=start + index * 1_000_000,
            end_time_unix_nano=start + (index + 1) * 1_000_000 + (count * 1_000_000 if index == 0 else 0),
            status=Status(code=Status.STATUS_CODE_OK),
        )
        if index:
            span.parent_span_id = (1).to_bytes(8, "big")
        span.attributes.append(KeyValue(key="http.method", value=AnyValue(string_value="GET")))
        scope.spans.append(span)
    return request


def _post(server: LiveServer, body: bytes, experiment_id: str, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/traces",
        content=body,
        headers={"content-type": "application/x-protobuf", HEADER: experiment_id, **headers},
        timeout=120,
    )


def test_ten_thousand_span_trace_loads_in_one_request(
    server: LiveServer, mlflow_client: MlflowClient, experiment_id: str
) -> None:
    trace_id = os.urandom(16)
    response = _post(server, _request(trace_id, 10_000).SerializeToString(), experiment_id)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-protobuf"
    mlflow_id = "tr-" + trace_id.hex()

    # One GET returns the whole trace.
    whole = httpx.get(f"{server.url}/api/3.0/mlflow/traces/get", params={"trace_id": mlflow_id}, timeout=120)
    assert whole.status_code == 200
    assert len(whole.json()["trace"]["spans"]) == 10_000

    trace = mlflow_client.get_trace(mlflow_id)
    assert len(trace.data.spans) == 10_000
    assert trace.info.experiment_id == experiment_id
    assert trace.info.state.value == "OK"
    assert trace.info.tags["mlflow.traceName"] == "root"
    assert trace.info.tags["service.name"] == "checkout"
    root = next(span for span in trace.data.spans if span.parent_id is None)
    assert root.name == "root"
    assert sum(1 for span in trace.data.spans if span.parent_id == root.span_id) == 9_999


def test_json_gzip_and_deflate_bodies(server: LiveServer, mlflow_client: MlflowClient, experiment_id: str) -> None:
    json_id, gzip_id, deflate_id = (os.urandom(16) for _ in range(3))
    span = {
        "traceId": json_id.hex(),
        "spanId": "00000000000000aa",
        "name": "from-json",
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000000500000000",
        "status": {"code": 2, "message": "boom"},
        "attributes": [{"key": "mlflow.spanType", "value": {"stringValue": "LLM"}}],
    }
    body = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}).encode()
    response = httpx.post(
        f"{server.url}/v1/traces", content=body, headers={"content-type": "application/json", HEADER: experiment_id}
    )
    assert response.status_code == 200, response.text
    trace = mlflow_client.get_trace("tr-" + json_id.hex())
    assert trace.info.state.value == "ERROR"
    assert trace.info.execution_duration == 500
    assert trace.data.spans[0].name == "from-json"
    assert trace.data.spans[0].span_type == "LLM"

    assert _post(server, gzip.compress(_request(gzip_id, 3).SerializeToString()), experiment_id,
                 **{"content-encoding": "gzip"}).status_code == 200  # fmt: skip
    assert _post(server, zlib.compress(_request(deflate_id, 4).SerializeToString()), experiment_id,
                 **{"content-encoding": "deflate"}).status_code == 200  # fmt: skip
    assert len(mlflow_client.get_trace("tr-" + gzip_id.hex()).data.spans) == 3
    assert len(mlflow_client.get_trace("tr-" + deflate_id.hex()).data.spans) == 4

    found = mlflow_client.search_traces(locations=[experiment_id], filter_string="span.type = 'LLM'")
    assert [t.info.trace_id for t in found] == ["tr-" + json_id.hex()]


def test_spans_sent_in_several_batches_make_one_trace(
    server: LiveServer, mlflow_client: MlflowClient, experiment_id: str
) -> None:
    trace_id = os.urandom(16)
    request = _request(trace_id, 5)
    spans = list(request.resource_spans[0].scope_spans[0].spans)
    children, root = spans[1:], spans[0]
    for part in (children, [root]):  # children first, as exporters send them
        batch = ExportTraceServiceRequest()
        batch.resource_spans.add().scope_spans.add().spans.extend(part)
        assert _post(server, batch.SerializeToString(), experiment_id).status_code == 200
    trace = mlflow_client.get_trace("tr-" + trace_id.hex())
    assert len(trace.data.spans) == 5
    assert trace.info.state.value == "OK"
    assert trace.info.request_time == 1_700_000_000_000


@pytest.mark.parametrize(
    ("body", "headers", "message"),
    [
        (b"not protobuf", {}, "Invalid OpenTelemetry format"),
        (ExportTraceServiceRequest().SerializeToString(), {}, "no spans found"),
        (b"x", {"content-type": "text/plain"}, "Invalid Content-Type"),
        (b"x", {"content-encoding": "gzip"}, "not valid gzip data"),
        (b"x", {"content-encoding": "br"}, "Unsupported Content-Encoding"),
    ],
)
def test_bad_bodies_are_400s(
    server: LiveServer, experiment_id: str, body: bytes, headers: dict[str, str], message: str
) -> None:
    response = _post(server, body, experiment_id, **headers)
    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert message in response.json()["message"]


def test_missing_or_unknown_experiment_is_refused(server: LiveServer) -> None:
    body = _request(os.urandom(16), 1).SerializeToString()
    response = httpx.post(f"{server.url}/v1/traces", content=body, headers={"content-type": "application/x-protobuf"})
    assert response.status_code == 400
    assert HEADER in response.json()["message"]
    assert _post(server, body, "987654").status_code == 404


def test_opentelemetry_sdk_exporter(server: LiveServer, mlflow_client: MlflowClient, experiment_id: str) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    exporter = OTLPSpanExporter(endpoint=f"{server.url}/v1/traces", headers={HEADER: experiment_id})
    provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("tests")
    with tracer.start_as_current_span("handle-order") as root:
        root.set_attribute("order.id", "o-1")
        with tracer.start_as_current_span("charge-card"):
            pass
    provider.shutdown()
    trace_id = "tr-" + format(root.get_span_context().trace_id, "032x")
    trace = mlflow_client.get_trace(trace_id)
    assert {span.name for span in trace.data.spans} == {"handle-order", "charge-card"}
    assert trace.info.tags["service.name"] == "shop"
    assert trace.info.state.value == "OK"
    found = mlflow_client.search_traces(
        locations=[experiment_id], filter_string="span.attributes.order.id = 'o-1'", include_spans=False
    )
    assert [t.info.trace_id for t in found] == [trace_id]
