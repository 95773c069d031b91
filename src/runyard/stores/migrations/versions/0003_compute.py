"""Compute: recipes, queues, pools, workers, jobs, attempts, job events and logs.

Revision ID: 0003_compute
Revises: 0002_registry
"""

from __future__ import annotations

revision = "0003_compute"
down_revision = "0002_registry"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
