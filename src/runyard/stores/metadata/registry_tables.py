"""SQLAlchemy Core tables of the registry domain (share ``tables.metadata``).

Registered models have a surrogate integer key, so a rename is one ``UPDATE`` and every child row
(versions, tags, aliases) follows it. ``last_version`` is the version counter: versions are numbered
from it under the model's row lock and never reused, even after a version is deleted. Each version
points at its immutable copy in the registry store (``storage_path``, ``content_digest``).

Tag values are unbounded text and not indexed (a B-tree cannot hold arbitrary-length values); tag
filters seek on ``(key, model)`` and check the value on those rows only, which is what keeps the
registered-model search index-backed.

Registry events are an append-only audit log: they name the model rather than reference it, so they
outlive the model they describe.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql

from runyard.stores.metadata.tables import KEY_LENGTH, RUN_ID_LENGTH, WORKSPACE_LENGTH, metadata, workspace_column

__all__ = [
    "logged_model_metrics",
    "logged_model_params",
    "logged_model_tags",
    "logged_models",
    "metadata",
    "model_version_tags",
    "model_versions",
    "registered_model_aliases",
    "registered_model_tags",
    "registered_models",
    "registry_events",
]

MODEL_NAME_LENGTH = 256
ALIAS_LENGTH = 256
LOGGED_MODEL_ID_LENGTH = 64
USER_LENGTH = 256
# MLflow allows registry tag values of 100,000 characters: beyond MySQL's TEXT (64 KiB).
LongText = Text().with_variant(mysql.MEDIUMTEXT(), "mysql")

registered_models = Table(
    "registered_models",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    workspace_column(),
    Column("name", String(MODEL_NAME_LENGTH), nullable=False),
    # Stable across renames: the folder of this model's versions in the registry store.
    Column("storage_id", String(32), nullable=False),
    Column("description", Text, nullable=True),
    Column("user_id", String(USER_LENGTH), nullable=True),
    Column("last_version", Integer, nullable=False, server_default="0"),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    Index(None, "last_updated_time"),
    Index(None, "creation_time"),
    UniqueConstraint("workspace", "name"),
)

registered_model_tags = Table(
    "registered_model_tags",
    metadata,
    Column("model_id", Integer, ForeignKey("registered_models.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(KEY_LENGTH), primary_key=True),
    Column("value", LongText, nullable=True),
    # Tag filters start from the key: "models having tag K" is a range of this index.
    Index(None, "key", "model_id"),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("model_id", Integer, ForeignKey("registered_models.id", ondelete="CASCADE"), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    Column("description", Text, nullable=True),
    Column("user_id", String(USER_LENGTH), nullable=True),
    Column("current_stage", String(20), nullable=False),
    Column("source", String(1000), nullable=False),
    Column("run_id", String(RUN_ID_LENGTH), nullable=True),
    Column("run_link", String(1000), nullable=True),
    Column("logged_model_id", String(LOGGED_MODEL_ID_LENGTH), nullable=True),
    Column("status", String(30), nullable=False),
    Column("status_message", String(1000), nullable=True),
    # Relative path of the version's copy in the registry store, its digest and total size.
    Column("storage_path", String(500), nullable=False),
    Column("content_digest", String(80), nullable=True),
    Column("size_bytes", BigInteger, nullable=True),
    Index(None, "run_id"),
    Index(None, "last_updated_time"),
)

model_version_tags = Table(
    "model_version_tags",
    metadata,
    Column("model_id", Integer, primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("key", String(KEY_LENGTH), primary_key=True),
    Column("value", LongText, nullable=True),
    ForeignKeyConstraint(
        ["model_id", "version"],
        ["model_versions.model_id", "model_versions.version"],
        ondelete="CASCADE",
    ),
    Index(None, "key", "model_id", "version"),
)

# Deleting a version deletes the aliases pointing at it (the foreign key cascades), as in MLflow.
registered_model_aliases = Table(
    "registered_model_aliases",
    metadata,
    Column("model_id", Integer, primary_key=True),
    Column("alias", String(ALIAS_LENGTH), primary_key=True),
    Column("version", Integer, nullable=False),
    ForeignKeyConstraint(
        ["model_id", "version"],
        ["model_versions.model_id", "model_versions.version"],
        ondelete="CASCADE",
    ),
)

# MLflow 3 logged models: a model's artifacts live in its experiment's artifact root under
# models/<model_id>/artifacts; registering one copies those files into the registry store.
logged_models = Table(
    "logged_models",
    metadata,
    Column("model_id", String(LOGGED_MODEL_ID_LENGTH), primary_key=True),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id"), nullable=False),
    Column("name", String(500), nullable=False),
    Column("artifact_location", String(1000), nullable=False),
    Column("creation_timestamp_ms", BigInteger, nullable=False),
    Column("last_updated_timestamp_ms", BigInteger, nullable=False),
    Column("status", String(40), nullable=False),
    Column("status_message", String(1000), nullable=True),
    Column("lifecycle_stage", String(20), nullable=False, server_default="active"),
    Column("model_type", String(500), nullable=True),
    Column("source_run_id", String(RUN_ID_LENGTH), nullable=True),
    Column("user_id", String(USER_LENGTH), nullable=True),
    Index("ix_logged_models_experiment_created", "experiment_id", "lifecycle_stage", "creation_timestamp_ms"),
    Index(None, "source_run_id"),
)

logged_model_tags = Table(
    "logged_model_tags",
    metadata,
    Column(
        "model_id",
        String(LOGGED_MODEL_ID_LENGTH),
        ForeignKey("logged_models.model_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("key", String(KEY_LENGTH), primary_key=True),
    Column("value", Text, nullable=True),
)

logged_model_params = Table(
    "logged_model_params",
    metadata,
    Column(
        "model_id",
        String(LOGGED_MODEL_ID_LENGTH),
        ForeignKey("logged_models.model_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("key", String(KEY_LENGTH), primary_key=True),
    Column("value", Text, nullable=False),
)

# Metrics logged against a model (``log_metric(..., model_id=…)``): the latest point per key and
# dataset is what a logged model shows.
logged_model_metrics = Table(
    "logged_model_metrics",
    metadata,
    Column(
        "model_id",
        String(LOGGED_MODEL_ID_LENGTH),
        ForeignKey("logged_models.model_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("key", String(KEY_LENGTH), primary_key=True),
    Column("dataset_name", String(250), primary_key=True, server_default=""),
    Column("dataset_digest", String(36), primary_key=True, server_default=""),
    Column("value", Double(), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("run_id", String(RUN_ID_LENGTH), nullable=True),
)

registry_events = Table(
    "registry_events",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    # No foreign key: the log is not a resource that keeps a workspace from being deleted.
    Column("workspace", String(WORKSPACE_LENGTH), nullable=False, server_default="default"),
    Column("timestamp", BigInteger, nullable=False),
    # e.g. "model_version.created", "alias.set" — see runyard.domain.registry.EventType.
    Column("event_type", String(64), nullable=False),
    Column("model_name", String(MODEL_NAME_LENGTH), nullable=False),
    Column("version", Integer, nullable=True),
    Column("user_id", String(USER_LENGTH), nullable=False),
    # JSON object with the event's particulars (old and new values).
    Column("details", Text, nullable=False),
    Index(None, "model_name", "event_id"),
    Index(None, "event_type", "event_id"),
    Index(None, "timestamp"),
    Index(None, "workspace", "event_id"),
)
