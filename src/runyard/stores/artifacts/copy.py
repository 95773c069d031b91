"""Copying files and trees between artifact stores (same store, another store, another kind of store).

``copy_tree`` plans the copy (one file, or every file under a directory) and asks the source store to
copy each file; stores use a server-side fast path when both ends allow it (``copy_file_range`` on a
local disk, ``CopyObject`` within one S3 endpoint) and fall back to ``stream_copy`` otherwise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runyard.errors import NotFound
from runyard.stores.artifacts.base import write_from_stream
from runyard.stores.artifacts.paths import join, relative_to, safe_relative_path

if TYPE_CHECKING:
    from runyard.stores.artifacts.base import ArtifactStore


def stream_copy(source_store: ArtifactStore, source: str, destination_store: ArtifactStore, destination: str) -> int:
    """Copy one file by reading it from one store and writing it to the other, chunk by chunk."""
    reader = source_store.open(source)
    try:
        return write_from_stream(destination_store.open_writer(destination), reader.stream).size
    finally:
        reader.close()


def copy_tree(source_store: ArtifactStore, source: str, destination_store: ArtifactStore, destination: str) -> int:
    """Copy the file or directory ``source`` to ``destination``; returns the bytes copied.

    A file is copied to exactly ``destination``; a directory's files keep their paths below it.

    Raises:
        NotFound: There is neither a file nor a non-empty directory at ``source``.
    """
    source = safe_relative_path(source)
    destination = safe_relative_path(destination)
    if source and source_store.size(source) is not None:
        return source_store.copy_file(source, destination_store, destination)
    total = 0
    found = False
    for info in source_store.walk(source):
        found = True
        target = join(destination, relative_to(info.path, source))
        total += source_store.copy_file(info.path, destination_store, target)
    if not found:
        raise NotFound(f"No artifacts at '{source}' in {source_store.uri}.")
    return total
