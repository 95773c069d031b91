"""The artifact store contract: streaming reads and writes of files addressed by relative paths.

Implementations are chosen by URI scheme (``file``/plain path → ``LocalArtifactStore``,
``s3`` → ``S3ArtifactStore``) through ``runyard.stores.artifacts.open_store``. Paths are always
relative, ``/``-separated and already checked by ``safe_relative_path``; an implementation never
sees ``..`` or an absolute path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol


@dataclass(frozen=True, slots=True)
class FileInfo:
    """One entry of a listing: a file (with size) or a directory."""

    path: str
    is_dir: bool
    file_size: int | None = None


@dataclass(frozen=True, slots=True)
class MultipartUpload:
    upload_id: str
    # Part number → URL the client may PUT to directly (empty when parts go through the server).
    credentials: dict[int, str]


class ArtifactStore(Protocol):
    """Where artifact bytes live. Every method streams; none loads a whole file into memory."""

    uri: str

    def write(self, path: str, stream: BinaryIO) -> int:
        """Store the bytes read from ``stream`` at ``path`` (replacing any file there); returns the size."""
        ...

    def read(self, path: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """The bytes of the file at ``path`` in chunks; raises ``NotFound`` if there is none."""
        ...

    def size(self, path: str) -> int | None:
        """The size of the file at ``path``, or ``None`` if it is not a file."""
        ...

    def list(self, path: str) -> list[FileInfo]:
        """Direct children of directory ``path`` ("" = root); empty if it does not exist."""
        ...

    def delete(self, path: str) -> None:
        """Delete the file or whole directory at ``path`` (no error if absent)."""
        ...

    def copy_tree(self, source: str, destination_store: ArtifactStore, destination: str) -> int:
        """Copy the file or directory ``source`` into ``destination_store`` at ``destination``; returns bytes."""
        ...


class AsyncChunkSource(Protocol):
    def __aiter__(self) -> AsyncIterator[bytes]: ...
