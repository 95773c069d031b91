"""Evaluation datasets (MLflow 3's ``mlflow.genai.datasets``): the dataset, its records, and their rules.

A dataset belongs to a workspace and may be associated with any number of that workspace's
experiments. Its records are keyed by their inputs: merging a record whose inputs an existing record
already has updates that record (outputs replaced, expectations and tags merged) instead of adding
one, as MLflow does. The dataset's schema (field names and types seen in records) and profile
(record count) are recomputed on every change; its digest changes with every change too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runyard.domain.search_ast import Comparison, Entity, Op
from runyard.domain.search_lexer import Kind, Token
from runyard.domain.search_schema import NUMERIC_OPS, RunSchema, Schema, ValueTokens, _split, _string_list
from runyard.errors import InvalidParameter

DATASET_ID_PREFIX = "d-"
RECORD_ID_PREFIX = "dr-"
DEFAULT_SEARCH_RESULTS = 1000
MAX_SEARCH_RESULTS = 50000
DEFAULT_RECORD_RESULTS = 1000
MAX_RECORD_RESULTS = 10000
MAX_RECORDS_PER_UPSERT = 10000
# MLflow's SqlEvaluationDataset column sizes.
NAME_LENGTH = 255
TAG_KEY_LENGTH = 255
USER_TAG = "mlflow.user"
# The proto's record source types (DatasetRecordSource.SourceType).
SOURCE_TYPES = ("SOURCE_TYPE_UNSPECIFIED", "TRACE", "HUMAN", "DOCUMENT", "CODE")


@dataclass(frozen=True, slots=True)
class EvalDataset:
    dataset_id: str
    name: str
    tags: dict[str, str]
    schema: str | None
    profile: str | None
    digest: str
    created_time: int
    last_update_time: int
    created_by: str | None
    last_updated_by: str | None
    experiment_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DatasetRecord:
    dataset_record_id: str
    dataset_id: str
    inputs: dict[str, Any]
    outputs: Any
    expectations: dict[str, Any] | None
    tags: dict[str, Any] | None
    source: dict[str, Any] | None
    source_id: str | None
    source_type: str | None
    created_time: int
    last_update_time: int
    created_by: str | None
    last_updated_by: str | None


@dataclass(frozen=True, slots=True)
class RecordIn:
    """One record of an upsert, validated (``has_outputs``: the request named ``outputs``, even as null)."""

    inputs: dict[str, Any]
    outputs: Any
    has_outputs: bool
    expectations: dict[str, Any] | None
    tags: dict[str, Any] | None
    source: dict[str, Any] | None
    source_id: str | None
    source_type: str | None


def digest(name: str, last_update_time: int) -> str:
    """Changes whenever the dataset does (its name and last update time), as MLflow computes it."""
    return hashlib.sha256(f"{name}:{last_update_time}".encode()).hexdigest()[:8]


def input_hash(inputs: Mapping[str, Any]) -> str:
    """The key records are deduplicated by: their inputs, canonically encoded."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def validate_name(name: str | None) -> str:
    if name is None or name == "":
        raise InvalidParameter("Missing value for required parameter 'name'.")
    if len(name) > NAME_LENGTH:
        raise InvalidParameter(f"Dataset name '{name[:40]}...' exceeds the maximum length of {NAME_LENGTH}.")
    return name


def parse_tags(text: str | None, parameter: str = "tags") -> dict[str, str]:
    """A tags parameter: a JSON object of string keys (MLflow sends tags as a JSON string)."""
    if text is None or text == "":
        return {}
    try:
        tags = json.loads(text)
    except ValueError:
        raise InvalidParameter(f"Invalid value for parameter '{parameter}': not a JSON object.") from None
    if not isinstance(tags, dict):
        raise InvalidParameter(f"Invalid value for parameter '{parameter}': not a JSON object.")
    parsed: dict[str, str] = {}
    for key, value in tags.items():
        if not key or len(key) > TAG_KEY_LENGTH:
            raise InvalidParameter(f"Invalid tag key {key!r}: must be 1 to {TAG_KEY_LENGTH} characters.")
        parsed[key] = value if isinstance(value, str) else json.dumps(value)
    return parsed


def _json_object(record: Mapping[str, Any], name: str, index: int) -> dict[str, Any] | None:
    value = record.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidParameter(f"Invalid record at index {index}: '{name}' must be a JSON object.")
    return value


