"""SQLAlchemy Core tables of the AI gateway: secrets, model definitions, endpoints, their models, tags, bindings.

A secret's value is stored only as a Fernet token under the gateway's key-encryption key, beside its
masked form; the rest is plain configuration. Deleting a secret leaves its model definitions without
one (``SET NULL``); a model definition an endpoint uses cannot be deleted (``RESTRICT``); deleting an
endpoint removes its models, tags and bindings (``CASCADE``).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Double, ForeignKey, Integer, String, Table, Text, UniqueConstraint

from runyard.stores.metadata.tables import metadata

ID_LENGTH = 36
NAME_LENGTH = 255
USER_LENGTH = 255

gw_secrets = Table(
    "gw_secrets",
    metadata,
    Column("secret_id", String(ID_LENGTH), primary_key=True),
    Column("workspace", String(63), ForeignKey("workspaces.name"), nullable=False, server_default="default"),
    Column("secret_name", String(NAME_LENGTH), nullable=False),
    Column("provider", String(64), nullable=True),
    # Fernet token of {"secret_id": …, "value": {…}} (never the value itself).
    Column("value_encrypted", Text, nullable=False),
    Column("masked_values", Text, nullable=False),
    Column("auth_config", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("last_updated_at", BigInteger, nullable=False),
    Column("created_by", String(USER_LENGTH), nullable=True),
    Column("last_updated_by", String(USER_LENGTH), nullable=True),
    UniqueConstraint("workspace", "secret_name"),
)

gw_models = Table(
    "gw_models",
    metadata,
    Column("model_definition_id", String(ID_LENGTH), primary_key=True),
    Column("workspace", String(63), ForeignKey("workspaces.name"), nullable=False, server_default="default"),
    Column("name", String(NAME_LENGTH), nullable=False),
    Column("secret_id", String(ID_LENGTH), ForeignKey("gw_secrets.secret_id", ondelete="SET NULL"), nullable=True),
    Column("provider", String(64), nullable=False),
    Column("model_name", String(NAME_LENGTH), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("last_updated_at", BigInteger, nullable=False),
    Column("created_by", String(USER_LENGTH), nullable=True),
    Column("last_updated_by", String(USER_LENGTH), nullable=True),
    UniqueConstraint("workspace", "name"),
)

gw_endpoints = Table(
    "gw_endpoints",
    metadata,
    Column("endpoint_id", String(ID_LENGTH), primary_key=True),
    Column("workspace", String(63), ForeignKey("workspaces.name"), nullable=False, server_default="default"),
    Column("name", String(NAME_LENGTH), nullable=False),
    Column("routing_strategy", String(64), nullable=True),
    Column("fallback_strategy", String(32), nullable=True),
    Column("fallback_max_attempts", Integer, nullable=True),
    Column("experiment_id", String(32), nullable=True),
    Column("usage_tracking", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("last_updated_at", BigInteger, nullable=False),
    Column("created_by", String(USER_LENGTH), nullable=True),
    Column("last_updated_by", String(USER_LENGTH), nullable=True),
    UniqueConstraint("workspace", "name"),
)

gw_endpoint_models = Table(
    "gw_endpoint_models",
    metadata,
    Column("mapping_id", String(ID_LENGTH), primary_key=True),
    Column(
        "endpoint_id", String(ID_LENGTH), ForeignKey("gw_endpoints.endpoint_id", ondelete="CASCADE"), nullable=False
    ),
    Column("model_definition_id", String(ID_LENGTH), ForeignKey("gw_models.model_definition_id"), nullable=False),
    Column("linkage_type", String(16), nullable=False),
    Column("weight", Double, nullable=False),
    Column("fallback_order", Integer, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(USER_LENGTH), nullable=True),
    # Named here: the conventional name is longer than MariaDB's 64 characters.
    UniqueConstraint("endpoint_id", "model_definition_id", "linkage_type", name="uq_gw_endpoint_models_link"),
)

gw_endpoint_tags = Table(
    "gw_endpoint_tags",
    metadata,
    Column(
        "endpoint_id", String(ID_LENGTH), ForeignKey("gw_endpoints.endpoint_id", ondelete="CASCADE"), primary_key=True
    ),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=True),
)

gw_bindings = Table(
    "gw_bindings",
    metadata,
    Column(
        "endpoint_id", String(ID_LENGTH), ForeignKey("gw_endpoints.endpoint_id", ondelete="CASCADE"), primary_key=True
    ),
    Column("resource_type", String(64), primary_key=True),
    Column("resource_id", String(NAME_LENGTH), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    Column("last_updated_at", BigInteger, nullable=False),
    Column("created_by", String(USER_LENGTH), nullable=True),
    Column("last_updated_by", String(USER_LENGTH), nullable=True),
)
