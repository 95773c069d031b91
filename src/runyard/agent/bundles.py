"""Recipe bundles on the agent: downloaded once per digest, checked against it, unpacked safely, shared.

A recipe version's digest (``sha256:<hex>``, in every assignment) covers its files' paths,
executable bits and contents, the way the server computed it when the bundle was pushed. The agent
recomputes it from the downloaded archive before unpacking: a bundle swapped in the artifact store
does not match and the attempt fails, saying so.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tarfile
import tempfile
import threading
from collections import defaultdict
from pathlib import Path, PurePosixPath
from typing import Any

from runyard.client._agent import AgentAPI

HASH_CHUNK_BYTES = 1024 * 1024


class BundleError(Exception):
    """The bundle cannot be unpacked (corrupt archive, unsafe member, a digest that does not match)."""


def _member_path(name: str) -> str:
    parts = [part for part in PurePosixPath(name).parts if part not in (".", "")]
    if name.startswith("/") or ".." in parts:
        raise BundleError(f"the bundle contains an unsafe path {name!r}")
    return "/".join(parts)


def content_digest(archive: Path) -> str:
    """``sha256:<hex>`` over the regular files of a ``.tar.gz`` (the server's recipe digest), streamed.

    Raises:
        BundleError: the archive is unreadable or holds links, devices or a path twice.
    """
    entries: list[tuple[str, bool, str]] = []
    try:
        with tarfile.open(archive, "r:*") as bundle:
            for member in bundle:
                path = _member_path(member.name)
                if member.isdir() or path == "":
                    continue
                if not member.isfile():
                    raise BundleError(f"the bundle may contain only files and directories; {member.name!r} is not")
                content = hashlib.sha256()
                extracted = bundle.extractfile(member)
                while extracted is not None and (chunk := extracted.read(HASH_CHUNK_BYTES)):
                    content.update(chunk)
                entries.append((path, bool(member.mode & 0o111), content.hexdigest()))
    except (tarfile.TarError, OSError, EOFError) as error:
        raise BundleError(f"the bundle is not a readable tar.gz archive: {error}") from error
    entries.sort()
    if len({path for path, _, _ in entries}) != len(entries):
        raise BundleError("the bundle contains a path twice")
    digest = hashlib.sha256()
    for path, executable, content_hex in entries:
        digest.update(f"{path}\0{int(executable)}\0{content_hex}\n".encode())
    return f"sha256:{digest.hexdigest()}"


def _cache_key(recipe: dict[str, Any]) -> str:
    digest = str(recipe.get("digest") or f"{recipe.get('name')}-{recipe.get('version')}")
    return re.sub(r"[^A-Za-z0-9._-]", "-", digest)


class BundleCache:
    """``<root>/<digest>/`` holds each unpacked bundle; a digest is fetched once even by parallel attempts."""

    def __init__(self, root: Path, client: AgentAPI) -> None:
        self.root = root
        self._client = client
        self._locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._guard = threading.Lock()

    def get(self, recipe: dict[str, Any]) -> Path:
        """The unpacked bundle of ``recipe`` (an assignment's ``recipe`` object).

        Raises:
            runyard.errors.RunyardError: the download failed.
            BundleError: the archive is not a safe ``.tar.gz``.
        """
        key = _cache_key(recipe)
        with self._guard:
            lock = self._locks[key]
        with lock:
            target = self.root / key
            if target.is_dir():
                return target
            self.root.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(dir=self.root, prefix=".unpack-"))
            try:
                archive = staging / "bundle.tar.gz"
                self._client.download_bundle(str(recipe["bundle_url"]), archive, workspace=recipe.get("workspace"))
                _verify(recipe, archive)
                files = staging / "files"
                try:
                    with tarfile.open(archive, "r:*") as bundle:
                        # The "data" filter refuses absolute paths, "..", links out of the tree and devices.
                        bundle.extractall(files, filter="data")
                except (tarfile.TarError, OSError) as error:
                    raise BundleError(f"cannot unpack the bundle of {recipe.get('name')}: {error}") from error
                files.rename(target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            return target


def _verify(recipe: dict[str, Any], archive: Path) -> None:
    """Refuse a bundle whose content is not the recipe version's (missing digest included)."""
    name = f"{recipe.get('name')} v{recipe.get('version')}"
    expected = str(recipe.get("digest") or "")
    if not expected.startswith("sha256:"):
        raise BundleError(f"the assignment of {name} carries no sha256 digest to check its bundle against")
    actual = content_digest(archive)
    if actual != expected:
        raise BundleError(
            f"the bundle of {name} does not match its digest: expected {expected}, downloaded {actual} "
            "(the stored bundle was changed after it was pushed)"
        )
