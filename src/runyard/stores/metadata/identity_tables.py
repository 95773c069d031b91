"""SQLAlchemy Core tables of identity (share ``tables.metadata``).

Users (argon2id password hashes), API tokens (SHA-256 of the secret only), server-side browser
sessions (SHA-256 of the session id only), login-failure counters shared by every replica, and
MLflow 3.17's role model: roles per workspace, their permissions (resource type, pattern,
permission) and which users hold them. A user's own grants live in a synthetic per-user role.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Table, Text

from runyard.stores.metadata.tables import metadata

__all__ = [
    "api_tokens",
    "login_failures",
    "role_assignments",
    "role_permissions",
    "roles",
    "user_sessions",
    "users",
]

USERNAME_LENGTH = 256
WORKSPACE_LENGTH = 63
HASH_LENGTH = 64

BigId = BigInteger().with_variant(Integer(), "sqlite")

users = Table(
    "users",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("username", String(USERNAME_LENGTH), nullable=False, unique=True),
    Column("email", String(320), nullable=True, unique=True),
    # None for users who only sign in through an OpenID provider.
    Column("password_hash", String(256), nullable=True),
    Column("is_admin", Boolean, nullable=False),
    Column("disabled", Boolean, nullable=False),
    # Bumped on a password change, a disable or an admin change: cached verifications of an older
    # generation are discarded by every replica on their next check.
    Column("generation", Integer, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(128), nullable=False),
    # "personal" (acts as its owner), "service" (a service account named after the token, holding
    # ``role`` in ``workspace``) or "agent" (may act only as workers of ``pool``).
    Column("kind", String(16), nullable=False),
    Column("token_hash", String(HASH_LENGTH), nullable=False, unique=True),
    Column("workspace", String(WORKSPACE_LENGTH), nullable=True),
    Column("role", String(USERNAME_LENGTH), nullable=True),
    Column("pool", String(63), nullable=True),
    Column("creation_time", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=True),
    Column("last_used_at", BigInteger, nullable=True),
    Index(None, "user_id", "name", unique=True),
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

login_failures = Table(
    "login_failures",
    metadata,
    # SHA-256 of "username\0client address": bounded length, no addresses at rest.
    Column("key_hash", String(HASH_LENGTH), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("window_start", BigInteger, nullable=False),
    Column("locked_until", BigInteger, nullable=False),
)

roles = Table(
    "roles",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("workspace", String(WORKSPACE_LENGTH), nullable=False),
    Column("name", String(USERNAME_LENGTH), nullable=False),
    Column("description", Text, nullable=True),
    Index(None, "workspace", "name", unique=True),
)

role_permissions = Table(
    "role_permissions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("role_id", BigId, ForeignKey("roles.id", ondelete="CASCADE"), nullable=False),
    Column("resource_type", String(64), nullable=False),
    Column("resource_pattern", String(USERNAME_LENGTH), nullable=False),
    Column("permission", String(32), nullable=False),
    Index(None, "role_id", "resource_type", "resource_pattern", unique=True),
)

role_assignments = Table(
    "role_assignments",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("role_id", BigId, ForeignKey("roles.id", ondelete="CASCADE"), nullable=False),
    Index(None, "user_id", "role_id", unique=True),
    Index(None, "role_id"),
)
