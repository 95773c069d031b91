"""Traces: trace info, tags, request metadata, spans (one row per span), assessments, run links.

Revision ID: 0006_traces
Revises: webhooks

The table definitions are frozen here (never imported from the live ``trace_tables``) so this
revision always creates exactly the schema it was written for.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0006_traces"
down_revision = "webhooks"
branch_labels = None
depends_on = None

LONG_TEXT = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql")


def _trace_fk(table: str, column: str = "request_id") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["trace_info.request_id"], name=op.f(f"fk_{table}_{column}_trace_info"), ondelete="CASCADE"
    )


def _key_value_table(name: str) -> None:
    op.create_table(
        name,
        sa.Column("request_id", sa.String(length=50), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("value", LONG_TEXT, nullable=True),
        _trace_fk(name),
        sa.PrimaryKeyConstraint("request_id", "key", name=op.f(f"pk_{name}")),
    )


def upgrade() -> None:
    op.create_table(
        "trace_info",
        sa.Column("request_id", sa.String(length=50), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("timestamp_ms", sa.BigInteger(), nullable=False),
        sa.Column("execution_time_ms", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=50), nullable=False),
        sa.Column("client_request_id", sa.String(length=50), nullable=True),
        sa.Column("request_preview", sa.String(length=1000), nullable=True),
        sa.Column("response_preview", sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(
            ["experiment_id"], ["experiments.experiment_id"], name=op.f("fk_trace_info_experiment_id_experiments")
        ),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_trace_info")),
    )
    with op.batch_alter_table("trace_info", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_trace_info_experiment_id_timestamp_ms_request_id"),
            ["experiment_id", "timestamp_ms", "request_id"],
            unique=False,
        )

    _key_value_table("trace_tags")
    _key_value_table("trace_request_metadata")

    op.create_table(
        "trace_spans",
        sa.Column("trace_id", sa.String(length=50), nullable=False),
        sa.Column("span_id", sa.String(length=50), nullable=False),
        sa.Column("parent_span_id", sa.String(length=50), nullable=True),
        sa.Column("name", sa.String(length=500), nullable=True),
        sa.Column("type", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=50), nullable=False),
        sa.Column("start_time_unix_nano", sa.BigInteger(), nullable=False),
        sa.Column("end_time_unix_nano", sa.BigInteger(), nullable=True),
        sa.Column("content", LONG_TEXT, nullable=False),
        _trace_fk("trace_spans", "trace_id"),
        sa.PrimaryKeyConstraint("trace_id", "span_id", name=op.f("pk_trace_spans")),
    )

    op.create_table(
        "trace_assessments",
        sa.Column("assessment_id", sa.String(length=50), nullable=False),
        sa.Column("trace_id", sa.String(length=50), nullable=False),
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("value", LONG_TEXT, nullable=True),
        sa.Column("numeric_value", sa.Double(), nullable=True),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("create_time", sa.BigInteger(), nullable=False),
        sa.Column("last_update_time", sa.BigInteger(), nullable=False),
        sa.Column("body", LONG_TEXT, nullable=False),
        _trace_fk("trace_assessments", "trace_id"),
        sa.PrimaryKeyConstraint("assessment_id", name=op.f("pk_trace_assessments")),
    )
    with op.batch_alter_table("trace_assessments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_trace_assessments_trace_id_create_time"), ["trace_id", "create_time"], unique=False
        )

    op.create_table(
        "trace_run_links",
        sa.Column("trace_id", sa.String(length=50), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        _trace_fk("trace_run_links", "trace_id"),
        sa.PrimaryKeyConstraint("trace_id", "run_id", name=op.f("pk_trace_run_links")),
    )
    with op.batch_alter_table("trace_run_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_trace_run_links_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    for table in (
        "trace_run_links",
        "trace_assessments",
        "trace_spans",
        "trace_request_metadata",
        "trace_tags",
        "trace_info",
    ):
        op.drop_table(table)
