"""Roles per workspace, their grants, who holds them, and what a principal may do to a resource.

MLflow 3.17's model: a role (per workspace) holds permissions (resource type, pattern ``*`` or one
id, permission); users hold roles; a user's own grants live in a synthetic ``__user_<id>__`` role in
each workspace. Resolution: admins may do everything; a workspace MANAGE grant makes a workspace
admin; a DENY on the resource vetoes; otherwise the best matching grant; no grant, no access.
The creator of a resource is granted MANAGE on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row
from sqlalchemy.exc import IntegrityError

from runyard.domain.identity import (
    DENY,
    Grant,
    Level,
    Principal,
    check_grant,
    effective_level,
    fold_grants,
    user_role_name,
)
from runyard.errors import AlreadyExists, InvalidParameter, NotFound
from runyard.stores.metadata import identity as user_store
from runyard.stores.metadata import identity_roles as store

# Resources a workspace role covers with one level; queues differ (submitting is USE, not EDIT).
_ROLE_RESOURCES = ("experiment", "registered_model", "run", "logged_model", "registered_model_version", "recipe")


def _on_every_resource(level: str) -> tuple[Grant, ...]:
    return tuple(Grant(resource, "*", level) for resource in _ROLE_RESOURCES)


# Built-in roles created in a workspace on demand, mapped onto MLflow's levels. A viewer reads;
# an editor creates and edits (and may submit to queues); an admin manages the workspace.
BUILTIN_ROLES: dict[str, tuple[Grant, ...]] = {
    "viewer": (*_on_every_resource("READ"), Grant("queue", "*", "READ")),
    "editor": (Grant("workspace", "*", "USE"), *_on_every_resource("EDIT"), Grant("queue", "*", "USE")),
    "admin": (Grant("workspace", "*", "MANAGE"),),
}


def role_json(connection: Connection, row: Row[Any], *, with_permissions: bool = True) -> dict[str, Any]:
    """A role in MLflow's wire shape (``Role.to_json``)."""
    permissions = (
        [permission_json(p) for p in store.list_permissions(connection, [int(row.id)])] if with_permissions else []
    )
    return {
        "id": int(row.id),
        "name": row.name,
        "workspace": row.workspace,
        "description": row.description,
        "permissions": permissions,
    }


def permission_json(row: Row[Any]) -> dict[str, Any]:
    return {
        "id": int(row.id),
        "role_id": int(row.role_id),
        "resource_type": row.resource_type,
        "resource_pattern": row.resource_pattern,
        "permission": row.permission,
    }


def _validated(resource_type: str, resource_pattern: str, permission: str) -> None:
    try:
        check_grant(resource_type, resource_pattern, permission)
    except ValueError as error:
        raise InvalidParameter(str(error)) from None


# --- roles ---


def create_role(connection: Connection, workspace: str, name: str, description: str | None = None) -> Row[Any]:
    if not name or name.startswith("__"):
        raise InvalidParameter(f"invalid role name {name!r}")
    if store.get_role_by_name(connection, workspace, name) is not None:
        raise AlreadyExists(f"Role '{name}' already exists in workspace '{workspace}'.")
    return get_role(connection, store.insert_role(connection, workspace=workspace, name=name, description=description))


def get_role(connection: Connection, role_id: int) -> Row[Any]:
    row = store.get_role(connection, role_id)
    if row is None:
        raise NotFound(f"Role with id={role_id} not found")
    return row


def list_roles(connection: Connection, workspace: str | None) -> list[Row[Any]]:
    return [row for row in store.list_roles(connection, workspace) if not row.name.startswith("__user_")]


def update_role(connection: Connection, role_id: int, *, name: str | None, description: str | None) -> Row[Any]:
    role = get_role(connection, role_id)
    values: dict[str, Any] = {}
    if name is not None and name != role.name:
        if store.get_role_by_name(connection, role.workspace, name) is not None:
            raise AlreadyExists(f"Role '{name}' already exists in workspace '{role.workspace}'.")
        values["name"] = name
    if description is not None:
        values["description"] = description
    if values:
        store.update_role(connection, role_id, **values)
    return get_role(connection, role_id)


def delete_role(connection: Connection, role_id: int) -> None:
    get_role(connection, role_id)
    store.delete_role(connection, role_id)


def ensure_builtin_role(connection: Connection, workspace: str, name: str) -> Row[Any]:
    """The built-in role ``name`` in ``workspace``, created with its grants the first time it is asked for."""
    existing = store.get_role_by_name(connection, workspace, name)
    if existing is not None:
        return existing
    if name not in BUILTIN_ROLES:
        raise NotFound(f"role {name!r} does not exist in workspace {workspace!r}")
    role_id = store.insert_role(connection, workspace=workspace, name=name, description=f"built-in {name}")
    for grant in BUILTIN_ROLES[name]:
        store.insert_permission(
            connection,
            role_id=role_id,
            resource_type=grant.resource_type,
            resource_pattern=grant.resource_pattern,
            permission=grant.permission,
        )
    return get_role(connection, role_id)


