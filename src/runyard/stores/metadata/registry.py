"""Registered model, version, tag and alias rows, loaded into registry entities in a few queries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, Select, and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from runyard.domain.registry import Alias, ModelVersion, RegisteredModel
from runyard.domain.tracking import Tag
from runyard.errors import AlreadyExists
from runyard.stores.metadata import dialects
from runyard.stores.metadata.registry_tables import (
    model_version_tags,
    model_versions,
    registered_model_aliases,
    registered_model_tags,
    registered_models,
)


def insert_registered_model(connection: Connection, **values: Any) -> int:
    """Insert a registered model; ``AlreadyExists`` if the name is taken."""
    try:
        with connection.begin_nested():
            result = connection.execute(insert(registered_models).values(**values))
    except IntegrityError:
        raise AlreadyExists(f"Registered Model (name={values['name']}) already exists.") from None
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def get_model_row(connection: Connection, name: str, *, workspace: str | None, lock: bool = False) -> Row[Any] | None:
    """The registered model's row in ``workspace`` (``None``: the only one of that name, in any); ``lock``
    holds it for this transaction (not needed on SQLite, whose write transaction already holds the lock)."""
    statement = select(registered_models).where(registered_models.c.name == name)
    if workspace is not None:
        statement = statement.where(registered_models.c.workspace == workspace)
    if lock and connection.dialect.name != "sqlite":
        statement = statement.with_for_update()
    return connection.execute(statement).first()


def storage_in_workspace(connection: Connection, storage_id: str, workspace: str) -> bool:
    """Whether the model whose files live under ``storage_id`` is in ``workspace``."""
    statement = select(registered_models.c.id).where(
        registered_models.c.storage_id == storage_id, registered_models.c.workspace == workspace
    )
    return connection.execute(statement).first() is not None


def model_name_of_storage(connection: Connection, storage_id: str, workspace: str) -> str | None:
    """The name of the model in ``workspace`` whose files live under ``storage_id``."""
    statement = select(registered_models.c.name).where(
        registered_models.c.storage_id == storage_id, registered_models.c.workspace == workspace
    )
    row = connection.execute(statement).first()
    return None if row is None else str(row.name)


def get_model_row_by_id(connection: Connection, model_id: int) -> Row[Any] | None:
    return connection.execute(select(registered_models).where(registered_models.c.id == model_id)).first()


def update_model(connection: Connection, model_id: int, **values: Any) -> None:
    connection.execute(update(registered_models).where(registered_models.c.id == model_id).values(**values))


def rename_model(connection: Connection, model_id: int, new_name: str, now: int) -> None:
    try:
        with connection.begin_nested():
            update_model(connection, model_id, name=new_name, last_updated_time=now)
    except IntegrityError:
        raise AlreadyExists(f"Registered Model (name={new_name}) already exists.") from None


def delete_model(connection: Connection, model_id: int) -> None:
    # Children go first: SQLite only cascades with foreign keys on, and MySQL's cascade order across
    # the composite keys is not something to rely on.
    for table in (registered_model_aliases, model_version_tags, model_versions, registered_model_tags):
        connection.execute(delete(table).where(table.c.model_id == model_id))
    connection.execute(delete(registered_models).where(registered_models.c.id == model_id))


def next_version(connection: Connection, model_id: int) -> int:
    """Allocate the model's next version number (the caller holds the model's row lock)."""
    connection.execute(
        update(registered_models)
        .where(registered_models.c.id == model_id)
        .values(last_version=registered_models.c.last_version + 1)
    )
    value = connection.execute(
        select(registered_models.c.last_version).where(registered_models.c.id == model_id)
    ).scalar_one()
    return int(value)


def insert_version(connection: Connection, **values: Any) -> None:
    connection.execute(insert(model_versions).values(**values))


def version_select() -> Select[Any]:
    """Version rows with their model's name."""
    return select(model_versions, registered_models.c.name).join(
        registered_models, registered_models.c.id == model_versions.c.model_id
    )


def get_version_row(connection: Connection, model_id: int, version: int) -> Row[Any] | None:
    return connection.execute(
        version_select().where(model_versions.c.model_id == model_id, model_versions.c.version == version)
    ).first()


def update_version(connection: Connection, model_id: int, version: int, **values: Any) -> None:
    connection.execute(
        update(model_versions)
        .where(model_versions.c.model_id == model_id, model_versions.c.version == version)
        .values(**values)
    )


def delete_version(connection: Connection, model_id: int, version: int) -> None:
    for table in (registered_model_aliases, model_version_tags):
        connection.execute(delete(table).where(table.c.model_id == model_id, table.c.version == version))
    connection.execute(
        delete(model_versions).where(model_versions.c.model_id == model_id, model_versions.c.version == version)
    )


def version_rows_in_stage(connection: Connection, model_id: int, stage: str) -> list[Row[Any]]:
    return list(
        connection.execute(
            select(model_versions.c.version).where(
                model_versions.c.model_id == model_id, model_versions.c.current_stage == stage
            )
        )
    )


def set_model_tags(connection: Connection, model_id: int, tags: Sequence[Tag]) -> None:
    dialects.upsert(
        connection,
        registered_model_tags,
        [{"model_id": model_id, "key": tag.key, "value": tag.value} for tag in tags],
        key_columns=("model_id", "key"),
        update_columns=("value",),
    )


def delete_model_tag(connection: Connection, model_id: int, key: str) -> int:
    result = connection.execute(
        delete(registered_model_tags).where(
            registered_model_tags.c.model_id == model_id, registered_model_tags.c.key == key
        )
    )
    return result.rowcount


