"""Recipes: read a pushed bundle, validate its manifest, version it by content digest.

A bundle is a ``.tar.gz`` of the recipe directory with ``runyard.yaml`` (or ``recipe.yaml``) at its
root. Its digest covers the files' paths, executable bits and contents, not the archive bytes, so
re-packing identical content (other mtimes, other order, other compressor) is still "the same".
Pushing content a recipe already has returns that version instead of creating a new one.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import lzma
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO, Any, cast

import jsonschema
import yaml
from pydantic import ValidationError
from sqlalchemy import Connection, Row

from runyard.domain.clock import now_ms
from runyard.domain.recipes import (
    MANIFEST_NAMES,
    NAME_PATTERN,
    RECIPE_BUNDLE_PREFIX,
    Manifest,
    Recipe,
    RecipeVersion,
)
from runyard.errors import InvalidParameter, LimitExceeded, NotFound
from runyard.services.workspaces import current_workspace
from runyard.stores.metadata import recipes as store

MAX_BUNDLE_BYTES = 256 * 1024 * 1024
MAX_BUNDLE_UNPACKED_BYTES = 1024 * 1024 * 1024
MAX_BUNDLE_MEMBERS = 20_000
MAX_MANIFEST_BYTES = 1024 * 1024
# Members are hashed in chunks of this size: memory per push stays at about one chunk.
_CHUNK_BYTES = 256 * 1024
# tarfile reads a pax or GNU long-name header in one piece; real ones are a few kilobytes.
_MAX_HEADER_READ = 1024 * 1024


@dataclass(frozen=True, slots=True)
class BundleLimits:
    """What a pushed bundle may hold (``recipe_bundle_max_*`` settings)."""

    max_bytes: int = MAX_BUNDLE_BYTES
    max_unpacked_bytes: int = MAX_BUNDLE_UNPACKED_BYTES
    max_members: int = MAX_BUNDLE_MEMBERS


@dataclass(frozen=True, slots=True)
class ParsedBundle:
    manifest: Manifest
    digest: str
    size: int

    @property
    def storage_path(self) -> str:
        """Where the bundle lives in the artifact store: addressed by content, so writes are idempotent."""
        return f"{RECIPE_BUNDLE_PREFIX}/{self.manifest.name}/{self.digest.split(':', 1)[1]}.tar.gz"


class _BoundedStream:
    """The decompressed archive as tarfile reads it, refusing to unpack more than the limit.

    Every byte tarfile asks for (headers and contents) is counted, so a bomb is stopped after at most
    ``limit`` bytes of work; a single oversized read (a forged pax header) is refused before it is made.
    """

    def __init__(self, raw: IO[bytes] | io.BufferedIOBase, limit: int) -> None:
        self._raw = raw
        self._limit = limit
        self.unpacked = 0

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0 or size > _MAX_HEADER_READ:
            raise LimitExceeded(f"the recipe bundle has an archive header or read larger than {_MAX_HEADER_READ} bytes")
        self._count(size)
        return self._raw.read(size)

    def _count(self, size: int) -> None:
        self.unpacked += size
        if self.unpacked > self._limit:
            raise LimitExceeded(f"the recipe bundle unpacks to more than {self._limit} bytes (the unpacked-size limit)")

    def seek(self, offset: int, whence: int = 0) -> int:
        position = self._raw.tell()
        target = offset if whence == 0 else position + offset if whence == 1 else -1
        if target < 0:
            raise LimitExceeded("the recipe bundle cannot be read from its end")
        if target > position:
            # Skipping forward still decompresses: count it.
            self._count(target - position)
        return self._raw.seek(target)

    def tell(self) -> int:
        return self._raw.tell()


def _decompressed(bundle: IO[bytes]) -> IO[bytes] | io.BufferedIOBase:
    """The bundle's tar stream, whatever it is compressed with (gzip, bzip2, xz, or none)."""
    magic = bundle.read(6)
    bundle.seek(0)
    if magic.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=bundle, mode="rb")
    if magic.startswith(b"BZh"):
        return bz2.BZ2File(bundle, mode="rb")
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(bundle, mode="rb")
    return bundle