# --- role permissions ---


def add_role_permission(
    connection: Connection, role_id: int, resource_type: str, resource_pattern: str, permission: str
) -> Row[Any]:
    get_role(connection, role_id)
    _validated(resource_type, resource_pattern, permission)
    if store.find_permission(
        connection, role_id=role_id, resource_type=resource_type, resource_pattern=resource_pattern
    ):
        raise AlreadyExists(f"Role {role_id} already has a permission on {resource_type} '{resource_pattern}'.")
    permission_id = store.insert_permission(
        connection,
        role_id=role_id,
        resource_type=resource_type,
        resource_pattern=resource_pattern,
        permission=permission,
    )
    return get_role_permission(connection, permission_id)


def get_role_permission(connection: Connection, permission_id: int) -> Row[Any]:
    row = store.get_permission(connection, permission_id)
    if row is None:
        raise NotFound(f"Role permission with id={permission_id} not found")
    return row


def update_role_permission(connection: Connection, permission_id: int, permission: str) -> Row[Any]:
    row = get_role_permission(connection, permission_id)
    _validated(row.resource_type, row.resource_pattern, permission)
    store.update_permission(connection, permission_id, permission)
    return get_role_permission(connection, permission_id)


def remove_role_permission(connection: Connection, permission_id: int) -> None:
    get_role_permission(connection, permission_id)
    store.delete_permission(connection, permission_id)


def list_role_permissions(connection: Connection, role_id: int) -> list[Row[Any]]:
    get_role(connection, role_id)
    return store.list_permissions(connection, [role_id])


# --- assignments ---


def _user_id(connection: Connection, username: str) -> int:
    row = user_store.get_user(connection, username=username)
    if row is None:
        raise NotFound(f"User with username={username} not found")
    return int(row.id)


def assign_role(connection: Connection, username: str, role_id: int) -> Row[Any]:
    user_id = _user_id(connection, username)
    get_role(connection, role_id)
    if store.get_assignment(connection, user_id=user_id, role_id=role_id) is not None:
        raise AlreadyExists(f"User '{username}' already has role {role_id}.")
    store.insert_assignment(connection, user_id=user_id, role_id=role_id)
    assignment = store.get_assignment(connection, user_id=user_id, role_id=role_id)
    assert assignment is not None
    return assignment


def unassign_role(connection: Connection, username: str, role_id: int) -> None:
    assignment = store.get_assignment(connection, user_id=_user_id(connection, username), role_id=role_id)
    if assignment is None:
        raise NotFound(f"User '{username}' does not have role {role_id}.")
    store.delete_assignment(connection, int(assignment.id))


def list_user_roles(connection: Connection, username: str) -> list[Row[Any]]:
    rows = store.user_roles(connection, _user_id(connection, username))
    return [row for row in rows if not row.name.startswith("__user_")]


def list_role_users(connection: Connection, role_id: int) -> list[Row[Any]]:
    get_role(connection, role_id)
    return store.role_holders(connection, role_id)


# --- per-user grants (the synthetic role) ---


def _user_role_id(connection: Connection, user_id: int, workspace: str) -> int:
    name = user_role_name(user_id)
    row = store.get_role_by_name(connection, workspace, name)
    if row is not None:
        return int(row.id)
    try:
        with connection.begin_nested():
            role_id = store.insert_role(connection, workspace=workspace, name=name, description=None)
            store.insert_assignment(connection, user_id=user_id, role_id=role_id)
            return role_id
    except IntegrityError:
        # Another request made it first.
        again = store.get_role_by_name(connection, workspace, name)
        assert again is not None
        return int(again.id)


def grant_user_permission(
    connection: Connection, username: str, workspace: str, resource_type: str, resource_id: str, permission: str
) -> None:
    """Set ``username``'s own permission on one resource (replacing an earlier one)."""
    _validated(resource_type, resource_id, permission)
    role_id = _user_role_id(connection, _user_id(connection, username), workspace)
    existing = store.find_permission(
        connection, role_id=role_id, resource_type=resource_type, resource_pattern=resource_id
    )
    if existing is not None:
        store.update_permission(connection, int(existing.id), permission)
    else:
        store.insert_permission(
            connection,
            role_id=role_id,
            resource_type=resource_type,
            resource_pattern=resource_id,
            permission=permission,
        )


