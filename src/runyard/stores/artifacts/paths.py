"""Artifact paths: the one check every user-supplied path goes through before it reaches a store.

A safe path is relative, ``/``-separated, and stays under the store root however it is decoded:
no ``..`` segment, no leading ``/``, no drive letter, no backslash, no control character (NUL
included) — in the path as received *and* in every further percent-decoding of it, so
``%2e%2e%2f`` (already decoded once by the HTTP server) or ``%252e%252e`` cannot sneak a
traversal past a layer that decodes again.
"""

from __future__ import annotations

import posixpath
import re
from urllib.parse import unquote

from runyard.errors import InvalidParameter

MAX_PATH_LENGTH = 4096
MAX_SEGMENT_BYTES = 255
# Decoding stops once a round changes nothing; this bounds pathological inputs such as %25252525….
_MAX_DECODE_ROUNDS = 8
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE = re.compile(r"^[A-Za-z]:")


def _refuse(path: str, why: str) -> InvalidParameter:
    shown = path if len(path) <= 200 else path[:200] + "…"
    return InvalidParameter(f"Invalid artifact path {shown!r}: {why}.")


def _check_form(original: str, candidate: str) -> None:
    if "\\" in candidate:
        raise _refuse(original, "backslashes are not allowed; use '/'")
    if _CONTROL.search(candidate):
        raise _refuse(original, "control characters are not allowed")
    if candidate.startswith("/") or _DRIVE.match(candidate):
        raise _refuse(original, "it must be relative to the artifact root")
    if ".." in candidate.split("/"):
        raise _refuse(original, "'..' segments are not allowed")


def safe_relative_path(path: str | None, *, allow_root: bool = True) -> str:
    """``path`` normalised (no empty or ``.`` segments, no trailing ``/``), or ``InvalidParameter``.

    Args:
        path: A path relative to an artifact root, as received (the HTTP layer has decoded it once).
        allow_root: Whether the empty path (the root itself) is acceptable.

    Returns:
        The normalised path; ``""`` for the root.

    Raises:
        InvalidParameter: The path is absolute, escapes the root, or contains forbidden characters.
    """
    path = path or ""
    if len(path) > MAX_PATH_LENGTH:
        raise _refuse(path, f"longer than {MAX_PATH_LENGTH} characters")
    candidate = path
    for _ in range(_MAX_DECODE_ROUNDS):
        _check_form(path, candidate)
        decoded = unquote(candidate)
        if decoded == candidate:
            break
        candidate = decoded
    else:
        raise _refuse(path, "too many levels of percent-encoding")
    segments = [segment for segment in path.split("/") if segment not in ("", ".")]
    for segment in segments:
        if len(segment.encode()) > MAX_SEGMENT_BYTES:
            raise _refuse(path, f"a path segment is longer than {MAX_SEGMENT_BYTES} bytes")
    normalised = "/".join(segments)
    if not normalised and not allow_root:
        raise _refuse(path, "a file or directory below the artifact root is required")
    return normalised


def top_folders(path: str | None) -> set[str]:
    """The first segment of ``path`` in every decoding of it, normalised and case-folded.

    Used to keep whole areas of a store (recipe bundles, registry copies) out of a generic writer's
    reach: ``./_registry/x``, ``a/../recipes/x``, ``%72ecipes/x`` and ``Recipes/x`` all name the
    area they would land in, or would after a layer that decodes once more or folds case.
    """
    folders: set[str] = set()
    candidate = path or ""
    for _ in range(_MAX_DECODE_ROUNDS):
        segments: list[str] = []
        for segment in candidate.replace("\\", "/").split("/"):
            if segment in ("", "."):
                continue
            if segment == "..":
                if segments:
                    segments.pop()
                continue
            segments.append(segment)
        if segments:
            folders.add(segments[0].casefold())
        decoded = unquote(candidate)
        if decoded == candidate:
            break
        candidate = decoded
    return folders


def join(*parts: str) -> str:
    """Join already-safe relative paths, skipping empty parts."""
    return posixpath.join(*[part for part in parts if part]) if any(parts) else ""


def relative_to(path: str, base: str) -> str:
    """``path`` relative to directory ``base`` (both safe relative paths, ``path`` inside ``base``)."""
    if not base:
        return path
    return path[len(base) :].lstrip("/")
