"""SQLAlchemy Core tables of webhooks: subscriptions, their events, and the delivery outbox.

A registry change inserts one ``webhook_deliveries`` row per subscribed webhook in the change's own
transaction (so an event is never lost nor invented by a rollback); delivery loops on any replica
claim due rows with ``FOR UPDATE SKIP LOCKED`` and mark each delivered or due again later.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table, Text

from runyard.stores.metadata.tables import LONG_TEXT, metadata

webhooks = Table(
    "webhooks",
    metadata,
    Column("webhook_id", String(36), primary_key=True),
    Column("workspace", String(63), ForeignKey("workspaces.name"), nullable=False, server_default="default"),
    Column("name", String(63), nullable=False),
    Column("url", String(500), nullable=False),
    Column("description", Text, nullable=True),
    Column("status", String(16), nullable=False),
    # Fernet token of the signing secret (never the secret itself).
    Column("secret_encrypted", Text, nullable=True),
    Column("creation_timestamp", BigInteger, nullable=False),
    Column("last_updated_timestamp", BigInteger, nullable=False),
    Index(None, "workspace", "creation_timestamp"),
)

webhook_events = Table(
    "webhook_events",
    metadata,
    Column("webhook_id", String(36), ForeignKey("webhooks.webhook_id", ondelete="CASCADE"), primary_key=True),
    Column("entity", String(32), primary_key=True),
    Column("action", String(16), primary_key=True),
    Index(None, "entity", "action"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("delivery_id", String(36), primary_key=True),
    Column("webhook_id", String(36), ForeignKey("webhooks.webhook_id", ondelete="CASCADE"), nullable=False),
    Column("entity", String(32), nullable=False),
    Column("action", String(16), nullable=False),
    Column("payload", LONG_TEXT, nullable=False),
    # pending (due at next_attempt_at), delivered, or failed (retries exhausted).
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("last_status", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Index(None, "state", "next_attempt_at"),
    Index(None, "webhook_id"),
)
