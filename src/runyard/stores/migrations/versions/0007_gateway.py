"""AI gateway: secrets, model definitions, endpoints, their models, tags and bindings.

Revision ID: 0007_gateway
Revises: 0006_traces

The table definitions are frozen here (never imported from the live ``gateway_tables``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_gateway"
down_revision = "0006_traces"
branch_labels = None
depends_on = None


def _audit() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("last_updated_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=True),
        sa.Column("last_updated_by", sa.String(length=255), nullable=True),
    ]


def _workspace(table: str) -> list[sa.Column[str] | sa.ForeignKeyConstraint]:
    return [
        sa.Column("workspace", sa.String(length=63), server_default="default", nullable=False),
        sa.ForeignKeyConstraint(["workspace"], ["workspaces.name"], name=op.f(f"fk_{table}_workspace_workspaces")),
    ]


def _endpoint_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["endpoint_id"], ["gw_endpoints.endpoint_id"], name=op.f(f"fk_{table}_endpoint_id_gw_endpoints"),
        ondelete="CASCADE",
    )  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "gw_secrets",
        sa.Column("secret_id", sa.String(length=36), nullable=False),
        sa.Column("secret_name", sa.String(length=255), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=True),
        sa.Column("value_encrypted", sa.Text(), nullable=False),
        sa.Column("masked_values", sa.Text(), nullable=False),
        sa.Column("auth_config", sa.Text(), nullable=True),
        *_audit(),
        *_workspace("gw_secrets"),
        sa.PrimaryKeyConstraint("secret_id", name=op.f("pk_gw_secrets")),
        sa.UniqueConstraint("workspace", "secret_name", name=op.f("uq_gw_secrets_workspace_secret_name")),
    )
    op.create_table(
        "gw_models",
        sa.Column("model_definition_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("secret_id", sa.String(length=36), nullable=True),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("model_name", sa.String(length=255), nullable=False),
        *_audit(),
        *_workspace("gw_models"),
        sa.ForeignKeyConstraint(
            ["secret_id"], ["gw_secrets.secret_id"], name=op.f("fk_gw_models_secret_id_gw_secrets"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("model_definition_id", name=op.f("pk_gw_models")),
        sa.UniqueConstraint("workspace", "name", name=op.f("uq_gw_models_workspace_name")),
    )
    op.create_table(
        "gw_endpoints",
        sa.Column("endpoint_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("routing_strategy", sa.String(length=64), nullable=True),
        sa.Column("fallback_strategy", sa.String(length=32), nullable=True),
        sa.Column("fallback_max_attempts", sa.Integer(), nullable=True),
        sa.Column("experiment_id", sa.String(length=32), nullable=True),
        sa.Column("usage_tracking", sa.Boolean(), nullable=False),
        *_audit(),
        *_workspace("gw_endpoints"),
        sa.PrimaryKeyConstraint("endpoint_id", name=op.f("pk_gw_endpoints")),
        sa.UniqueConstraint("workspace", "name", name=op.f("uq_gw_endpoints_workspace_name")),
    )
    op.create_table(
        "gw_endpoint_models",
        sa.Column("mapping_id", sa.String(length=36), nullable=False),
        sa.Column("endpoint_id", sa.String(length=36), nullable=False),
        sa.Column("model_definition_id", sa.String(length=36), nullable=False),
        sa.Column("linkage_type", sa.String(length=16), nullable=False),
        sa.Column("weight", sa.Double(), nullable=False),
        sa.Column("fallback_order", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=True),
        _endpoint_fk("gw_endpoint_models"),
        sa.ForeignKeyConstraint(
            ["model_definition_id"],
            ["gw_models.model_definition_id"],
            name=op.f("fk_gw_endpoint_models_model_definition_id_gw_models"),
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("mapping_id", name=op.f("pk_gw_endpoint_models")),
        sa.UniqueConstraint(
            "endpoint_id",
            "model_definition_id",
            "linkage_type",
            name="uq_gw_endpoint_models_link",
        ),  # fmt: skip
    )
    op.create_table(
        "gw_endpoint_tags",
        sa.Column("endpoint_id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        _endpoint_fk("gw_endpoint_tags"),
        sa.PrimaryKeyConstraint("endpoint_id", "key", name=op.f("pk_gw_endpoint_tags")),
    )
    op.create_table(
        "gw_bindings",
        sa.Column("endpoint_id", sa.String(length=36), nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=255), nullable=False),
        *_audit(),
        _endpoint_fk("gw_bindings"),
        sa.PrimaryKeyConstraint("endpoint_id", "resource_type", "resource_id", name=op.f("pk_gw_bindings")),
    )


def downgrade() -> None:
    for table in ("gw_bindings", "gw_endpoint_tags", "gw_endpoint_models", "gw_endpoints", "gw_models", "gw_secrets"):
        op.drop_table(table)
