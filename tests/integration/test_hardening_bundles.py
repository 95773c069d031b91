"""Recipe bundle pushes in bounded memory: decompression bombs and member floods are refused (413).

Each bomb is a small gzip built here by streaming zeros through ``tarfile`` (nothing large is ever
held by the test), pushed to a live server whose peak RSS is measured with psutil.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import httpx
import pytest

from tests.support.compute import unique
from tests.support.memory import peak_rss_growth
from tests.support.servers import LiveServer

GB = 1024**3


@pytest.fixture(params=("sqlite",))
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class _Zeros(io.RawIOBase):
    """``size`` zero bytes, produced on demand."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        count = min(len(buffer), self.left)
        buffer[:count] = bytes(count)
        self.left -= count
        return count


def _manifest(name: str) -> bytes:
    return f"name: {name}\nentrypoint: main.py\n".encode()


def _bundle(path: Path, name: str, *, zeros: dict[str, int] | None = None, empty_files: int = 0) -> Path:
    with tarfile.open(path, "w:gz", compresslevel=9) as archive:
        for member, content in (("runyard.yaml", _manifest(name)), ("main.py", b"print('hi')\n")):
            info = tarfile.TarInfo(member)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
        for member, size in (zeros or {}).items():
            info = tarfile.TarInfo(member)
            info.size = size
            archive.addfile(info, _Zeros(size))
        for index in range(empty_files):
            archive.addfile(tarfile.TarInfo(f"many/{index}.py"), io.BytesIO(b""))
    return path


def _push(server: LiveServer, bundle: Path) -> httpx.Response:
    with bundle.open("rb") as body:
        return httpx.post(f"{server.url}/api/v1/recipes", content=body, timeout=300)


def test_two_gigabytes_of_zeros_are_refused_in_bounded_memory(server: LiveServer, tmp_path: Path) -> None:
    # The attack as reported: ~2 MB compressed, 2 GB unpacked; the server grew from 104 MB to 2.2 GB.
    bomb = _bundle(tmp_path / "bomb.tar.gz", unique("bomb"), zeros={"weights.bin": 2 * GB})
    assert bomb.stat().st_size < 4 * 1024 * 1024
    assert server.process is not None
    with peak_rss_growth(server.process.pid) as memory:
        response = _push(server, bomb)
    assert response.status_code == 413, response.text
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    message = response.json()["message"]
    assert "unpacked-size limit" in message and "1073741824" in message and "weights.bin" in message
    assert memory.growth_mb < 64, f"server grew by {memory.growth_mb:.0f} MB"


def test_many_members_under_the_size_limit_are_still_bounded(server: LiveServer, tmp_path: Path) -> None:
    # Spread over several members so no single header is over the limit: refused once the total is.
    members = {f"part{index}.bin": 400 * 1024 * 1024 for index in range(4)}
    bomb = _bundle(tmp_path / "spread.tar.gz", unique("spread"), zeros=members)
    assert server.process is not None
    with peak_rss_growth(server.process.pid) as memory:
        response = _push(server, bomb)
    assert response.status_code == 413, response.text
    assert "unpacked-size limit" in response.json()["message"]
    assert memory.growth_mb < 64, f"server grew by {memory.growth_mb:.0f} MB"


def test_member_count_is_limited(server_pool, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = server_pool.start_new("sqlite", extra_env={"RUNYARD_RECIPE_BUNDLE_MAX_MEMBERS": "50"})
    response = _push(server, _bundle(tmp_path / "flood.tar.gz", unique("flood"), empty_files=60))
    assert response.status_code == 413, response.text
    assert response.json()["message"] == ("the recipe bundle has more than 50 entries (the member-count limit)")
    # Under the limit the same server takes a bundle.
    accepted = _push(server, _bundle(tmp_path / "ok.tar.gz", unique("ok"), empty_files=10))
    assert accepted.status_code == 201, accepted.text


def test_compressed_size_limit_is_named(server_pool, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = server_pool.start_new("sqlite", extra_env={"RUNYARD_RECIPE_BUNDLE_MAX_BYTES": "4096"})
    big = tmp_path / "big.tar.gz"
    with tarfile.open(big, "w:gz") as archive:
        for member, content in (("runyard.yaml", _manifest(unique("big"))), ("noise.bin", _noise(64 * 1024))):
            info = tarfile.TarInfo(member)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    response = _push(server, big)
    assert response.status_code == 413, response.text
    assert "recipe_bundle_max_bytes" in response.json()["message"]


def test_a_forged_oversized_archive_header_is_refused(server: LiveServer, tmp_path: Path) -> None:
    # A pax header is read by tarfile in one piece: a 64 MB one must not be.
    forged = tmp_path / "pax.tar.gz"
    with tarfile.open(forged, "w:gz", format=tarfile.PAX_FORMAT) as archive:
        info = tarfile.TarInfo("runyard.yaml")
        content = _manifest(unique("pax"))
        info.size = len(content)
        info.pax_headers = {"comment": "x" * (64 * 1024 * 1024)}
        archive.addfile(info, io.BytesIO(content))
    response = _push(server, forged)
    assert response.status_code == 413, response.text
    assert "archive header" in response.json()["message"]


def test_ordinary_bundles_keep_their_digest(server: LiveServer, tmp_path: Path) -> None:
    # The streamed reader computes the same content digest as before (files' paths, modes, sha256s).
    name = unique("digest")
    first = _push(server, _bundle(tmp_path / "a.tar.gz", name, zeros={"data/zeros.bin": 3 * 1024 * 1024}))
    assert first.status_code == 201, first.text
    again = _push(server, _bundle(tmp_path / "b.tar.gz", name, zeros={"data/zeros.bin": 3 * 1024 * 1024}))
    assert again.status_code == 200 and again.json()["created"] is False
    assert again.json()["recipe"]["digest"] == first.json()["recipe"]["digest"]


def _noise(size: int) -> bytes:
    import os

    return os.urandom(size)
