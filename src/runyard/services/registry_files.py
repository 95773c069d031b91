"""Where a model version's files come from, and copying them into the registry store with a digest.

A version's ``source`` may be a logged model (``models:/m-…``), another registered version
(``models:/NAME/VERSION`` or ``models:/NAME@ALIAS``), run artifacts (``runs:/RUN_ID/PATH``), a
proxied artifact URI (``mlflow-artifacts:/…``) or a URI inside the server's artifact root: those are
copied. Any other source (another bucket, a local path of the client, a run of another server) is
recorded as a reference, as MLflow does, and never read: the server copies with its own storage
credentials, so it must never read a location the caller names freely.

The copy lands at ``<model storage id>/<version>`` in the registry store; its digest is computed by
reading the copy back (so it describes what is stored, and proves the copy is readable).
"""

from __future__ import annotations

import hashlib
import posixpath
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, unquote_plus, urlparse

from sqlalchemy import Connection

from runyard.domain.registry import REGISTRY_ARTIFACT_PREFIX, LoggedModelStatus, VersionRef
from runyard.domain.tracking import LifecycleStage
from runyard.errors import InvalidParameter, NotFound
from runyard.services.workspaces import workspace_scope
from runyard.stores.artifacts.base import ArtifactStore
from runyard.stores.artifacts.paths import join, relative_to, safe_relative_path
from runyard.stores.metadata import registry as registry_store
from runyard.stores.metadata import runs as run_store
from runyard.stores.metadata.logged_models import get_logged_model_row

StoreName = Literal["artifacts", "registry"]


@dataclass(frozen=True, slots=True)
class SourceLocation:
    """Files in one of the server's own stores."""

    store: StoreName
    path: str


@dataclass(frozen=True, slots=True)
class ResolvedSource:
    # None: the source is not in this server's stores; the version only records it.
    location: SourceLocation | None
    run_id: str | None
    model_id: str | None


@dataclass(frozen=True, slots=True)
class CopyResult:
    size_bytes: int
    digest: str


def _invalid_source(source: str, why: str) -> InvalidParameter:
    return InvalidParameter(f"Invalid model version source: '{source}'. {why}")


def artifact_location(uri: str, artifacts_root: str) -> SourceLocation | None:
    """The store location of an artifact URI the server can read, or ``None``."""
    parsed = urlparse(uri)
    if parsed.scheme == "mlflow-artifacts":
        path = safe_relative_path(unquote(parsed.path).lstrip("/"))
        head, _, rest = path.partition("/")
        if head == REGISTRY_ARTIFACT_PREFIX:
            return SourceLocation("registry", rest)
        return SourceLocation("artifacts", path)
    root = artifacts_root.rstrip("/")
    if root.startswith("file://"):
        root = unquote(urlparse(root).path).rstrip("/")
    candidate = unquote(parsed.path) if parsed.scheme == "file" else uri
    if candidate == root or candidate.startswith(root + "/"):
        return SourceLocation("artifacts", safe_relative_path(relative_to(candidate, root)))
    return None


def resolve_source(
    connection: Connection, source: str | None, *, run_id: str | None, model_id: str | None, artifacts_root: str
) -> ResolvedSource:
    """Where ``source``'s files are, and the run and logged model it comes from."""
    if not source:
        raise InvalidParameter("Missing value for required parameter 'source'.")
    _refuse_relative_references(source)
    parsed = urlparse(source)
    if parsed.scheme == "models":
        if parsed.netloc:
            raise _invalid_source(source, "models:/ sources must not name a remote registry.")
        reference = parsed.path.lstrip("/")
        if reference.startswith("m-") and "/" not in reference and "@" not in reference:
            return _logged_model_source(connection, reference, run_id, artifacts_root)
        return _registered_version_source(connection, source, reference, run_id, model_id)
    if model_id and not run_id:
        row = get_logged_model_row(connection, model_id, workspace=workspace_scope())
        run_id = row.source_run_id if row is not None else None
    if parsed.scheme == "runs":
        if parsed.netloc and not parsed.path:
            raise _invalid_source(source, "Expected runs:/<run_id>/<path>.")
        source_run, _, path = (parsed.netloc + parsed.path).lstrip("/").partition("/")
        run = run_store.get_run_row(connection, source_run, workspace=workspace_scope())
        if run is None:  # a run of another tracking server (or workspace): recorded, never read
            return ResolvedSource(None, run_id or source_run, model_id)
        location = artifact_location(posixpath.join(run.artifact_uri or "", path), artifacts_root)
        return ResolvedSource(location, run_id or source_run, model_id)
    location = artifact_location(source, artifacts_root)
    if location is None and parsed.scheme in ("", "file"):
        raise _invalid_source(
            source,
            "A local path is accepted only inside this server's artifact store; upload the files as run "
            "artifacts and register the run's artifact URI instead.",
        )
    return ResolvedSource(location, run_id, model_id)


