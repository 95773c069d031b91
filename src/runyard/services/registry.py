"""Registered models: create, get, rename, update, delete; their tags and aliases.

Every change records a registry event (who and when) in the same transaction. Messages and error
codes are MLflow's, so the ``mlflow`` client raises what it would against MLflow.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row

from runyard.domain import registry as rules
from runyard.domain.clock import now_ms
from runyard.domain.registry import EventType, ModelVersion, RegisteredModel
from runyard.domain.tracking import Tag
from runyard.errors import InvalidParameter, NotFound
from runyard.services import registry_events as events
from runyard.services.workspaces import current_workspace, workspace_scope
from runyard.stores.metadata import registry as store


def model_row(connection: Connection, name: str | None, *, lock: bool = False) -> Row[Any]:
    """The registered model's row, or MLflow's ``RESOURCE_DOES_NOT_EXIST``."""
    name = rules.validate_model_name(name)
    row = store.get_model_row(connection, name, workspace=workspace_scope(), lock=lock)
    if row is None:
        raise NotFound(f"Registered Model with name={name} not found")
    return row


def create_registered_model(
    connection: Connection,
    name: str | None,
    *,
    tags: Sequence[Tag] = (),
    description: str | None = None,
    user: str | None = None,
) -> RegisteredModel:
    name = rules.validate_model_name(name)
    checked = [rules.validate_registry_tag(tag, settable=False) for tag in tags]
    now = now_ms()
    model_id = store.insert_registered_model(
        connection,
        workspace=current_workspace(),
        name=name,
        storage_id=uuid.uuid4().hex,
        description=description,
        user_id=user,
        creation_time=now,
        last_updated_time=now,
    )
    store.set_model_tags(connection, model_id, list({tag.key: tag for tag in checked}.values()))
    events.record(connection, EventType.MODEL_CREATED, model_name=name, user=user, description=description)
    return get_registered_model(connection, name)


def get_registered_model(connection: Connection, name: str | None) -> RegisteredModel:
    return store.load_registered_models(connection, [model_row(connection, name)])[0]


def update_registered_model(
    connection: Connection, name: str | None, description: str | None, *, user: str | None = None
) -> RegisteredModel:
    row = model_row(connection, name, lock=True)
    store.update_model(connection, row.id, description=description, last_updated_time=now_ms())
    events.record(
        connection, EventType.MODEL_UPDATED, model_name=row.name, user=user, old_description=row.description,
        description=description,
    )  # fmt: skip
    return get_registered_model(connection, row.name)


def rename_registered_model(
    connection: Connection, name: str | None, new_name: str | None, *, user: str | None = None
) -> RegisteredModel:
    if new_name is None or not new_name.strip():
        raise rules.missing("new_name")
    new_name = rules.validate_model_name(new_name, "new_name")
    row = model_row(connection, name, lock=True)
    store.rename_model(connection, row.id, new_name, now_ms())
    events.record(connection, EventType.MODEL_RENAMED, model_name=new_name, user=user, old_name=row.name)
    return get_registered_model(connection, new_name)


def delete_registered_model(connection: Connection, name: str | None, *, user: str | None = None) -> str:
    """Delete the model, its versions, tags and aliases; returns its storage folder (for file cleanup)."""
    row = model_row(connection, name, lock=True)
    store.delete_model(connection, row.id)
    events.record(connection, EventType.MODEL_DELETED, model_name=row.name, user=user)
    return str(row.storage_id)


def set_registered_model_tag(
    connection: Connection, name: str | None, key: str, value: str, *, user: str | None = None
) -> None:
    tag = rules.validate_registry_tag(Tag(key, value))
    row = model_row(connection, name, lock=True)
    store.set_model_tags(connection, row.id, [tag])
    events.record(connection, EventType.MODEL_TAG_SET, model_name=row.name, user=user, key=key, value=value)


def delete_registered_model_tag(connection: Connection, name: str | None, key: str, *, user: str | None = None) -> None:
    rules.validate_registry_tag(Tag(key, ""), settable=False)
    row = model_row(connection, name, lock=True)
    if store.delete_model_tag(connection, row.id, key):
        events.record(connection, EventType.MODEL_TAG_DELETED, model_name=row.name, user=user, key=key)


def set_alias(
    connection: Connection, name: str | None, alias: str | None, version: str | int | None, *, user: str | None = None
) -> None:
    """Point ``alias`` at ``version`` (moving it if it pointed elsewhere)."""
    alias = rules.validate_settable_alias(alias)
    number = rules.parse_version(version)
    row = model_row(connection, name, lock=True)
    if store.get_version_row(connection, row.id, number) is None:
        raise NotFound(f"Model Version (name={row.name}, version={number}) not found")
    previous = store.get_alias_version(connection, row.id, alias)
    if previous == number:
        return
    store.set_alias(connection, row.id, alias, number)
    events.record(
        connection, EventType.ALIAS_SET, model_name=row.name, version=number, user=user, alias=alias,
        from_version=previous, to_version=number,
    )  # fmt: skip


def delete_alias(connection: Connection, name: str | None, alias: str | None, *, user: str | None = None) -> None:
    alias = rules.validate_alias(alias)
    row = model_row(connection, name, lock=True)
    previous = store.get_alias_version(connection, row.id, alias)
    if previous is not None:
        store.delete_alias(connection, row.id, alias)
        events.record(
            connection, EventType.ALIAS_DELETED, model_name=row.name, version=previous, user=user, alias=alias
        )


def get_version_by_alias(connection: Connection, name: str | None, alias: str | None) -> ModelVersion:
    alias = rules.validate_alias(alias)
    row = model_row(connection, name)
    if alias.lower() == rules.LATEST_ALIAS:
        versions = store.load_registered_models(connection, [row])[0].latest_versions
        if not versions:
            raise NotFound(f"Latest version not found for model {row.name}.")
        number = max(v.version for v in versions)
    else:
        found = store.get_alias_version(connection, row.id, alias)
        if found is None:
            raise InvalidParameter(f"Registered model alias {alias} not found.")
        number = found
    version_row = store.get_version_row(connection, row.id, number)
    if version_row is None:
        raise NotFound(f"Model Version (name={row.name}, version={number}) not found")
    return store.load_versions(connection, [version_row])[0]
