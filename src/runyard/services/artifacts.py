"""Artifacts through the server: streamed uploads, downloads, listings, deletes and multipart uploads.

The HTTP body arrives as an async stream of small chunks; uploads gather them into batches of at
least ``BATCH_BYTES`` and hand each batch to the store's writer in a worker thread, so the event loop
never blocks on disk or S3 and a thread hop costs one per megabyte, not one per network read. Memory
per upload stays at about one batch (plus one S3 part).

Paths here are relative to the artifact store root, exactly as in ``mlflow-artifacts:/`` URIs:
``mlflow-artifacts:/7/<run_id>/artifacts/model.pkl`` is ``7/<run_id>/artifacts/model.pkl``.
"""

from __future__ import annotations

import posixpath
from collections.abc import AsyncIterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlparse

import anyio.to_thread

from runyard.domain.recipes import RECIPE_BUNDLE_PREFIX
from runyard.domain.registry import REGISTRY_ARTIFACT_PREFIX
from runyard.errors import InvalidParameter, PermissionDenied

# Re-exported (``X as X``) for the routes, which stream through these types but never open stores.
from runyard.stores.artifacts.base import DEFAULT_CHUNK_SIZE as DEFAULT_CHUNK_SIZE
from runyard.stores.artifacts.base import ArtifactReader, ArtifactWriter, Written
from runyard.stores.artifacts.base import ArtifactStore as ArtifactStore
from runyard.stores.artifacts.base import FileInfo as FileInfo
from runyard.stores.artifacts.paths import join, relative_to, safe_relative_path, top_folders

BATCH_BYTES = 1 << 20
PROXY_SCHEME = "mlflow-artifacts"
MAX_PARTS = 10_000


async def _feed(writer: ArtifactWriter, chunks: AsyncIterable[bytes]) -> Written:
    """Write ``chunks`` through ``writer`` in batches, off the event loop; abort on any failure."""
    try:
        batch: list[bytes] = []
        pending = 0
        async for chunk in chunks:
            if not chunk:
                continue
            batch.append(chunk)
            pending += len(chunk)
            if pending >= BATCH_BYTES:
                await anyio.to_thread.run_sync(writer.write, batch)
                batch, pending = [], 0
        if batch:
            await anyio.to_thread.run_sync(writer.write, batch)
        return await anyio.to_thread.run_sync(writer.commit)
    except BaseException:
        # Shielded: a client that disconnects cancels the request, and the temp file must still go.
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(writer.abort)
        raise


# Areas of the store the artifact proxy must not hand out. Agents run the recipe bundles stored under
# ``recipes/``, so only the recipes API writes and serves them; registered versions' copies are
# immutable and served read-only by the registry's own routes. Matched after normalisation and every
# percent-decoding (``./_registry/x``, ``a/../recipes/x``, ``%72ecipes/x``), case-folded.
_PROTECTED_MESSAGES = {
    RECIPE_BUNDLE_PREFIX: (
        "Recipe bundles cannot be {verb} through the artifact proxy ('{prefix}/' is reserved): push recipes with "
        "`runyard recipe push` and download them from /api/v1/recipes/NAME/versions/N/bundle."
    ),
    REGISTRY_ARTIFACT_PREFIX: (
        "Registered model version files are immutable: they cannot be {verb} through the artifact API "
        "('{prefix}/' is reserved). Register a new version instead."
    ),
}
# Registry copies stay readable through the proxy (MLflow clients download versions that way).
_READABLE = frozenset({REGISTRY_ARTIFACT_PREFIX})


def refuse_reserved(path: str | None, *, verb: str) -> None:
    """Raise ``PermissionDenied`` if ``path`` lands in a reserved area (``verb``: written, deleted, read).

    For the proxy's generic routes only: the recipes and registry services write there themselves.
    """
    for folder in top_folders(path):
        for prefix, message in _PROTECTED_MESSAGES.items():
            if folder == prefix.casefold() and not (verb == "read" and prefix in _READABLE):
                raise PermissionDenied(message.format(verb=verb, prefix=prefix))


async def upload(store: ArtifactStore, path: str, chunks: AsyncIterable[bytes]) -> int:
    """Store the streamed bytes at ``path`` (replacing any file there); returns the size."""
    path = safe_relative_path(path, allow_root=False)
    writer = await anyio.to_thread.run_sync(store.open_writer, path)
    return (await _feed(writer, chunks)).size


async def open_download(store: ArtifactStore, path: str) -> ArtifactReader:
    """Open the file at ``path`` for streaming back to a client."""
    path = safe_relative_path(path, allow_root=False)
    return await anyio.to_thread.run_sync(store.open, path)


async def list_directory(store: ArtifactStore, path: str | None) -> list[FileInfo]:
    """Direct children of ``path``, named by their base name (as MLflow's proxy lists them)."""
    path = safe_relative_path(path)
    entries = await anyio.to_thread.run_sync(store.list, path)
    return [FileInfo(posixpath.basename(entry.path), entry.is_dir, entry.file_size) for entry in entries]


