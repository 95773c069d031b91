"""Push a recipe bundle: parse and check it, store it content-addressed, then record its version.

The bundle is written before the version row is committed, so a version never points at a bundle
that is not there; writing the same content twice is harmless (same path, same bytes).
"""

from __future__ import annotations

from typing import BinaryIO

from runyard.domain.recipes import RecipeVersion
from runyard.services import recipes as recipe_service
from runyard.stores.artifacts.base import ArtifactStore
from runyard.stores.metadata.session import Database


def push_bundle(
    database: Database,
    store: ArtifactStore,
    bundle: BinaryIO,
    *,
    default_name: str | None = None,
    limits: recipe_service.BundleLimits | None = None,
) -> tuple[RecipeVersion, bool]:
    """The stored version and whether it is new (identical content returns the existing one)."""
    parsed = recipe_service.parse_bundle(bundle, default_name=default_name, limits=limits)
    bundle.seek(0)
    store.write(parsed.storage_path, bundle)
    with database.write() as connection:
        return recipe_service.push_version(connection, parsed)
