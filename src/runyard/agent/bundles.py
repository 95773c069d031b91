"""Recipe bundles on the agent: downloaded once per digest, unpacked safely, shared by attempts."""

from __future__ import annotations

import re
import shutil
import tarfile
import tempfile
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

from runyard.client._agent import AgentAPI


class BundleError(Exception):
    """The bundle cannot be unpacked (corrupt archive, unsafe member)."""


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
