"""Artifact stores on their own: a local directory and a bucket on a real (moto) S3 HTTP server."""

from __future__ import annotations

import io
import os
import uuid
from pathlib import Path

import pytest

from runyard.errors import InvalidParameter, NotFound
from runyard.settings import ServerSettings
from runyard.stores.artifacts import LocalArtifactStore, open_store
from runyard.stores.artifacts.base import ArtifactStore
from runyard.stores.artifacts.local import TMP_PREFIX
from runyard.stores.artifacts.s3 import PART_SIZE, S3ArtifactStore
from tests.support.s3 import S3Server

KINDS = ("local", "s3")


@pytest.fixture
def s3_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_S3_ADDRESSING_STYLE", raising=False)


def _make_store(kind: str, tmp_path: Path, s3_server: S3Server) -> ArtifactStore:
    name = uuid.uuid4().hex[:10]
    settings = ServerSettings(data_dir=tmp_path, s3_endpoint_url=s3_server.endpoint)
    if kind == "local":
        return open_store(str(tmp_path / f"store-{name}"), settings)
    bucket = s3_server.create_bucket(f"ry-store-{name}")
    return open_store(f"s3://{bucket}/some/prefix", settings)


@pytest.fixture(params=KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path, s3_server: S3Server, s3_credentials: None) -> ArtifactStore:
    return _make_store(str(request.param), tmp_path, s3_server)


def _read(store: ArtifactStore, path: str) -> bytes:
    return b"".join(store.read(path))


def _put(store: ArtifactStore, files: dict[str, bytes]) -> None:
    for path, content in files.items():
        assert store.write(path, io.BytesIO(content)) == len(content)


class _FailingStream(io.RawIOBase):
    """Gives ``good`` bytes, then fails like a client that hung up mid-upload."""

    def __init__(self, good: bytes) -> None:
        self._good = io.BytesIO(good)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self._good.read(size)
        if not chunk:
            raise ConnectionResetError("client went away")
        return chunk


def test_write_read_size_roundtrip(store: ArtifactStore) -> None:
    content = os.urandom(3 * (1 << 20) + 17)
    assert store.write("1/run/artifacts/model.bin", io.BytesIO(content)) == len(content)
    assert _read(store, "1/run/artifacts/model.bin") == content
    assert store.size("1/run/artifacts/model.bin") == len(content)
    assert store.size("1/run/artifacts") is None
    assert store.size("1/run/artifacts/missing") is None
    reader = store.open("1/run/artifacts/model.bin")
    assert reader.size == len(content)
    reader.close()
    with pytest.raises(NotFound):
        store.open("1/run/artifacts/missing")
    with pytest.raises((NotFound, InvalidParameter)):
        store.open("1/run/artifacts")


def test_empty_file(store: ArtifactStore) -> None:
    assert store.write("empty.txt", io.BytesIO(b"")) == 0
    assert _read(store, "empty.txt") == b""
    assert store.size("empty.txt") == 0


def test_list_gives_direct_children_sorted_with_sizes(store: ArtifactStore) -> None:
    _put(store, {"r/a.txt": b"aa", "r/sub/b.txt": b"bbb", "r/sub/deeper/c.txt": b"c", "r/z.bin": b"zzzz"})
    assert [(f.path, f.is_dir, f.file_size) for f in store.list("r")] == [
        ("r/a.txt", False, 2),
        ("r/sub", True, None),
        ("r/z.bin", False, 4),
    ]
    assert [(f.path, f.is_dir) for f in store.list("r/sub")] == [("r/sub/b.txt", False), ("r/sub/deeper", True)]
    assert [f.path for f in store.list("")] == ["r"]
    assert store.list("r/missing") == []
    assert store.list("r/a.txt") == []


def test_walk_is_recursive_and_files_only(store: ArtifactStore) -> None:
    _put(store, {"w/a.txt": b"a", "w/sub/b.txt": b"bb", "w/sub/deeper/c.txt": b"ccc", "wx/other.txt": b"o"})
    assert sorted((f.path, f.file_size) for f in store.walk("w")) == [
        ("w/a.txt", 1),
        ("w/sub/b.txt", 2),
        ("w/sub/deeper/c.txt", 3),
    ]


def test_delete_file_directory_and_missing(store: ArtifactStore) -> None:
    _put(store, {"d/keep.txt": b"k", "d/gone/x.txt": b"x", "d/gone/y/z.txt": b"z", "d/gone-sibling.txt": b"s"})
    store.delete("d/gone")
    assert [f.path for f in store.list("d")] == ["d/gone-sibling.txt", "d/keep.txt"]
    store.delete("d/keep.txt")
    store.delete("d/never-existed")
    assert [f.path for f in store.list("d")] == ["d/gone-sibling.txt"]
    with pytest.raises(InvalidParameter):
        store.delete("")


