"""Registry values → MLflow REST JSON (the shapes of MLflow's ``model_registry.proto`` messages).

Unset fields are left out, as protobuf's JSON mapping does. Each version carries runyard's
``runyard.content_digest`` tag (the digest of its immutable copy), which MLflow clients show like any
other tag.
"""

from __future__ import annotations

from typing import Any

from runyard.api.mlflow.serializers import metric_json, tags_json
from runyard.domain.registry import DIGEST_TAG, LoggedModel, ModelVersion, RegisteredModel
from runyard.domain.tracking import Tag


def _without_none(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None and value != []}


def model_version_json(version: ModelVersion) -> dict[str, Any]:
    tags = list(version.tags)
    if version.content_digest:
        tags.append(Tag(DIGEST_TAG, version.content_digest))
    return _without_none(
        {
            "name": version.name,
            "version": str(version.version),
            "creation_timestamp": version.creation_timestamp,
            "last_updated_timestamp": version.last_updated_timestamp,
            "user_id": version.user_id,
            "current_stage": version.current_stage,
            "description": version.description,
            "source": version.source,
            "run_id": version.run_id,
            "status": version.status,
            "status_message": version.status_message,
            "tags": tags_json(tags),
            "run_link": version.run_link,
            "aliases": list(version.aliases),
            "model_id": version.model_id,
        }
    )


def registered_model_json(model: RegisteredModel) -> dict[str, Any]:
    return _without_none(
        {
            "name": model.name,
            "creation_timestamp": model.creation_timestamp,
            "last_updated_timestamp": model.last_updated_timestamp,
            "user_id": model.user_id,
            "description": model.description,
            "latest_versions": [model_version_json(v) for v in model.latest_versions],
            "tags": tags_json(model.tags),
            "aliases": [{"alias": a.alias, "version": str(a.version)} for a in model.aliases],
        }
    )


def logged_model_json(model: LoggedModel) -> dict[str, Any]:
    info = _without_none(
        {
            "model_id": model.model_id,
            "experiment_id": model.experiment_id,
            "name": model.name,
            "creation_timestamp_ms": model.creation_timestamp_ms,
            "last_updated_timestamp_ms": model.last_updated_timestamp_ms,
            "artifact_uri": model.artifact_location,
            "status": model.status,
            "model_type": model.model_type,
            "source_run_id": model.source_run_id,
            "status_message": model.status_message,
            "tags": tags_json(model.tags),
        }
    )
    metrics = []
    for metric in model.metrics:
        data = metric_json(metric)
        data.update(_without_none({"dataset_name": metric.dataset_name, "dataset_digest": metric.dataset_digest}))
        data["model_id"] = model.model_id
        metrics.append(data)
    data = _without_none({"params": [{"key": p.key, "value": p.value} for p in model.params], "metrics": metrics})
    return {"info": info, "data": data}
