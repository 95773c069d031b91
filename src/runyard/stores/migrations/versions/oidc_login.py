"""OIDC login: pending logins (any replica can take the callback) and provider identities of users.

Until the identity migration lands, this one also creates minimal ``users`` and ``user_sessions``
tables with exactly the identity tables' columns; it skips them when they already exist, so the
chain works whichever of the two migrations runs first. When the identity tables land, the interim
part (``_create_interim_identity_tables``) is deleted.

Revision ID: oidc_login
Revises: 0005_metrics_without_run_fk
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "oidc_login"
down_revision = "0005_metrics_without_run_fk"
branch_labels = None
depends_on = None

# Frozen copy of the users table's key type: BIGINT, INTEGER on SQLite (its only autoincrementing type).
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    _create_interim_identity_tables()
    op.create_table(
        "oidc_logins",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("provider_key", sa.String(length=63), nullable=False),
        sa.Column("browser_hash", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=128), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=True),
        sa.Column("return_to", sa.String(length=2000), nullable=True),
        sa.Column("creation_time", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("state_hash", name=op.f("pk_oidc_logins")),
    )
    op.create_index(op.f("ix_oidc_logins_expires_at"), "oidc_logins", ["expires_at"])
    op.create_table(
        "oidc_identities",
        sa.Column("provider_key", sa.String(length=63), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("user_id", BIG_ID, nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("creation_time", sa.BigInteger(), nullable=False),
        sa.Column("last_login_time", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_oidc_identities_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("provider_key", "subject", name=op.f("pk_oidc_identities")),
    )
    op.create_index(op.f("ix_oidc_identities_user_id"), "oidc_identities", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_oidc_identities_user_id"), table_name="oidc_identities")
    op.drop_table("oidc_identities")
    op.drop_index(op.f("ix_oidc_logins_expires_at"), table_name="oidc_logins")
    op.drop_table("oidc_logins")
    # The interim users tables are left in place: the identity migration may own them by then.


def _create_interim_identity_tables() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "users" not in existing:
        op.create_table(
            "users",
            sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
            sa.Column("username", sa.String(length=256), nullable=False),
            sa.Column("email", sa.String(length=320), nullable=True),
            sa.Column("password_hash", sa.String(length=256), nullable=True),
            sa.Column("is_admin", sa.Boolean(), nullable=False),
            sa.Column("disabled", sa.Boolean(), nullable=False),
            sa.Column("generation", sa.Integer(), nullable=False),
            sa.Column("creation_time", sa.BigInteger(), nullable=False),
            sa.Column("last_update_time", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
            sa.UniqueConstraint("username", name=op.f("uq_users_username")),
            sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        )
    if "user_sessions" not in existing:
        op.create_table(
            "user_sessions",
            sa.Column("session_hash", sa.String(length=64), nullable=False),
            sa.Column("user_id", BIG_ID, nullable=False),
            sa.Column("csrf_token", sa.String(length=64), nullable=False),
            sa.Column("creation_time", sa.BigInteger(), nullable=False),
            sa.Column("last_seen", sa.BigInteger(), nullable=False),
            sa.Column("expires_at", sa.BigInteger(), nullable=False),
            sa.ForeignKeyConstraint(
                ["user_id"], ["users.id"], name=op.f("fk_user_sessions_user_id_users"), ondelete="CASCADE"
            ),
            sa.PrimaryKeyConstraint("session_hash", name=op.f("pk_user_sessions")),
        )
        op.create_index(op.f("ix_user_sessions_user_id"), "user_sessions", ["user_id"])
