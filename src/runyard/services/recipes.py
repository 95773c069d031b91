"""Recipes: read a pushed bundle, validate its manifest, version it by content digest.

A bundle is a ``.tar.gz`` of the recipe directory with ``runyard.yaml`` (or ``recipe.yaml``) at its
root. Its digest covers the files' paths, executable bits and contents, not the archive bytes, so
re-packing identical content (other mtimes, other order, other compressor) is still "the same".
Pushing content a recipe already has returns that version instead of creating a new one.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO, Any

import jsonschema
import yaml
from pydantic import ValidationError
from sqlalchemy import Connection, Row

from runyard.domain.clock import now_ms
from runyard.domain.recipes import MANIFEST_NAMES, NAME_PATTERN, Manifest, Recipe, RecipeVersion
from runyard.errors import InvalidParameter, LimitExceeded, NotFound
from runyard.services.workspaces import current_workspace
from runyard.stores.metadata import recipes as store

MAX_BUNDLE_BYTES = 256 * 1024 * 1024
MAX_BUNDLE_FILES = 20_000
MAX_MANIFEST_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ParsedBundle:
    manifest: Manifest
    digest: str
    size: int

    @property
    def storage_path(self) -> str:
        """Where the bundle lives in the artifact store: addressed by content, so writes are idempotent."""
        return f"recipes/{self.manifest.name}/{self.digest.split(':', 1)[1]}.tar.gz"


def parse_bundle(bundle: IO[bytes], *, default_name: str | None = None) -> ParsedBundle:
    """Read and check a bundle: safe member paths, a valid manifest, a valid parameter schema."""
    bundle.seek(0, 2)
    size = bundle.tell()
    bundle.seek(0)
    if size > MAX_BUNDLE_BYTES:
        raise LimitExceeded(f"the recipe bundle is {size} bytes; the limit is {MAX_BUNDLE_BYTES}")
    try:
        archive = tarfile.open(fileobj=bundle, mode="r:*")
    except tarfile.TarError as error:
        raise InvalidParameter(f"the recipe bundle is not a tar.gz archive: {error}") from None
    digest = hashlib.sha256()
    files: dict[str, bytes] = {}
    with archive:
        for path, executable, content in _members(archive):
            digest.update(f"{path}\0{int(executable)}\0{hashlib.sha256(content).hexdigest()}\n".encode())
            if path in MANIFEST_NAMES or path.endswith(".txt"):
                files[path] = content
    manifest = _manifest(files, default_name)
    bundle.seek(0)
    return ParsedBundle(manifest=manifest, digest=f"sha256:{digest.hexdigest()}", size=size)


def _members(archive: tarfile.TarFile) -> Iterator[tuple[str, bool, bytes]]:
    """(path, executable, content) of each regular file, in path order; refuses unsafe entries."""
    members = []
    for member in archive.getmembers():
        path = _safe_path(member.name)
        if member.isdir() or path == "":
            continue
        if not member.isfile():
            raise InvalidParameter(
                f"the recipe bundle may contain only files and directories; {member.name!r} is a link or device"
            )
        members.append((path, member))
    if len(members) > MAX_BUNDLE_FILES:
        raise LimitExceeded(f"the recipe bundle has {len(members)} files; the limit is {MAX_BUNDLE_FILES}")
    seen: set[str] = set()
    for path, member in sorted(members, key=lambda item: item[0]):
        if path in seen:
            raise InvalidParameter(f"the recipe bundle contains {path!r} twice")
        seen.add(path)
        extracted = archive.extractfile(member)
        content = extracted.read() if extracted is not None else b""
        yield path, bool(member.mode & 0o111), content


def _safe_path(name: str) -> str:
    parts = [part for part in PurePosixPath(name).parts if part not in (".", "")]
    if name.startswith("/") or ".." in parts:
        raise InvalidParameter(f"the recipe bundle contains an unsafe path {name!r}")
    return "/".join(parts)


def _manifest(files: dict[str, bytes], default_name: str | None) -> Manifest:
    manifest_name = next((name for name in MANIFEST_NAMES if name in files), None)
    if manifest_name is None:
        raise InvalidParameter(f"the recipe bundle has no manifest: add {MANIFEST_NAMES[0]} at its root")
    raw = files[manifest_name]
    if len(raw) > MAX_MANIFEST_BYTES:
        raise LimitExceeded(f"{manifest_name} is larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        data = yaml.safe_load(raw) or {}
    except yaml.YAMLError as error:
        raise InvalidParameter(f"{manifest_name} is not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise InvalidParameter(f"{manifest_name} must be a mapping of settings")
    if isinstance(data.get("requirements"), str):
        data["requirements"] = _requirements_file(files, data["requirements"], manifest_name)
    if not data.get("name") and default_name:
        data["name"] = default_name
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "manifest"
        raise InvalidParameter(f"{manifest_name}: {where}: {first['msg']}") from None
    if manifest.name is None:
        raise InvalidParameter(f"{manifest_name}: name: the recipe needs a name ({NAME_PATTERN})")
    check_parameter_schema(manifest.parameters, manifest_name)
    return manifest


def _requirements_file(files: dict[str, bytes], path: str, manifest_name: str) -> list[str]:
    if path not in files:
        raise InvalidParameter(f"{manifest_name}: requirements: {path!r} is not a .txt file in the bundle")
    lines = files[path].decode("utf-8", errors="replace").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def check_parameter_schema(schema: dict[str, Any], where: str) -> None:
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as error:
        raise InvalidParameter(f"{where}: parameters: not a valid JSON Schema: {error.message}") from None


def push_version(connection: Connection, parsed: ParsedBundle) -> tuple[RecipeVersion, bool]:
    """Record a pushed bundle; returns (version, created). Identical content returns the existing version."""
    name = parsed.manifest.name
    assert name is not None
    now = now_ms()
    workspace = current_workspace()
    recipe = store.lock_or_create_recipe(connection, workspace, name, parsed.manifest.description, now)
    existing = store.version_by_digest(connection, workspace, name, parsed.digest)
    if existing is not None:
        return _to_version(existing), False
    version = int(recipe.latest_version) + 1
    store.insert_version(
        connection,
        workspace=workspace,
        name=name,
        version=version,
        digest=parsed.digest,
        manifest=parsed.manifest.model_dump_json(),
        bundle_path=parsed.storage_path,
        bundle_size=parsed.size,
        description=parsed.manifest.description,
        now=now,
    )
    row = store.get_version(connection, workspace, name, version)
    assert row is not None
    return _to_version(row), True


def get_recipe(connection: Connection, name: str, *, workspace: str | None = None) -> Recipe:
    """The recipe called ``name`` in ``workspace`` (the request's when not given)."""
    row = store.get_recipe(connection, workspace or current_workspace(), name)
    if row is None:
        raise NotFound(f"Recipe '{name}' does not exist; push it with `runyard recipe push DIR`")
    return _to_recipe(row)


def list_recipes(connection: Connection, *, prefix: str | None, limit: int, offset: int) -> tuple[list[Recipe], int]:
    workspace = current_workspace()
    rows = store.list_recipes(connection, workspace, prefix=prefix, limit=limit, offset=offset)
    return [_to_recipe(row) for row in rows], store.count_recipes(connection, workspace, prefix=prefix)


def get_version(
    connection: Connection, name: str, version: int | None = None, *, workspace: str | None = None
) -> RecipeVersion:
    """A version of the recipe, the latest when ``version`` is ``None``.

    In ``workspace``, or the request's when not given (placement names the job's).
    """
    workspace = workspace or current_workspace()
    recipe = get_recipe(connection, name, workspace=workspace)
    number = recipe.latest_version if version is None else version
    row = store.get_version(connection, workspace, name, number)
    if row is None:
        raise NotFound(f"Recipe '{name}' has no version {number} (latest is {recipe.latest_version})")
    return _to_version(row)


def list_versions(connection: Connection, name: str) -> list[RecipeVersion]:
    workspace = current_workspace()
    get_recipe(connection, name, workspace=workspace)
    return [_to_version(row) for row in store.list_versions(connection, workspace, name)]


def parse_reference(reference: str) -> tuple[str, int | None]:
    """``NAME`` or ``NAME:VERSION`` → (name, version or None for latest)."""
    name, _, version = reference.partition(":")
    if not name:
        raise InvalidParameter("Missing value for required parameter 'recipe'.")
    if not version or version == "latest":
        return name, None
    if not version.isdigit():
        raise InvalidParameter(f"Invalid recipe reference {reference!r}: use NAME or NAME:VERSION (a number)")
    return name, int(version)


def _to_recipe(row: Row[Any]) -> Recipe:
    return Recipe(
        name=row.name,
        description=row.description,
        latest_version=int(row.latest_version),
        creation_time=int(row.creation_time),
        last_update_time=int(row.last_update_time),
    )


def _to_version(row: Row[Any]) -> RecipeVersion:
    return RecipeVersion(
        name=row.name,
        version=int(row.version),
        digest=row.digest,
        manifest=Manifest.model_validate(json.loads(row.manifest)),
        bundle_path=row.bundle_path,
        bundle_size=int(row.bundle_size),
        creation_time=int(row.creation_time),
    )
