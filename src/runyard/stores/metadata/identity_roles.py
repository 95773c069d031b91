"""Roles per workspace, their permissions and their holders (MLflow 3.17's RBAC tables)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from runyard.stores.metadata.identity_tables import role_assignments, role_permissions, roles, users


def insert_role(connection: Connection, *, workspace: str, name: str, description: str | None) -> int:
    result = connection.execute(insert(roles).values(workspace=workspace, name=name, description=description))
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def get_role(connection: Connection, role_id: int) -> Row[Any] | None:
    return connection.execute(select(roles).where(roles.c.id == role_id)).first()


def get_role_by_name(connection: Connection, workspace: str, name: str) -> Row[Any] | None:
    return connection.execute(select(roles).where(roles.c.workspace == workspace, roles.c.name == name)).first()


def list_roles(connection: Connection, workspace: str | None) -> list[Row[Any]]:
    query = select(roles)
    if workspace is not None:
        query = query.where(roles.c.workspace == workspace)
    return list(connection.execute(query.order_by(roles.c.workspace, roles.c.name)))


def update_role(connection: Connection, role_id: int, **values: Any) -> None:
    connection.execute(update(roles).where(roles.c.id == role_id).values(**values))


def delete_role(connection: Connection, role_id: int) -> None:
    connection.execute(delete(role_assignments).where(role_assignments.c.role_id == role_id))
    connection.execute(delete(role_permissions).where(role_permissions.c.role_id == role_id))
    connection.execute(delete(roles).where(roles.c.id == role_id))


def delete_roles_named(connection: Connection, name: str) -> None:
    """Delete a role by name in every workspace (a deleted user's synthetic grant roles)."""
    connection.execute(delete(roles).where(roles.c.name == name))


def insert_permission(
    connection: Connection, *, role_id: int, resource_type: str, resource_pattern: str, permission: str
) -> int:
    result = connection.execute(
        insert(role_permissions).values(
            role_id=role_id, resource_type=resource_type, resource_pattern=resource_pattern, permission=permission
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def get_permission(connection: Connection, permission_id: int) -> Row[Any] | None:
    return connection.execute(select(role_permissions).where(role_permissions.c.id == permission_id)).first()


def find_permission(
    connection: Connection, *, role_id: int, resource_type: str, resource_pattern: str
) -> Row[Any] | None:
    query = select(role_permissions).where(
        role_permissions.c.role_id == role_id,
        role_permissions.c.resource_type == resource_type,
        role_permissions.c.resource_pattern == resource_pattern,
    )
    return connection.execute(query).first()


def list_permissions(connection: Connection, role_ids: Iterable[int]) -> list[Row[Any]]:
    ids = list(role_ids)
    if not ids:
        return []
    query = select(role_permissions).where(role_permissions.c.role_id.in_(ids)).order_by(role_permissions.c.id)
    return list(connection.execute(query))


def update_permission(connection: Connection, permission_id: int, permission: str) -> None:
    connection.execute(
        update(role_permissions).where(role_permissions.c.id == permission_id).values(permission=permission)
    )


def delete_permission(connection: Connection, permission_id: int) -> None:
    connection.execute(delete(role_permissions).where(role_permissions.c.id == permission_id))


def delete_resource_permissions(connection: Connection, resource_type: str, resource_pattern: str) -> None:
    """Forget every grant naming one resource (it was deleted; a new one may reuse the id or name)."""
    connection.execute(
        delete(role_permissions).where(
            role_permissions.c.resource_type == resource_type, role_permissions.c.resource_pattern == resource_pattern
        )
    )


def insert_assignment(connection: Connection, *, user_id: int, role_id: int) -> int:
    result = connection.execute(insert(role_assignments).values(user_id=user_id, role_id=role_id))
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def get_assignment(connection: Connection, *, user_id: int, role_id: int) -> Row[Any] | None:
    query = select(role_assignments).where(role_assignments.c.user_id == user_id, role_assignments.c.role_id == role_id)
    return connection.execute(query).first()


def delete_assignment(connection: Connection, assignment_id: int) -> None:
    connection.execute(delete(role_assignments).where(role_assignments.c.id == assignment_id))


def user_roles(connection: Connection, user_id: int, workspace: str | None = None) -> list[Row[Any]]:
    query = select(roles).join(role_assignments, role_assignments.c.role_id == roles.c.id)
    query = query.where(role_assignments.c.user_id == user_id)
    if workspace is not None:
        query = query.where(roles.c.workspace == workspace)
    return list(connection.execute(query.order_by(roles.c.workspace, roles.c.name)))


def role_holders(connection: Connection, role_id: int) -> list[Row[Any]]:
    query = (
        select(role_assignments, users.c.username)
        .join(users, users.c.id == role_assignments.c.user_id)
        .where(role_assignments.c.role_id == role_id)
        .order_by(role_assignments.c.id)
    )
    return list(connection.execute(query))


def user_grants(connection: Connection, user_id: int, workspace: str) -> list[Row[Any]]:
    """Every permission row of every role ``user_id`` holds in ``workspace``: one query."""
    query = (
        select(role_permissions.c.resource_type, role_permissions.c.resource_pattern, role_permissions.c.permission)
        .join(roles, roles.c.id == role_permissions.c.role_id)
        .join(role_assignments, role_assignments.c.role_id == roles.c.id)
        .where(role_assignments.c.user_id == user_id, roles.c.workspace == workspace)
    )
    return list(connection.execute(query))


def role_grants(connection: Connection, workspace: str, role_name: str) -> list[Row[Any]]:
    """The permission rows of one named role (a service token acts with exactly these)."""
    query = (
        select(role_permissions.c.resource_type, role_permissions.c.resource_pattern, role_permissions.c.permission)
        .join(roles, roles.c.id == role_permissions.c.role_id)
        .where(roles.c.workspace == workspace, roles.c.name == role_name)
    )
    return list(connection.execute(query))
