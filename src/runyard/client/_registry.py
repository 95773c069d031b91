"""SDK: the model registry (read side) — models, versions by number/alias/stage, file download, events.

Registry reads use the MLflow REST endpoints the server also serves to ``mlflow`` clients; a
version's files come from its immutable registry copy through the artifact proxy, and a download is
checked against the version's content digest (the same algorithm the server uses: SHA-256 over
each file's relative path and SHA-256, in path order).
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from runyard.client._base import BaseClient, raise_for_error
from runyard.errors import InvalidParameter, NotFound

MLFLOW = "/api/2.0/mlflow"
PROXY = "/api/2.0/mlflow-artifacts/artifacts"
PROXY_SCHEME = "mlflow-artifacts:"
DIGEST_TAG = "runyard.content_digest"


@dataclass(frozen=True, slots=True)
class RemoteFile:
    path: str  # relative to the version's root
    size: int | None


def parse_reference(reference: str) -> tuple[str, str | None, str | None]:
    """``NAME``, ``NAME/VERSION`` or ``NAME/STAGE``, ``NAME@ALIAS`` → (name, version-or-stage, alias)."""
    reference = reference.removeprefix("models:/")
    if "@" in reference:
        name, alias = reference.rsplit("@", 1)
        return name, None, alias
    name, _, suffix = reference.partition("/")
    return name, suffix or None, None


def tree_digest(root: Path) -> str:
    """The content digest of a downloaded version folder."""
    manifest = hashlib.sha256()
    files = sorted((p for p in root.rglob("*") if p.is_file()), key=lambda p: p.relative_to(root).as_posix())
    for path in files:
        content = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                content.update(chunk)
        manifest.update(f"{path.relative_to(root).as_posix()}\0{content.hexdigest()}\n".encode())
    return f"sha256:{manifest.hexdigest()}"


class RegistryMixin(BaseClient):
    def search_registered_models(
        self, *, filter_string: str | None = None, max_results: int = 100, page_token: str | None = None
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"max_results": max_results}
        if filter_string:
            params["filter"] = filter_string
        if page_token:
            params["page_token"] = page_token
        return dict(self.json("GET", f"{MLFLOW}/registered-models/search", params=params))

    def get_registered_model(self, name: str) -> dict[str, Any]:
        return dict(self.json("GET", f"{MLFLOW}/registered-models/get", params={"name": name})["registered_model"])

    def search_model_versions(self, name: str, *, max_results: int = 1000) -> list[dict[str, Any]]:
        escaped = name.replace("'", "\\'")
        params = {"filter": f"name = '{escaped}'", "max_results": max_results, "order_by": ["version_number DESC"]}
        body = self.json("GET", f"{MLFLOW}/model-versions/search", params=params)
        return list(body.get("model_versions", []))

    def get_model_version(self, reference: str) -> dict[str, Any]:
        """The version ``reference`` names: ``NAME/3``, ``NAME@champion``, ``NAME/Production`` or ``NAME``
        (the newest version)."""
        name, suffix, alias = parse_reference(reference)
        if alias is not None:
            body = self.json("GET", f"{MLFLOW}/registered-models/alias", params={"name": name, "alias": alias})
            return dict(body["model_version"])
        if suffix is not None and suffix.isdigit():
            body = self.json("GET", f"{MLFLOW}/model-versions/get", params={"name": name, "version": suffix})
            return dict(body["model_version"])
        params: dict[str, Any] = {"name": name}
        if suffix is not None and suffix.lower() != "latest":
            params["stages"] = [suffix]
        versions = self.json("GET", f"{MLFLOW}/registered-models/get-latest-versions", params=params).get(
            "model_versions", []
        )
        if not versions:
            raise NotFound(f"Registered model {name!r} has no version matching {reference!r}.")
        return dict(max(versions, key=lambda v: int(v["version"])))

    def get_download_uri(self, name: str, version: str) -> str:
        params = {"name": name, "version": version}
        return str(self.json("GET", f"{MLFLOW}/model-versions/get-download-uri", params=params)["artifact_uri"])

    def list_version_files(self, download_uri: str) -> list[RemoteFile]:
        """Every file under a version's download URI (recursively)."""
        if not download_uri.startswith(PROXY_SCHEME):
            raise InvalidParameter(f"Cannot download {download_uri!r}: not served by this server's artifact proxy.")
        root = download_uri[len(PROXY_SCHEME) :].lstrip("/")
        files: list[RemoteFile] = []
        pending = [""]
        while pending:
            relative = pending.pop()
            body = self.json("GET", PROXY, params={"path": posixpath.join(root, relative) if relative else root})
            for entry in body.get("files", []):
                path = posixpath.join(relative, entry["path"]) if relative else entry["path"]
                if entry.get("is_dir"):
                    pending.append(path)
                else:
                    size = entry.get("file_size")
                    files.append(RemoteFile(path, int(size) if size is not None else None))
        return sorted(files, key=lambda f: f.path)

    def download_version_file(self, download_uri: str, relative: str, target: Path) -> Iterator[int]:
        """Stream one file to ``target``, yielding the size of each chunk written."""
        root = download_uri[len(PROXY_SCHEME) :].lstrip("/")
        url = f"{PROXY}/{quote(posixpath.join(root, relative))}"
        target.parent.mkdir(parents=True, exist_ok=True)
        with self._http.stream("GET", url) as response:
            if not response.is_success:
                response.read()
                raise_for_error(response)
            with target.open("wb") as handle:
                for chunk in response.iter_bytes(1 << 20):
                    handle.write(chunk)
                    yield len(chunk)

    def download_model_version(
        self, reference: str, destination: Path, *, on_progress: Callable[[int, int], None] | None = None
    ) -> dict[str, Any]:
        """Download a version's files into ``destination`` and check them against its digest.

        ``on_progress(bytes_done, bytes_total)`` is called as data arrives. Returns the version.
        """
        version = self.get_model_version(reference)
        uri = self.get_download_uri(version["name"], version["version"])
        files = self.list_version_files(uri)
        total = sum(f.size or 0 for f in files)
        done = 0
        for remote in files:
            for written in self.download_version_file(uri, remote.path, destination / remote.path):
                done += written
                if on_progress is not None:
                    on_progress(done, total)
        expected = next((t["value"] for t in version.get("tags", []) if t["key"] == DIGEST_TAG), None)
        if expected is not None and tree_digest(destination) != expected:
            raise InvalidParameter(
                f"Downloaded files of {version['name']} version {version['version']} do not match the registered "
                f"digest {expected}; the download is incomplete or the destination held other files."
            )
        return version

    def registry_events(self, **filters: Any) -> dict[str, Any]:
        params = {key: value for key, value in filters.items() if value is not None}
        return dict(self.json("GET", "/api/v1/registry/events", params=params))
