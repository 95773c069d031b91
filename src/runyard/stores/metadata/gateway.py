"""Queries of the AI gateway's tables (every lookup confined to a workspace when one is given)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, Table, and_, delete, insert, select, update
from sqlalchemy.sql.elements import ColumnElement

from runyard.stores.metadata.gateway_tables import (
    gw_bindings,
    gw_endpoint_models,
    gw_endpoint_tags,
    gw_endpoints,
    gw_models,
    gw_secrets,
)


def _in(table: Table, condition: ColumnElement[bool], workspace: str | None) -> ColumnElement[bool]:
    return condition if workspace is None else and_(condition, table.c.workspace == workspace)


# --- secrets ---


def insert_secret(connection: Connection, **values: Any) -> None:
    connection.execute(insert(gw_secrets).values(**values))


def get_secret_row(connection: Connection, workspace: str | None, *, secret_id: str | None = None,
                   secret_name: str | None = None) -> Row[Any] | None:  # fmt: skip
    condition = gw_secrets.c.secret_id == secret_id if secret_id else gw_secrets.c.secret_name == secret_name
    return connection.execute(select(gw_secrets).where(_in(gw_secrets, condition, workspace))).first()


def list_secret_rows(connection: Connection, workspace: str | None, provider: str | None) -> list[Row[Any]]:
    statement = select(gw_secrets).order_by(gw_secrets.c.created_at, gw_secrets.c.secret_id)
    if workspace is not None:
        statement = statement.where(gw_secrets.c.workspace == workspace)
    if provider is not None:
        statement = statement.where(gw_secrets.c.provider == provider)
    return list(connection.execute(statement))


def update_secret(connection: Connection, secret_id: str, **values: Any) -> None:
    connection.execute(update(gw_secrets).where(gw_secrets.c.secret_id == secret_id).values(**values))


def delete_secret(connection: Connection, secret_id: str) -> None:
    # SET NULL done here as well: SQLite enforces foreign keys only when asked to.
    connection.execute(update(gw_models).where(gw_models.c.secret_id == secret_id).values(secret_id=None))
    connection.execute(delete(gw_secrets).where(gw_secrets.c.secret_id == secret_id))


# --- model definitions ---


def _model_select() -> Any:
    return select(gw_models, gw_secrets.c.secret_name).select_from(
        gw_models.outerjoin(gw_secrets, gw_secrets.c.secret_id == gw_models.c.secret_id)
    )


def insert_model(connection: Connection, **values: Any) -> None:
    connection.execute(insert(gw_models).values(**values))


def get_model_row(connection: Connection, workspace: str | None, model_definition_id: str) -> Row[Any] | None:
    condition = _in(gw_models, gw_models.c.model_definition_id == model_definition_id, workspace)
    return connection.execute(_model_select().where(condition)).first()


def model_rows_by_id(connection: Connection, workspace: str | None, ids: Sequence[str]) -> dict[str, Row[Any]]:
    if not ids:
        return {}
    condition = _in(gw_models, gw_models.c.model_definition_id.in_(list(ids)), workspace)
    return {str(row.model_definition_id): row for row in connection.execute(_model_select().where(condition))}


def list_model_rows(connection: Connection, workspace: str | None, *, provider: str | None,
                    secret_id: str | None) -> list[Row[Any]]:  # fmt: skip
    statement = _model_select().order_by(gw_models.c.created_at, gw_models.c.model_definition_id)
    if workspace is not None:
        statement = statement.where(gw_models.c.workspace == workspace)
    if provider is not None:
        statement = statement.where(gw_models.c.provider == provider)
    if secret_id is not None:
        statement = statement.where(gw_models.c.secret_id == secret_id)
    return list(connection.execute(statement))


def update_model(connection: Connection, model_definition_id: str, **values: Any) -> None:
    connection.execute(update(gw_models).where(gw_models.c.model_definition_id == model_definition_id).values(**values))


def model_in_use(connection: Connection, model_definition_id: str) -> bool:
    statement = select(gw_endpoint_models.c.mapping_id).where(
        gw_endpoint_models.c.model_definition_id == model_definition_id
    )
    return connection.execute(statement.limit(1)).first() is not None


def delete_model(connection: Connection, model_definition_id: str) -> None:
    connection.execute(delete(gw_models).where(gw_models.c.model_definition_id == model_definition_id))


# --- endpoints ---


def insert_endpoint(connection: Connection, **values: Any) -> None:
    connection.execute(insert(gw_endpoints).values(**values))


def get_endpoint_row(connection: Connection, workspace: str | None, *, endpoint_id: str | None = None,
                     name: str | None = None) -> Row[Any] | None:  # fmt: skip
    condition = gw_endpoints.c.endpoint_id == endpoint_id if endpoint_id else gw_endpoints.c.name == name
    return connection.execute(select(gw_endpoints).where(_in(gw_endpoints, condition, workspace))).first()


def list_endpoint_rows(connection: Connection, workspace: str | None, *, provider: str | None,
                       secret_id: str | None) -> list[Row[Any]]:  # fmt: skip
    statement = select(gw_endpoints).order_by(gw_endpoints.c.created_at, gw_endpoints.c.endpoint_id)
    if workspace is not None:
        statement = statement.where(gw_endpoints.c.workspace == workspace)
    if provider is not None or secret_id is not None:
        using = select(gw_endpoint_models.c.endpoint_id).join(
            gw_models, gw_models.c.model_definition_id == gw_endpoint_models.c.model_definition_id
        )
        if provider is not None:
            using = using.where(gw_models.c.provider == provider)
        if secret_id is not None:
            using = using.where(gw_models.c.secret_id == secret_id)
        statement = statement.where(gw_endpoints.c.endpoint_id.in_(using))
    return list(connection.execute(statement))


def update_endpoint(connection: Connection, endpoint_id: str, **values: Any) -> None:
    connection.execute(update(gw_endpoints).where(gw_endpoints.c.endpoint_id == endpoint_id).values(**values))


def delete_endpoint(connection: Connection, endpoint_id: str) -> None:
    for table in (gw_bindings, gw_endpoint_tags, gw_endpoint_models):
        connection.execute(delete(table).where(table.c.endpoint_id == endpoint_id))
    connection.execute(delete(gw_endpoints).where(gw_endpoints.c.endpoint_id == endpoint_id))


def insert_mappings(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        connection.execute(insert(gw_endpoint_models), list(rows))


def mapping_rows(connection: Connection, endpoint_ids: Sequence[str]) -> list[Row[Any]]:
    if not endpoint_ids:
        return []
    statement = (
        select(gw_endpoint_models)
        .where(gw_endpoint_models.c.endpoint_id.in_(list(endpoint_ids)))
        .order_by(gw_endpoint_models.c.created_at, gw_endpoint_models.c.mapping_id)
    )
    return list(connection.execute(statement))


def find_mapping(connection: Connection, endpoint_id: str, model_definition_id: str,
                 linkage_type: str | None = None) -> list[Row[Any]]:  # fmt: skip
    condition = and_(
        gw_endpoint_models.c.endpoint_id == endpoint_id,
        gw_endpoint_models.c.model_definition_id == model_definition_id,
    )
    if linkage_type is not None:
        condition = and_(condition, gw_endpoint_models.c.linkage_type == linkage_type)
    return list(connection.execute(select(gw_endpoint_models).where(condition)))


def delete_mappings(connection: Connection, endpoint_id: str, model_definition_id: str | None = None) -> None:
    condition = gw_endpoint_models.c.endpoint_id == endpoint_id
    if model_definition_id is not None:
        condition = and_(condition, gw_endpoint_models.c.model_definition_id == model_definition_id)
    connection.execute(delete(gw_endpoint_models).where(condition))


def tags_of(connection: Connection, endpoint_ids: Sequence[str]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {endpoint_id: {} for endpoint_id in endpoint_ids}
    if endpoint_ids:
        statement = select(gw_endpoint_tags).where(gw_endpoint_tags.c.endpoint_id.in_(list(endpoint_ids)))
        for row in connection.execute(statement):
            found[str(row.endpoint_id)][str(row.key)] = row.value or ""
    return found


def set_tag(connection: Connection, endpoint_id: str, key: str, value: str) -> None:
    delete_tag(connection, endpoint_id, key)
    connection.execute(insert(gw_endpoint_tags).values(endpoint_id=endpoint_id, key=key, value=value))


def delete_tag(connection: Connection, endpoint_id: str, key: str) -> None:
    connection.execute(
        delete(gw_endpoint_tags).where(gw_endpoint_tags.c.endpoint_id == endpoint_id, gw_endpoint_tags.c.key == key)
    )


# --- bindings ---


def insert_binding(connection: Connection, **values: Any) -> None:
    connection.execute(insert(gw_bindings).values(**values))


def get_binding_row(connection: Connection, endpoint_id: str, resource_type: str, resource_id: str) -> Row[Any] | None:
    statement = select(gw_bindings).where(
        gw_bindings.c.endpoint_id == endpoint_id,
        gw_bindings.c.resource_type == resource_type,
        gw_bindings.c.resource_id == resource_id,
    )
    return connection.execute(statement).first()


def delete_binding(connection: Connection, endpoint_id: str, resource_type: str, resource_id: str) -> None:
    connection.execute(
        delete(gw_bindings).where(
            gw_bindings.c.endpoint_id == endpoint_id,
            gw_bindings.c.resource_type == resource_type,
            gw_bindings.c.resource_id == resource_id,
        )
    )


def list_binding_rows(connection: Connection, workspace: str | None, *, endpoint_id: str | None,
                      resource_type: str | None, resource_id: str | None) -> list[Row[Any]]:  # fmt: skip
    statement = (
        select(gw_bindings)
        .join(gw_endpoints, gw_endpoints.c.endpoint_id == gw_bindings.c.endpoint_id)
        .order_by(gw_bindings.c.created_at, gw_bindings.c.endpoint_id, gw_bindings.c.resource_id)
    )
    if workspace is not None:
        statement = statement.where(gw_endpoints.c.workspace == workspace)
    if endpoint_id is not None:
        statement = statement.where(gw_bindings.c.endpoint_id == endpoint_id)
    if resource_type is not None:
        statement = statement.where(gw_bindings.c.resource_type == resource_type)
    if resource_id is not None:
        statement = statement.where(gw_bindings.c.resource_id == resource_id)
    return list(connection.execute(statement))
