"""MLflow's trace JSON (protobuf JSON mapping of ``TraceInfoV3``, ``Assessment``, v2 ``TraceInfo``).

Times are RFC 3339 timestamps (``"2025-01-02T03:04:05.678Z"``) and durations seconds with a suffix
(``"0.055s"``), as protobuf's JSON mapping writes ``Timestamp`` and ``Duration``. Requests may spell
fields in snake case (MLflow's client) or lower camel case (protobuf's default); both are read.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any

from runyard.domain.traces import (
    Assessment,
    AssessmentKind,
    TraceInfo,
    TraceState,
    truncate_preview,
)
from runyard.domain.traces_correlation import Correlation
from runyard.errors import InvalidParameter
from runyard.services.trace_assessments import AssessmentUpdate, AssessmentValue, build

_FRACTION = re.compile(r"\.(\d+)")
_DURATION = re.compile(r"^(-?\d+(?:\.\d+)?)s$")
# Assessment wire fields kept apart from its opaque body.
_ASSESSMENT_OWN_FIELDS = frozenset(
    {
        "assessment_id",
        "assessment_name",
        "trace_id",
        "create_time",
        "last_update_time",
        "valid",
        "feedback",
        "expectation",
    }
)
_CAMEL = re.compile(r"_([a-z])")


def field(data: dict[str, Any], name: str, default: Any = None) -> Any:
    """``data[name]``, or its lowerCamelCase spelling."""
    if name in data:
        return data[name]
    return data.get(_CAMEL.sub(lambda m: m.group(1).upper(), name), default)


def timestamp_json(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_timestamp(value: Any, name: str) -> int:
    """Milliseconds since the epoch of an RFC 3339 timestamp (or of a plain number of milliseconds)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if not isinstance(value, str):
        raise InvalidParameter(f"Invalid value {json.dumps(value)} for parameter '{name}': expected an RFC 3339 time.")
    # Python reads at most microseconds; protobuf may write nanoseconds.
    text = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), value.strip()).replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidParameter(
            f"Invalid value {json.dumps(value)} for parameter '{name}': expected an RFC 3339 time."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000 + 0.5) if moment.timestamp() >= 0 else int(moment.timestamp() * 1000)


def duration_json(ms: int) -> str:
    return f"{ms / 1000:.3f}s"


def parse_duration(value: Any, name: str) -> int:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    match = _DURATION.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise InvalidParameter(
            f"Invalid value {json.dumps(value)} for parameter '{name}': expected a duration like '1.5s'."
        )
    return round(float(match.group(1)) * 1000)


def _string_map(value: Any, name: str) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, list):  # v2 form: [{"key": …, "value": …}]
        return {str(item.get("key")): str(item.get("value") or "") for item in value if isinstance(item, dict)}
    if not isinstance(value, dict):
        raise InvalidParameter(f"Invalid value for parameter '{name}': expected an object of strings.")
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


# --- trace info -------------------------------------------------------------------------------------


def trace_info_json(info: TraceInfo) -> dict[str, Any]:
    data: dict[str, Any] = {
        "trace_id": info.trace_id,
        "trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": info.experiment_id}},
        "request_time": timestamp_json(info.request_time_ms),
        "state": info.state.value,
        "trace_metadata": info.metadata,
        "tags": info.tags,
        "assessments": [assessment_json(a) for a in info.assessments],
    }
    if info.client_request_id:
        data["client_request_id"] = info.client_request_id
    if info.execution_duration_ms is not None:
        data["execution_duration"] = duration_json(info.execution_duration_ms)
    if info.request_preview is not None:
        data["request_preview"] = info.request_preview
    if info.response_preview is not None:
        data["response_preview"] = info.response_preview
    return data


def parse_trace_info(data: Any) -> TraceInfo:
    """The ``trace_info`` of a start-trace request."""
    if not isinstance(data, dict):
        raise InvalidParameter("Missing value for required parameter 'trace.trace_info'.")
    trace_id = field(data, "trace_id")
    if not trace_id or not isinstance(trace_id, str):
        raise InvalidParameter("Missing value for required parameter 'trace.trace_info.trace_id'.")
    location = field(data, "trace_location") or {}
    experiment = field(location, "mlflow_experiment") or {}
    experiment_id = field(experiment, "experiment_id")
    if not experiment_id:
        raise InvalidParameter(
            "Missing value for required parameter 'trace.trace_info.trace_location.mlflow_experiment.experiment_id'."
        )
    state_text = field(data, "state") or TraceState.STATE_UNSPECIFIED.value
    try:
        state = TraceState(state_text)
    except ValueError:
        raise InvalidParameter(f"Invalid trace state '{state_text}'.") from None
    request_time = field(data, "request_time")
    duration = field(data, "execution_duration")
    info = TraceInfo(
        trace_id=trace_id,
        experiment_id=str(experiment_id),
        request_time_ms=0 if request_time is None else parse_timestamp(request_time, "request_time"),
        execution_duration_ms=None if duration is None else parse_duration(duration, "execution_duration"),
        state=state,
        client_request_id=field(data, "client_request_id"),
        request_preview=truncate_preview(field(data, "request_preview")),
        response_preview=truncate_preview(field(data, "response_preview")),
        metadata=_string_map(field(data, "trace_metadata"), "trace_metadata"),
        tags=_string_map(field(data, "tags"), "tags"),
    )
    info.assessments = [parse_assessment(a, trace_id) for a in field(data, "assessments") or []]
    return info


# --- assessments ------------------------------------------------------------------------------------


