"""Fast parsing of ``log-batch`` bodies: the ingestion hot path.

A 1000-metric body is checked with plain type tests in one loop, which is several times cheaper than
model validation. Anything unusual (a missing field, a string where a number belongs, a bool) drops
to the pydantic model, which accepts what MLflow accepts and words the error precisely.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from runyard.api.requests import validate
from runyard.domain.tracking import Metric, Param, Tag


class TagIn(BaseModel):
    key: str
    value: str = ""


class MetricIn(BaseModel):
    key: str
    value: float
    timestamp: int
    step: int = 0
    model_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None


class ParamIn(BaseModel):
    key: str
    value: str = ""


class LogBatch(BaseModel):
    run_id: str | None = None
    run_uuid: str | None = None
    metrics: list[MetricIn] = Field(default_factory=list)
    params: list[ParamIn] = Field(default_factory=list)
    tags: list[TagIn] = Field(default_factory=list)


ParsedBatch = tuple[str | None, list[Metric], list[Param], list[Tag]]


def _fast_metrics(items: Any) -> list[Metric] | None:
    if not isinstance(items, list):
        return None
    result: list[Metric] = []
    append = result.append
    for item in items:
        if type(item) is not dict:
            return None
        key = item.get("key")
        value = item.get("value")
        timestamp = item.get("timestamp")
        step = item.get("step", 0)
        # ``type(x) is int`` rejects bools, which MLflow refuses as metric values too.
        if (
            type(key) is not str
            or (type(value) is not float and type(value) is not int)
            or type(timestamp) is not int
            or type(step) is not int
        ):
            return None
        if len(item) > 4:
            # MLflow 3 metrics may name the logged model and dataset they measure.
            model_id = item.get("model_id")
            dataset_name = item.get("dataset_name")
            dataset_digest = item.get("dataset_digest")
            if any(v is not None and type(v) is not str for v in (model_id, dataset_name, dataset_digest)):
                return None
            append(Metric(key, float(value), timestamp, step, None, dataset_name, dataset_digest, model_id))
        else:
            append(Metric(key, float(value), timestamp, step))
    return result


def _fast_pairs(items: Any) -> list[tuple[str, str]] | None:
    if not isinstance(items, list):
        return None
    result: list[tuple[str, str]] = []
    for item in items:
        if type(item) is not dict:
            return None
        key = item.get("key")
        value = item.get("value", "")
        if type(key) is not str or type(value) is not str:
            return None
        result.append((key, value))
    return result


def parse_log_batch(data: dict[str, Any]) -> ParsedBatch:
    """``(run_id, metrics, params, tags)`` from a decoded log-batch body."""
    run_id = data.get("run_id") or data.get("run_uuid")
    metrics = _fast_metrics(data.get("metrics", []))
    params = _fast_pairs(data.get("params", []))
    tags = _fast_pairs(data.get("tags", []))
    if (run_id is None or type(run_id) is str) and metrics is not None and params is not None and tags is not None:
        return run_id, metrics, [Param(k, v) for k, v in params], [Tag(k, v) for k, v in tags]
    body = validate(LogBatch, data)
    return (
        body.run_id or body.run_uuid,
        [
            Metric(m.key, m.value, m.timestamp, m.step, None, m.dataset_name, m.dataset_digest, m.model_id)
            for m in body.metrics
        ],
        [Param(p.key, p.value) for p in body.params],
        [Tag(t.key, t.value) for t in body.tags],
    )
