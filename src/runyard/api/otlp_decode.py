"""OTLP/HTTP trace export bodies → runyard spans.

Bodies are ``ExportTraceServiceRequest`` messages, binary protobuf or protobuf JSON (where, per the
OTLP spec, trace and span ids are hex rather than protobuf's base64), optionally gzip- or
deflate-compressed. Each span is kept as its protobuf JSON mapping, the form MLflow's client reads
back in a ``Trace``, written compactly (no spaces, non-ASCII text as is) so span searches can match it.
"""

from __future__ import annotations

import base64
import gzip
import json
import math
import zlib
from typing import Any

import orjson
from google.protobuf.json_format import MessageToDict, ParseDict
from google.protobuf.json_format import ParseError as ProtoJsonError
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as OtlpSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from runyard.domain.traces import (
    SPAN_TYPE_ATTRIBUTE,
    Span,
    SpanBatch,
    StoredSpan,
    decode_attribute,
    otel_trace_id,
    trace_id_from_otel,
)
from runyard.errors import InvalidParameter

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
MAX_BODY_BYTES = 64 * 1024 * 1024
_HEX_ID_FIELDS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")
_STATUS = {Status.STATUS_CODE_OK: "OK", Status.STATUS_CODE_ERROR: "ERROR"}


def decompress(body: bytes, encoding: str | None) -> bytes:
    """``body`` without its content encoding (``gzip``, ``deflate`` or none)."""
    name = (encoding or "identity").strip().lower()
    try:
        if name == "gzip":
            return _bounded(gzip.decompress(body))
        if name == "deflate":
            try:
                return _bounded(zlib.decompress(body))
            except zlib.error:
                return _bounded(zlib.decompress(body, -zlib.MAX_WBITS))  # raw deflate, no zlib header
    except (OSError, EOFError, zlib.error):
        raise InvalidParameter(f"The request body is not valid {name} data.") from None
    if name == "identity":
        return body
    raise InvalidParameter(f"Unsupported Content-Encoding '{encoding}'. Supported: gzip, deflate.")


def _bounded(body: bytes) -> bytes:
    if len(body) > MAX_BODY_BYTES:
        raise InvalidParameter(f"The decompressed request body exceeds {MAX_BODY_BYTES} bytes.")
    return body


def _hex_ids_to_base64(data: Any) -> Any:
    for resource_spans in _list(data, "resourceSpans", "resource_spans"):
        for scope_spans in _list(resource_spans, "scopeSpans", "scope_spans"):
            for span in _list(scope_spans, "spans"):
                for name in _HEX_ID_FIELDS:
                    value = span.get(name) if isinstance(span, dict) else None
                    if isinstance(value, str) and value:
                        try:
                            span[name] = base64.b64encode(bytes.fromhex(value)).decode("ascii")
                        except ValueError:
                            raise InvalidParameter(f"Invalid OpenTelemetry format: '{name}' is not hex.") from None
    return data


def _list(data: Any, *names: str) -> list[Any]:
    if not isinstance(data, dict):
        return []
    for name in names:
        value = data.get(name)
        if isinstance(value, list):
            return value
    return []


def parse_request(body: bytes, media_type: str) -> ExportTraceServiceRequest:
    message = ExportTraceServiceRequest()
    try:
        if media_type == JSON:
            ParseDict(_hex_ids_to_base64(json.loads(body)), message, ignore_unknown_fields=True)
        else:
            message.ParseFromString(body)
    except (DecodeError, ProtoJsonError, ValueError, TypeError):
        raise InvalidParameter("Invalid OpenTelemetry format: the body is not an ExportTraceServiceRequest.") from None
    if not any(scope.spans for resource in message.resource_spans for scope in resource.scope_spans):
        raise InvalidParameter("Invalid OpenTelemetry format - no spans found")
    return message


