"""Artifacts in an S3-compatible bucket (AWS S3, MinIO, s3proxy…) under ``s3://bucket/prefix``.

Uploads of unknown length are streamed as S3 multipart uploads in parts of ``PART_SIZE`` (growing
for very large files, S3 allows 10,000 parts), so memory per upload stays at one part; files smaller
than a part are a single ``PutObject``. boto3 is imported only when a store is opened: a server with a
local store never pays for it.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, BinaryIO

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
from runyard.stores.artifacts.paths import relative_to, safe_relative_path

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef, ObjectIdentifierTypeDef

PART_SIZE = 8 << 20
PARTS_IN_FLIGHT = 2
# Parts held in memory before spilling to disk, for parts that arrive from clients.
PART_SPOOL_BYTES = 8 << 20
_DELETE_BATCH = 1000
_NOT_FOUND_CODES = {"404", "NoSuchKey", "NotFound", "NoSuchUpload"}
_BAD_REQUEST_CODES = {"EntityTooSmall", "InvalidPart", "InvalidPartOrder", "InvalidArgument", "KeyTooLongError"}


def part_size_for(part_number: int) -> int:
    """Part size for part ``part_number``: 8 MiB, growing by 8 MiB every 1,000 parts (≈440 GB in 10,000)."""
    return PART_SIZE * (1 + (part_number - 1) // 1000)


@contextlib.contextmanager
def _translated(what: str) -> Iterator[None]:
    """Turn S3/botocore failures into domain errors with a message naming ``what``."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        message = error.response.get("Error", {}).get("Message", "") or code
        if code in _NOT_FOUND_CODES:
            raise NotFound(f"{what}: not found.") from None
        if code in _BAD_REQUEST_CODES:
            raise InvalidParameter(f"{what}: {message}") from None
        raise Unavailable(f"{what}: the artifact store refused the request ({code}: {message}).") from None
    except BotoCoreError as error:
        raise Unavailable(f"{what}: the artifact store is unreachable ({error}).") from None


