"""SQLAlchemy Core tables of the compute domain (share ``tables.metadata``)."""

from __future__ import annotations

from runyard.stores.metadata.tables import metadata

__all__ = ["metadata"]
