"""Interim ``users`` and ``user_sessions`` tables for OIDC login, until the identity tables land.

The columns are exactly those of the identity tables (``identity_tables.py``): when those land,
this module, its import in ``schema.py`` and the interim part of the ``oidc_login`` migration are
deleted, and nothing else changes shape.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Table

from runyard.stores.metadata.tables import metadata

__all__ = ["user_sessions", "users"]

USERNAME_LENGTH = 256
HASH_LENGTH = 64
BigId = BigInteger().with_variant(Integer(), "sqlite")

users = Table(
    "users",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("username", String(USERNAME_LENGTH), nullable=False, unique=True),
    Column("email", String(320), nullable=True, unique=True),
    Column("password_hash", String(256), nullable=True),
    Column("is_admin", Boolean, nullable=False),
    Column("disabled", Boolean, nullable=False),
    Column("generation", Integer, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
)

user_sessions = Table(
    "user_sessions",
    metadata,
    Column("session_hash", String(HASH_LENGTH), primary_key=True),
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("csrf_token", String(HASH_LENGTH), nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_seen", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Index(None, "user_id"),
)
