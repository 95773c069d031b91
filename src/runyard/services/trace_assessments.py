"""Assessments of traces: feedback (a judgement) and expectations (the expected answer).

An assessment may *override* an earlier one (``overrides`` names it): the earlier one stops being
valid, so searches and evaluations see only the newer; deleting the newer makes the earlier valid
again, as in MLflow.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from runyard.domain.clock import now_ms
from runyard.domain.traces import MAX_ASSESSMENT_NAME_LENGTH, Assessment, AssessmentKind, validate_trace_id
from runyard.errors import InvalidParameter, NotFound
from runyard.services import traces as trace_service
from runyard.stores.metadata import trace_assessments as store
from runyard.stores.metadata import traces as trace_store


@dataclass(frozen=True, slots=True)
class AssessmentValue:
    """What kind an assessment is, its value as JSON text, and the wire object holding the value."""

    kind: AssessmentKind
    value_json: str | None
    value_field: dict[str, Any]


@dataclass(slots=True)
class AssessmentUpdate:
    """The fields an update names (``None``: leave as is)."""

    name: str | None = None
    value: AssessmentValue | None = None
    rationale: str | None = None
    metadata: dict[str, str] | None = None
    valid: bool | None = None


def new_assessment_id() -> str:
    return "a-" + uuid.uuid4().hex


def _validate_name(name: str | None) -> str:
    if not name:
        raise InvalidParameter("Missing value for required parameter 'assessment_name'.")
    if len(name) > MAX_ASSESSMENT_NAME_LENGTH:
        raise InvalidParameter(f"Assessment name exceeds the maximum length of {MAX_ASSESSMENT_NAME_LENGTH}.")
    return name


def build(
    trace_id: str,
    name: str | None,
    value: AssessmentValue | None,
    body: dict[str, Any],
    *,
    assessment_id: str | None = None,
    create_time_ms: int | None = None,
    last_update_time_ms: int | None = None,
    valid: bool = True,
) -> Assessment:
    """A new assessment of ``trace_id`` from its wire fields (ids and times filled in when absent)."""
    if value is None:
        raise InvalidParameter("An assessment must have either an expectation or a feedback value.")
    now = now_ms()
    created = create_time_ms or now
    return Assessment(
        assessment_id=assessment_id or new_assessment_id(),
        trace_id=trace_id,
        name=_validate_name(name),
        kind=value.kind,
        value_json=value.value_json,
        valid=valid,
        create_time_ms=created,
        last_update_time_ms=last_update_time_ms or created,
        body={**body, value.kind.value: value.value_field},
    )


def create_assessment(connection: Connection, assessment: Assessment) -> Assessment:
    trace_id = validate_trace(connection, assessment.trace_id)
    overrides = assessment.body.get("overrides")
    if overrides:
        if store.get_assessment(connection, trace_id, overrides) is None:
            raise NotFound(f"Assessment with ID '{overrides}' not found for trace '{trace_id}'")
        store.set_valid(connection, overrides, False)
    store.insert_assessments(connection, [assessment])
    return get_assessment(connection, trace_id, assessment.assessment_id)


def validate_trace(connection: Connection, trace_id: str | None) -> str:
    trace_id = trace_service.get_trace_info(connection, trace_id).trace_id  # in this workspace
    if trace_store.lock_trace(connection, trace_id) is None:
        raise trace_service.not_found(trace_id)
    return trace_id


def get_assessment(connection: Connection, trace_id: str | None, assessment_id: str | None) -> Assessment:
    trace_id = validate_trace_id(trace_id)
    if not assessment_id:
        raise InvalidParameter("Missing value for required parameter 'assessment_id'.")
    assessment = store.get_assessment(connection, trace_id, assessment_id)
    if assessment is None:
        raise NotFound(f"Assessment with ID '{assessment_id}' not found for trace '{trace_id}'")
    return assessment


def update_assessment(
    connection: Connection, trace_id: str | None, assessment_id: str | None, change: AssessmentUpdate
) -> Assessment:
    validate_trace(connection, trace_id)
    assessment = get_assessment(connection, trace_id, assessment_id)
    if change.name is not None:
        assessment.name = _validate_name(change.name)
    if change.value is not None:
        if change.value.kind is not assessment.kind:
            raise InvalidParameter(
                f"Cannot update {change.value.kind.value} value on an {assessment.kind.value.capitalize()} assessment."
            )
        assessment.value_json = change.value.value_json
        assessment.body[assessment.kind.value] = change.value.value_field
    if change.rationale is not None:
        assessment.body["rationale"] = change.rationale
    if change.metadata is not None:
        assessment.body["metadata"] = {**assessment.body.get("metadata", {}), **change.metadata}
    if change.valid is not None:
        assessment.valid = change.valid
    assessment.last_update_time_ms = now_ms()
    store.replace_assessment(connection, assessment)
    return assessment


def delete_assessment(connection: Connection, trace_id: str | None, assessment_id: str | None) -> None:
    """Delete an assessment (a missing one is not an error, as in MLflow)."""
    trace_id = validate_trace(connection, trace_id)
    if not assessment_id:
        raise InvalidParameter("Missing value for required parameter 'assessment_id'.")
    assessment = store.get_assessment(connection, trace_id, assessment_id)
    if assessment is None:
        return
    overrides = assessment.body.get("overrides")
    if overrides:
        store.set_valid(connection, overrides, True)
    store.delete_assessment(connection, assessment_id)
