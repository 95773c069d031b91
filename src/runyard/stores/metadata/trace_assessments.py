"""Assessment rows: feedback and expectations attached to traces."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from runyard.domain.traces import Assessment, AssessmentKind
from runyard.stores.metadata.trace_sql import among
from runyard.stores.metadata.trace_tables import trace_assessments

_CHUNK = 500


def numeric_value(value_json: str | None) -> float | None:
    """A JSON number or boolean as a float (what numeric assessment searches compare)."""
    if value_json is None:
        return None
    try:
        value = json.loads(value_json)
    except ValueError:
        return None
    if isinstance(value, bool | int | float) and math.isfinite(float(value)):
        return float(value)
    return None


def _row_values(assessment: Assessment) -> dict[str, Any]:
    return {
        "trace_id": assessment.trace_id,
        "name": assessment.name,
        "kind": assessment.kind.value,
        "value": assessment.value_json,
        "numeric_value": numeric_value(assessment.value_json),
        "valid": assessment.valid,
        "create_time": assessment.create_time_ms,
        "last_update_time": assessment.last_update_time_ms,
        "body": json.dumps(assessment.body, separators=(",", ":")),
    }


def insert_assessments(connection: Connection, assessments: Sequence[Assessment]) -> None:
    if assessments:
        connection.execute(
            insert(trace_assessments),
            [{"assessment_id": a.assessment_id, **_row_values(a)} for a in assessments],
        )


def replace_assessment(connection: Connection, assessment: Assessment) -> None:
    connection.execute(
        update(trace_assessments)
        .where(trace_assessments.c.assessment_id == assessment.assessment_id)
        .values(**_row_values(assessment))
    )


def set_valid(connection: Connection, assessment_id: str, valid: bool) -> None:
    connection.execute(
        update(trace_assessments).where(trace_assessments.c.assessment_id == assessment_id).values(valid=valid)
    )


def delete_assessment(connection: Connection, assessment_id: str) -> None:
    connection.execute(delete(trace_assessments).where(trace_assessments.c.assessment_id == assessment_id))


def _to_assessment(row: Row[Any]) -> Assessment:
    return Assessment(
        assessment_id=row.assessment_id,
        trace_id=row.trace_id,
        name=row.name,
        kind=AssessmentKind(row.kind),
        value_json=row.value,
        valid=bool(row.valid),
        create_time_ms=row.create_time,
        last_update_time_ms=row.last_update_time,
        body=json.loads(row.body),
    )


def get_assessment(connection: Connection, trace_id: str, assessment_id: str) -> Assessment | None:
    row = connection.execute(
        select(trace_assessments).where(
            trace_assessments.c.assessment_id == assessment_id, trace_assessments.c.trace_id == trace_id
        )
    ).first()
    return None if row is None else _to_assessment(row)


def assessments_by_trace(connection: Connection, trace_ids: Sequence[str]) -> dict[str, list[Assessment]]:
    """Each trace's assessments, oldest first."""
    result: dict[str, list[Assessment]] = {}
    ids = list(trace_ids)
    for start in range(0, len(ids), _CHUNK):
        rows = connection.execute(
            select(trace_assessments)
            .where(among(trace_assessments.c.trace_id, ids[start : start + _CHUNK], connection.dialect.name))
            .order_by(trace_assessments.c.trace_id, trace_assessments.c.create_time, trace_assessments.c.assessment_id)
        )
        for row in rows:
            result.setdefault(row.trace_id, []).append(_to_assessment(row))
    return result
