"""Metric points no longer carry a foreign key to their run.

A foreign key costs a lookup of the parent row for every inserted point (on PostgreSQL a
``SELECT … FOR KEY SHARE`` on ``runs`` per row, a third of the cost of ingesting a point). The
guarantee it gave is kept by the one code path that writes points: ``log_batch`` locks the run
(which must exist and be active) for its whole transaction. Runs are only ever soft-deleted, so no
cascade is lost; anything that one day removes run rows must delete their points first.

SQLite cannot drop a constraint in place: the table is rebuilt (its rows copied) in batch mode.

Revision ID: 0005_metrics_without_run_fk
Revises: 0004_search_statistics
"""

from __future__ import annotations

from alembic import op

revision = "0005_metrics_without_run_fk"
down_revision = "0004_search_statistics"
branch_labels = None
depends_on = None

FOREIGN_KEY = "fk_metrics_run_uuid_runs"


def upgrade() -> None:
    with op.batch_alter_table("metrics") as batch:
        batch.drop_constraint(FOREIGN_KEY, type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("metrics") as batch:
        batch.create_foreign_key(FOREIGN_KEY, "runs", ["run_uuid"], ["run_uuid"], ondelete="CASCADE")