def parse_bundle(
    bundle: IO[bytes], *, default_name: str | None = None, limits: BundleLimits | None = None
) -> ParsedBundle:
    """Read and check a bundle: safe member paths, a valid manifest, a valid parameter schema.

    Members are streamed through the digest in small chunks, never held whole (only the manifest and
    ``.txt`` files of up to ``MAX_MANIFEST_BYTES`` are kept), and the unpacked size and member count
    are limited as the archive is read, so a decompression bomb costs bounded memory and work.
    """
    limits = limits or BundleLimits()
    bundle.seek(0, 2)
    size = bundle.tell()
    bundle.seek(0)
    if size > limits.max_bytes:
        raise LimitExceeded(f"the recipe bundle is {size} bytes; the limit is {limits.max_bytes} (compressed)")
    stream = _BoundedStream(_decompressed(bundle), limits.max_unpacked_bytes)
    try:
        archive = tarfile.open(fileobj=cast(IO[bytes], stream), mode="r:")
        with archive:
            entries, files = _read_members(archive, limits)
    except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError) as error:
        raise InvalidParameter(f"the recipe bundle is not a readable tar.gz archive: {error}") from None
    digest = hashlib.sha256()
    seen: set[str] = set()
    for path, executable, content_digest in sorted(entries):
        if path in seen:
            raise InvalidParameter(f"the recipe bundle contains {path!r} twice")
        seen.add(path)
        digest.update(f"{path}\0{int(executable)}\0{content_digest}\n".encode())
    manifest = _manifest(files, default_name)
    bundle.seek(0)
    return ParsedBundle(manifest=manifest, digest=f"sha256:{digest.hexdigest()}", size=size)


def _read_members(
    archive: tarfile.TarFile, limits: BundleLimits
) -> tuple[list[tuple[str, bool, str]], dict[str, bytes | None]]:
    """(path, executable, sha256) of each regular file, and the small text files kept for the manifest.

    A kept file larger than ``MAX_MANIFEST_BYTES`` is recorded as ``None`` so the manifest check can say so.
    """
    entries: list[tuple[str, bool, str]] = []
    files: dict[str, bytes | None] = {}
    declared = 0
    count = 0
    while (member := archive.next()) is not None:
        # tarfile keeps every header it has read (an undeclared attribute); nothing here needs them again.
        archive.members.clear()  # type: ignore[attr-defined]
        count += 1
        if count > limits.max_members:
            raise LimitExceeded(
                f"the recipe bundle has more than {limits.max_members} entries (the member-count limit)"
            )
        path = _safe_path(member.name)
        if member.isdir() or path == "":
            continue
        if not member.isfile():
            raise InvalidParameter(
                f"the recipe bundle may contain only files and directories; {member.name!r} is a link or device"
            )
        declared += member.size
        if declared > limits.max_unpacked_bytes:
            # Refused from the header, before any of the member is decompressed.
            raise LimitExceeded(
                f"the recipe bundle unpacks to more than {limits.max_unpacked_bytes} bytes "
                f"(the unpacked-size limit; {path!r} alone is {member.size} bytes)"
            )
        keep = path in MANIFEST_NAMES or path.endswith(".txt")
        content_digest, kept = _hash_member(archive, member, keep=keep)
        entries.append((path, bool(member.mode & 0o111), content_digest))
        if keep:
            files[path] = kept
    return entries, files


def _hash_member(archive: tarfile.TarFile, member: tarfile.TarInfo, *, keep: bool) -> tuple[str, bytes | None]:
    """The member's sha256, read in chunks; its content too when ``keep`` and it is small enough."""
    digest = hashlib.sha256()
    kept: bytearray | None = bytearray() if keep else None
    extracted = archive.extractfile(member)
    if extracted is not None:
        with extracted:
            while chunk := extracted.read(_CHUNK_BYTES):
                digest.update(chunk)
                if kept is not None:
                    kept.extend(chunk)
                    if len(kept) > MAX_MANIFEST_BYTES:
                        kept = None
    too_large = keep and kept is None
    return digest.hexdigest(), None if too_large or kept is None else bytes(kept)


def _safe_path(name: str) -> str:
    parts = [part for part in PurePosixPath(name).parts if part not in (".", "")]
    if name.startswith("/") or ".." in parts:
        raise InvalidParameter(f"the recipe bundle contains an unsafe path {name!r}")
    return "/".join(parts)


def _manifest(files: dict[str, bytes | None], default_name: str | None) -> Manifest:
    manifest_name = next((name for name in MANIFEST_NAMES if name in files), None)
    if manifest_name is None:
        raise InvalidParameter(f"the recipe bundle has no manifest: add {MANIFEST_NAMES[0]} at its root")
    raw = files[manifest_name]
    if raw is None:
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


def _requirements_file(files: dict[str, bytes | None], path: str, manifest_name: str) -> list[str]:
    if path not in files:
        raise InvalidParameter(f"{manifest_name}: requirements: {path!r} is not a .txt file in the bundle")
    content = files[path]
    if content is None:
        raise LimitExceeded(f"{manifest_name}: requirements: {path!r} is larger than {MAX_MANIFEST_BYTES} bytes")
    lines = content.decode("utf-8", errors="replace").splitlines()
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
    if not (version.isascii() and version.isdigit()) or len(version) > 9:
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
