"""OpenAPI declarations for routes that parse their own input.

Routes read bodies and query strings themselves (``runyard.api.requests``) so errors come out in
MLflow's words; FastAPI therefore cannot see what they accept. These helpers turn the same pydantic
models into the route's ``openapi_extra``, so ``/openapi.json`` describes every body, query parameter
and path parameter a route takes, and a schema-driven fuzz test can exercise all of them::

    @router.post("/create", openapi_extra=json_body(ExperimentCreate))
    @router.get("/get", openapi_extra=query(ExperimentRef))
    @router.put("/artifacts/{path:path}", openapi_extra=raw_body("application/octet-stream"))
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel

OpenApiExtra = dict[str, Any]


def _inline(schema: Any, definitions: dict[str, Any]) -> Any:
    """``schema`` with its ``#/$defs/…`` references replaced by the definitions (OpenAPI has no ``$defs``)."""
    if isinstance(schema, dict):
        reference = schema.get("$ref")
        if isinstance(reference, str) and reference.startswith("#/$defs/"):
            target = copy.deepcopy(definitions[reference.removeprefix("#/$defs/")])
            rest = {key: value for key, value in schema.items() if key != "$ref"}
            return _inline({**target, **rest}, definitions)
        return {key: _inline(value, definitions) for key, value in schema.items() if key != "$defs"}
    if isinstance(schema, list):
        return [_inline(item, definitions) for item in schema]
    return schema


def model_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema of ``model`` as input, self-contained."""
    schema = model.model_json_schema(mode="validation")
    inlined: dict[str, Any] = _inline(schema, schema.get("$defs", {}))
    return inlined


def json_body(model: type[BaseModel], *, required: bool = False) -> OpenApiExtra:
    """A JSON request body of ``model`` (an empty body counts as ``{}`` unless ``required``)."""
    return {
        "requestBody": {
            "required": required,
            "content": {"application/json": {"schema": model_schema(model)}},
        }
    }


def json_schema_body(schema: dict[str, Any], *, required: bool = False) -> OpenApiExtra:
    """A JSON request body described by a hand-written schema (for routes parsed without a model)."""
    return {"requestBody": {"required": required, "content": {"application/json": {"schema": schema}}}}


def raw_body(media_type: str, description: str = "The file's bytes, streamed.") -> OpenApiExtra:
    """A request body of raw bytes (uploads)."""
    return {
        "requestBody": {
            "required": False,
            "description": description,
            "content": {media_type: {"schema": {"type": "string", "format": "binary"}}},
        }
    }


def query(model: type[BaseModel]) -> OpenApiExtra:
    """One query parameter per field of ``model``; list fields are repeated keys (``?state=a&state=b``)."""
    schema = model_schema(model)
    required = set(schema.get("required", []))
    parameters = [
        {"name": name, "in": "query", "required": name in required, "schema": field_schema}
        for name, field_schema in schema.get("properties", {}).items()
    ]
    return {"parameters": parameters}


def request(model: type[BaseModel], method: str) -> OpenApiExtra:
    """What ``parse_request`` reads: the query string for GET, a JSON body otherwise."""
    return query(model) if method.upper() == "GET" else json_body(model)


def path_params(*names: str) -> OpenApiExtra:
    """Path parameters a handler does not take as arguments (so FastAPI cannot declare them)."""
    return {
        "parameters": [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}} for name in names]
    }


def merge(*extras: OpenApiExtra) -> OpenApiExtra:
    """Several declarations for one route (their parameter lists joined)."""
    merged: OpenApiExtra = {}
    for extra in extras:
        for key, value in extra.items():
            if key == "parameters":
                merged.setdefault("parameters", []).extend(value)
            else:
                merged[key] = value
    return merged
