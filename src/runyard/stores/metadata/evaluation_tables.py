"""SQLAlchemy Core tables of evaluation datasets and registered scorers (migration ``0008_evaluation``).

A dataset is owned by a workspace and associated with experiments of it; its records are unique per
(dataset, hash of inputs), which is what makes a merge an upsert. A scorer is one name in one
experiment; its versions are the serialized forms registered under that name, numbered from 1.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Double, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from runyard.stores.metadata.tables import LONG_TEXT, metadata, workspace_column

DATASET_ID_LENGTH = 36
SCORER_ID_LENGTH = 36


def _dataset_fk() -> ForeignKey:
    return ForeignKey("evaluation_datasets.dataset_id", ondelete="CASCADE")


def _scorer_fk() -> ForeignKey:
    return ForeignKey("scorers.scorer_id", ondelete="CASCADE")


evaluation_datasets = Table(
    "evaluation_datasets",
    metadata,
    Column("dataset_id", String(DATASET_ID_LENGTH), primary_key=True),
    workspace_column(),
    Column("name", String(255), nullable=False),
    Column("schema", LONG_TEXT, nullable=True),
    Column("profile", LONG_TEXT, nullable=True),
    Column("digest", String(64), nullable=False),
    Column("created_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
    Column("created_by", String(255), nullable=True),
    Column("last_updated_by", String(255), nullable=True),
    # The default search (newest first in a workspace) walks this index.
    Index(None, "workspace", "created_time"),
)

evaluation_dataset_tags = Table(
    "evaluation_dataset_tags",
    metadata,
    Column("dataset_id", String(DATASET_ID_LENGTH), _dataset_fk(), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("value", Text, nullable=True),
)

evaluation_dataset_experiments = Table(
    "evaluation_dataset_experiments",
    metadata,
    Column("dataset_id", String(DATASET_ID_LENGTH), _dataset_fk(), primary_key=True),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id"), primary_key=True),
    Column("created_time", BigInteger, nullable=False),
    Index(None, "experiment_id"),
)

evaluation_dataset_records = Table(
    "evaluation_dataset_records",
    metadata,
    Column("dataset_record_id", String(DATASET_ID_LENGTH), primary_key=True),
    Column("dataset_id", String(DATASET_ID_LENGTH), _dataset_fk(), nullable=False),
    Column("input_hash", String(64), nullable=False),
    Column("inputs", LONG_TEXT, nullable=False),
    Column("outputs", LONG_TEXT, nullable=True),
    Column("expectations", LONG_TEXT, nullable=True),
    Column("tags", LONG_TEXT, nullable=True),
    Column("source", LONG_TEXT, nullable=True),
    Column("source_id", String(250), nullable=True),
    Column("source_type", String(32), nullable=True),
    Column("created_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
    Column("created_by", String(255), nullable=True),
    Column("last_updated_by", String(255), nullable=True),
    UniqueConstraint("dataset_id", "input_hash"),
    # Records are paged in (created_time, id) order.
    Index(None, "dataset_id", "created_time"),
)

scorers = Table(
    "scorers",
    metadata,
    Column("scorer_id", String(SCORER_ID_LENGTH), primary_key=True),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id"), nullable=False),
    Column("scorer_name", String(256), nullable=False),
    UniqueConstraint("experiment_id", "scorer_name"),
)

scorer_versions = Table(
    "scorer_versions",
    metadata,
    Column("scorer_id", String(SCORER_ID_LENGTH), _scorer_fk(), primary_key=True),
    Column("scorer_version", Integer, primary_key=True),
    Column("serialized_scorer", LONG_TEXT, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
)

online_scoring_configs = Table(
    "online_scoring_configs",
    metadata,
    Column("online_scoring_config_id", String(32), primary_key=True),
    Column("scorer_id", String(SCORER_ID_LENGTH), _scorer_fk(), nullable=False),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id"), nullable=False),
    Column("sample_rate", Double, nullable=False),
    Column("filter_string", Text, nullable=True),
    Index(None, "scorer_id"),
)
