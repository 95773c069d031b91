"""MLflow's artifact proxy (``/api/2.0/mlflow-artifacts/*``) and the tracking-side artifact listing.

``proxy_router`` serves ``mlflow-artifacts:/`` URIs: PUT/GET/DELETE ``/artifacts/{path}``, the listing
``GET /artifacts?path=``, and multipart uploads (``POST /mpu/{create,complete,abort}/{directory}``, with
parts sent to ``PUT /mpu/part/{path}`` — the URLs ``create`` hands out). ``router`` serves
``GET /api/2.0/mlflow/artifacts/list?run_id=&path=``. Bodies stream both ways; see
``runyard.services.artifacts``.
"""

from __future__ import annotations

import mimetypes
import posixpath
import unicodedata
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from runyard.api import access
from runyard.api.deps import platform_of
from runyard.api.observability import count_ingested
from runyard.api.openapi import json_body, merge, query, raw_body
from runyard.api.requests import parse_json, parse_query
from runyard.api.responses import JSONResponse
from runyard.domain.identity import Level
from runyard.services import artifacts as service
from runyard.services import runs as run_service

router = APIRouter(prefix="/artifacts", tags=["mlflow-artifacts"])
proxy_router = APIRouter(tags=["mlflow-artifacts"])

# MLflow serves these as text/plain so its UI can preview them (mlflow/utils/mime_type_utils.py).
_TEXT_EXTENSIONS = frozenset(
    "txt log err cfg conf cnf cf ini properties prop hocon toml yaml yml xml json js py py3 csv tsv md rst ipynb "
    "MLmodel MLproject".split()
)


def _store(request: Request) -> service.ArtifactStore:
    return platform_of(request).artifacts


def _file_json(info: service.FileInfo) -> dict[str, Any]:
    entry: dict[str, Any] = {"path": info.path, "is_dir": info.is_dir}
    if info.file_size is not None:
        entry["file_size"] = info.file_size
    return entry


def _content_type(name: str) -> str:
    extension = posixpath.splitext(name)[1].lstrip(".") or name
    if extension in _TEXT_EXTENSIONS:
        return "text/plain"
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _attachment(name: str) -> str:
    """``Content-Disposition: attachment`` for ``name`` (RFC 6266, with an ASCII fallback)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode() or "download"
    ascii_name = ascii_name.replace("\\", "_").replace('"', "_")
    if ascii_name == name:
        return f'attachment; filename="{name}"'
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


# -- the proxy: /api/2.0/mlflow-artifacts ---------------------------------------------------------


class ListQuery(BaseModel):
    path: str | None = None


# Shadowed by ``registry_artifacts.list_artifacts`` (mounted first), which hands other paths to this
# handler: the operation is documented there.
@proxy_router.get(
    "/artifacts",
    include_in_schema=False,
    dependencies=[access.requires("artifact", Level.READ, jobs=True)],
    openapi_extra=query(ListQuery),
)
async def list_artifacts(request: Request) -> Response:
    """List the direct children of a directory of the artifact store."""
    query = parse_query(request, ListQuery)
    service.refuse_reserved(query.path, verb="read")
    files = await service.list_directory(_store(request), query.path)
    return JSONResponse({"files": [_file_json(info) for info in files]} if files else {})


@proxy_router.put(
    "/artifacts/{path:path}",
    dependencies=[access.requires("artifact", Level.EDIT, jobs=True, agents=True)],
    openapi_extra=raw_body("application/octet-stream"),
)
async def upload_artifact(request: Request, path: str) -> Response:
    """Store the request body at ``path``."""
    service.refuse_reserved(path, verb="written")
    size = await service.upload(_store(request), path, request.stream())
    count_ingested(artifact_bytes=size)
    return JSONResponse({})


@proxy_router.get("/artifacts/{path:path}", dependencies=[access.requires("artifact", Level.READ, jobs=True)])
async def download_artifact(request: Request, path: str) -> Response:
    """Stream the file at ``path``."""
    service.refuse_reserved(path, verb="read")
    return await file_response(_store(request), path)


async def file_response(store: service.ArtifactStore, path: str) -> Response:
    """Stream the file at ``path`` of ``store`` as a download, with MLflow's content type."""
    reader = await service.open_download(store, path)
    name = posixpath.basename(path.rstrip("/"))
    return StreamingResponse(
        reader.chunks(service.DEFAULT_CHUNK_SIZE),
        headers={
            # Set as a header, not ``media_type``: Starlette would append a charset to text/plain,
            # and MLflow's clients and UI expect the bare type.
            "Content-Type": _content_type(name),
            "Content-Length": str(reader.size),
            "Content-Disposition": _attachment(name),
            "X-Content-Type-Options": "nosniff",
        },
        # Closes the file even when the client goes away before the last chunk.
        background=BackgroundTask(reader.close),
    )


