"""The artifact store contract: streaming reads and writes of files addressed by relative paths.

Implementations are chosen by URI scheme (``file``/plain path → ``LocalArtifactStore``,
``s3`` → ``S3ArtifactStore``) through ``runyard.stores.artifacts.open_store``. Paths are always
relative, ``/``-separated and already checked by ``safe_relative_path``; an implementation never
sees ``..`` or an absolute path (stores check again anyway, so a caller cannot forget).

Every method is blocking; async callers run them in a worker thread. Nothing loads a whole file into
memory: writes go through an ``ArtifactWriter`` fed chunk by chunk (a temp file renamed into place,
or an S3 multipart upload), reads come back as an ``ArtifactReader`` read chunk by chunk.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO, Protocol

DEFAULT_CHUNK_SIZE = 1 << 20


@dataclass(frozen=True, slots=True)
class FileInfo:
    """One entry of a listing: a file (with size) or a directory.

    ``path`` is relative to the store root (``"7/abc/artifacts/model.pkl"``).
    """

    path: str
    is_dir: bool
    file_size: int | None = None


@dataclass(frozen=True, slots=True)
class MultipartUpload:
    upload_id: str
    # Part number → URL the client may PUT to directly (empty when parts go through the server).
    credentials: dict[int, str]


@dataclass(frozen=True, slots=True)
class Written:
    """What a finished write stored: its size, and an entity tag (a part's ETag for multipart)."""

    size: int
    etag: str = ""


class ArtifactWriter(Protocol):
    """An in-progress write. Nothing is visible at the destination until ``commit``."""

    def write(self, chunks: Sequence[bytes]) -> None:
        """Append ``chunks`` (in order)."""
        ...

    def commit(self) -> Written:
        """Make the bytes written so far visible at the destination (replacing what was there)."""
        ...

    def abort(self) -> None:
        """Discard everything written; safe to call more than once and after a failed commit."""
        ...


class ArtifactReader:
    """An open file: its size and a stream to read it from. Close it (or exhaust ``chunks``)."""

    def __init__(self, size: int, stream: BinaryIO) -> None:
        self.size = size
        self.stream = stream

    def chunks(self, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
        """The bytes in chunks of up to ``chunk_size``; closes the stream when done."""
        try:
            while chunk := self.stream.read(chunk_size):
                yield chunk
        finally:
            self.close()

    def close(self) -> None:
        self.stream.close()


class ArtifactStore(Protocol):
    """Where artifact bytes live. Every method streams; none loads a whole file into memory."""

    uri: str

    def write(self, path: str, stream: BinaryIO) -> int:
        """Store the bytes read from ``stream`` at ``path`` (replacing any file there); returns the size."""
        ...

    def open_writer(self, path: str) -> ArtifactWriter:
        """Start writing the file at ``path``; the caller feeds chunks and commits or aborts."""
        ...

    def open(self, path: str) -> ArtifactReader:
        """Open the file at ``path`` for reading; raises ``NotFound`` if there is none."""
        ...

    def read(self, path: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
        """The bytes of the file at ``path`` in chunks; raises ``NotFound`` (at call time) if there is none."""
        ...

    def size(self, path: str) -> int | None:
        """The size of the file at ``path``, or ``None`` if it is not a file."""
        ...

    def list(self, path: str) -> list[FileInfo]:
        """Direct children of directory ``path`` ("" = root), sorted by path; empty if it is not a directory."""
        ...

    def walk(self, path: str) -> Iterator[FileInfo]:
        """Every file below directory ``path``, recursively (files only)."""
        ...

    def delete(self, path: str) -> None:
        """Delete the file or whole directory at ``path`` (no error if absent)."""
        ...

    def copy_file(self, source: str, destination_store: ArtifactStore, destination: str) -> int:
        """Copy one file into ``destination_store``, server-side when both ends allow it; returns bytes."""
        ...

    def copy_tree(self, source: str, destination_store: ArtifactStore, destination: str) -> int:
        """Copy the file or directory ``source`` into ``destination_store`` at ``destination``; returns bytes."""
        ...

    # Multipart uploads: parts arrive separately (possibly in parallel, in any order) and are assembled
    # by ``complete_multipart``. Parts may be re-sent; the last one of each number wins.

    def create_multipart(self, path: str, num_parts: int) -> MultipartUpload:
        """Begin a multipart upload of the file at ``path``."""
        ...

    def open_part_writer(self, path: str, upload_id: str, part_number: int) -> ArtifactWriter:
        """Write part ``part_number`` (1-based) of an upload; ``commit`` returns the part's ETag."""
        ...

    def complete_multipart(self, path: str, upload_id: str, parts: Sequence[tuple[int, str]]) -> int:
        """Assemble ``parts`` (part number, ETag) in order into the file at ``path``; returns its size."""
        ...

    def abort_multipart(self, path: str, upload_id: str) -> None:
        """Discard an upload and its parts (no error if already gone)."""
        ...


class AsyncChunkSource(Protocol):
    def __aiter__(self) -> AsyncIterator[bytes]: ...


def write_from_stream(writer: ArtifactWriter, stream: BinaryIO, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Written:
    """Feed ``stream`` to ``writer`` and commit; aborts the writer if anything fails."""
    try:
        while chunk := stream.read(chunk_size):
            writer.write((chunk,))
        return writer.commit()
    except BaseException:
        writer.abort()
        raise