def assessment_json(assessment: Assessment) -> dict[str, Any]:
    return {
        "assessment_id": assessment.assessment_id,
        "assessment_name": assessment.name,
        "trace_id": assessment.trace_id,
        **assessment.body,
        "create_time": timestamp_json(assessment.create_time_ms),
        "last_update_time": timestamp_json(assessment.last_update_time_ms),
        "valid": assessment.valid,
    }


def _value(data: dict[str, Any]) -> AssessmentValue | None:
    feedback = field(data, "feedback")
    expectation = field(data, "expectation")
    if feedback is not None and expectation is not None:
        raise InvalidParameter("An assessment cannot have both an expectation and a feedback value.")
    if feedback is not None:
        if not isinstance(feedback, dict):
            raise InvalidParameter("Invalid value for parameter 'feedback': expected an object.")
        value = feedback.get("value")
        return AssessmentValue(AssessmentKind.FEEDBACK, None if value is None else json.dumps(value), feedback)
    if expectation is not None:
        if not isinstance(expectation, dict):
            raise InvalidParameter("Invalid value for parameter 'expectation': expected an object.")
        serialized = field(expectation, "serialized_value")
        if isinstance(serialized, dict):
            text = serialized.get("value")
            return AssessmentValue(AssessmentKind.EXPECTATION, text if isinstance(text, str) else None, expectation)
        value = expectation.get("value")
        return AssessmentValue(AssessmentKind.EXPECTATION, None if value is None else json.dumps(value), expectation)
    return None


def parse_assessment(data: Any, trace_id: str) -> Assessment:
    if not isinstance(data, dict):
        raise InvalidParameter("Missing value for required parameter 'assessment'.")
    body = {key: value for key, value in data.items() if key not in _ASSESSMENT_OWN_FIELDS and value is not None}
    body = {_CAMEL_TO_SNAKE.get(key, key): value for key, value in body.items()}
    created = field(data, "create_time")
    updated = field(data, "last_update_time")
    valid = field(data, "valid")
    return build(
        trace_id,
        field(data, "assessment_name"),
        _value(data),
        body,
        assessment_id=field(data, "assessment_id") or None,
        create_time_ms=None if created is None else parse_timestamp(created, "create_time"),
        last_update_time_ms=None if updated is None else parse_timestamp(updated, "last_update_time"),
        valid=True if valid is None else bool(valid),
    )


_CAMEL_TO_SNAKE = {"spanId": "span_id", "runId": "run_id"}


def parse_assessment_update(data: Any, paths: list[str]) -> AssessmentUpdate:
    """The fields of ``data`` an update mask names (MLflow's ``UpdateAssessment``)."""
    if not isinstance(data, dict):
        raise InvalidParameter("Missing value for required parameter 'assessment'.")
    change = AssessmentUpdate()
    for path in paths:
        if path == "assessment_name":
            change.name = field(data, "assessment_name")
        elif path in ("feedback", "expectation"):
            change.value = _value({path: field(data, path)})
        elif path == "rationale":
            change.rationale = field(data, "rationale") or ""
        elif path == "metadata":
            change.metadata = _string_map(field(data, "metadata"), "metadata")
        elif path == "valid":
            change.valid = bool(field(data, "valid"))
        else:
            raise InvalidParameter(f"Invalid update mask path '{path}'.")
    return change


def update_mask_paths(value: Any) -> list[str]:
    """An update mask, as ``{"paths": [...]}`` or protobuf's JSON form ``"a,b"``."""
    if isinstance(value, str):
        return [_snake(p) for p in value.split(",") if p.strip()]
    if isinstance(value, dict) and isinstance(value.get("paths"), list):
        return [_snake(str(p)) for p in value["paths"]]
    raise InvalidParameter("Missing value for required parameter 'update_mask'.")


def _snake(name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name.strip())


def _double(value: float) -> float | str:
    # Protobuf's JSON mapping writes non-finite doubles as strings.
    if math.isnan(value):
        return "NaN"
    return value


def correlation_json(result: Correlation) -> dict[str, Any]:
    return {
        "npmi": _double(result.npmi),
        "npmi_smoothed": _double(result.npmi_smoothed),
        "filter1_count": result.filter1_count,
        "filter2_count": result.filter2_count,
        "joint_count": result.joint_count,
        "total_count": result.total_count,
    }


# --- v2 -----------------------------------------------------------------------------------------------

_V2_STATUS = {TraceState.STATE_UNSPECIFIED: "TRACE_STATUS_UNSPECIFIED"}


def trace_info_v2_json(info: TraceInfo) -> dict[str, Any]:
    data: dict[str, Any] = {
        "request_id": info.trace_id,
        "experiment_id": info.experiment_id,
        "timestamp_ms": info.request_time_ms,
        "status": _V2_STATUS.get(info.state, info.state.value),
        "request_metadata": [{"key": k, "value": v} for k, v in info.metadata.items()],
        "tags": [{"key": k, "value": v} for k, v in info.tags.items()],
    }
    if info.execution_duration_ms is not None:
        data["execution_time_ms"] = info.execution_duration_ms
    return data


def parse_v2_status(value: Any) -> TraceState:
    if value in (None, "", "TRACE_STATUS_UNSPECIFIED"):
        return TraceState.STATE_UNSPECIFIED
    try:
        return TraceState(value)
    except ValueError:
        raise InvalidParameter(f"Invalid trace status '{value}'.") from None


def string_map(value: Any, name: str) -> dict[str, str]:
    return _string_map(value, name)
