"""Compute: recipes, queues, pools, workers, jobs, attempts, job events and logs.

Revision ID: 0003_compute
Revises: 0002_registry
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_compute"
down_revision = "0002_registry"
branch_labels = None
depends_on = None

# Frozen copy of compute_tables.BigId: 64-bit ids, INTEGER on SQLite (its only autoincrementing type).
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "recipes",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("creation_time", sa.BigInteger(), nullable=False),
        sa.Column("last_update_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_recipes")),
    )
    op.create_table(
        "recipe_versions",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("digest", sa.String(length=80), nullable=False),
        sa.Column("manifest", sa.Text(), nullable=False),
        sa.Column("bundle_path", sa.String(length=1000), nullable=False),
        sa.Column("bundle_size", sa.BigInteger(), nullable=False),
        sa.Column("creation_time", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["name"], ["recipes.name"], name=op.f("fk_recipe_versions_name_recipes"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("name", "version", name=op.f("pk_recipe_versions")),
    )
    op.create_index(op.f("ix_recipe_versions_name_digest"), "recipe_versions", ["name", "digest"], unique=True)
    op.create_table(
        "queues",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("creation_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_queues")),
    )
    op.create_table(
        "pools",
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("gpus_per_replica", sa.Integer(), nullable=False),
        sa.Column("labels", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("creation_time", sa.BigInteger(), nullable=False),
        sa.Column("last_update_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_pools")),
    )
    op.create_table(
        "pool_queues",
        sa.Column("pool", sa.String(length=63), nullable=False),
        sa.Column("queue", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(["pool"], ["pools.name"], name=op.f("fk_pool_queues_pool_pools"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("pool", "queue", name=op.f("pk_pool_queues")),
    )
    op.create_index(op.f("ix_pool_queues_queue"), "pool_queues", ["queue"], unique=False)
    op.create_table(
        "workers",
        sa.Column("worker_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("pool", sa.String(length=63), nullable=False),
        sa.Column("hostname", sa.String(length=256), nullable=True),
        sa.Column("gpus", sa.Text(), nullable=False),
        sa.Column("slots", sa.Integer(), nullable=False),
        sa.Column("labels", sa.Text(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("registration_time", sa.BigInteger(), nullable=False),
        sa.Column("last_heartbeat", sa.BigInteger(), nullable=False),
        sa.Column("lease_expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("worker_id", name=op.f("pk_workers")),
    )
    op.create_index(op.f("ix_workers_pool_state"), "workers", ["pool", "state"], unique=False)
    op.create_index(op.f("ix_workers_state_lease_expires_at"), "workers", ["state", "lease_expires_at"], unique=False)
    op.create_table(
        "jobs",
        sa.Column("job_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("recipe_name", sa.String(length=128), nullable=False),
        sa.Column("recipe_version", sa.Integer(), nullable=False),
        sa.Column("queue", sa.String(length=128), nullable=False),
        sa.Column("parameters", sa.Text(), nullable=False),
        sa.Column("env", sa.Text(), nullable=False),
        sa.Column("gpus", sa.Integer(), nullable=False),
        sa.Column("cpus", sa.Float(), nullable=True),
        sa.Column("memory_mb", sa.Integer(), nullable=True),
        sa.Column("timeout_seconds", sa.Float(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("queue_rank", sa.Integer(), nullable=False),
        sa.Column("priority_rank", sa.Integer(), nullable=False),
        sa.Column("max_retries", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.String(length=40), nullable=True),
        sa.Column("assigned_gpus", sa.Text(), nullable=True),
        sa.Column("experiment_id", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("cancel_reason", sa.String(length=250), nullable=True),
        sa.Column("inactive", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.String(length=256), nullable=True),
        sa.Column("submitted_time", sa.BigInteger(), nullable=False),
        sa.Column("assigned_time", sa.BigInteger(), nullable=True),
        sa.Column("started_time", sa.BigInteger(), nullable=True),
        sa.Column("finished_time", sa.BigInteger(), nullable=True),
        sa.Column("last_update_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_jobs")),
    )
    op.create_index(
        op.f("ix_jobs_state_queue_rank_priority_rank_job_id"),
        "jobs",
        ["state", "queue_rank", "priority_rank", "job_id"],
        unique=False,
    )
    op.create_index(op.f("ix_jobs_worker_id_state"), "jobs", ["worker_id", "state"], unique=False)
    op.create_index(op.f("ix_jobs_queue_state"), "jobs", ["queue", "state"], unique=False)
    op.create_index(op.f("ix_jobs_recipe_name_job_id"), "jobs", ["recipe_name", "job_id"], unique=False)
    op.create_table(
        "job_attempts",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("worker_id", sa.String(length=40), nullable=False),
        sa.Column("gpus", sa.Text(), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("assigned_time", sa.BigInteger(), nullable=False),
        sa.Column("delivered_time", sa.BigInteger(), nullable=True),
        sa.Column("started_time", sa.BigInteger(), nullable=True),
        sa.Column("finished_time", sa.BigInteger(), nullable=True),
        sa.Column("last_log_time", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.job_id"], name=op.f("fk_job_attempts_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", "attempt", name=op.f("pk_job_attempts")),
    )
    op.create_index(op.f("ix_job_attempts_token_hash"), "job_attempts", ["token_hash"], unique=False)
    op.create_table(
        "job_events",
        sa.Column("event_id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("from_state", sa.String(length=20), nullable=True),
        sa.Column("to_state", sa.String(length=20), nullable=True),
        sa.Column("worker_id", sa.String(length=40), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.job_id"], name=op.f("fk_job_events_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_job_events")),
    )
    op.create_index(op.f("ix_job_events_job_id_event_id"), "job_events", ["job_id", "event_id"], unique=False)
    op.create_table(
        "job_logs",
        sa.Column("line_id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("stream", sa.String(length=10), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.job_id"], name=op.f("fk_job_logs_job_id_jobs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("line_id", name=op.f("pk_job_logs")),
    )
    op.create_index(op.f("ix_job_logs_job_id_line_id"), "job_logs", ["job_id", "line_id"], unique=False)


def downgrade() -> None:
    for table in (
        "job_logs",
        "job_events",
        "job_attempts",
        "jobs",
        "workers",
        "pool_queues",
        "pools",
        "queues",
        "recipe_versions",
        "recipes",
    ):
        op.drop_table(table)
