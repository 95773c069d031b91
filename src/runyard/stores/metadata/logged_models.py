"""MLflow 3 logged model rows with their tags, params and metrics."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from runyard.domain.registry import LoggedModel
from runyard.domain.tracking import Metric, Param, Tag
from runyard.stores.metadata import dialects
from runyard.stores.metadata.registry_tables import (
    logged_model_metrics,
    logged_model_params,
    logged_model_tags,
    logged_models,
)
from runyard.stores.metadata.tables import experiments


def insert_logged_model(connection: Connection, **values: Any) -> None:
    connection.execute(insert(logged_models).values(**values))


def get_logged_model_row(connection: Connection, model_id: str, *, workspace: str | None) -> Row[Any] | None:
    """The logged model's row if it is in ``workspace`` (its experiment's; ``None``: any)."""
    statement = select(logged_models).where(logged_models.c.model_id == model_id)
    if workspace is not None:
        statement = statement.where(
            logged_models.c.experiment_id.in_(
                select(experiments.c.experiment_id).where(experiments.c.workspace == workspace)
            )
        )
    return connection.execute(statement).first()


def update_logged_model(connection: Connection, model_id: str, **values: Any) -> None:
    connection.execute(update(logged_models).where(logged_models.c.model_id == model_id).values(**values))


def set_tags(connection: Connection, model_id: str, tags: Sequence[Tag]) -> None:
    dialects.upsert(
        connection,
        logged_model_tags,
        [{"model_id": model_id, "key": tag.key, "value": tag.value} for tag in {t.key: t for t in tags}.values()],
        key_columns=("model_id", "key"),
        update_columns=("value",),
    )


def delete_tag(connection: Connection, model_id: str, key: str) -> int:
    result = connection.execute(
        delete(logged_model_tags).where(logged_model_tags.c.model_id == model_id, logged_model_tags.c.key == key)
    )
    return result.rowcount


def set_params(connection: Connection, model_id: str, params: Sequence[Param]) -> None:
    dialects.upsert(
        connection,
        logged_model_params,
        [{"model_id": model_id, "key": p.key, "value": p.value} for p in {p.key: p for p in params}.values()],
        key_columns=("model_id", "key"),
        update_columns=("value",),
    )


def record_metrics(connection: Connection, metrics: Sequence[Metric]) -> None:
    """Keep the latest point per (model, key, dataset) of metrics logged against logged models."""
    latest: dict[tuple[str, str, str, str], Metric] = {}
    for metric in metrics:
        if metric.model_id is None or metric.value != metric.value:  # NaN cannot be stored everywhere
            continue
        key = (metric.model_id, metric.key, metric.dataset_name or "", metric.dataset_digest or "")
        if key not in latest or (metric.timestamp, metric.step) >= (latest[key].timestamp, latest[key].step):
            latest[key] = metric
    known = {
        row.model_id
        for row in connection.execute(
            select(logged_models.c.model_id).where(logged_models.c.model_id.in_({k[0] for k in latest}))
        )
    }
    dialects.upsert(
        connection,
        logged_model_metrics,
        [
            {
                "model_id": key[0],
                "key": key[1],
                "dataset_name": key[2],
                "dataset_digest": key[3],
                "value": metric.value,
                "timestamp": metric.timestamp,
                "step": metric.step,
                "run_id": metric.run_id,
            }
            for key, metric in latest.items()
            if key[0] in known
        ],
        key_columns=("model_id", "key", "dataset_name", "dataset_digest"),
        update_columns=("value", "timestamp", "step", "run_id"),
    )


def load_logged_models(connection: Connection, rows: Sequence[Row[Any]]) -> list[LoggedModel]:
    """Build logged models from rows (keeping their order) with one query per child table."""
    ids = [row.model_id for row in rows]
    if not ids:
        return []
    tags: dict[str, list[Tag]] = defaultdict(list)
    for r in connection.execute(select(logged_model_tags).where(logged_model_tags.c.model_id.in_(ids))):
        tags[r.model_id].append(Tag(r.key, r.value or ""))
    params: dict[str, list[Param]] = defaultdict(list)
    for r in connection.execute(select(logged_model_params).where(logged_model_params.c.model_id.in_(ids))):
        params[r.model_id].append(Param(r.key, r.value))
    metrics: dict[str, list[Metric]] = defaultdict(list)
    for r in connection.execute(select(logged_model_metrics).where(logged_model_metrics.c.model_id.in_(ids))):
        metrics[r.model_id].append(
            Metric(
                r.key,
                r.value,
                r.timestamp,
                r.step,
                run_id=r.run_id,
                dataset_name=r.dataset_name or None,
                dataset_digest=r.dataset_digest or None,
                model_id=r.model_id,
            )  # fmt: skip
        )
    return [
        LoggedModel(
            model_id=row.model_id,
            experiment_id=str(row.experiment_id),
            name=row.name,
            artifact_location=row.artifact_location,
            creation_timestamp_ms=row.creation_timestamp_ms,
            last_updated_timestamp_ms=row.last_updated_timestamp_ms,
            status=row.status,
            lifecycle_stage=row.lifecycle_stage,
            model_type=row.model_type,
            source_run_id=row.source_run_id,
            status_message=row.status_message,
            tags=tags[row.model_id],
            params=params[row.model_id],
            metrics=metrics[row.model_id],
        )
        for row in rows
    ]
