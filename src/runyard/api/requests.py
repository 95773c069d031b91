"""Parsing request bodies and query strings into pydantic models, with MLflow-style errors.

Routes parse explicitly (rather than through FastAPI's body injection) so a malformed body, a wrong
type or a missing field becomes ``INVALID_PARAMETER_VALUE`` with a message naming the field, exactly
as MLflow reports it, and so the hot paths use orjson.
"""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from runyard.errors import InvalidParameter

M = TypeVar("M", bound=BaseModel)

MAX_JSON_BODY_BYTES = 64 * 1024 * 1024
# PostgreSQL cannot store NUL in text, and no MLflow name or value needs it: refuse it up front for every database.
NUL_MESSAGE = "Invalid request: strings must not contain NUL (\\u0000) characters."


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    location = ".".join(str(part) for part in first["loc"])
    if first["type"] == "missing":
        return f"Missing value for required parameter '{location}'."
    value = first.get("input")
    shown = orjson.dumps(value, default=str).decode()[:200] if value is not None else "null"
    return f"Invalid value {shown} for parameter '{location}' supplied: {first['msg']}"


def validate(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise InvalidParameter(_describe(error)) from None


async def parse_json(request: Request, model: type[M]) -> M:
    """The request's JSON body as ``model`` (an empty body counts as ``{}``)."""
    return validate(model, await read_json_object(request))


async def read_json_object(request: Request) -> dict[str, Any]:
    """The request's body decoded as a JSON object, with NUL characters refused."""
    body = await request.body()
    if len(body) > MAX_JSON_BODY_BYTES:
        raise InvalidParameter(f"Request body is too large ({len(body)} bytes; limit {MAX_JSON_BODY_BYTES}).")
    if not body.strip():
        data: Any = {}
    else:
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            raise InvalidParameter(f"Malformed JSON in request body: {error}") from None
    if not isinstance(data, dict):
        raise InvalidParameter("The request body must be a JSON object.")
    # Cheap pre-check on the raw bytes; only walk the parsed body when an escaped NUL may be present.
    if b"\\u0000" in body and _contains_nul(data):
        raise InvalidParameter(NUL_MESSAGE)
    return data


def _contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(k) or _contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_contains_nul(item) for item in value)
    return False


def parse_query(request: Request, model: type[M]) -> M:
    """The query string as ``model``; repeated keys become lists for list-typed fields."""
    data: dict[str, Any] = {}
    for key in request.query_params:
        values = request.query_params.getlist(key)
        if "\x00" in key or any("\x00" in value for value in values):
            raise InvalidParameter(NUL_MESSAGE)
        field = model.model_fields.get(key)
        is_list = field is not None and "list" in str(field.annotation).lower()
        data[key] = values if is_list else values[-1]
    return validate(model, data)