def parse_records(text: str | None) -> list[RecordIn]:
    """The ``records`` parameter of an upsert: a JSON list of record objects, each with ``inputs``."""
    if text is None or text == "":
        raise InvalidParameter("Missing value for required parameter 'records'.")
    try:
        raw = json.loads(text)
    except ValueError:
        raise InvalidParameter("Invalid value for parameter 'records': not a JSON list of records.") from None
    if not isinstance(raw, list):
        raise InvalidParameter("Invalid value for parameter 'records': not a JSON list of records.")
    if len(raw) > MAX_RECORDS_PER_UPSERT:
        raise InvalidParameter(f"At most {MAX_RECORDS_PER_UPSERT} records may be upserted at once; got {len(raw)}.")
    records: list[RecordIn] = []
    for index, record in enumerate(raw):
        if not isinstance(record, dict):
            raise InvalidParameter(f"Invalid record at index {index}: a record must be a JSON object.")
        inputs = _json_object(record, "inputs", index)
        if not inputs:
            raise InvalidParameter(f"Invalid record at index {index}: 'inputs' must be a non-empty JSON object.")
        source = _json_object(record, "source", index)
        source_type = source.get("source_type") if source else None
        if source_type is not None:
            source_type = str(source_type).upper()
            if source_type == "UNSPECIFIED":
                source_type = "SOURCE_TYPE_UNSPECIFIED"
            if source_type not in SOURCE_TYPES:
                raise InvalidParameter(f"Invalid dataset record source type: {source_type}.")
        source_data = (source or {}).get("source_data") or {}
        source_id = record.get("source_id")
        if source_id is None and isinstance(source_data, dict):
            source_id = source_data.get("trace_id" if source_type == "TRACE" else "source_id")
        records.append(
            RecordIn(
                inputs=inputs,
                outputs=record.get("outputs"),
                has_outputs="outputs" in record,
                expectations=_json_object(record, "expectations", index),
                tags=_json_object(record, "tags", index),
                source=source,
                source_id=None if source_id is None else str(source_id),
                source_type=source_type,
            )
        )
    return records


def user_of(tags: Mapping[str, Any] | None) -> str | None:
    """Who acted, as MLflow's client records it (the ``mlflow.user`` tag)."""
    if not tags:
        return None
    user = tags.get(USER_TAG)
    return None if user is None else str(user)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "unknown"


def merged_schema(existing: str | None, records: Sequence[RecordIn]) -> str | None:
    """The dataset schema (each field's first-seen type) after ``records`` are merged in."""
    if not records and not existing:
        return None
    schema: dict[str, Any] = (
        json.loads(existing) if existing else {"inputs": {}, "outputs": {}, "expectations": {}, "version": "1.0"}
    )
    for record in records:
        for key, value in record.inputs.items():
            schema["inputs"].setdefault(key, _type_name(value))
        if record.outputs is not None:
            if isinstance(record.outputs, dict):
                if isinstance(schema["outputs"], dict):
                    for key, value in record.outputs.items():
                        schema["outputs"].setdefault(key, _type_name(value))
            elif not schema["outputs"]:
                schema["outputs"] = _type_name(record.outputs)
        for key, value in (record.expectations or {}).items():
            schema["expectations"].setdefault(key, _type_name(value))
    return json.dumps(schema)


def profile(record_count: int) -> str | None:
    return json.dumps({"num_records": record_count}) if record_count else None


# --- search ---------------------------------------------------------------------------------------


class DatasetSchema(Schema):
    """MLflow's search-datasets fields: five attributes and the dataset's tags."""

    ATTRIBUTES = frozenset({"name", "created_time", "last_update_time", "created_by", "last_updated_by"})
    NUMERIC_ATTRIBUTES = frozenset({"created_time", "last_update_time"})
    ORDER_ATTRIBUTES = frozenset({"name", "created_time", "last_update_time"})

    def _identifier(self, parts: tuple[str, ...], valid: frozenset[str]) -> tuple[Entity, str]:
        entity_text, key = _split(parts)
        if entity_text is None:
            if key not in valid:
                raise InvalidParameter(f"Invalid attribute key '{key}' specified. Valid keys are: {sorted(valid)}")
            return Entity.ATTRIBUTE, key
        if entity_text in ("tags", "tag"):
            return Entity.TAG, key
        raise InvalidParameter(f"Invalid identifier token '{entity_text}' specified")

    def comparison(self, parts: tuple[str, ...], op: Op, value: ValueTokens) -> Comparison:
        entity, key = self._identifier(parts, self.ATTRIBUTES)
        if entity is Entity.TAG:
            if op not in (Op.EQ, Op.NE, Op.LIKE, Op.ILIKE):
                raise InvalidParameter(f"Invalid comparator for tag: {op.value}")
            return Comparison(entity, key, op, RunSchema._quoted(value, "tag (e.g. 'my-value')"))
        if key in self.NUMERIC_ATTRIBUTES:
            if op not in NUMERIC_OPS:
                raise InvalidParameter(f"Invalid comparator for numeric attribute: {op.value}")
            assert isinstance(value, Token)
            if value.kind is not Kind.NUMBER or any(c in value.text for c in ".eE"):
                raise InvalidParameter(f"Invalid value for numeric attribute '{key}': '{value.text}'")
            return Comparison(entity, key, op, int(value.text))
        if op is Op.IN and key == "name":
            if not isinstance(value, list):
                raise InvalidParameter("List values for 'name' are only supported with the IN comparator.")
            return Comparison(entity, key, op, _string_list(value))
        if op not in (Op.EQ, Op.NE, Op.LIKE, Op.ILIKE) or isinstance(value, list):
            raise InvalidParameter(f"Invalid comparator for string attribute: {op.value}")
        return Comparison(entity, key, op, RunSchema._quoted(value, "attributes"))

    def order_identifier(self, parts: tuple[str, ...]) -> tuple[Entity, str]:
        entity, key = self._identifier(parts, self.ORDER_ATTRIBUTES)
        if entity is not Entity.ATTRIBUTE:
            raise InvalidParameter(f"Invalid order_by entity: {entity.value}")
        return entity, key


DATASETS = DatasetSchema()