def make_client(endpoint_url: str | None, addressing_style: str | None) -> S3Client:
    """A boto3 S3 client; path-style addressing by default when an endpoint override is set (MinIO)."""
    import boto3
    from botocore.config import Config

    style = addressing_style or ("path" if endpoint_url else "auto")
    config = Config(
        s3={"addressing_style": style},  # type: ignore[arg-type]  # style is one of auto/path/virtual (checked by open_store)
        signature_version="s3v4",
        retries={"max_attempts": 5, "mode": "standard"},
        max_pool_connections=32,
        # Third-party S3 servers do not all accept the CRC checksums newer botocore adds by default.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    client: S3Client = boto3.session.Session().client("s3", endpoint_url=endpoint_url, config=config)
    return client


class _MultipartWriter:
    """Streams a file of unknown length to one key: PutObject if small, else a multipart upload.

    Full parts are sent by a small per-upload thread pool while the next part fills, at most
    ``PARTS_IN_FLIGHT`` at a time, so reading the request and writing to S3 overlap and memory stays
    bounded (the filling buffer plus the parts in flight).
    """

    def __init__(self, store: S3ArtifactStore, key: str, path: str) -> None:
        self._store = store
        self._key = key
        self._path = path
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._next_part = 1
        self._parts: list[CompletedPartTypeDef] = []
        self._in_flight: deque[Future[CompletedPartTypeDef]] = deque()
        self._senders: ThreadPoolExecutor | None = None
        self._size = 0

    def write(self, chunks: Sequence[bytes]) -> None:
        for chunk in chunks:
            self._buffer += chunk
            self._size += len(chunk)
        while len(self._buffer) >= (limit := part_size_for(self._next_part)):
            body = bytes(self._buffer[:limit])
            del self._buffer[:limit]
            self._submit(body)

    def _submit(self, body: bytes) -> None:
        if self._upload_id is None:
            with _translated(f"Uploading '{self._path}'"):
                response = self._store.client.create_multipart_upload(Bucket=self._store.bucket, Key=self._key)
            self._upload_id = response["UploadId"]
            self._senders = ThreadPoolExecutor(max_workers=PARTS_IN_FLIGHT, thread_name_prefix="runyard-s3-part")
        assert self._senders is not None
        while len(self._in_flight) >= PARTS_IN_FLIGHT:
            self._parts.append(self._in_flight.popleft().result())
        number, self._next_part = self._next_part, self._next_part + 1
        self._in_flight.append(self._senders.submit(self._send, self._upload_id, number, body))

    def _send(self, upload_id: str, number: int, body: bytes) -> CompletedPartTypeDef:
        with _translated(f"Uploading '{self._path}'"):
            response = self._store.client.upload_part(
                Bucket=self._store.bucket, Key=self._key, UploadId=upload_id, PartNumber=number, Body=body
            )
        return {"PartNumber": number, "ETag": response["ETag"]}

    def commit(self) -> Written:
        client, bucket = self._store.client, self._store.bucket
        try:
            if self._upload_id is None:
                with _translated(f"Uploading '{self._path}'"):
                    client.put_object(Bucket=bucket, Key=self._key, Body=bytes(self._buffer))
            else:
                if self._buffer:
                    self._submit(bytes(self._buffer))
                while self._in_flight:
                    self._parts.append(self._in_flight.popleft().result())
                with _translated(f"Uploading '{self._path}'"):
                    client.complete_multipart_upload(
                        Bucket=bucket, Key=self._key, UploadId=self._upload_id, MultipartUpload={"Parts": self._parts}
                    )
                self._upload_id = None
        except BaseException:
            self.abort()
            raise
        finally:
            self._stop_senders()
        self._buffer = bytearray()
        return Written(self._size)

    def _stop_senders(self) -> None:
        for future in self._in_flight:
            future.cancel()
        self._in_flight.clear()
        if self._senders is not None:
            self._senders.shutdown(wait=True)
            self._senders = None

    def abort(self) -> None:
        self._buffer = bytearray()
        # Parts still being sent must finish (or fail) first, or they would outlive the abort.
        self._stop_senders()
        if self._upload_id is not None:
            upload_id, self._upload_id = self._upload_id, None
            with contextlib.suppress(Exception):
                self._store.client.abort_multipart_upload(Bucket=self._store.bucket, Key=self._key, UploadId=upload_id)


class _PartWriter:
    """One part of a client-driven multipart upload, spooled (memory, then disk) and sent on commit.

    S3 needs each part's length up front and botocore re-reads the body to sign it, so the part is
    spooled rather than piped.
    """

    def __init__(self, store: S3ArtifactStore, key: str, upload_id: str, part_number: int) -> None:
        self._store = store
        self._key = key
        self._upload_id = upload_id
        self._part_number = part_number
        self._spool = tempfile.SpooledTemporaryFile(max_size=PART_SPOOL_BYTES)  # closed in commit/abort

    def write(self, chunks: Sequence[bytes]) -> None:
        for chunk in chunks:
            self._spool.write(chunk)

    def commit(self) -> Written:
        try:
            size = self._spool.tell()
            self._spool.seek(0)
            with _translated(f"Uploading part {self._part_number} of upload {self._upload_id[:64]}"):
                response = self._store.client.upload_part(
                    Bucket=self._store.bucket,
                    Key=self._key,
                    UploadId=self._upload_id,
                    PartNumber=self._part_number,
                    Body=self._spool,
                    ContentLength=size,
                )
            return Written(size, response["ETag"])
        finally:
            self._spool.close()

    def abort(self) -> None:
        self._spool.close()


class S3ArtifactStore:
    """An ``ArtifactStore`` over ``s3://bucket/prefix``."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        addressing_style: str | None = None,
        client: S3Client | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        self.uri = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self.client = client or make_client(endpoint_url, addressing_style)

    @classmethod
    def from_uri(cls, uri: str, *, endpoint_url: str | None, addressing_style: str | None) -> S3ArtifactStore:
        bucket, _, prefix = uri[len("s3://") :].partition("/")
        if not bucket:
            raise InvalidParameter(f"An s3:// URI needs a bucket: {uri!r}.")
        return cls(bucket, prefix, endpoint_url=endpoint_url, addressing_style=addressing_style)

    def _key(self, path: str, *, allow_root: bool = True) -> tuple[str, str]:
        relative = safe_relative_path(path, allow_root=allow_root)
        if not relative:
            return relative, self.prefix
        return relative, f"{self.prefix}/{relative}" if self.prefix else relative

    def _directory_prefix(self, path: str) -> tuple[str, str]:
        relative, key = self._key(path)
        return relative, f"{key}/" if key else ""

    def _relative(self, key: str) -> str:
        return relative_to(key, self.prefix) if self.prefix else key

    # -- single files ---------------------------------------------------------------------------

    def open_writer(self, path: str) -> ArtifactWriter:
        relative, key = self._key(path, allow_root=False)
        return _MultipartWriter(self, key, relative)

    def write(self, path: str, stream: BinaryIO) -> int:
        return write_from_stream(self.open_writer(path), stream).size

    def open(self, path: str) -> ArtifactReader:
        relative, key = self._key(path, allow_root=False)
        try:
            with _translated(f"Reading '{relative}'"):
                response = self.client.get_object(Bucket=self.bucket, Key=key)
        except NotFound:
            raise NotFound(f"No artifact file at '{relative}'.") from None
        return ArtifactReader(response["ContentLength"], response["Body"])  # type: ignore[arg-type]

    def read(self, path: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
        return self.open(path).chunks(chunk_size)

    def size(self, path: str) -> int | None:
        relative, key = self._key(path)
        if not relative:
            return None
        try:
            with _translated(f"Reading '{relative}'"):
                size: int = self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"]
                return size
        except NotFound:
            return None

    # -- directories ----------------------------------------------------------------------------

    def list(self, path: str) -> list[FileInfo]:
        relative, prefix = self._directory_prefix(path)
        infos: list[FileInfo] = []
        paginator = self.client.get_paginator("list_objects_v2")
        with _translated(f"Listing '{relative}'"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/"):
                for common in page.get("CommonPrefixes", []):
                    infos.append(FileInfo(self._relative(common["Prefix"].rstrip("/")), True))
                for item in page.get("Contents", []):
                    if item["Key"] != prefix and not item["Key"].endswith("/"):
                        infos.append(FileInfo(self._relative(item["Key"]), False, item["Size"]))
        return sorted(infos, key=lambda info: info.path)

    def walk(self, path: str) -> Iterator[FileInfo]:
        relative, prefix = self._directory_prefix(path)
        paginator = self.client.get_paginator("list_objects_v2")
        with _translated(f"Listing '{relative}'"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    if not item["Key"].endswith("/"):
                        yield FileInfo(self._relative(item["Key"]), False, item["Size"])

    def delete(self, path: str) -> None:
        relative, key = self._key(path, allow_root=False)
        keys = [key, *(f"{self.prefix}/{info.path}" if self.prefix else info.path for info in self.walk(relative))]
        with _translated(f"Deleting '{relative}'"):
            for start in range(0, len(keys), _DELETE_BATCH):
                batch: list[ObjectIdentifierTypeDef] = [{"Key": item} for item in keys[start : start + _DELETE_BATCH]]
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})

    # -- copies ---------------------------------------------------------------------------------

    def copy_file(self, source: str, destination_store: ArtifactStore, destination: str) -> int:
        if isinstance(destination_store, S3ArtifactStore) and destination_store.endpoint_url == self.endpoint_url:
            source_relative, source_key = self._key(source, allow_root=False)
            _, destination_key = destination_store._key(destination, allow_root=False)
            size = self.size(source_relative)
            if size is None:
                raise NotFound(f"No artifact file at '{source_relative}'.")
            with _translated(f"Copying '{source_relative}'"):
                # The managed copy switches to multipart UploadPartCopy above 5 GB, all server-side.
                destination_store.client.copy(
                    {"Bucket": self.bucket, "Key": source_key}, destination_store.bucket, destination_key
                )
            return size
        return copy.stream_copy(self, source, destination_store, destination)

    def copy_tree(self, source: str, destination_store: ArtifactStore, destination: str) -> int:
        return copy.copy_tree(self, source, destination_store, destination)

    # -- multipart ------------------------------------------------------------------------------

    def create_multipart(self, path: str, num_parts: int) -> MultipartUpload:
        del num_parts
        relative, key = self._key(path, allow_root=False)
        with _translated(f"Starting an upload of '{relative}'"):
            upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
        return MultipartUpload(upload_id=upload_id, credentials={})

    def open_part_writer(self, path: str, upload_id: str, part_number: int) -> ArtifactWriter:
        _, key = self._key(path, allow_root=False)
        return _PartWriter(self, key, upload_id, part_number)

    def complete_multipart(self, path: str, upload_id: str, parts: Sequence[tuple[int, str]]) -> int:
        relative, key = self._key(path, allow_root=False)
        ordered = sorted(parts)
        if not ordered or len({number for number, _ in ordered}) != len(ordered):
            raise InvalidParameter("'parts' must list each uploaded part number once.")
        with _translated(f"Completing the upload of '{relative}'"):
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": [{"PartNumber": number, "ETag": etag} for number, etag in ordered]},
            )
        return self.size(relative) or 0

    def abort_multipart(self, path: str, upload_id: str) -> None:
        relative, key = self._key(path, allow_root=False)
        try:
            with _translated(f"Aborting the upload of '{relative}'"):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except NotFound:
            pass