def any_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {item.key: any_value(item.value) for item in value.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return None if kind is None else getattr(value, kind)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _double(value: float) -> float | str:
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _value_json(value: AnyValue) -> dict[str, Any]:
    """``MessageToDict`` of an ``AnyValue``, written directly (it is most of a span's encoding cost)."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return {"string_value": value.string_value}
    if kind == "int_value":
        return {"int_value": str(value.int_value)}
    if kind == "bool_value":
        return {"bool_value": value.bool_value}
    if kind == "double_value":
        return {"double_value": _double(value.double_value)}
    if kind == "bytes_value":
        return {"bytes_value": _b64(value.bytes_value)}
    if kind == "array_value":
        items = [_value_json(item) for item in value.array_value.values]
        return {"array_value": {"values": items} if items else {}}
    if kind == "kvlist_value":
        pairs = [{"key": kv.key, "value": _value_json(kv.value)} for kv in value.kvlist_value.values]
        return {"kvlist_value": {"values": pairs} if pairs else {}}
    return {}


ID_FIELDS = ("trace_id", "span_id", "parent_span_id")


def span_json(otlp: OtlpSpan) -> str:
    """The span's protobuf JSON mapping (field names as in the .proto) without its ids.

    The ids live in their own columns and are put back when the span is read (``span_with_ids``):
    kept out of the text, base64 ids can never match a search of span contents.
    """
    if otlp.events or otlp.links:
        # Rare enough to take the generic (slower) path.
        generic = MessageToDict(otlp, preserving_proto_field_name=True)
        for name in ID_FIELDS:
            generic.pop(name, None)
        return orjson.dumps(generic).decode()
    data: dict[str, Any] = {}
    if otlp.trace_state:
        data["trace_state"] = otlp.trace_state
    if otlp.flags:
        data["flags"] = otlp.flags
    if otlp.name:
        data["name"] = otlp.name
    if otlp.kind:
        data["kind"] = OtlpSpan.SpanKind.Name(otlp.kind)
    if otlp.start_time_unix_nano:
        data["start_time_unix_nano"] = str(otlp.start_time_unix_nano)
    if otlp.end_time_unix_nano:
        data["end_time_unix_nano"] = str(otlp.end_time_unix_nano)
    if otlp.attributes:
        data["attributes"] = [{"key": kv.key, "value": _value_json(kv.value)} for kv in otlp.attributes]
    for name in ("dropped_attributes_count", "dropped_events_count", "dropped_links_count"):
        if count := getattr(otlp, name):
            data[name] = count
    if otlp.HasField("status"):
        status: dict[str, Any] = {}
        if otlp.status.message:
            status["message"] = otlp.status.message
        if otlp.status.code:
            status["code"] = Status.StatusCode.Name(otlp.status.code)
        data["status"] = status
    return orjson.dumps(data).decode()


def span_with_ids(trace_id: str, span: StoredSpan) -> str:
    """A stored span's JSON with its ids put back, in the protobuf JSON form (base64)."""
    head = f'{{"trace_id":"{_b64(otel_trace_id(trace_id))}","span_id":"{_b64(bytes.fromhex(span.span_id))}"'
    if span.parent_span_id:
        head += f',"parent_span_id":"{_b64(bytes.fromhex(span.parent_span_id))}"'
    rest = span.content[1:]
    return head + ("}" if rest == "}" else "," + rest)


def _span(otlp: OtlpSpan) -> Span:
    if len(otlp.trace_id) != 16 or len(otlp.span_id) != 8:
        raise InvalidParameter("Invalid OpenTelemetry span: trace_id must be 16 bytes and span_id 8 bytes.")
    attributes = {item.key: decode_attribute(any_value(item.value)) for item in otlp.attributes}
    span_type = attributes.get(SPAN_TYPE_ATTRIBUTE)
    root = not otlp.parent_span_id
    return Span(
        trace_id=trace_id_from_otel(otlp.trace_id),
        span_id=otlp.span_id.hex(),
        parent_span_id=None if root else otlp.parent_span_id.hex(),
        name=otlp.name,
        span_type=span_type if isinstance(span_type, str) else None,
        status=_STATUS.get(otlp.status.code, "UNSET"),
        start_time_ns=otlp.start_time_unix_nano,
        end_time_ns=otlp.end_time_unix_nano or None,
        content=span_json(otlp),
        attributes=attributes if root else {},
    )


def _resource_tags(resource_attributes: dict[str, Any]) -> dict[str, str]:
    # The OTel SDK's own attributes and MLflow's reserved namespace are not the user's to set.
    return {
        key: value if isinstance(value, str) else json.dumps(value)
        for key, value in resource_attributes.items()
        if not key.startswith(("telemetry.sdk.", "mlflow."))
    }


def to_batch(message: ExportTraceServiceRequest) -> SpanBatch:
    spans: list[Span] = []
    resource_tags: dict[str, dict[str, str]] = {}
    for resource_spans in message.resource_spans:
        tags = _resource_tags({item.key: any_value(item.value) for item in resource_spans.resource.attributes})
        for scope_spans in resource_spans.scope_spans:
            for otlp in scope_spans.spans:
                span = _span(otlp)
                spans.append(span)
                if tags:
                    resource_tags.setdefault(span.trace_id, {}).update(tags)
    return SpanBatch(tuple(spans), resource_tags)