def _refuse_relative_references(source: str) -> None:
    """No ``..`` segment or NUL byte, however many times percent-encoded (MLflow refuses these too)."""
    decoded = source
    while (unquoted := unquote_plus(decoded)) != decoded:
        decoded = unquoted
    if "\x00" in decoded or any(segment == ".." for segment in decoded.replace("\\", "/").split("/")):
        raise _invalid_source(
            source, "An absolute path must be provided without relative path references ('..') present."
        )


def _logged_model_source(
    connection: Connection, model_id: str, run_id: str | None, artifacts_root: str
) -> ResolvedSource:
    row = get_logged_model_row(connection, model_id, workspace=workspace_scope())
    if row is None or row.lifecycle_stage == LifecycleStage.DELETED:
        raise NotFound(f"Logged model with ID '{model_id}' not found.")
    if row.status == LoggedModelStatus.UPLOAD_FAILED:
        raise InvalidParameter(f"Logged model '{model_id}' failed to upload its files; it cannot be registered.")
    location = artifact_location(row.artifact_location, artifacts_root)
    return ResolvedSource(location, run_id or row.source_run_id, model_id)


def _registered_version_source(
    connection: Connection, source: str, reference: str, run_id: str | None, model_id: str | None
) -> ResolvedSource:
    ref = VersionRef.parse(reference)
    model = registry_store.get_model_row(connection, ref.name, workspace=workspace_scope())
    if model is None:
        raise NotFound(f"Registered Model with name={ref.name} not found")
    number = ref.version
    if ref.alias is not None:
        number = registry_store.get_alias_version(connection, model.id, ref.alias)
    if number is None:
        raise _invalid_source(source, "Expected models:/<name>/<version>, models:/<name>@<alias> or models:/<id>.")
    row = registry_store.get_version_row(connection, model.id, number)
    if row is None:
        raise NotFound(f"Model Version (name={ref.name}, version={number}) not found")
    # A version that only references its source passes that reference on.
    location = SourceLocation("registry", row.storage_path) if row.storage_path else None
    return ResolvedSource(location, run_id or row.run_id, model_id or row.logged_model_id)


def has_files(store: ArtifactStore, path: str) -> bool:
    """Whether ``path`` is a file or a directory with at least one file."""
    if path and store.size(path) is not None:
        return True
    return next(iter(store.walk(path)), None) is not None


def tree_digest(store: ArtifactStore, path: str) -> str:
    """``sha256:…`` over every file's relative path and content hash, in path order."""
    manifest = hashlib.sha256()
    for info in sorted(store.walk(path), key=lambda f: f.path):
        content = hashlib.sha256()
        for chunk in store.read(info.path):
            content.update(chunk)
        manifest.update(f"{relative_to(info.path, path)}\0{content.hexdigest()}\n".encode())
    return f"sha256:{manifest.hexdigest()}"


def copy_version_files(
    source_store: ArtifactStore, source_path: str, registry: ArtifactStore, destination: str
) -> CopyResult:
    """Copy the source into ``destination`` (replacing leftovers of a failed attempt); digest the copy."""
    registry.delete(destination)
    if source_path and source_store.size(source_path) is not None:
        # A single-file source becomes a folder holding that file, like every other version.
        size = source_store.copy_tree(source_path, registry, join(destination, posixpath.basename(source_path)))
    else:
        size = source_store.copy_tree(source_path, registry, destination)
    return CopyResult(size_bytes=size, digest=tree_digest(registry, destination))
