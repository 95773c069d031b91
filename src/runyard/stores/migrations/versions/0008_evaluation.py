"""Evaluation: datasets (tags, experiment associations, records) and registered scorers (versions, online configs).

Revision ID: 0008_evaluation
Revises: 0007_gateway

The table definitions are frozen here (never imported from the live ``evaluation_tables``) so this
revision always creates exactly the schema it was written for.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0008_evaluation"
down_revision = "0007_gateway"
branch_labels = None
depends_on = None

LONG_TEXT = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql")


def _fk(table: str, column: str, target: str, target_column: str, *, cascade: bool = True) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{target}.{target_column}"],
        name=op.f(f"fk_{table}_{column}_{target}"),
        ondelete="CASCADE" if cascade else None,
    )


def _datasets() -> None:
    op.create_table(
        "evaluation_datasets",
        sa.Column("dataset_id", sa.String(length=36), nullable=False),
        sa.Column("workspace", sa.String(length=63), server_default="default", nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("schema", LONG_TEXT, nullable=True),
        sa.Column("profile", LONG_TEXT, nullable=True),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("last_update_time", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=True),
        sa.Column("last_updated_by", sa.String(length=255), nullable=True),
        _fk("evaluation_datasets", "workspace", "workspaces", "name", cascade=False),
        sa.PrimaryKeyConstraint("dataset_id", name=op.f("pk_evaluation_datasets")),
    )
    op.create_index(
        op.f("ix_evaluation_datasets_workspace_created_time"),
        "evaluation_datasets",
        ["workspace", "created_time"],
        unique=False,
    )
    op.create_table(
        "evaluation_dataset_tags",
        sa.Column("dataset_id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        _fk("evaluation_dataset_tags", "dataset_id", "evaluation_datasets", "dataset_id"),
        sa.PrimaryKeyConstraint("dataset_id", "key", name=op.f("pk_evaluation_dataset_tags")),
    )
    op.create_table(
        "evaluation_dataset_experiments",
        sa.Column("dataset_id", sa.String(length=36), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        _fk("evaluation_dataset_experiments", "dataset_id", "evaluation_datasets", "dataset_id"),
        _fk("evaluation_dataset_experiments", "experiment_id", "experiments", "experiment_id", cascade=False),
        sa.PrimaryKeyConstraint("dataset_id", "experiment_id", name=op.f("pk_evaluation_dataset_experiments")),
    )
    op.create_index(
        op.f("ix_evaluation_dataset_experiments_experiment_id"),
        "evaluation_dataset_experiments",
        ["experiment_id"],
        unique=False,
    )
    op.create_table(
        "evaluation_dataset_records",
        sa.Column("dataset_record_id", sa.String(length=36), nullable=False),
        sa.Column("dataset_id", sa.String(length=36), nullable=False),
        sa.Column("input_hash", sa.String(length=64), nullable=False),
        sa.Column("inputs", LONG_TEXT, nullable=False),
        sa.Column("outputs", LONG_TEXT, nullable=True),
        sa.Column("expectations", LONG_TEXT, nullable=True),
        sa.Column("tags", LONG_TEXT, nullable=True),
        sa.Column("source", LONG_TEXT, nullable=True),
        sa.Column("source_id", sa.String(length=250), nullable=True),
        sa.Column("source_type", sa.String(length=32), nullable=True),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("last_update_time", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=True),
        sa.Column("last_updated_by", sa.String(length=255), nullable=True),
        _fk("evaluation_dataset_records", "dataset_id", "evaluation_datasets", "dataset_id"),
        sa.PrimaryKeyConstraint("dataset_record_id", name=op.f("pk_evaluation_dataset_records")),
        sa.UniqueConstraint(
            "dataset_id", "input_hash", name=op.f("uq_evaluation_dataset_records_dataset_id_input_hash")
        ),
    )
    op.create_index(
        op.f("ix_evaluation_dataset_records_dataset_id_created_time"),
        "evaluation_dataset_records",
        ["dataset_id", "created_time"],
        unique=False,
    )


def _scorers() -> None:
    op.create_table(
        "scorers",
        sa.Column("scorer_id", sa.String(length=36), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("scorer_name", sa.String(length=256), nullable=False),
        _fk("scorers", "experiment_id", "experiments", "experiment_id", cascade=False),
        sa.PrimaryKeyConstraint("scorer_id", name=op.f("pk_scorers")),
        sa.UniqueConstraint("experiment_id", "scorer_name", name=op.f("uq_scorers_experiment_id_scorer_name")),
    )
    op.create_table(
        "scorer_versions",
        sa.Column("scorer_id", sa.String(length=36), nullable=False),
        sa.Column("scorer_version", sa.Integer(), nullable=False),
        sa.Column("serialized_scorer", LONG_TEXT, nullable=False),
        sa.Column("creation_time", sa.BigInteger(), nullable=False),
        _fk("scorer_versions", "scorer_id", "scorers", "scorer_id"),
        sa.PrimaryKeyConstraint("scorer_id", "scorer_version", name=op.f("pk_scorer_versions")),
    )
    op.create_table(
        "online_scoring_configs",
        sa.Column("online_scoring_config_id", sa.String(length=32), nullable=False),
        sa.Column("scorer_id", sa.String(length=36), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("sample_rate", sa.Double(), nullable=False),
        sa.Column("filter_string", sa.Text(), nullable=True),
        _fk("online_scoring_configs", "scorer_id", "scorers", "scorer_id"),
        _fk("online_scoring_configs", "experiment_id", "experiments", "experiment_id", cascade=False),
        sa.PrimaryKeyConstraint("online_scoring_config_id", name=op.f("pk_online_scoring_configs")),
    )
    op.create_index(op.f("ix_online_scoring_configs_scorer_id"), "online_scoring_configs", ["scorer_id"], unique=False)


def upgrade() -> None:
    _datasets()
    _scorers()


def downgrade() -> None:
    for table in (
        "online_scoring_configs",
        "scorer_versions",
        "scorers",
        "evaluation_dataset_records",
        "evaluation_dataset_experiments",
        "evaluation_dataset_tags",
        "evaluation_datasets",
    ):
        op.drop_table(table)
