"""Alembic environment: runs migrations on the connection ``runner`` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from runyard.stores.metadata.schema import metadata

config = context.config
connection: Connection | None = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("runyard migrations run through runyard.stores.migrations.runner, not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things in place; batch mode rebuilds tables instead.
    render_as_batch=True,
    compare_type=True,
    compare_server_default=False,
)
with context.begin_transaction():
    context.run_migrations()
