"""Registry workflows that span the metadata database and the file stores, reusable by any caller.

Each runs its transactions itself (short ones, never held across file copies) and its store I/O in
the calling thread: routes run them off the event loop, the CLI calls them directly.

Creating a version: resolve its source, check there are files, write a PENDING_REGISTRATION row,
copy the files into the registry store, then finish the row as READY (with size and digest) or as
FAILED_REGISTRATION (and remove what was copied). Deleting a model or a version removes its stored
files after the metadata change has committed, best effort: the deletion stands if the files linger.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from runyard.domain.registry import ModelVersion
from runyard.domain.tracking import Tag
from runyard.errors import RunyardError
from runyard.services import registry as model_service
from runyard.services import registry_files
from runyard.services import registry_versions as version_service
from runyard.stores.artifacts.base import ArtifactStore
from runyard.stores.metadata.session import Database

logger = logging.getLogger("runyard.registry")


@dataclass(frozen=True, slots=True)
class NewVersion:
    """What a caller asks to register (MLflow's CreateModelVersion fields)."""

    name: str | None
    source: str | None
    run_id: str | None = None
    model_id: str | None = None
    tags: Sequence[Tag] = field(default_factory=tuple)
    run_link: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class RegistryStores:
    database: Database
    artifacts: ArtifactStore
    registry: ArtifactStore
    artifacts_root: str


def create_model_version(stores: RegistryStores, new: NewVersion, *, user: str | None) -> ModelVersion:
    """Register ``new``: the READY version, or a FAILED_REGISTRATION one if its files could not be copied."""
    if version_service.is_prompt_version(new.tags):
        with stores.database.write() as connection:
            return version_service.register_reference(
                connection, new.name, new.source, artifacts_root=stores.artifacts_root, run_id=new.run_id,
                model_id=new.model_id, tags=list(new.tags), run_link=new.run_link, description=new.description,
                user=user,
            )  # fmt: skip
    with stores.database.read() as connection:
        resolved = registry_files.resolve_source(
            connection, new.source, run_id=new.run_id, model_id=new.model_id, artifacts_root=stores.artifacts_root
        )
    location = resolved.location
    source_store = stores.artifacts if location is not None and location.store == "artifacts" else stores.registry
    if location is None or not registry_files.has_files(source_store, location.path):
        # Nothing of ours to copy (files elsewhere, or not uploaded yet): record the source, as MLflow does.
        with stores.database.write() as connection:
            return version_service.register_reference(
                connection,
                new.name,
                new.source,
                artifacts_root=stores.artifacts_root,
                run_id=new.run_id,
                model_id=new.model_id,
                tags=list(new.tags),
                run_link=new.run_link,
                description=new.description,
                user=user,
            )
    with stores.database.write() as connection:
        pending = version_service.begin_model_version(
            connection,
            new.name,
            new.source,
            artifacts_root=stores.artifacts_root,
            run_id=new.run_id,
            model_id=new.model_id,
            tags=list(new.tags),
            run_link=new.run_link,
            description=new.description,
            user=user,
        )
    try:
        copied = registry_files.copy_version_files(source_store, location.path, stores.registry, pending.destination)
    except Exception as error:
        logger.exception("copying %s version %s into the registry failed", pending.name, pending.version)
        message = error.message if isinstance(error, RunyardError) else f"{type(error).__name__}: {error}"
        remove_registry_files(stores.registry, pending.destination)
        with stores.database.write() as connection:
            return version_service.finish_model_version(connection, pending, error=message)
    with stores.database.write() as connection:
        return version_service.finish_model_version(
            connection, pending, size_bytes=copied.size_bytes, digest=copied.digest
        )


def delete_model_version(stores: RegistryStores, name: str | None, version: str | None, *, user: str | None) -> None:
    """Delete a version and its aliases, then its stored files."""
    with stores.database.write() as connection:
        path = version_service.delete_model_version(connection, name, version, user=user)
    remove_registry_files(stores.registry, path)


def delete_registered_model(stores: RegistryStores, name: str | None, *, user: str | None) -> None:
    """Delete a registered model and its versions, then their stored files."""
    with stores.database.write() as connection:
        folder = model_service.delete_registered_model(connection, name, user=user)
    remove_registry_files(stores.registry, folder)


def remove_registry_files(registry: ArtifactStore, path: str) -> None:
    """Delete registry files no version refers to any more (best effort: the metadata change stands)."""
    if not path:  # a version that only references its source holds no files
        return
    try:
        registry.delete(path)
    except Exception:
        logger.exception("could not delete registry files at %s; remove them by hand", path)
