"""``/gateway/…``: requests to AI gateway endpoints, forwarded to the endpoint's provider (MLflow's routes).

``/gateway/{endpoint}/mlflow/invocations`` takes a chat (``messages``) or embeddings (``input``)
payload; ``/gateway/mlflow/v1/chat/completions`` and the OpenAI passthrough routes name the endpoint
in ``model``; ``/gateway/mlflow/v1/models`` lists the endpoints. Calling an endpoint needs USE on it
(a grant on ``gateway_endpoint``, MLflow's resource type); errors have the shape MLflow's FastAPI
gateway answers with: ``{"detail": {"error_code": …, "message": …}}``.
"""

from __future__ import annotations

import random
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from runyard.api import access
from runyard.api.deps import platform_of
from runyard.api.openapi import json_body
from runyard.api.requests import read_json_object
from runyard.api.responses import JSONResponse
from runyard.domain.identity import Level
from runyard.errors import ERROR_CODE_TO_HTTP_STATUS, RunyardError
from runyard.services import gateway as service
from runyard.services import gateway_proxy

router = APIRouter(prefix="/gateway", tags=["mlflow-gateway-invocations"])
use_endpoint = access.requires("gateway_endpoint", Level.USE)


class ChatOrEmbeddings(BaseModel):
    """An OpenAI-shaped chat (``messages``) or embeddings (``input``) request; other fields pass through."""

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    messages: list[dict[str, Any]] | None = None
    input: str | list[Any] | None = None
    stream: bool | None = None


def _failure(error: RunyardError) -> Response:
    status = ERROR_CODE_TO_HTTP_STATUS.get(error.error_code, 400)
    return JSONResponse({"detail": {"error_code": error.error_code, "message": error.message}}, status_code=status)


def _detail(status: int, message: str) -> Response:
    return JSONResponse({"detail": message}, status_code=status)


async def _forward(request: Request, endpoint_name: str, path: str, body: dict[str, Any]) -> Response:
    platform = platform_of(request)
    settings = platform.settings
    draw = random.random()
    try:
        routes = await platform.read(lambda c: service.routes_for(c, platform.gateway_secrets, endpoint_name, draw))
    except RunyardError as error:
        return _failure(error)
    answer = await gateway_proxy.send(
        routes, path, body, timeout=settings.gateway_timeout_seconds, allow_private=settings.gateway_allow_private_urls
    )
    if answer.stream is not None:
        return StreamingResponse(answer.stream, status_code=answer.status, media_type=answer.media_type)
    return Response(answer.content, status_code=answer.status, media_type=answer.media_type)


async def _body(request: Request) -> dict[str, Any] | Response:
    try:
        body = await read_json_object(request)
    except RunyardError as error:
        return _detail(400, f"Invalid JSON payload: {error.message}")
    if not isinstance(body.get("stream", False), bool):
        return _detail(400, "Invalid payload: 'stream' must be a boolean")
    return body


def _model_of(body: dict[str, Any]) -> str | Response:
    name = body.pop("model", None)
    if not name or not isinstance(name, str):
        return _detail(400, "Missing required 'model' parameter in request body")
    return name


@router.post(
    "/{endpoint_name}/mlflow/invocations", dependencies=[use_endpoint], openapi_extra=json_body(ChatOrEmbeddings)
)
async def invocations(endpoint_name: str, request: Request) -> Response:
    """A chat or embeddings request to one endpoint, by the payload's shape."""
    body = await _body(request)
    if isinstance(body, Response):
        return body
    if isinstance(body.get("messages"), list):
        return await _forward(request, endpoint_name, "chat/completions", body)
    if "input" in body:
        body.pop("stream", None)
        return await _forward(request, endpoint_name, "embeddings", body)
    return _detail(400, "Invalid request: payload format must be either chat or embeddings")


async def _by_model(request: Request, path: str, *, chat: bool) -> Response:
    body = await _body(request)
    if isinstance(body, Response):
        return body
    name = _model_of(body)
    if isinstance(name, Response):
        return name
    if chat and not isinstance(body.get("messages"), list):
        return _detail(400, "Invalid chat payload: 'messages' must be a list of messages")
    if not chat and "input" not in body:
        return _detail(400, "Invalid embeddings payload: 'input' is required")
    return await _forward(request, name, path, body)


@router.post("/mlflow/v1/chat/completions", dependencies=[use_endpoint], openapi_extra=json_body(ChatOrEmbeddings))
async def chat_completions(request: Request) -> Response:
    """OpenAI-compatible chat completions; ``model`` names the endpoint."""
    return await _by_model(request, "chat/completions", chat=True)


@router.post("/openai/v1/chat/completions", dependencies=[use_endpoint], openapi_extra=json_body(ChatOrEmbeddings))
async def openai_chat(request: Request) -> Response:
    """OpenAI passthrough chat completions; ``model`` names the endpoint."""
    return await _by_model(request, "chat/completions", chat=True)


@router.post("/openai/v1/embeddings", dependencies=[use_endpoint], openapi_extra=json_body(ChatOrEmbeddings))
async def openai_embeddings(request: Request) -> Response:
    """OpenAI passthrough embeddings; ``model`` names the endpoint."""
    return await _by_model(request, "embeddings", chat=False)


@router.get("/mlflow/v1/models", dependencies=[use_endpoint])
async def list_models(request: Request) -> Response:
    """The endpoints the caller may use, as OpenAI model objects (``id`` is the endpoint name)."""
    endpoints = await platform_of(request).read(lambda c: service.list_endpoints(c))
    usable = await access.permitted(request, "gateway_endpoint", [e.endpoint_id for e in endpoints], Level.USE)
    data = [
        {"id": e.name, "object": "model", "created": e.created_at // 1000, "owned_by": "mlflow"}
        for e in sorted(endpoints, key=lambda e: e.name)
        if e.endpoint_id in usable
    ]
    return JSONResponse({"object": "list", "data": data})
