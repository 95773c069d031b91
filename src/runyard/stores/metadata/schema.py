"""The complete live schema: importing this module registers every table on ``metadata``."""

from __future__ import annotations

from runyard.stores.metadata import compute_tables, registry_tables, tables, trace_tables
from runyard.stores.metadata.tables import metadata

__all__ = ["compute_tables", "metadata", "registry_tables", "tables", "trace_tables"]
