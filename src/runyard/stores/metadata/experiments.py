"""Experiment rows and their tags."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, delete, insert, select, true, update
from sqlalchemy.exc import IntegrityError

from runyard.domain.tracking import Experiment, Tag
from runyard.errors import AlreadyExists
from runyard.stores.metadata import dialects
from runyard.stores.metadata.tables import experiment_tags, experiments


def insert_experiment(
    connection: Connection,
    *,
    workspace: str,
    name: str,
    artifact_location: str | None,
    now: int,
    tags: Sequence[Tag],
) -> int:
    """Create an experiment; ``artifact_location=None`` means "under the proxy root, by id"."""
    try:
        with connection.begin_nested():
            result = connection.execute(
                insert(experiments).values(
                    workspace=workspace,
                    name=name,
                    artifact_location=artifact_location or "",
                    lifecycle_stage="active",
                    creation_time=now,
                    last_update_time=now,
                )
            )
    except IntegrityError:
        raise AlreadyExists(f"Experiment(name={name}) already exists.") from None
    experiment_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    if not artifact_location:
        connection.execute(
            update(experiments)
            .where(experiments.c.experiment_id == experiment_id)
            .values(artifact_location=f"mlflow-artifacts:/{experiment_id}")
        )
    set_tags(connection, experiment_id, tags)
    return experiment_id


def _to_experiment(row: Row[Any], tags: list[Tag]) -> Experiment:
    return Experiment(
        experiment_id=str(row.experiment_id),
        name=row.name,
        artifact_location=row.artifact_location or "",
        lifecycle_stage=row.lifecycle_stage,
        creation_time=row.creation_time,
        last_update_time=row.last_update_time,
        tags=tags,
    )


def tags_by_experiment(connection: Connection, experiment_ids: Sequence[int]) -> dict[int, list[Tag]]:
    result: dict[int, list[Tag]] = {experiment_id: [] for experiment_id in experiment_ids}
    if not experiment_ids:
        return result
    rows = connection.execute(
        select(experiment_tags.c.experiment_id, experiment_tags.c.key, experiment_tags.c.value).where(
            experiment_tags.c.experiment_id.in_(list(experiment_ids))
        )
    )
    for experiment_id, key, value in rows:
        result[experiment_id].append(Tag(key, value or ""))
    return result


def in_workspace(workspace: str | None) -> ColumnElement[bool]:
    """Rows of ``experiments`` in ``workspace`` (``None``: in any, for work that spans workspaces)."""
    return true() if workspace is None else experiments.c.workspace == workspace


def ids_among(connection: Connection, experiment_ids: Sequence[int], workspace: str | None) -> list[int]:
    """Those of ``experiment_ids`` that are in ``workspace``, in the order given."""
    if not experiment_ids:
        return []
    found = set(
        connection.execute(
            select(experiments.c.experiment_id).where(
                experiments.c.experiment_id.in_(list(experiment_ids)), in_workspace(workspace)
            )
        ).scalars()
    )
    return [experiment_id for experiment_id in experiment_ids if experiment_id in found]


def get_experiment(connection: Connection, experiment_id: int, workspace: str | None) -> Experiment | None:
    row = connection.execute(
        select(experiments).where(experiments.c.experiment_id == experiment_id, in_workspace(workspace))
    ).first()
    if row is None:
        return None
    return _to_experiment(row, tags_by_experiment(connection, [experiment_id])[experiment_id])


def get_experiment_by_name(connection: Connection, name: str, workspace: str | None) -> Experiment | None:
    row = connection.execute(select(experiments).where(experiments.c.name == name, in_workspace(workspace))).first()
    if row is None:
        return None
    return _to_experiment(row, tags_by_experiment(connection, [row.experiment_id])[row.experiment_id])


def experiment_state_by_name(connection: Connection, name: str, workspace: str | None) -> Row[Any, Any] | None:
    """(experiment_id, lifecycle_stage) of the experiment called ``name``; no tags (a hot-path lookup)."""
    columns = (experiments.c.experiment_id, experiments.c.lifecycle_stage)
    return connection.execute(select(*columns).where(experiments.c.name == name, in_workspace(workspace))).first()


def experiments_from_rows(connection: Connection, rows: Sequence[Row[Any]]) -> list[Experiment]:
    tags = tags_by_experiment(connection, [row.experiment_id for row in rows])
    return [_to_experiment(row, tags[row.experiment_id]) for row in rows]


def lock_experiment(connection: Connection, experiment_id: int, workspace: str | None) -> Row[Any] | None:
    """Read an experiment row, locking it for the rest of the transaction (where the database can)."""
    statement = select(experiments).where(experiments.c.experiment_id == experiment_id, in_workspace(workspace))
    if connection.dialect.name != "sqlite":
        statement = statement.with_for_update()
    return connection.execute(statement).first()


def update_experiment(connection: Connection, experiment_id: int, *, now: int, **values: Any) -> None:
    try:
        with connection.begin_nested():
            connection.execute(
                update(experiments)
                .where(experiments.c.experiment_id == experiment_id)
                .values(last_update_time=now, **values)
            )
    except IntegrityError:
        raise AlreadyExists(f"Experiment(name={values.get('name')}) already exists.") from None


def set_tags(connection: Connection, experiment_id: int, tags: Sequence[Tag]) -> None:
    dialects.upsert(
        connection,
        experiment_tags,
        [{"experiment_id": experiment_id, "key": tag.key, "value": tag.value} for tag in tags],
        key_columns=("experiment_id", "key"),
        update_columns=("value",),
    )


def delete_tag(connection: Connection, experiment_id: int, key: str) -> int:
    result = connection.execute(
        delete(experiment_tags).where(experiment_tags.c.experiment_id == experiment_id, experiment_tags.c.key == key)
    )
    return result.rowcount
