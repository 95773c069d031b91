"""Workspaces: create, read, update, delete (MLflow 3's workspace API), and the request's workspace.

Which workspace a unit of work acts in is carried by a context variable, bound once per request by
the API layer (from the ``X-MLFLOW-WORKSPACE`` header) and read by the services that look up or
create workspace-owned rows. A context variable rather than a parameter on every service function:
it follows the request into the worker thread that runs its transaction, and background loops
(placement, watchdogs), which act on every workspace, never bind one. MLflow's own server carries
the request's workspace the same way.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextvars import ContextVar
from typing import ParamSpec, TypeVar

from sqlalchemy import Connection

from runyard.domain import workspaces as domain
from runyard.domain.clock import now_ms
from runyard.domain.workspaces import DEFAULT_WORKSPACE, DeletionMode, Workspace
from runyard.errors import Conflict, InvalidParameter, NotFound
from runyard.stores.metadata import workspaces as store

# ``None``: no request bound one (a background loop) or the work spans workspaces (the agent protocol).
_SCOPE: ContextVar[str | None] = ContextVar("runyard_workspace", default=None)

P = ParamSpec("P")
T = TypeVar("T")


def current_workspace() -> str:
    """The workspace new rows go to: the request's, ``default`` outside a request."""
    return _SCOPE.get() or DEFAULT_WORKSPACE


def workspace_scope() -> str | None:
    """The workspace lookups are confined to: the request's, or ``None`` (every workspace) outside one."""
    return _SCOPE.get()


def bind_workspace(name: str) -> None:
    """Make ``name`` the workspace of the current request (its context and the threads it spawns)."""
    _SCOPE.set(name)


def every_workspace(work: Callable[P, T]) -> Callable[P, T]:
    """Run ``work`` unconfined: for the agent protocol, which acts on its jobs whatever their workspace
    (an agent's request names no workspace; its credentials, not a header, say what it may touch)."""

    @functools.wraps(work)
    def unconfined(*args: P.args, **kwargs: P.kwargs) -> T:
        token = _SCOPE.set(None)
        try:
            return work(*args, **kwargs)
        finally:
            _SCOPE.reset(token)

    return unconfined


def check_exists(connection: Connection, name: str) -> None:
    if name != DEFAULT_WORKSPACE and not store.workspace_exists(connection, name):
        raise NotFound(f"Workspace '{name}' not found")


def _check_text(field: str, value: str | None, limit: int) -> str | None:
    if value is not None and len(value) > limit:
        raise InvalidParameter(f"'{field}' exceeds the maximum length of {limit} characters")
    return value


def create_workspace(
    connection: Connection,
    name: str | None,
    *,
    description: str | None = None,
    default_artifact_root: str | None = None,
) -> Workspace:
    if not name:
        raise InvalidParameter("Missing value for required parameter 'name'.")
    if name == DEFAULT_WORKSPACE:
        raise InvalidParameter(f"The '{DEFAULT_WORKSPACE}' workspace is reserved and cannot be created")
    domain.validate_name(name)
    _check_text("description", description, domain.MAX_DESCRIPTION_LENGTH)
    _check_text("default_artifact_root", default_artifact_root, domain.MAX_ARTIFACT_ROOT_LENGTH)
    return store.insert_workspace(
        connection,
        name=name,
        description=description,
        default_artifact_root=default_artifact_root or None,
        now=now_ms(),
    )


def get_workspace(connection: Connection, name: str) -> Workspace:
    domain.validate_name(name)
    workspace = store.get_workspace(connection, name)
    if workspace is None:
        raise NotFound(f"Workspace '{name}' not found")
    return workspace


def list_workspaces(connection: Connection) -> list[Workspace]:
    return store.list_workspaces(connection)


def update_workspace(
    connection: Connection,
    name: str,
    *,
    description: str | None = None,
    default_artifact_root: str | None = None,
) -> Workspace:
    """Change what is given; ``default_artifact_root=""`` clears the workspace's own root."""
    domain.validate_name(name)
    if description is None and default_artifact_root is None:
        raise InvalidParameter("Workspace update must have at least one key")
    _check_text("description", description, domain.MAX_DESCRIPTION_LENGTH)
    _check_text("default_artifact_root", default_artifact_root, domain.MAX_ARTIFACT_ROOT_LENGTH)
    if store.get_workspace(connection, name, lock=True) is None:
        raise NotFound(f"Workspace '{name}' not found")
    values: dict[str, str | None] = {}
    if description is not None:
        values["description"] = description
    if default_artifact_root is not None:
        values["default_artifact_root"] = default_artifact_root or None
    store.update_workspace(connection, name, now=now_ms(), **values)
    return get_workspace(connection, name)


def delete_workspace(connection: Connection, name: str, mode: DeletionMode = DeletionMode.RESTRICT) -> None:
    """Delete a workspace: RESTRICT refuses one that holds anything, SET_DEFAULT moves its contents to ``default``.

    Raises:
        InvalidParameter: for ``default``, a bad name, or CASCADE (not supported: delete the contents first).
        Conflict: the workspace is not empty (RESTRICT), or its names clash with ``default``'s (SET_DEFAULT).
    """
    if name == DEFAULT_WORKSPACE:
        raise InvalidParameter(f"The '{DEFAULT_WORKSPACE}' workspace is reserved and cannot be deleted")
    domain.validate_name(name)
    if store.get_workspace(connection, name, lock=True) is None:
        raise NotFound(f"Workspace '{name}' not found")
    if mode is DeletionMode.CASCADE:
        raise InvalidParameter(
            "Deletion mode CASCADE is not supported: delete the workspace's contents first, "
            "or use SET_DEFAULT to move them to the default workspace"
        )
    if mode is DeletionMode.RESTRICT:
        counts = store.content_counts(connection, name)
        if counts:
            table, count = next(iter(counts.items()))
            raise Conflict(
                f"Cannot delete workspace '{name}': table '{table}' still contains {count} resource(s). "
                "Remove or reassign them before deleting the workspace."
            )
    else:
        clashes = store.names_in_both(connection, name, DEFAULT_WORKSPACE)
        if clashes:
            details = "; ".join(f"{table}: {', '.join(names)}" for table, names in clashes.items())
            raise Conflict(
                f"Cannot reassign resources from workspace '{name}' to '{DEFAULT_WORKSPACE}': "
                f"these names already exist there ({details})"
            )
        store.move_contents(connection, name, DEFAULT_WORKSPACE)
    store.delete_workspace(connection, name)
