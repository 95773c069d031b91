"""Logging to a run: metrics, params and tags (single and batched), dataset inputs, model links."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence

from sqlalchemy import Connection

from runyard.domain import validation
from runyard.domain.tracking import DatasetInput, Metric, ModelLink, Param, Tag
from runyard.errors import InvalidParameter
from runyard.services import runs as run_service
from runyard.stores.metadata import datasets as dataset_store
from runyard.stores.metadata import logged_models as logged_model_store
from runyard.stores.metadata import metrics as metric_store
from runyard.stores.metadata import runs as run_store

PARAM_CHANGE_HINT = "Changing param values is not allowed."


def log_batch(
    connection: Connection,
    run_id: str | None,
    *,
    metrics: Sequence[Metric] = (),
    params: Sequence[Param] = (),
    tags: Sequence[Tag] = (),
) -> None:
    """Log everything in one transaction: all of it is stored, or (on any error) none of it."""
    validation.validate_batch(metrics, params, tags)
    row = run_service.lock_active_run(connection, run_id)
    run_uuid: str = row.run_uuid
    if params:
        _log_params(connection, run_uuid, params)
    if metrics:
        rows = [_stored_point(m) for m in metrics]
        metric_store.insert_points(connection, run_uuid, rows)
        metric_store.update_latest(connection, run_uuid, rows)
        model_metrics = [m._replace(run_id=run_uuid) for m in metrics if m.model_id]
        if model_metrics:
            logged_model_store.record_metrics(connection, model_metrics)
    run_service.apply_tags(connection, run_uuid, tags)
    run_service.record_activity(connection, run_uuid)


def _stored_point(metric: Metric) -> metric_store.PointRow:
    value = metric.value
    if value - value == 0.0:  # finite: the common case, without a function call per point
        return (metric.key, value, metric.timestamp, metric.step, False)
    stored, is_nan = validation.metric_storage_value(value)
    return (metric.key, stored, metric.timestamp, metric.step, is_nan)


def _log_params(connection: Connection, run_id: str, params: Sequence[Param]) -> None:
    existing = run_store.existing_params(connection, run_id, [p.key for p in params])
    changed = [
        {"key": p.key, "old_value": existing[p.key], "new_value": p.value}
        for p in params
        if p.key in existing and existing[p.key] != p.value
    ]
    if changed:
        raise InvalidParameter(f"{PARAM_CHANGE_HINT} Params were already logged='{changed}' for run ID='{run_id}'.")
    run_store.insert_params(connection, run_id, [p for p in params if p.key not in existing])


def log_metric(connection: Connection, run_id: str | None, metric: Metric) -> None:
    log_batch(connection, run_id, metrics=[metric])


def log_param(connection: Connection, run_id: str | None, param: Param) -> None:
    log_batch(connection, run_id, params=[param])


def log_inputs(
    connection: Connection,
    run_id: str | None,
    datasets: Sequence[DatasetInput] = (),
    models: Sequence[ModelLink] = (),
) -> None:
    row = run_service.lock_active_run(connection, run_id)
    for index, dataset_input in enumerate(datasets):
        _validate_dataset_input(dataset_input, f"datasets[{index}]")
    for dataset_input in datasets:
        dataset_uuid = dataset_store.get_or_create_dataset(
            connection, row.experiment_id, dataset_input.dataset, new_id=uuid.uuid4().hex
        )
        dataset_store.link_input(connection, dataset_uuid, row.run_uuid, dataset_input.tags, new_id=uuid.uuid4().hex)
    run_store.link_models(connection, row.run_uuid, models, "input")


def log_outputs(connection: Connection, run_id: str | None, models: Sequence[ModelLink]) -> None:
    row = run_service.lock_active_run(connection, run_id)
    run_store.link_models(connection, row.run_uuid, models, "output")


def _validate_dataset_input(dataset_input: DatasetInput, path: str) -> None:
    dataset = dataset_input.dataset
    for field, limit, value in (
        ("name", validation.MAX_DATASET_NAME_SIZE, dataset.name),
        ("digest", validation.MAX_DATASET_DIGEST_SIZE, dataset.digest),
        ("source_type", validation.MAX_DATASET_SOURCE_TYPE_SIZE, dataset.source_type),
        ("source", validation.MAX_DATASET_SOURCE_SIZE, dataset.source),
        ("schema", validation.MAX_DATASET_SCHEMA_SIZE, dataset.schema),
        ("profile", validation.MAX_DATASET_PROFILE_SIZE, dataset.profile),
    ):
        validation.check_length(f"{path}.dataset.{field}", limit, value)
    for field in ("name", "digest", "source_type", "source"):
        if not getattr(dataset, field):
            raise InvalidParameter(f"Missing value for required parameter '{path}.dataset.{field}'.")
    for tag in dataset_input.tags:
        validation.check_length(f"{path}.tags.key", validation.MAX_INPUT_TAG_KEY_SIZE, tag.key)
        validation.check_length(f"{path}.tags.value", validation.MAX_INPUT_TAG_VALUE_SIZE, tag.value)


MODEL_HISTORY_TAG = "mlflow.log-model.history"


def append_model_history(connection: Connection, run_id: str | None, model_json: str) -> None:
    """Append a logged model's JSON description to the run's model history tag (MLflow's log-model)."""
    try:
        model = json.loads(model_json)
    except ValueError:
        raise InvalidParameter("Invalid value for parameter 'model_json': it must be a JSON object.") from None
    if not isinstance(model, dict):
        raise InvalidParameter("Invalid value for parameter 'model_json': it must be a JSON object.")
    row = run_service.lock_active_run(connection, run_id)
    current = run_store.get_tag(connection, row.run_uuid, MODEL_HISTORY_TAG)
    history = json.loads(current) if current else []
    history.append(model)
    run_store.set_tags(connection, row.run_uuid, [Tag(MODEL_HISTORY_TAG, json.dumps(history))])
