"""Artifacts on a local (or mounted network) filesystem under one root directory.

Writes land in a temp file in the destination's own directory and are renamed into place with
``os.replace``, so a reader sees the old file or the new one, never half of one, and a crashed upload
leaves no partial artifact. Multipart parts are kept in a staging directory beside the destination
and assembled with ``copy_file_range`` (in the kernel, no copy through Python). Names starting with
``.ry-tmp-`` are this store's own and are hidden from listings and refused as user paths.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from runyard.errors import InvalidParameter, NotFound, Unavailable
from runyard.stores.artifacts import copy
from runyard.stores.artifacts.base import (
    DEFAULT_CHUNK_SIZE,
    ArtifactReader,
    ArtifactStore,
    ArtifactWriter,
    FileInfo,
    MultipartUpload,
    Written,
    write_from_stream,
)
from runyard.stores.artifacts.paths import join, safe_relative_path

TMP_PREFIX = ".ry-tmp-"
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
# writev takes at most IOV_MAX buffers per call.
_IOV_MAX = 1024


_STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO}


@contextlib.contextmanager
def _storage_errors(what: str) -> Iterator[None]:
    """Disk full, read-only or forbidden: the server's storage is at fault, not the request."""
    try:
        yield
    except OSError as error:
        if error.errno not in _STORAGE_ERRNOS:
            raise
        raise Unavailable(f"{what}: the artifact store cannot write ({error.strerror}).") from None


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_all(fd: int, chunks: Sequence[bytes]) -> int:
    """Write every chunk with as few syscalls as possible (``writev``), handling short writes."""
    pending = deque(memoryview(chunk) for chunk in chunks if chunk)
    total = sum(len(view) for view in pending)
    while pending:
        written = os.writev(fd, list(pending)[:_IOV_MAX])
        while pending and written >= len(pending[0]):
            written -= len(pending.popleft())
        if written:
            pending[0] = pending[0][written:]
    return total


def _copy_into(destination_fd: int, source_path: Path) -> int:
    """Append the file at ``source_path`` to ``destination_fd`` in the kernel; returns bytes copied."""
    with source_path.open("rb", buffering=0) as source:
        remaining = os.fstat(source.fileno()).st_size
        copied = 0
        while remaining > 0:
            try:
                count = os.copy_file_range(source.fileno(), destination_fd, min(remaining, 1 << 30))
            except OSError as error:
                if error.errno not in (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL):
                    raise
                # Filesystems without copy_file_range: plain buffered copy.
                source.seek(copied)
                while chunk := source.read(DEFAULT_CHUNK_SIZE):
                    copied += _write_all(destination_fd, (chunk,))
                return copied
            if count == 0:
                break
            copied += count
            remaining -= count
        return copied


class _TempFileWriter:
    """Writes to a temp file in the target's directory; ``commit`` renames it over the target."""

    def __init__(self, target: Path, mode: int, etag: str = "") -> None:
        self._target = target
        self._etag = etag
        with _storage_errors(f"Writing '{target.name}'"):
            _make_parent(target)
            self._fd, name = tempfile.mkstemp(prefix=TMP_PREFIX, dir=target.parent)
        self._temp = Path(name)
        os.fchmod(self._fd, mode)
        self._size = 0
        self._open = True

    def write(self, chunks: Sequence[bytes]) -> None:
        with _storage_errors(f"Writing '{self._target.name}'"):
            self._size += _write_all(self._fd, chunks)

    def append_file(self, source: Path) -> None:
        with _storage_errors(f"Writing '{self._target.name}'"):
            self._size += _copy_into(self._fd, source)

    def commit(self) -> Written:
        self._close()
        try:
            os.replace(self._temp, self._target)
        except IsADirectoryError:
            self.abort()
            raise InvalidParameter(f"Cannot write '{self._target.name}': a directory of that name exists.") from None
        except BaseException:
            self.abort()
            raise
        return Written(self._size, self._etag or f"{self._size}")

    def abort(self) -> None:
        self._close()
        with contextlib.suppress(FileNotFoundError):
            self._temp.unlink()

    def _close(self) -> None:
        if self._open:
            self._open = False
            os.close(self._fd)