def revoke_user_permission(
    connection: Connection, username: str, workspace: str, resource_type: str, resource_id: str
) -> None:
    role = store.get_role_by_name(connection, workspace, user_role_name(_user_id(connection, username)))
    existing = (
        store.find_permission(
            connection, role_id=int(role.id), resource_type=resource_type, resource_pattern=resource_id
        )
        if role is not None
        else None
    )
    if existing is None:
        raise NotFound(f"User '{username}' has no permission on {resource_type} '{resource_id}'.")
    store.delete_permission(connection, int(existing.id))


def grant_creator(
    connection: Connection, principal: Principal, workspace: str, resource_type: str, resource_id: str
) -> None:
    """The creator of a resource gets MANAGE on it (users only: local, service and job principals have no own role)."""
    if principal.kind != "user" or principal.user_id is None:
        return
    role_id = _user_role_id(connection, principal.user_id, workspace)
    if store.find_permission(connection, role_id=role_id, resource_type=resource_type, resource_pattern=resource_id):
        return
    store.insert_permission(
        connection, role_id=role_id, resource_type=resource_type, resource_pattern=resource_id, permission="MANAGE"
    )


def forget_resource(connection: Connection, resource_type: str, resource_id: str) -> None:
    """A deleted resource's grants go with it (a later resource may reuse the id or name)."""
    store.delete_resource_permissions(connection, resource_type, resource_id)


# --- resolution ---


def grants_of(connection: Connection, principal: Principal, workspace: str) -> list[Grant]:
    """Every grant ``principal`` holds in ``workspace`` (one query)."""
    if principal.kind == "service" and principal.role is not None:
        if workspace != principal.workspace:
            return []
        rows = store.role_grants(connection, workspace, principal.role)
    elif principal.kind == "user" and principal.user_id is not None:
        rows = store.user_grants(connection, principal.user_id, workspace)
    else:
        return []
    return [Grant(row.resource_type, row.resource_pattern, row.permission) for row in rows]


def level_from_grants(principal: Principal, grants: list[Grant], resource_type: str, resource_id: str | None) -> Level:
    if principal.kind == "local" or principal.is_admin:
        return Level.MANAGE
    if principal.kind not in ("user", "service"):
        return Level.NO_PERMISSIONS
    return effective_level(grants, resource_type, resource_id)


def permission_name(principal: Principal, grants: list[Grant], resource_type: str, resource_id: str) -> str:
    """The effective permission's MLflow name (DENY shown as such), for ``users/permissions/get``."""
    if principal.is_admin:
        return "MANAGE"
    level = level_from_grants(principal, grants, resource_type, resource_id)
    if level == Level.NO_PERMISSIONS and fold_grants(grants, resource_type, resource_id) == DENY:
        return DENY
    return level.name


@dataclass(frozen=True, slots=True)
class Readable:
    """Which resources of one type a principal may read, for filtering lists in the query itself:
    every one but ``denied`` when ``everything``, else exactly ``ids``."""

    everything: bool
    ids: frozenset[str]
    denied: frozenset[str]


def readable(principal: Principal, grants: list[Grant], resource_type: str) -> Readable:
    if principal.kind == "local" or principal.is_admin:
        return Readable(everything=True, ids=frozenset(), denied=frozenset())
    denied = frozenset(g.resource_pattern for g in grants if g.resource_type == resource_type and g.permission == DENY)
    # An id no grant names: what a wildcard (or workspace admin) grant gives every resource.
    if level_from_grants(principal, grants, resource_type, None) >= Level.READ:
        return Readable(everything=True, ids=frozenset(), denied=denied)
    named = {g.resource_pattern for g in grants if g.resource_type == resource_type and g.resource_pattern != "*"}
    ids = frozenset(i for i in named if level_from_grants(principal, grants, resource_type, i) >= Level.READ)
    return Readable(everything=False, ids=ids, denied=denied)


def is_workspace_admin(connection: Connection, principal: Principal, workspace: str) -> bool:
    """An admin, or a holder of MANAGE on ``workspace`` itself (may manage its roles and grants)."""
    if principal.kind == "local" or principal.is_admin:
        return True
    grants = grants_of(connection, principal, workspace)
    return level_from_grants(principal, grants, "workspace", None) == Level.MANAGE and any(
        g.resource_type == "workspace" for g in grants
    )


def administers_any_workspace(connection: Connection, principal: Principal) -> bool:
    if principal.kind == "local" or principal.is_admin:
        return True
    if principal.kind != "user" or principal.user_id is None:
        return False
    workspaces = {row.workspace for row in store.user_roles(connection, principal.user_id)}
    return any(is_workspace_admin(connection, principal, workspace) for workspace in workspaces)


def level(
    connection: Connection, principal: Principal, workspace: str, resource_type: str, resource_id: str | None
) -> Level:
    """What ``principal`` may do to one resource in ``workspace`` (one grants query; none for admins)."""
    if principal.kind == "local" or principal.is_admin:
        return Level.MANAGE
    return level_from_grants(principal, grants_of(connection, principal, workspace), resource_type, resource_id)