def test_overwrite_is_atomic_and_abort_keeps_the_old_file(store: ArtifactStore) -> None:
    _put(store, {"o/file.txt": b"old"})
    writer = store.open_writer("o/file.txt")
    writer.write([b"new ", b"content"])
    # Until commit, readers still see the old file and listings show nothing in progress.
    assert _read(store, "o/file.txt") == b"old"
    assert [f.path for f in store.list("o")] == ["o/file.txt"]
    writer.abort()
    assert _read(store, "o/file.txt") == b"old"

    writer = store.open_writer("o/file.txt")
    writer.write([b"new ", b"content"])
    assert writer.commit().size == 11
    assert _read(store, "o/file.txt") == b"new content"


def test_failed_upload_leaves_nothing_behind(store: ArtifactStore, tmp_path: Path) -> None:
    _put(store, {"f/model.bin": b"previous"})
    with pytest.raises(ConnectionResetError):
        store.write("f/model.bin", _FailingStream(os.urandom(PART_SIZE + 1000)))  # type: ignore[arg-type]
    assert _read(store, "f/model.bin") == b"previous"
    assert [f.path for f in store.list("f")] == ["f/model.bin"]
    if isinstance(store, LocalArtifactStore):
        assert not [p for p in store.root.rglob("*") if p.name.startswith(TMP_PREFIX)]
    else:
        assert isinstance(store, S3ArtifactStore)
        assert store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", []) == []


def test_write_refuses_directories_and_reserved_names(store: ArtifactStore) -> None:
    _put(store, {"x/inner/file.txt": b"1"})
    with pytest.raises(InvalidParameter):
        store.write("", io.BytesIO(b"root"))
    with pytest.raises(InvalidParameter):
        store.write("x/../../escape.txt", io.BytesIO(b"no"))
    if isinstance(store, LocalArtifactStore):
        with pytest.raises(InvalidParameter):
            store.write("x/inner", io.BytesIO(b"a directory is there"))
        with pytest.raises(InvalidParameter):
            store.write("x/inner/file.txt/child", io.BytesIO(b"a file is there"))
        with pytest.raises(InvalidParameter):
            store.write(f"x/{TMP_PREFIX}mine", io.BytesIO(b"reserved"))


