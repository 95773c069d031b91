"""The complete live schema: importing this module registers every table on ``metadata``."""

from __future__ import annotations

from runyard.stores.metadata import (
    compute_tables,
    evaluation_tables,
    gateway_tables,
    identity_tables,
    oidc_tables,
    registry_tables,
    tables,
    trace_tables,
    webhook_tables,
)
from runyard.stores.metadata.tables import metadata

__all__ = [
    "compute_tables",
    "evaluation_tables",
    "gateway_tables",
    "identity_tables",
    "metadata",
    "oidc_tables",
    "registry_tables",
    "tables",
    "trace_tables",
    "webhook_tables",
]
