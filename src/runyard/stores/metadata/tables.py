"""SQLAlchemy Core tables of the tracking domain (the live schema; migrations keep frozen copies).

One ``MetaData`` with a constraint naming convention, so Alembic produces the same names on SQLite,
PostgreSQL and MariaDB and ``alembic check`` can compare models and database exactly.

Column sizes follow MLflow's limits (keys 250, param values 6000, tag values 8000) so an MLflow client
hits the same validation errors here as against MLflow.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

KEY_LENGTH = 250
RUN_ID_LENGTH = 32
NAME_LENGTH = 256
EXPERIMENT_NAME_LENGTH = 500
LIFECYCLE_LENGTH = 20
# MySQL/MariaDB TEXT holds 64 KiB; MLflow's limits (20,000-character experiment tags, 1 MiB dataset schemas)
# need MEDIUMTEXT there. Other databases have unbounded TEXT.
LONG_TEXT = Text().with_variant(mysql.MEDIUMTEXT(), "mysql")


WORKSPACE_LENGTH = 63


def _run_fk() -> ForeignKey:
    return ForeignKey("runs.run_uuid", ondelete="CASCADE")


def workspace_column() -> Column[str]:
    """The owning workspace of a root resource; rows from before workspaces existed are in ``default``.

    A foreign key to ``workspaces``: nothing can be created in a workspace that is gone (another
    replica deleting it concurrently), and a workspace with contents cannot be deleted by accident.
    """
    return Column(
        "workspace",
        String(WORKSPACE_LENGTH),
        ForeignKey("workspaces.name"),
        nullable=False,
        server_default="default",
    )


# MLflow 3 workspaces. ``default`` (created by the migration) holds everything made without one.
workspaces = Table(
    "workspaces",
    metadata,
    Column("name", String(WORKSPACE_LENGTH), primary_key=True),
    Column("description", Text, nullable=True),
    Column("default_artifact_root", String(1000), nullable=True),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
)


experiments = Table(
    "experiments",
    metadata,
    Column("experiment_id", Integer, primary_key=True, autoincrement=True),
    workspace_column(),
    Column("name", String(EXPERIMENT_NAME_LENGTH), nullable=False),
    Column("artifact_location", String(1000), nullable=True),
    Column("lifecycle_stage", String(LIFECYCLE_LENGTH), nullable=False, server_default="active"),
    Column("creation_time", BigInteger, nullable=True),
    Column("last_update_time", BigInteger, nullable=True),
    # Names are unique within a workspace: two teams may each have an experiment called "baseline".
    UniqueConstraint("workspace", "name"),
)

experiment_tags = Table(
    "experiment_tags",
    metadata,
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("key", String(KEY_LENGTH), primary_key=True),
    Column("value", LONG_TEXT, nullable=True),
)

runs = Table(
    "runs",
    metadata,
    Column("run_uuid", String(RUN_ID_LENGTH), primary_key=True),
    Column("name", String(NAME_LENGTH), nullable=True),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id"), nullable=False),
    Column("user_id", String(NAME_LENGTH), nullable=True),
    Column("status", String(20), nullable=False),
    Column("start_time", BigInteger, nullable=True),
    Column("end_time", BigInteger, nullable=True),
    Column("deleted_time", BigInteger, nullable=True),
    Column("last_activity_time", BigInteger, nullable=True),
    Column("lifecycle_stage", String(LIFECYCLE_LENGTH), nullable=False, server_default="active"),
    Column("artifact_uri", String(1000), nullable=True),
    Index(None, "experiment_id", "lifecycle_stage", "start_time"),
    Index(None, "status", "last_activity_time"),
)

run_tags = Table(
    "run_tags",
    metadata,
    Column("run_uuid", String(RUN_ID_LENGTH), _run_fk(), primary_key=True),
    Column("key", String(KEY_LENGTH), primary_key=True),
    Column("value", LONG_TEXT, nullable=True),
)

params = Table(
    "params",
    metadata,
    Column("run_uuid", String(RUN_ID_LENGTH), _run_fk(), primary_key=True),
    Column("key", String(KEY_LENGTH), primary_key=True),
    Column("value", LONG_TEXT, nullable=False),
)

# Every logged point. The primary key makes an identical point logged twice a no-op (MLflow drops
# duplicates too) and serves get-history, which reads one (run, key) range ordered by step.
# No foreign key to ``runs``: checking it costs a parent lookup per point, and the only writer
# (``log_batch``) holds the run's lock, so the run exists. See migration 0005.
metrics = Table(
    "metrics",
    metadata,
    Column("run_uuid", String(RUN_ID_LENGTH), primary_key=True),
    Column("key", String(KEY_LENGTH), primary_key=True),
    Column("step", BigInteger, primary_key=True, autoincrement=False),
    Column("timestamp", BigInteger, primary_key=True, autoincrement=False),
    Column("value", Double(), primary_key=True),
    Column("is_nan", Boolean, primary_key=True, server_default="0"),
)

# Summaries of aligned step blocks of one series, written with its points: level L covers the steps
# [block·16^L, (block+1)·16^L). Charts merge them instead of scanning a million points (metric_blocks.py).
metric_blocks = Table(
    "metric_blocks",
    metadata,
    Column("run_uuid", String(RUN_ID_LENGTH), primary_key=True),
    Column("key", String(KEY_LENGTH), primary_key=True),
    Column("level", Integer, primary_key=True, autoincrement=False),
    Column("block", BigInteger, primary_key=True, autoincrement=False),
    Column("points", BigInteger, nullable=False),
    Column("first_step", BigInteger, nullable=False),
    Column("last_step", BigInteger, nullable=False),
    # The finite extremes and the first step holding each; NULL when the block holds no finite point.
    Column("min_value", Double(), nullable=True),
    Column("min_step", BigInteger, nullable=True),
    Column("max_value", Double(), nullable=True),
    Column("max_step", BigInteger, nullable=True),
    Column("nonfinite", BigInteger, nullable=False),
)

# The point with the largest (step, timestamp, value) per (run, key): what search and the run view show.
latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_uuid", String(RUN_ID_LENGTH), _run_fk(), primary_key=True),
    Column("key", String(KEY_LENGTH), primary_key=True),
    Column("value", Double(), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("is_nan", Boolean, nullable=False, server_default="0"),
    Index(None, "key", "value"),
)

datasets = Table(
    "datasets",
    metadata,
    Column("dataset_uuid", String(36), primary_key=True),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id", ondelete="CASCADE")),
    Column("name", String(500), nullable=False),
    Column("digest", String(36), nullable=False),
    Column("source_type", String(36), nullable=False),
    Column("source", LONG_TEXT, nullable=False),
    Column("schema", LONG_TEXT, nullable=True),
    Column("profile", LONG_TEXT, nullable=True),
    Index(None, "experiment_id", "name", "digest", unique=True),
)

# Links a dataset (source) to a run (destination), as MLflow's ``inputs`` table does.
inputs = Table(
    "inputs",
    metadata,
    Column("input_uuid", String(36), primary_key=True),
    Column("source_type", String(36), nullable=False),
    Column("source_id", String(36), nullable=False),
    Column("destination_type", String(36), nullable=False),
    Column("destination_id", String(36), nullable=False),
    Index("ix_inputs_link", "source_type", "source_id", "destination_type", "destination_id", unique=True),
    Index(None, "destination_id", "destination_type"),
)

input_tags = Table(
    "input_tags",
    metadata,
    Column("input_uuid", String(36), ForeignKey("inputs.input_uuid", ondelete="CASCADE"), primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("value", String(500), nullable=False),
)

# MLflow 3 logged models a run consumed (direction "input") or produced (direction "output").
run_model_links = Table(
    "run_model_links",
    metadata,
    Column("run_uuid", String(RUN_ID_LENGTH), _run_fk(), primary_key=True),
    Column("model_id", String(64), primary_key=True),
    Column("direction", String(10), primary_key=True),
    Column("step", BigInteger, nullable=False, server_default="0"),
)