def test_large_write_streams_in_parts(store: ArtifactStore) -> None:
    # Above one S3 part, so the S3 store switches from PutObject to a multipart upload.
    block = os.urandom(1 << 20)
    chunks = [block] * (2 * PART_SIZE // len(block) + 3)
    writer = store.open_writer("big/blob.bin")
    for start in range(0, len(chunks), 5):
        writer.write(chunks[start : start + 5])
    written = writer.commit()
    assert written.size == len(block) * len(chunks) == store.size("big/blob.bin")
    reader = store.open("big/blob.bin")
    assert all(chunk == block for chunk in reader.chunks(len(block)))


def test_multipart_parts_in_any_order_and_resent(store: ArtifactStore) -> None:
    parts = {1: os.urandom(5 << 20), 2: os.urandom(5 << 20), 3: b"the tail"}
    upload = store.create_multipart("m/model.bin", 3)
    etags = {}
    for number in (3, 1, 2, 1):  # out of order, part 1 sent twice (a retry)
        writer = store.open_part_writer("m/model.bin", upload.upload_id, number)
        writer.write([parts[number][: 1 << 20], parts[number][1 << 20 :]])
        etags[number] = writer.commit().etag
    assert store.size("m/model.bin") is None
    size = store.complete_multipart("m/model.bin", upload.upload_id, sorted(etags.items()))
    assert size == sum(len(p) for p in parts.values())
    assert _read(store, "m/model.bin") == parts[1] + parts[2] + parts[3]
    assert [f.path for f in store.list("m")] == ["m/model.bin"]


def test_multipart_abort_and_unknown_upload(store: ArtifactStore) -> None:
    upload = store.create_multipart("a/model.bin", 2)
    writer = store.open_part_writer("a/model.bin", upload.upload_id, 1)
    writer.write([b"part one"])
    writer.commit()
    store.abort_multipart("a/model.bin", upload.upload_id)
    store.abort_multipart("a/model.bin", upload.upload_id)
    assert store.size("a/model.bin") is None
    assert store.list("a") == []
    if isinstance(store, LocalArtifactStore):
        # (moto answers a 500 here where S3 answers NoSuchUpload, so only the local store is checked.)
        with pytest.raises(NotFound):
            store.complete_multipart("a/model.bin", upload.upload_id, [(1, "x")])


@pytest.mark.parametrize("source_kind", KINDS)
@pytest.mark.parametrize("destination_kind", KINDS)
def test_copy_tree_between_stores(
    source_kind: str, destination_kind: str, tmp_path: Path, s3_server: S3Server, s3_credentials: None
) -> None:
    source = _make_store(source_kind, tmp_path, s3_server)
    destination = _make_store(destination_kind, tmp_path, s3_server)
    files = {
        "1/run/artifacts/model/MLmodel": b"flavors: {}\n",
        "1/run/artifacts/model/data/weights.bin": os.urandom(200_000),
        "1/run/artifacts/model/data/deep/vocab.txt": b"a\nb\n",
        "1/run/artifacts/other.txt": b"not copied",
    }
    _put(source, files)

    copied = source.copy_tree("1/run/artifacts/model", destination, "models/m/1")
    assert copied == sum(len(v) for k, v in files.items() if "/model/" in k)
    assert sorted(f.path for f in destination.walk("models")) == [
        "models/m/1/MLmodel",
        "models/m/1/data/deep/vocab.txt",
        "models/m/1/data/weights.bin",
    ]
    assert _read(destination, "models/m/1/data/weights.bin") == files["1/run/artifacts/model/data/weights.bin"]

    assert source.copy_tree("1/run/artifacts/other.txt", destination, "single/copy.txt") == len(b"not copied")
    assert _read(destination, "single/copy.txt") == b"not copied"

    with pytest.raises(NotFound):
        source.copy_tree("1/run/artifacts/missing", destination, "x")


def test_copy_within_one_store(store: ArtifactStore) -> None:
    _put(store, {"src/a.txt": b"a", "src/b/c.txt": b"cc"})
    assert store.copy_tree("src", store, "dst") == 3
    assert _read(store, "dst/b/c.txt") == b"cc"
    assert _read(store, "src/b/c.txt") == b"cc"


# -- choosing a store by URI ----------------------------------------------------------------------------


def test_open_store_by_uri(tmp_path: Path, s3_server: S3Server, s3_credentials: None) -> None:
    settings = ServerSettings(data_dir=tmp_path, s3_endpoint_url=s3_server.endpoint)
    plain = open_store(str(tmp_path / "plain"), settings)
    assert isinstance(plain, LocalArtifactStore) and plain.root == tmp_path / "plain"
    as_uri = open_store((tmp_path / "as uri").as_uri(), settings)
    assert isinstance(as_uri, LocalArtifactStore) and as_uri.root == tmp_path / "as uri"

    bucket = s3_server.create_bucket(f"ry-uri-{uuid.uuid4().hex[:8]}")
    s3 = open_store(f"s3://{bucket}/team/artifacts/", settings)
    assert isinstance(s3, S3ArtifactStore)
    assert (s3.bucket, s3.prefix, s3.endpoint_url) == (bucket, "team/artifacts", s3_server.endpoint)
    s3.write("x.txt", io.BytesIO(b"x"))
    keys = [o["Key"] for o in s3_server.client().list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["team/artifacts/x.txt"]

    with pytest.raises(InvalidParameter):
        open_store("gs://bucket/x", settings)
    with pytest.raises(InvalidParameter):
        open_store("file://otherhost/data", settings)


def test_s3_addressing_style_from_environment(
    tmp_path: Path, s3_server: S3Server, s3_credentials: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = ServerSettings(data_dir=tmp_path, s3_endpoint_url=s3_server.endpoint)
    bucket = s3_server.create_bucket(f"ry-style-{uuid.uuid4().hex[:8]}")
    monkeypatch.setenv("AWS_S3_ADDRESSING_STYLE", "path")
    store = open_store(f"s3://{bucket}", settings)
    assert isinstance(store, S3ArtifactStore)
    assert store.client.meta.config.s3 == {"addressing_style": "path"}
    store.write("ok.txt", io.BytesIO(b"ok"))
    assert _read(store, "ok.txt") == b"ok"
    monkeypatch.setenv("AWS_S3_ADDRESSING_STYLE", "sideways")
    with pytest.raises(InvalidParameter, match="AWS_S3_ADDRESSING_STYLE"):
        open_store(f"s3://{bucket}", settings)


def test_s3_store_reports_a_missing_bucket_as_unavailable(
    tmp_path: Path, s3_server: S3Server, s3_credentials: None
) -> None:
    from runyard.errors import Unavailable

    settings = ServerSettings(data_dir=tmp_path, s3_endpoint_url=s3_server.endpoint)
    store = open_store(f"s3://ry-missing-{uuid.uuid4().hex[:8]}", settings)
    with pytest.raises(Unavailable, match="NoSuchBucket"):
        store.write("x.txt", io.BytesIO(b"x"))


def test_local_store_does_not_import_boto3(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys; from runyard.settings import ServerSettings; from runyard.stores.artifacts import open_store;"
        f"open_store({str(tmp_path)!r}, ServerSettings(data_dir={str(tmp_path)!r}));"
        "from runyard.server.app import create_app;"
        "assert 'boto3' not in sys.modules and 'botocore' not in sys.modules, 'boto3 imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