def set_version_tags(connection: Connection, model_id: int, version: int, tags: Sequence[Tag]) -> None:
    dialects.upsert(
        connection,
        model_version_tags,
        [{"model_id": model_id, "version": version, "key": tag.key, "value": tag.value} for tag in tags],
        key_columns=("model_id", "version", "key"),
        update_columns=("value",),
    )


def delete_version_tag(connection: Connection, model_id: int, version: int, key: str) -> int:
    result = connection.execute(
        delete(model_version_tags).where(
            model_version_tags.c.model_id == model_id,
            model_version_tags.c.version == version,
            model_version_tags.c.key == key,
        )
    )
    return result.rowcount


def get_alias_version(connection: Connection, model_id: int, alias: str) -> int | None:
    value = connection.execute(
        select(registered_model_aliases.c.version).where(
            registered_model_aliases.c.model_id == model_id, registered_model_aliases.c.alias == alias
        )
    ).scalar()
    return int(value) if value is not None else None


def set_alias(connection: Connection, model_id: int, alias: str, version: int) -> None:
    dialects.upsert(
        connection,
        registered_model_aliases,
        [{"model_id": model_id, "alias": alias, "version": version}],
        key_columns=("model_id", "alias"),
        update_columns=("version",),
    )


def delete_alias(connection: Connection, model_id: int, alias: str) -> int:
    result = connection.execute(
        delete(registered_model_aliases).where(
            registered_model_aliases.c.model_id == model_id, registered_model_aliases.c.alias == alias
        )
    )
    return result.rowcount


def latest_version_rows(connection: Connection, model_ids: Sequence[int]) -> list[Row[Any]]:
    """The highest version in each stage of each model (what ``latest_versions`` shows)."""
    if not model_ids:
        return []
    rank = (
        func.row_number()
        .over(
            partition_by=(model_versions.c.model_id, model_versions.c.current_stage),
            order_by=model_versions.c.version.desc(),
        )
        .label("rank")
    )
    ranked = (
        select(model_versions.c.model_id, model_versions.c.version, rank)
        .where(model_versions.c.model_id.in_(list(model_ids)))
        .subquery()
    )
    return list(
        connection.execute(
            version_select()
            .join(
                ranked,
                and_(ranked.c.model_id == model_versions.c.model_id, ranked.c.version == model_versions.c.version),
            )
            .where(ranked.c.rank == 1)
            .order_by(model_versions.c.model_id, model_versions.c.version)
        )
    )


def load_versions(connection: Connection, rows: Sequence[Row[Any]]) -> list[ModelVersion]:
    """Build versions (with tags and aliases) from ``version_select()`` rows, keeping their order."""
    if not rows:
        return []
    model_ids = sorted({row.model_id for row in rows})
    tags: dict[tuple[int, int], list[Tag]] = defaultdict(list)
    for r in connection.execute(select(model_version_tags).where(model_version_tags.c.model_id.in_(model_ids))):
        tags[(r.model_id, r.version)].append(Tag(r.key, r.value or ""))
    aliases: dict[tuple[int, int], list[str]] = defaultdict(list)
    for r in connection.execute(
        select(registered_model_aliases).where(registered_model_aliases.c.model_id.in_(model_ids))
    ):
        aliases[(r.model_id, r.version)].append(r.alias)
    return [
        _to_version(row, tags[(row.model_id, row.version)], sorted(aliases[(row.model_id, row.version)]))
        for row in rows
    ]


def _to_version(row: Row[Any], tags: list[Tag], aliases: list[str]) -> ModelVersion:
    return ModelVersion(
        name=row.name,
        version=row.version,
        creation_timestamp=row.creation_time,
        last_updated_timestamp=row.last_updated_time,
        current_stage=row.current_stage,
        source=row.source,
        status=row.status,
        storage_path=row.storage_path,
        description=row.description,
        user_id=row.user_id,
        run_id=row.run_id,
        run_link=row.run_link,
        status_message=row.status_message,
        model_id=row.logged_model_id,
        content_digest=row.content_digest,
        size_bytes=row.size_bytes,
        tags=tags,
        aliases=aliases,
    )


def load_registered_models(connection: Connection, rows: Sequence[Row[Any]]) -> list[RegisteredModel]:
    """Build registered models (tags, aliases, latest versions) from model rows, keeping their order."""
    if not rows:
        return []
    model_ids = [row.id for row in rows]
    tags: dict[int, list[Tag]] = defaultdict(list)
    for r in connection.execute(select(registered_model_tags).where(registered_model_tags.c.model_id.in_(model_ids))):
        tags[r.model_id].append(Tag(r.key, r.value or ""))
    aliases: dict[int, list[Alias]] = defaultdict(list)
    for r in connection.execute(
        select(registered_model_aliases)
        .where(registered_model_aliases.c.model_id.in_(model_ids))
        .order_by(registered_model_aliases.c.alias)
    ):
        aliases[r.model_id].append(Alias(r.alias, r.version))
    latest: dict[int, list[ModelVersion]] = defaultdict(list)
    for version_row in latest_version_rows(connection, model_ids):
        alias_names = sorted(a.alias for a in aliases[version_row.model_id] if a.version == version_row.version)
        latest[version_row.model_id].append(_to_version(version_row, [], alias_names))
    return [
        RegisteredModel(
            name=row.name,
            creation_timestamp=row.creation_time,
            last_updated_timestamp=row.last_updated_time,
            description=row.description,
            user_id=row.user_id,
            tags=tags[row.id],
            aliases=aliases[row.id],
            latest_versions=latest[row.id],
        )
        for row in rows
    ]
