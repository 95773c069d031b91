"""MLflow 3 logged models: create, get, finalize, delete, search, tags and params.

``mlflow.<flavor>.log_model`` creates a logged model, uploads its files to the model's
``artifact_location`` (``<experiment artifact root>/models/<model_id>/artifacts``, through the
artifact proxy) and links it to the run. Registering a version from ``models:/<model_id>`` copies
those files into the registry store (see ``registry_files``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, case, select
from sqlalchemy.sql.elements import ColumnElement

from runyard.domain import validation
from runyard.domain.clock import now_ms
from runyard.domain.names import random_run_name
from runyard.domain.registry import LoggedModel, LoggedModelStatus, validate_logged_model_name
from runyard.domain.registry_search import LOGGED_MODELS
from runyard.domain.search_filter import parse_filter
from runyard.domain.tracking import LifecycleStage, Page, Param, Tag
from runyard.errors import InvalidParameter, NotFound
from runyard.services import experiments as experiment_service
from runyard.services.metric_history import decode_offset_token, encode_offset_token
from runyard.services.workspaces import workspace_scope
from runyard.stores.metadata import experiments as experiment_store
from runyard.stores.metadata import logged_models as store
from runyard.stores.metadata import registry_search as conditions
from runyard.stores.metadata.registry_tables import logged_model_metrics, logged_models

SEARCH_MAX_RESULTS_DEFAULT = 50
SEARCH_MAX_RESULTS_LIMIT = 1000
_ORDER_COLUMNS = {
    "name": logged_models.c.name,
    "model_id": logged_models.c.model_id,
    "model_type": logged_models.c.model_type,
    "status": logged_models.c.status,
    "source_run_id": logged_models.c.source_run_id,
    "creation_time": logged_models.c.creation_timestamp_ms,
    "creation_timestamp": logged_models.c.creation_timestamp_ms,
    "creation_timestamp_ms": logged_models.c.creation_timestamp_ms,
    "last_updated_timestamp": logged_models.c.last_updated_timestamp_ms,
    "last_updated_timestamp_ms": logged_models.c.last_updated_timestamp_ms,
}


def _row(connection: Connection, model_id: str | None, *, allow_deleted: bool = False) -> Row[Any]:
    if not model_id:
        raise InvalidParameter("Missing value for required parameter 'model_id'.")
    row = store.get_logged_model_row(connection, model_id, workspace=workspace_scope())
    if row is None or (not allow_deleted and row.lifecycle_stage == LifecycleStage.DELETED):
        raise NotFound(f"Logged model with ID '{model_id}' not found.")
    return row


def create_logged_model(
    connection: Connection,
    experiment_id: str | None,
    *,
    name: str | None = None,
    model_type: str | None = None,
    source_run_id: str | None = None,
    params: Sequence[Param] = (),
    tags: Sequence[Tag] = (),
    user: str | None = None,
) -> LoggedModel:
    validate_logged_model_name(name)
    experiment = experiment_service.get_experiment(connection, experiment_id)
    experiment_service.require_active(experiment)
    for index, tag in enumerate(tags):
        validation.validate_tag(tag, f"tags[{index}]")
    for index, param in enumerate(params):
        validation.validate_param(param, f"params[{index}]")
    model_id = f"m-{uuid.uuid4().hex}"
    now = now_ms()
    store.insert_logged_model(
        connection,
        model_id=model_id,
        experiment_id=int(experiment.experiment_id),
        name=name or random_run_name(),
        artifact_location=f"{experiment.artifact_location.rstrip('/')}/models/{model_id}/artifacts",
        creation_timestamp_ms=now,
        last_updated_timestamp_ms=now,
        status=LoggedModelStatus.PENDING.value,
        lifecycle_stage=LifecycleStage.ACTIVE.value,
        model_type=model_type,
        source_run_id=source_run_id or None,
        user_id=user,
    )
    store.set_params(connection, model_id, params)
    store.set_tags(connection, model_id, tags)
    return get_logged_model(connection, model_id)


def get_logged_model(connection: Connection, model_id: str | None, *, allow_deleted: bool = False) -> LoggedModel:
    return store.load_logged_models(connection, [_row(connection, model_id, allow_deleted=allow_deleted)])[0]


def finalize_logged_model(connection: Connection, model_id: str | None, status: str | int | None) -> LoggedModel:
    parsed = LoggedModelStatus.parse(status)
    if parsed not in (LoggedModelStatus.READY, LoggedModelStatus.UPLOAD_FAILED):
        raise InvalidParameter(
            f"Invalid status {parsed.value}: a logged model is finalized as LOGGED_MODEL_READY or "
            "LOGGED_MODEL_UPLOAD_FAILED."
        )
    row = _row(connection, model_id)
    store.update_logged_model(connection, row.model_id, status=parsed.value, last_updated_timestamp_ms=now_ms())
    return get_logged_model(connection, row.model_id)


def delete_logged_model(connection: Connection, model_id: str | None) -> None:
    row = _row(connection, model_id)
    store.update_logged_model(
        connection, row.model_id, lifecycle_stage=LifecycleStage.DELETED.value, last_updated_timestamp_ms=now_ms()
    )


def set_tags(connection: Connection, model_id: str | None, tags: Sequence[Tag]) -> LoggedModel:
    for index, tag in enumerate(tags):
        validation.validate_tag(tag, f"tags[{index}]")
    row = _row(connection, model_id)
    store.set_tags(connection, row.model_id, tags)
    store.update_logged_model(connection, row.model_id, last_updated_timestamp_ms=now_ms())
    return get_logged_model(connection, row.model_id)


def delete_tag(connection: Connection, model_id: str | None, key: str) -> None:
    row = _row(connection, model_id)
    if store.delete_tag(connection, row.model_id, key) == 0:
        raise NotFound(f"No tag with key {key!r} found for model with ID {row.model_id!r}.")


def log_params(connection: Connection, model_id: str | None, params: Sequence[Param]) -> None:
    for index, param in enumerate(params):
        validation.validate_param(param, f"params[{index}]")
    row = _row(connection, model_id)
    store.set_params(connection, row.model_id, params)


def search_logged_models(
    connection: Connection,
    *,
    experiment_ids: Sequence[str],
    filter_string: str | None = None,
    datasets: Sequence[tuple[str, str | None]] = (),
    max_results: int | None = None,
    order_by: Sequence[tuple[str, bool, str | None, str | None]] = (),
    page_token: str | None = None,
) -> Page[LoggedModel]:
    """``order_by`` holds (field name, ascending, dataset name, dataset digest) as MLflow sends them."""
    limit = SEARCH_MAX_RESULTS_DEFAULT if not max_results else max_results
    if not 1 <= limit <= SEARCH_MAX_RESULTS_LIMIT:
        raise InvalidParameter(f"max_results must be between 1 and {SEARCH_MAX_RESULTS_LIMIT}, got {max_results}.")
    if not experiment_ids:
        raise InvalidParameter("Missing value for required parameter 'experiment_ids'.")
    ids = [validation.parse_experiment_id(e, "experiment_ids") for e in experiment_ids]
    ids = experiment_store.ids_among(connection, ids, workspace_scope())
    for name, _digest in datasets:
        if not name:
            raise InvalidParameter("`dataset_name` in the `datasets` clause must be specified.")
    expr = parse_filter(filter_string, LOGGED_MODELS)
    statement = select(logged_models).where(
        logged_models.c.experiment_id.in_(ids),
        logged_models.c.lifecycle_stage == LifecycleStage.ACTIVE.value,
        conditions.logged_model_condition(expr, connection.dialect.name, list(datasets) or None),
    )
    ordering: list[ColumnElement[Any]] = []
    for field_name, ascending, dataset_name, dataset_digest in order_by:
        column = _order_column(field_name, dataset_name, dataset_digest)
        # Nulls last on every database (MySQL has no NULLS LAST).
        ordering.extend([case((column.is_(None), 1), else_=0).asc(), column.asc() if ascending else column.desc()])
    ordering.extend([logged_models.c.creation_timestamp_ms.desc(), logged_models.c.model_id.asc()])
    offset = decode_offset_token(page_token)
    rows = connection.execute(statement.order_by(*ordering).offset(offset).limit(limit + 1)).all()
    token = encode_offset_token(offset + limit) if len(rows) > limit else None
    return Page(store.load_logged_models(connection, rows[:limit]), token)


def _order_column(field_name: str, dataset_name: str | None, dataset_digest: str | None) -> ColumnElement[Any]:
    if field_name.startswith("metrics."):
        key = field_name.removeprefix("metrics.")
        statement = select(logged_model_metrics.c.value).where(
            logged_model_metrics.c.model_id == logged_models.c.model_id, logged_model_metrics.c.key == key
        )
        if dataset_name:
            statement = statement.where(logged_model_metrics.c.dataset_name == dataset_name)
        if dataset_digest:
            statement = statement.where(logged_model_metrics.c.dataset_digest == dataset_digest)
        return statement.order_by(logged_model_metrics.c.timestamp.desc()).limit(1).scalar_subquery()
    if field_name not in _ORDER_COLUMNS:
        raise InvalidParameter(f"Invalid order by field name: {field_name}")
    return _ORDER_COLUMNS[field_name]
