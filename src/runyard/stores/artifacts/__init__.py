"""Artifact stores, chosen by URI scheme: ``open_store("s3://bucket/prefix", settings)``.

A plain path or ``file://…`` opens a ``LocalArtifactStore``; ``s3://`` opens an ``S3ArtifactStore``
against the endpoint in the settings (``AWS_ENDPOINT_URL`` / ``MLFLOW_S3_ENDPOINT_URL``). The S3
module (and boto3) is imported only when an S3 store is opened.
"""

from __future__ import annotations

import os
from urllib.parse import unquote, urlparse

from runyard.errors import InvalidParameter
from runyard.settings import ServerSettings
from runyard.stores.artifacts.base import ArtifactStore, FileInfo, MultipartUpload
from runyard.stores.artifacts.local import LocalArtifactStore
from runyard.stores.artifacts.paths import safe_relative_path

ADDRESSING_STYLE_ENV = "AWS_S3_ADDRESSING_STYLE"
_ADDRESSING_STYLES = ("auto", "path", "virtual")


def _addressing_style() -> str | None:
    # The standard AWS variable; botocore itself only reads the style from ~/.aws/config.
    style = os.environ.get(ADDRESSING_STYLE_ENV, "").strip().lower() or None
    if style is not None and style not in _ADDRESSING_STYLES:
        raise InvalidParameter(f"{ADDRESSING_STYLE_ENV} must be one of {', '.join(_ADDRESSING_STYLES)}, not {style!r}.")
    return style


def open_store(uri: str, settings: ServerSettings) -> ArtifactStore:
    """The artifact store at ``uri`` (a path, ``file://…`` or ``s3://bucket/prefix``)."""
    if "://" not in uri:
        return LocalArtifactStore(uri)
    scheme = uri.split("://", 1)[0].lower()
    if scheme == "file":
        parsed = urlparse(uri)
        if parsed.netloc not in ("", "localhost"):
            raise InvalidParameter(f"file:// URIs must name a local path, not host {parsed.netloc!r}: {uri!r}.")
        return LocalArtifactStore(unquote(parsed.path))
    if scheme == "s3":
        from runyard.stores.artifacts.s3 import S3ArtifactStore

        return S3ArtifactStore.from_uri(
            uri, endpoint_url=settings.s3_endpoint_url, addressing_style=_addressing_style()
        )
    raise InvalidParameter(f"Unsupported artifact store URI scheme {scheme!r}: use a path, file://… or s3://….")


__all__ = ["ArtifactStore", "FileInfo", "LocalArtifactStore", "MultipartUpload", "open_store", "safe_relative_path"]
