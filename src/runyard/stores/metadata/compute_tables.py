"""SQLAlchemy Core tables of the compute domain (share ``tables.metadata``).

Recipes and their content-addressed versions; queues, compute pools and the queues each pool
serves; workers (agents) with their leases; jobs, one row per attempt, the job's event history and
its log lines.

The placement order (queue priority, then job priority, then submission order) is served by one
plain ascending index: ``queue_rank`` and ``priority_rank`` hold the *negated* priorities, so
"highest first, oldest first" is an ascending scan on every dialect (mixed-direction indexes are
not portable, and Alembic cannot compare them).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from runyard.stores.metadata.tables import WORKSPACE_LENGTH, metadata, workspace_column

__all__ = [
    "job_attempts",
    "job_events",
    "job_logs",
    "jobs",
    "metadata",
    "pool_queues",
    "pools",
    "queues",
    "recipe_versions",
    "recipes",
    "workers",
]

RECIPE_NAME_LENGTH = 128
QUEUE_NAME_LENGTH = 128
POOL_NAME_LENGTH = 63
WORKER_ID_LENGTH = 40

# 64-bit ids everywhere except SQLite, whose only autoincrementing type is INTEGER (already 64-bit).
BigId = BigInteger().with_variant(Integer(), "sqlite")

# Recipes and queues are named within their workspace: (workspace, name) is the key.
recipes = Table(
    "recipes",
    metadata,
    Column(
        "workspace",
        String(WORKSPACE_LENGTH),
        ForeignKey("workspaces.name"),
        primary_key=True,
        server_default="default",
    ),
    Column("name", String(RECIPE_NAME_LENGTH), primary_key=True),
    Column("description", Text, nullable=True),
    Column("latest_version", Integer, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
)

# One row per distinct bundle content: pushing the same content again finds its (name, digest) row.
recipe_versions = Table(
    "recipe_versions",
    metadata,
    Column("workspace", String(WORKSPACE_LENGTH), primary_key=True, server_default="default"),
    Column("name", String(RECIPE_NAME_LENGTH), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("digest", String(80), nullable=False),
    # The validated manifest (entrypoint, requirements, resources, parameter schema…) as JSON.
    Column("manifest", Text, nullable=False),
    Column("bundle_path", String(1000), nullable=False),
    Column("bundle_size", BigInteger, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    ForeignKeyConstraint(["workspace", "name"], ["recipes.workspace", "recipes.name"], ondelete="CASCADE"),
    Index(None, "workspace", "name", "digest", unique=True),
)

# A pool serves a queue *name* in every workspace (pools are shared machines); the queue's row, its
# priority and its jobs are the workspace's own.
queues = Table(
    "queues",
    metadata,
    Column(
        "workspace",
        String(WORKSPACE_LENGTH),
        ForeignKey("workspaces.name"),
        primary_key=True,
        server_default="default",
    ),
    Column("name", String(QUEUE_NAME_LENGTH), primary_key=True),
    Column("priority", Integer, nullable=False),
    Column("description", Text, nullable=True),
    Column("creation_time", BigInteger, nullable=False),
)

pools = Table(
    "pools",
    metadata,
    Column("name", String(POOL_NAME_LENGTH), primary_key=True),
    Column("gpus_per_replica", Integer, nullable=False),
    Column("labels", Text, nullable=False),
    # "config" (ServerSettings.pools), "api" (declared over the API) or "agent" (created on register).
    Column("source", String(20), nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
)

pool_queues = Table(
    "pool_queues",
    metadata,
    Column("pool", String(POOL_NAME_LENGTH), ForeignKey("pools.name", ondelete="CASCADE"), primary_key=True),
    Column("queue", String(QUEUE_NAME_LENGTH), primary_key=True),
    Index(None, "queue"),
)

workers = Table(
    "workers",
    metadata,
    Column("worker_id", String(WORKER_ID_LENGTH), primary_key=True),
    Column("name", String(256), nullable=False),
    Column("pool", String(POOL_NAME_LENGTH), nullable=False),
    Column("hostname", String(256), nullable=True),
    Column("gpus", Text, nullable=False),
    Column("slots", Integer, nullable=False),
    Column("labels", Text, nullable=False),
    Column("version", String(64), nullable=True),
    # "active", "lost" (lease expired) or "gone" (deregistered).
    Column("state", String(20), nullable=False),
    Column("registration_time", BigInteger, nullable=False),
    Column("last_heartbeat", BigInteger, nullable=False),
    Column("lease_expires_at", BigInteger, nullable=False),
    Index(None, "pool", "state"),
    Index(None, "state", "lease_expires_at"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("job_id", Integer, primary_key=True, autoincrement=True),
    workspace_column(),
    Column("recipe_name", String(RECIPE_NAME_LENGTH), nullable=False),
    Column("recipe_version", Integer, nullable=False),
    Column("queue", String(QUEUE_NAME_LENGTH), nullable=False),
    Column("parameters", Text, nullable=False),
    Column("env", Text, nullable=False),
    Column("gpus", Integer, nullable=False),
    Column("cpus", Float, nullable=True),
    Column("memory_mb", Integer, nullable=True),
    Column("timeout_seconds", Float, nullable=True),
    Column("priority", Integer, nullable=False),
    Column("queue_rank", Integer, nullable=False),
    Column("priority_rank", Integer, nullable=False),
    Column("max_retries", Integer, nullable=False),
    Column("state", String(20), nullable=False),
    # The current attempt (0 until first placed); each placement starts a new one.
    Column("attempt", Integer, nullable=False),
    Column("worker_id", String(WORKER_ID_LENGTH), nullable=True),
    Column("assigned_gpus", Text, nullable=True),
    Column("experiment_id", Integer, nullable=True),
    Column("run_id", String(32), nullable=True),
    Column("cancel_requested", Boolean, nullable=False),
    Column("cancel_reason", String(250), nullable=True),
    Column("inactive", Boolean, nullable=False),
    Column("reason", Text, nullable=True),
    Column("exit_code", Integer, nullable=True),
    Column("user_id", String(256), nullable=True),
    Column("submitted_time", BigInteger, nullable=False),
    Column("assigned_time", BigInteger, nullable=True),
    Column("started_time", BigInteger, nullable=True),
    Column("finished_time", BigInteger, nullable=True),
    Column("last_update_time", BigInteger, nullable=False),
    Index(None, "state", "queue_rank", "priority_rank", "job_id"),
    Index(None, "worker_id", "state"),
    Index(None, "queue", "state"),
    Index(None, "recipe_name", "job_id"),
    Index(None, "workspace", "job_id"),
)

job_attempts = Table(
    "job_attempts",
    metadata,
    Column("job_id", Integer, ForeignKey("jobs.job_id", ondelete="CASCADE"), primary_key=True),
    Column("attempt", Integer, primary_key=True, autoincrement=False),
    Column("worker_id", String(WORKER_ID_LENGTH), nullable=False),
    Column("gpus", Text, nullable=False),
    Column("run_id", String(32), nullable=True),
    # sha256 of the attempt's scoped credential; the credential itself is never stored.
    Column("token_hash", String(64), nullable=True),
    Column("state", String(20), nullable=False),
    Column("reason", Text, nullable=True),
    Column("exit_code", Integer, nullable=True),
    Column("assigned_time", BigInteger, nullable=False),
    Column("delivered_time", BigInteger, nullable=True),
    Column("started_time", BigInteger, nullable=True),
    Column("finished_time", BigInteger, nullable=True),
    Column("last_log_time", BigInteger, nullable=True),
    Index(None, "token_hash"),
)

job_events = Table(
    "job_events",
    metadata,
    Column("event_id", BigId, primary_key=True, autoincrement=True),
    Column("job_id", Integer, ForeignKey("jobs.job_id", ondelete="CASCADE"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("time", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("from_state", String(20), nullable=True),
    Column("to_state", String(20), nullable=True),
    Column("worker_id", String(WORKER_ID_LENGTH), nullable=True),
    Column("message", Text, nullable=True),
    Index(None, "job_id", "event_id"),
)

job_logs = Table(
    "job_logs",
    metadata,
    Column("line_id", BigId, primary_key=True, autoincrement=True),
    Column("job_id", Integer, ForeignKey("jobs.job_id", ondelete="CASCADE"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("stream", String(10), nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("line", Text, nullable=False),
    Index(None, "job_id", "line_id"),
)
