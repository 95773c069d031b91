"""Recipe rows and their content-addressed versions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, func, insert, select, update

from runyard.stores.metadata.compute_tables import recipe_versions, recipes


def lock_or_create_recipe(
    connection: Connection, workspace: str, name: str, description: str | None, now: int
) -> Row[Any]:
    """The recipe's row, locked so concurrent pushes of one recipe number versions one at a time."""
    statement = select(recipes).where(recipes.c.workspace == workspace, recipes.c.name == name)
    if connection.dialect.name != "sqlite":
        statement = statement.with_for_update()
    row = connection.execute(statement).first()
    if row is not None:
        return row
    from runyard.stores.metadata import dialects

    connection.execute(
        dialects.insert_ignoring_duplicates(connection, recipes).values(
            workspace=workspace,
            name=name,
            description=description,
            latest_version=0,
            creation_time=now,
            last_update_time=now,
        )
    )
    row = connection.execute(statement).first()
    assert row is not None
    return row


def get_recipe(connection: Connection, workspace: str, name: str) -> Row[Any] | None:
    return connection.execute(select(recipes).where(recipes.c.workspace == workspace, recipes.c.name == name)).first()


def list_recipes(
    connection: Connection, workspace: str, *, prefix: str | None, limit: int, offset: int
) -> list[Row[Any]]:
    statement = (
        select(recipes).where(recipes.c.workspace == workspace).order_by(recipes.c.name).limit(limit).offset(offset)
    )
    if prefix:
        statement = statement.where(recipes.c.name.startswith(prefix, autoescape=True))
    return list(connection.execute(statement))


def count_recipes(connection: Connection, workspace: str, *, prefix: str | None) -> int:
    statement = select(func.count()).select_from(recipes).where(recipes.c.workspace == workspace)
    if prefix:
        statement = statement.where(recipes.c.name.startswith(prefix, autoescape=True))
    return int(connection.execute(statement).scalar_one())


def _version_of(workspace: str, name: str) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return recipe_versions.c.workspace == workspace, recipe_versions.c.name == name


def version_by_digest(connection: Connection, workspace: str, name: str, digest: str) -> Row[Any] | None:
    return connection.execute(
        select(recipe_versions).where(*_version_of(workspace, name), recipe_versions.c.digest == digest)
    ).first()


def get_version(connection: Connection, workspace: str, name: str, version: int) -> Row[Any] | None:
    return connection.execute(
        select(recipe_versions).where(*_version_of(workspace, name), recipe_versions.c.version == version)
    ).first()


def list_versions(connection: Connection, workspace: str, name: str) -> list[Row[Any]]:
    return list(
        connection.execute(
            select(recipe_versions).where(*_version_of(workspace, name)).order_by(recipe_versions.c.version.desc())
        )
    )


def insert_version(
    connection: Connection,
    *,
    workspace: str,
    name: str,
    version: int,
    digest: str,
    manifest: str,
    bundle_path: str,
    bundle_size: int,
    description: str | None,
    now: int,
) -> None:
    connection.execute(
        insert(recipe_versions).values(
            workspace=workspace,
            name=name,
            version=version,
            digest=digest,
            manifest=manifest,
            bundle_path=bundle_path,
            bundle_size=bundle_size,
            creation_time=now,
        )
    )
    connection.execute(
        update(recipes)
        .where(recipes.c.workspace == workspace, recipes.c.name == name)
        .values(latest_version=version, description=description, last_update_time=now)
    )
