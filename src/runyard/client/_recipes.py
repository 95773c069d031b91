"""SDK: recipes (push a directory as a bundle, list, show, download)."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path
from typing import Any

from runyard.client._base import BaseClient

# Never packed: version-control metadata, caches and virtual environments.
EXCLUDED_NAMES = frozenset({".git", ".hg", ".svn", "__pycache__", ".venv", "venv", ".mypy_cache", ".pytest_cache"})
MANIFEST_NAMES = ("runyard.yaml", "recipe.yaml")


def make_bundle(directory: str | os.PathLike[str]) -> bytes:
    """Pack ``directory`` as a reproducible ``.tar.gz`` (sorted, zeroed times and owners)."""
    root = Path(directory)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a directory")
    if not any((root / name).is_file() for name in MANIFEST_NAMES):
        raise FileNotFoundError(f"{root} has no {MANIFEST_NAMES[0]} (the recipe manifest)")
    buffer = io.BytesIO()
    # gzip's header carries a timestamp: zero it so the same files always give the same bytes.
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=6, mtime=0) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as archive,
    ):
        for path in _files(root):
            relative = path.relative_to(root).as_posix()
            info = tarfile.TarInfo(relative)
            info.size = path.stat().st_size
            info.mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.mtime = 0
            with path.open("rb") as handle:
                archive.addfile(info, handle)
    return buffer.getvalue()


def _files(root: Path) -> list[Path]:
    found = []
    for current, directories, names in os.walk(root):
        directories[:] = sorted(name for name in directories if name not in EXCLUDED_NAMES)
        for name in sorted(names):
            path = Path(current) / name
            if path.is_file() and not path.is_symlink() and not name.endswith(".pyc"):
                found.append(path)
    return found


class RecipesMixin(BaseClient):
    def push_recipe(self, directory: str | os.PathLike[str], *, name: str | None = None) -> dict[str, Any]:
        """Push a recipe directory; returns ``{"recipe": version, "created": bool}``."""
        params = {"name": name or Path(directory).resolve().name}
        return dict(
            self.json(
                "POST",
                "/api/v1/recipes",
                content=make_bundle(directory),
                params=params,
                headers={"Content-Type": "application/gzip"},
            )
        )

    def list_recipes(self, *, prefix: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit}
        if prefix:
            params["prefix"] = prefix
        return list(self.json("GET", "/api/v1/recipes", params=params)["recipes"])

    def get_recipe(self, name: str) -> dict[str, Any]:
        """``{"recipe": …, "versions": [newest first]}``."""
        return dict(self.json("GET", f"/api/v1/recipes/{name}"))

    def get_recipe_version(self, name: str, version: int | str = "latest") -> dict[str, Any]:
        return dict(self.json("GET", f"/api/v1/recipes/{name}/versions/{version}")["recipe"])

    def download_recipe_bundle(self, name: str, version: int | str) -> bytes:
        return self.request("GET", f"/api/v1/recipes/{name}/versions/{version}/bundle").content