async def delete(store: ArtifactStore, path: str) -> None:
    """Delete the file or directory at ``path``; the store root itself cannot be deleted."""
    path = safe_relative_path(path, allow_root=False)
    await anyio.to_thread.run_sync(store.delete, path)


# -- multipart ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PartTarget:
    part_number: int
    # Where the client sends the part: the file's store path, the upload and the part number.
    path: str
    upload_id: str


@dataclass(frozen=True, slots=True)
class CreatedUpload:
    path: str
    upload_id: str
    parts: list[PartTarget]


def multipart_destination(directory: str, local_file: str) -> str:
    """The store path of a multipart upload: the client names the directory and its local file path."""
    if not local_file:
        raise InvalidParameter("Missing value for required parameter 'path'.")
    name = posixpath.basename(local_file.replace("\\", "/"))
    if not name:
        raise InvalidParameter(f"Invalid value for parameter 'path': {local_file[:200]!r} names no file.")
    return safe_relative_path(join(safe_relative_path(directory), name), allow_root=False)


async def create_multipart(store: ArtifactStore, directory: str, local_file: str, num_parts: int) -> CreatedUpload:
    """Begin a multipart upload of the client's ``local_file`` into ``directory``."""
    if not 1 <= num_parts <= MAX_PARTS:
        raise InvalidParameter(f"'num_parts' must be between 1 and {MAX_PARTS}, got {num_parts}.")
    path = multipart_destination(directory, local_file)
    created = await anyio.to_thread.run_sync(store.create_multipart, path, num_parts)
    parts = [PartTarget(number, path, created.upload_id) for number in range(1, num_parts + 1)]
    return CreatedUpload(path=path, upload_id=created.upload_id, parts=parts)


async def upload_part(
    store: ArtifactStore, path: str, upload_id: str, part_number: int, chunks: AsyncIterable[bytes]
) -> str:
    """Store one part of a multipart upload; returns its ETag."""
    path = safe_relative_path(path, allow_root=False)
    if not upload_id:
        raise InvalidParameter("Missing value for required parameter 'upload_id'.")
    if not 1 <= part_number <= MAX_PARTS:
        raise InvalidParameter(f"'part_number' must be between 1 and {MAX_PARTS}, got {part_number}.")
    writer = await anyio.to_thread.run_sync(store.open_part_writer, path, upload_id, part_number)
    return (await _feed(writer, chunks)).etag


async def complete_multipart(
    store: ArtifactStore, directory: str, local_file: str, upload_id: str, parts: Sequence[tuple[int, str]]
) -> int:
    """Assemble the uploaded parts into the file; returns its size."""
    if not upload_id:
        raise InvalidParameter("Missing value for required parameter 'upload_id'.")
    path = multipart_destination(directory, local_file)
    return await anyio.to_thread.run_sync(store.complete_multipart, path, upload_id, list(parts))


async def abort_multipart(store: ArtifactStore, directory: str, local_file: str, upload_id: str) -> None:
    """Discard a multipart upload and its parts."""
    if not upload_id:
        raise InvalidParameter("Missing value for required parameter 'upload_id'.")
    path = multipart_destination(directory, local_file)
    await anyio.to_thread.run_sync(store.abort_multipart, path, upload_id)


# -- the tracking view: a run's artifacts ----------------------------------------------------------


def proxied_root(artifact_uri: str) -> str:
    """The store path behind a run's ``mlflow-artifacts:/…`` artifact URI.

    Raises:
        InvalidParameter: The run's artifacts live elsewhere (its experiment has its own location),
            so this server does not serve them.
    """
    parsed = urlparse(artifact_uri)
    if parsed.scheme != PROXY_SCHEME:
        raise InvalidParameter(
            f"The run's artifacts are stored at {artifact_uri!r}, outside this server's artifact proxy; "
            "read them from that location directly."
        )
    return safe_relative_path(parsed.path.lstrip("/"))


def run_file_path(artifact_uri: str, path: str | None) -> str:
    """The store path of ``path`` inside a run's (or a logged model's) proxied artifacts."""
    if not path:
        raise InvalidParameter("Missing value for required parameter 'path'.")
    return join(proxied_root(artifact_uri), safe_relative_path(path, allow_root=False))


async def list_run_artifacts(store: ArtifactStore, artifact_uri: str, path: str | None) -> list[FileInfo]:
    """Direct children of ``path`` in a run's artifacts, with run-relative paths."""
    relative = safe_relative_path(path)
    root = proxied_root(artifact_uri)
    entries = await anyio.to_thread.run_sync(store.list, join(root, relative))
    return [FileInfo(relative_to(entry.path, root), entry.is_dir, entry.file_size) for entry in entries]
