"""The complete live schema: importing this module registers every table on ``metadata``."""

from __future__ import annotations

from runyard.stores.metadata import compute_tables, identity_tables, registry_tables, tables
from runyard.stores.metadata.tables import metadata

__all__ = ["compute_tables", "identity_tables", "metadata", "registry_tables", "tables"]
