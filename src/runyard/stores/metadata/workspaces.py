"""Workspace rows, and what each workspace holds (for deletion)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from runyard.domain.workspaces import Workspace
from runyard.errors import AlreadyExists
from runyard.stores.metadata.compute_tables import jobs, queues, recipe_versions, recipes
from runyard.stores.metadata.evaluation_tables import evaluation_datasets
from runyard.stores.metadata.registry_tables import registered_models, registry_events
from runyard.stores.metadata.tables import experiments, workspaces

# The tables whose rows a workspace owns directly; everything else belongs to one of these.
CONTENTS = {
    "experiments": experiments,
    "registered_models": registered_models,
    "recipes": recipes,
    "jobs": jobs,
    "queues": queues,
    "evaluation_datasets": evaluation_datasets,
}


def _to_workspace(row: Row[Any]) -> Workspace:
    return Workspace(
        name=row.name,
        description=row.description,
        default_artifact_root=row.default_artifact_root,
        creation_time=int(row.creation_time),
        last_update_time=int(row.last_update_time),
    )


def insert_workspace(
    connection: Connection, *, name: str, description: str | None, default_artifact_root: str | None, now: int
) -> Workspace:
    try:
        with connection.begin_nested():
            connection.execute(
                insert(workspaces).values(
                    name=name,
                    description=description,
                    default_artifact_root=default_artifact_root,
                    creation_time=now,
                    last_update_time=now,
                )
            )
    except IntegrityError:
        raise AlreadyExists(f"Workspace '{name}' already exists.") from None
    return Workspace(name, description, default_artifact_root, now, now)


def get_workspace(connection: Connection, name: str, *, lock: bool = False) -> Workspace | None:
    statement = select(workspaces).where(workspaces.c.name == name)
    if lock and connection.dialect.name != "sqlite":
        statement = statement.with_for_update()
    row = connection.execute(statement).first()
    return None if row is None else _to_workspace(row)


def workspace_exists(connection: Connection, name: str) -> bool:
    """A primary-key probe: what every request naming a workspace costs."""
    return connection.execute(select(workspaces.c.name).where(workspaces.c.name == name)).first() is not None


def list_workspaces(connection: Connection) -> list[Workspace]:
    return [_to_workspace(row) for row in connection.execute(select(workspaces).order_by(workspaces.c.name))]


def update_workspace(connection: Connection, name: str, *, now: int, **values: Any) -> None:
    connection.execute(update(workspaces).where(workspaces.c.name == name).values(last_update_time=now, **values))


def content_counts(connection: Connection, name: str) -> dict[str, int]:
    """How many rows of each owned table are in workspace ``name`` (tables with none are left out)."""
    counts: dict[str, int] = {}
    for table_name, table in CONTENTS.items():
        count = int(
            connection.execute(select(func.count()).select_from(table).where(table.c.workspace == name)).scalar_one()
        )
        if count:
            counts[table_name] = count
    return counts


def delete_workspace(connection: Connection, name: str) -> None:
    """Remove an empty workspace and its registry audit trail (a later workspace of that name starts clean)."""
    connection.execute(delete(registry_events).where(registry_events.c.workspace == name))
    connection.execute(delete(workspaces).where(workspaces.c.name == name))


def names_in_both(connection: Connection, name: str, other: str) -> dict[str, list[str]]:
    """Names used in both workspaces, per table: what moving ``name``'s contents into ``other`` would collide on."""
    found: dict[str, list[str]] = {}
    for table_name, table in (
        ("experiments", experiments),
        ("registered_models", registered_models),
        ("recipes", recipes),
    ):
        mine = select(table.c.name).where(table.c.workspace == name)
        clashes = connection.execute(
            select(table.c.name).where(table.c.workspace == other, table.c.name.in_(mine)).order_by(table.c.name)
        ).scalars()
        listed = list(clashes)
        if listed:
            found[table_name] = listed
    return found


def move_contents(connection: Connection, name: str, target: str) -> None:
    """Reassign everything ``name`` owns to ``target`` (names already checked not to collide)."""
    for table in (experiments, registered_models, jobs, registry_events, evaluation_datasets):
        connection.execute(update(table).where(table.c.workspace == name).values(workspace=target))
    # Queues named alike in both merge into the target's (its priority wins).
    target_queues = select(queues.c.name).where(queues.c.workspace == target)
    connection.execute(delete(queues).where(queues.c.workspace == name, queues.c.name.in_(target_queues)))
    connection.execute(update(queues).where(queues.c.workspace == name).values(workspace=target))
    # A recipe's versions reference it by (workspace, name): copy the recipes, move the versions, drop the old.
    moved = list(connection.execute(select(recipes).where(recipes.c.workspace == name)).mappings())
    if moved:
        connection.execute(insert(recipes), [{**row, "workspace": target} for row in moved])
        connection.execute(update(recipe_versions).where(recipe_versions.c.workspace == name).values(workspace=target))
        connection.execute(delete(recipes).where(recipes.c.workspace == name))
