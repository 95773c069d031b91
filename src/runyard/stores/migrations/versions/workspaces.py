"""Workspaces: a ``workspaces`` table and the owning workspace of every root resource.

Experiments, registered models, recipes, queues and jobs get a ``workspace`` column (every existing
row lands in ``default``, which this revision creates) and their names become unique per
workspace: ``(workspace, name)`` replaces the unique name (experiments, registered models) or the
primary key (recipes, their versions, queues). Runs, model versions, aliases, tags, logged models,
job attempts, events and logs belong to their parent's workspace and change nothing. Registry events
record the workspace they happened in.

SQLite rebuilds each changed table in batch mode (the runner turns its foreign keys off for the
duration, so rebuilding a parent does not cascade to its children).

Revision ID: workspaces
Revises: identity
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "workspaces"
down_revision = "identity"
branch_labels = None
depends_on = None

LENGTH = 63
DEFAULT = "default"


def _workspace(*, primary_key: bool = False) -> sa.Column[str]:
    return sa.Column("workspace", sa.String(LENGTH), nullable=False, server_default=DEFAULT, primary_key=primary_key)


def upgrade() -> None:
    workspaces = op.create_table(
        "workspaces",
        sa.Column("name", sa.String(LENGTH), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("default_artifact_root", sa.String(1000), nullable=True),
        sa.Column("creation_time", sa.BigInteger(), nullable=False),
        sa.Column("last_update_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_workspaces")),
    )
    now = int(time.time() * 1000)
    op.bulk_insert(
        workspaces,
        [{"name": DEFAULT, "description": "The default workspace", "creation_time": now, "last_update_time": now}],
    )

    for table in ("experiments", "registered_models"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(_workspace())
            batch.drop_constraint(f"uq_{table}_name", type_="unique")
            batch.create_unique_constraint(f"uq_{table}_workspace_name", ["workspace", "name"])
            batch.create_foreign_key(f"fk_{table}_workspace_workspaces", "workspaces", ["workspace"], ["name"])

    with op.batch_alter_table("registry_events") as batch:
        batch.add_column(_workspace())
        batch.create_index("ix_registry_events_workspace_event_id", ["workspace", "event_id"], unique=False)

    with op.batch_alter_table("jobs") as batch:
        batch.add_column(_workspace())
        batch.create_foreign_key("fk_jobs_workspace_workspaces", "workspaces", ["workspace"], ["name"])
        batch.create_index("ix_jobs_workspace_job_id", ["workspace", "job_id"], unique=False)

    # The versions' key and foreign key name the recipe by (workspace, name): drop the old ones
    # before the recipe's primary key they depend on changes.
    with op.batch_alter_table("recipe_versions") as batch:
        batch.drop_constraint("fk_recipe_versions_name_recipes", type_="foreignkey")
        batch.drop_index("ix_recipe_versions_name_digest")
        batch.drop_constraint("pk_recipe_versions", type_="primary")
    for table in ("recipes", "queues"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(_workspace())
            batch.drop_constraint(f"pk_{table}", type_="primary")
            batch.create_primary_key(f"pk_{table}", ["workspace", "name"])
            batch.create_foreign_key(f"fk_{table}_workspace_workspaces", "workspaces", ["workspace"], ["name"])
    with op.batch_alter_table("recipe_versions") as batch:
        batch.add_column(_workspace())
        batch.create_primary_key("pk_recipe_versions", ["workspace", "name", "version"])
        batch.create_index("ix_recipe_versions_workspace_name_digest", ["workspace", "name", "digest"], unique=True)
        batch.create_foreign_key(
            "fk_recipe_versions_workspace_name_recipes",
            "recipes",
            ["workspace", "name"],
            ["workspace", "name"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    # Only possible while every row is still in ``default`` (names are unique again then).
    with op.batch_alter_table("recipe_versions") as batch:
        batch.drop_constraint("fk_recipe_versions_workspace_name_recipes", type_="foreignkey")
        batch.drop_index("ix_recipe_versions_workspace_name_digest")
        batch.drop_constraint("pk_recipe_versions", type_="primary")
    for table in ("queues", "recipes"):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"fk_{table}_workspace_workspaces", type_="foreignkey")
            batch.drop_constraint(f"pk_{table}", type_="primary")
            batch.drop_column("workspace")
            batch.create_primary_key(f"pk_{table}", ["name"])
    with op.batch_alter_table("recipe_versions") as batch:
        batch.drop_column("workspace")
        batch.create_primary_key("pk_recipe_versions", ["name", "version"])
        batch.create_index("ix_recipe_versions_name_digest", ["name", "digest"], unique=True)
        batch.create_foreign_key("fk_recipe_versions_name_recipes", "recipes", ["name"], ["name"], ondelete="CASCADE")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index("ix_jobs_workspace_job_id")
        batch.drop_constraint("fk_jobs_workspace_workspaces", type_="foreignkey")
        batch.drop_column("workspace")
    with op.batch_alter_table("registry_events") as batch:
        batch.drop_index("ix_registry_events_workspace_event_id")
        batch.drop_column("workspace")
    for table in ("registered_models", "experiments"):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"fk_{table}_workspace_workspaces", type_="foreignkey")
            batch.drop_constraint(f"uq_{table}_workspace_name", type_="unique")
            batch.drop_column("workspace")
            batch.create_unique_constraint(f"uq_{table}_name", ["name"])
    op.drop_table("workspaces")