@proxy_router.delete("/artifacts/{path:path}", dependencies=[access.requires("artifact", Level.MANAGE)])
async def delete_artifact(request: Request, path: str) -> Response:
    """Delete the file or directory at ``path``."""
    service.refuse_reserved(path, verb="deleted")
    await service.delete(_store(request), path)
    return JSONResponse({})


class MultipartCreate(BaseModel):
    path: str = ""
    num_parts: int = 1


class PartIn(BaseModel):
    part_number: int
    etag: str | None = None
    url: str | None = None


class MultipartComplete(BaseModel):
    path: str = ""
    upload_id: str = ""
    parts: list[PartIn] = Field(default_factory=list)


class MultipartAbort(BaseModel):
    path: str = ""
    upload_id: str = ""


def _refuse_protected_upload(directory: str, local_file: str) -> None:
    service.refuse_reserved(directory, verb="written")
    service.refuse_reserved(service.multipart_destination(directory, local_file), verb="written")


def _part_url(request: Request, target: service.PartTarget) -> str:
    """The absolute URL a client PUTs one part to (through this server)."""
    settings = platform_of(request).settings
    base = settings.root_url.rstrip("/") if settings.root_url else str(request.base_url).rstrip("/")
    query = urlencode({"upload_id": target.upload_id, "part_number": target.part_number})
    return f"{base}/api/2.0/mlflow-artifacts/mpu/part/{quote(target.path)}?{query}"


@proxy_router.post(
    "/mpu/create/{directory:path}",
    dependencies=[access.requires("artifact", Level.EDIT, jobs=True, agents=True)],
    openapi_extra=json_body(MultipartCreate),
)
async def create_multipart_upload(request: Request, directory: str) -> Response:
    """Begin a multipart upload; answers with one upload URL per part."""
    body = await parse_json(request, MultipartCreate)
    _refuse_protected_upload(directory, body.path)
    created = await service.create_multipart(_store(request), directory, body.path, body.num_parts)
    credentials = [
        {"url": _part_url(request, part), "part_number": part.part_number, "headers": {}} for part in created.parts
    ]
    return JSONResponse({"upload_id": created.upload_id, "credentials": credentials})


class PartQuery(BaseModel):
    upload_id: str
    part_number: int


@proxy_router.put(
    "/mpu/part/{path:path}",
    dependencies=[access.requires("artifact", Level.EDIT, jobs=True, agents=True)],
    openapi_extra=merge(query(PartQuery), raw_body("application/octet-stream")),
)
async def upload_part(request: Request, path: str) -> Response:
    """Store one part of a multipart upload; its ETag is in the ``ETag`` header."""
    query = parse_query(request, PartQuery)
    service.refuse_reserved(path, verb="written")
    etag = await service.upload_part(_store(request), path, query.upload_id, query.part_number, request.stream())
    return JSONResponse({}, headers={"ETag": etag})


@proxy_router.post(
    "/mpu/complete/{directory:path}",
    dependencies=[access.requires("artifact", Level.EDIT, jobs=True, agents=True)],
    openapi_extra=json_body(MultipartComplete),
)
async def complete_multipart_upload(request: Request, directory: str) -> Response:
    """Assemble the uploaded parts into the file."""
    body = await parse_json(request, MultipartComplete)
    _refuse_protected_upload(directory, body.path)
    parts = [(part.part_number, part.etag or "") for part in body.parts]
    await service.complete_multipart(_store(request), directory, body.path, body.upload_id, parts)
    return JSONResponse({})


@proxy_router.post(
    "/mpu/abort/{directory:path}",
    dependencies=[access.requires("artifact", Level.EDIT, jobs=True, agents=True)],
    openapi_extra=json_body(MultipartAbort),
)
async def abort_multipart_upload(request: Request, directory: str) -> Response:
    """Discard a multipart upload."""
    body = await parse_json(request, MultipartAbort)
    _refuse_protected_upload(directory, body.path)
    await service.abort_multipart(_store(request), directory, body.path, body.upload_id)
    return JSONResponse({})


# -- the tracking view: /api/2.0/mlflow/artifacts/list ---------------------------------------------


class RunArtifactsQuery(BaseModel):
    run_id: str | None = None
    run_uuid: str | None = None
    path: str | None = None
    page_token: str | None = None


@router.get(
    "/list", dependencies=[access.requires("artifact", Level.READ, jobs=True)], openapi_extra=query(RunArtifactsQuery)
)
async def list_run_artifacts(request: Request) -> Response:
    """List a run's artifacts below ``path`` (run-relative paths), as MLflow's ``ListArtifacts``."""
    query = parse_query(request, RunArtifactsQuery)
    context = platform_of(request)
    run = await context.read(lambda connection: run_service.get_run(connection, query.run_id or query.run_uuid))
    files = await service.list_run_artifacts(_store(request), run.info.artifact_uri, query.path)
    body: dict[str, Any] = {"root_uri": run.info.artifact_uri}
    if files:
        body["files"] = [_file_json(info) for info in files]
    return JSONResponse(body)