def _make_parent(target: Path) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise InvalidParameter(
            f"Cannot create '{target.name}': a file stands where one of its parent directories should be."
        ) from None


class LocalArtifactStore:
    """An ``ArtifactStore`` rooted at a directory."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().absolute()
        self.uri = str(self.root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise Unavailable(f"Cannot create the artifact directory {self.root}: {error.strerror}.") from None
        self._file_mode = 0o666 & ~_current_umask()

    def _resolve(self, path: str, *, allow_root: bool = True) -> tuple[str, Path]:
        relative = safe_relative_path(path, allow_root=allow_root)
        if any(segment.startswith(TMP_PREFIX) for segment in relative.split("/")):
            raise InvalidParameter(f"Invalid artifact path {path!r}: names starting with {TMP_PREFIX!r} are reserved.")
        return relative, self.root / relative if relative else self.root

    # -- single files ---------------------------------------------------------------------------

    def open_writer(self, path: str) -> ArtifactWriter:
        _, target = self._resolve(path, allow_root=False)
        if target.is_dir():
            raise InvalidParameter(f"Cannot write '{path}': it is a directory.")
        return _TempFileWriter(target, self._file_mode)

    def write(self, path: str, stream: BinaryIO) -> int:
        return write_from_stream(self.open_writer(path), stream).size

    def open(self, path: str) -> ArtifactReader:
        relative, target = self._resolve(path, allow_root=False)
        try:
            handle = target.open("rb", buffering=0)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"No artifact file at '{relative}'.") from None
        except IsADirectoryError:
            raise InvalidParameter(f"Artifact path refers to a directory, not a file: '{relative}'.") from None
        size = os.fstat(handle.fileno()).st_size
        return ArtifactReader(size, handle)

    def read(self, path: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
        return self.open(path).chunks(chunk_size)

    def size(self, path: str) -> int | None:
        _, target = self._resolve(path)
        try:
            return target.stat().st_size if target.is_file() else None
        except OSError:
            return None

    # -- directories ----------------------------------------------------------------------------

    def list(self, path: str) -> list[FileInfo]:
        relative, target = self._resolve(path)
        try:
            entries = list(os.scandir(target))
        except (FileNotFoundError, NotADirectoryError):
            return []
        infos = []
        for entry in entries:
            if entry.name.startswith(TMP_PREFIX):
                continue
            child = join(relative, entry.name)
            if entry.is_dir():
                infos.append(FileInfo(child, True))
            elif entry.is_file():
                infos.append(FileInfo(child, False, entry.stat().st_size))
        return sorted(infos, key=lambda info: info.path)

    def walk(self, path: str) -> Iterator[FileInfo]:
        relative, target = self._resolve(path)
        for directory, subdirectories, files in os.walk(target):
            subdirectories[:] = sorted(name for name in subdirectories if not name.startswith(TMP_PREFIX))
            base = Path(directory).relative_to(self.root).as_posix()
            base = "" if base == "." else base
            for name in sorted(files):
                if name.startswith(TMP_PREFIX):
                    continue
                with contextlib.suppress(FileNotFoundError):
                    yield FileInfo(join(base, name), False, os.stat(os.path.join(directory, name)).st_size)
        del relative

    def delete(self, path: str) -> None:
        relative, target = self._resolve(path, allow_root=False)
        if target.is_dir() and not target.is_symlink():
            # Errors are ignored so a concurrent delete of part of the tree is not a failure; what
            # matters is that nothing is left.
            shutil.rmtree(target, ignore_errors=True)
            if target.exists():
                raise Unavailable(f"Could not delete every file under '{path}'; check the server's permissions.")
        else:
            try:
                target.unlink()
            except FileNotFoundError:
                pass
            except NotADirectoryError:
                segments = relative.split("/")
                files = ("/".join(segments[:i]) for i in range(1, len(segments)))
                below = next((f for f in files if (self.root / f).is_file()), relative)
                raise InvalidParameter(f"Cannot delete '{relative}': '{below}' is a file, not a directory.") from None

    # -- copies ---------------------------------------------------------------------------------

    def copy_file(self, source: str, destination_store: ArtifactStore, destination: str) -> int:
        if isinstance(destination_store, LocalArtifactStore):
            _, source_path = self._resolve(source, allow_root=False)
            writer = destination_store.open_writer(destination)
            assert isinstance(writer, _TempFileWriter)
            try:
                writer.append_file(source_path)
                return writer.commit().size
            except FileNotFoundError:
                writer.abort()
                raise NotFound(f"No artifact file at '{source}'.") from None
            except BaseException:
                writer.abort()
                raise
        return copy.stream_copy(self, source, destination_store, destination)

    def copy_tree(self, source: str, destination_store: ArtifactStore, destination: str) -> int:
        return copy.copy_tree(self, source, destination_store, destination)

    # -- multipart ------------------------------------------------------------------------------

    def _staging(self, path: str, upload_id: str) -> tuple[Path, Path]:
        _, target = self._resolve(path, allow_root=False)
        if not _UPLOAD_ID.match(upload_id):
            raise InvalidParameter(f"Invalid upload_id {upload_id[:64]!r}.")
        return target, target.parent / f"{TMP_PREFIX}mpu-{target.name[:100]}-{upload_id}"

    def create_multipart(self, path: str, num_parts: int) -> MultipartUpload:
        del num_parts  # parts are staged as they come; their count is only known at completion
        upload_id = uuid.uuid4().hex
        target, staging = self._staging(path, upload_id)
        if target.is_dir():
            raise InvalidParameter(f"Cannot write '{path}': it is a directory.")
        _make_parent(staging)
        staging.mkdir()
        return MultipartUpload(upload_id=upload_id, credentials={})

    def _existing_staging(self, path: str, upload_id: str) -> tuple[Path, Path]:
        target, staging = self._staging(path, upload_id)
        if not staging.is_dir():
            raise NotFound(f"No multipart upload {upload_id} in progress for '{path}'.")
        return target, staging

    def open_part_writer(self, path: str, upload_id: str, part_number: int) -> ArtifactWriter:
        _, staging = self._existing_staging(path, upload_id)
        return _TempFileWriter(staging / f"part-{part_number:05d}", self._file_mode)

    def complete_multipart(self, path: str, upload_id: str, parts: Sequence[tuple[int, str]]) -> int:
        target, staging = self._existing_staging(path, upload_id)
        numbers = sorted(number for number, _ in parts)
        if not numbers or len(set(numbers)) != len(numbers):
            raise InvalidParameter("'parts' must list each uploaded part number once.")
        expected = dict(parts)
        part_files = []
        for number in numbers:
            part = staging / f"part-{number:05d}"
            try:
                size = part.stat().st_size
            except FileNotFoundError:
                raise InvalidParameter(f"Part {number} of upload {upload_id} was never uploaded.") from None
            if expected[number] and expected[number].strip('"') != str(size):
                raise InvalidParameter(f"Part {number} of upload {upload_id} does not match its ETag.")
            part_files.append(part)
        writer = _TempFileWriter(target, self._file_mode)
        try:
            for part in part_files:
                writer.append_file(part)
            size = writer.commit().size
        except BaseException:
            writer.abort()
            raise
        shutil.rmtree(staging, ignore_errors=True)
        return size

    def abort_multipart(self, path: str, upload_id: str) -> None:
        _, staging = self._staging(path, upload_id)
        shutil.rmtree(staging, ignore_errors=True)
