"""``/api/3.0/mlflow/gateway/…``: MLflow's AI gateway configuration API (secrets, model definitions,
endpoints, their models, tags and bindings), and the provider lists MLflow's UI asks for.

The configuration decides where the server sends requests and with whose credentials, and the secrets
are those credentials, so only administrators change any of it or see secrets and model definitions;
an endpoint is readable with READ on it, and using it is USE on it (``gateway_invocations``). Secret
values are write-only: answers carry MLflow's masked form (``sk-...abcd``) and nothing else.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from runyard.api import access
from runyard.api.deps import current_principal, platform_of
from runyard.api.openapi import json_body, query
from runyard.api.requests import parse_query, read_json_object, validate
from runyard.api.responses import JSONResponse
from runyard.domain import gateway as domain
from runyard.domain.gateway import (
    Binding,
    Endpoint,
    FallbackConfig,
    LinkageType,
    ModelConfig,
    ModelDefinition,
    ModelMapping,
    SecretInfo,
)
from runyard.domain.identity import Level
from runyard.errors import InvalidParameter
from runyard.services import gateway as service
from runyard.services.secret_box import uses_default_key

router = APIRouter(prefix="/gateway", tags=["mlflow-gateway"], dependencies=[access.admin])
# Reading an endpoint needs READ on it (MLflow's gateway_endpoint grants); the list shows the readable ones.
read_router = APIRouter(
    prefix="/gateway", tags=["mlflow-gateway"], dependencies=[access.requires("gateway_endpoint", Level.READ)]
)
# Served on /ajax-api/3.0/mlflow only, as MLflow does: what the UI offers when configuring a secret.
ajax_router = APIRouter(prefix="/gateway", tags=["mlflow-gateway"], dependencies=[access.admin])
# Reading an endpoint needs READ on it (MLflow's gateway_endpoint grants); the list shows the readable ones.
read_router = APIRouter(
    prefix="/gateway", tags=["mlflow-gateway"], dependencies=[access.requires("gateway_endpoint", Level.READ)]
)

M = TypeVar("M", bound=BaseModel)


async def _params(request: Request, model: type[M]) -> M:
    """GET reads the query string; DELETE either a JSON body (MLflow's client) or the query string."""
    if request.method == "GET":
        return parse_query(request, model)
    data = dict(request.query_params) if request.method == "DELETE" else {}
    data.update(await read_json_object(request))
    return validate(model, data)


def _actor(request: Request, given: str | None) -> str | None:
    """Who made a change: the authenticated principal; with auth off, what the client says."""
    principal = current_principal(request)
    if principal.kind != "local":
        return principal.name
    return given or None


# --- wire shapes (MLflow's protos as JSON: empty fields left out) ---


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None and value != ""}


def secret_json(secret: SecretInfo) -> dict[str, Any]:
    return _clean(
        {
            "secret_id": secret.secret_id,
            "secret_name": secret.secret_name,
            "masked_values": secret.masked_values,
            "created_at": secret.created_at,
            "last_updated_at": secret.last_updated_at,
            "provider": secret.provider,
            "created_by": secret.created_by,
            "last_updated_by": secret.last_updated_by,
            "auth_config": secret.auth_config or None,
        }
    )


def model_json(model: ModelDefinition) -> dict[str, Any]:
    return _clean(
        {
            "model_definition_id": model.model_definition_id,
            "name": model.name,
            "secret_id": model.secret_id,
            "secret_name": model.secret_name,
            "provider": model.provider,
            "model_name": model.model_name,
            "created_at": model.created_at,
            "last_updated_at": model.last_updated_at,
            "created_by": model.created_by,
            "last_updated_by": model.last_updated_by,
        }
    )


def mapping_json(mapping: ModelMapping) -> dict[str, Any]:
    return _clean(
        {
            "mapping_id": mapping.mapping_id,
            "endpoint_id": mapping.endpoint_id,
            "model_definition_id": mapping.model_definition.model_definition_id,
            "model_definition": model_json(mapping.model_definition),
            "weight": mapping.weight,
            "created_at": mapping.created_at,
            "created_by": mapping.created_by,
            "linkage_type": mapping.linkage_type.value,
            "fallback_order": mapping.fallback_order,
        }
    )


def endpoint_json(endpoint: Endpoint) -> dict[str, Any]:
    fallback = endpoint.fallback_config
    return _clean(
        {
            "endpoint_id": endpoint.endpoint_id,
            "name": endpoint.name,
            "created_at": endpoint.created_at,
            "last_updated_at": endpoint.last_updated_at,
            "model_mappings": [mapping_json(m) for m in endpoint.model_mappings],
            "created_by": endpoint.created_by,
            "last_updated_by": endpoint.last_updated_by,
            "tags": [{"key": key, "value": value} for key, value in sorted(endpoint.tags.items())],
            "routing_strategy": endpoint.routing_strategy,
            "fallback_config": _clean({"strategy": fallback.strategy, "max_attempts": fallback.max_attempts})
            if fallback
            else None,
            "experiment_id": endpoint.experiment_id,
            "usage_tracking": endpoint.usage_tracking,
        }
    )


def binding_json(binding: Binding) -> dict[str, Any]:
    return _clean(
        {
            "endpoint_id": binding.endpoint_id,
            "resource_type": binding.resource_type,
            "resource_id": binding.resource_id,
            "created_at": binding.created_at,
            "last_updated_at": binding.last_updated_at,
            "created_by": binding.created_by,
            "last_updated_by": binding.last_updated_by,
            "display_name": binding.display_name,
        }
    )


# --- request bodies ---

_LINKAGE_NUMBERS = {1: LinkageType.PRIMARY, 2: LinkageType.FALLBACK}
_ROUTING_NUMBERS = {1: "REQUEST_BASED_TRAFFIC_SPLIT"}
_FALLBACK_NUMBERS = {1: "SEQUENTIAL"}


class ModelConfigIn(BaseModel):
    model_definition_id: str | None = None
    linkage_type: str | int | None = None
    weight: float | None = None
    fallback_order: int | None = Field(default=None, ge=0, le=1_000_000)


class FallbackConfigIn(BaseModel):
    strategy: str | int | None = None
    max_attempts: int | None = None


def _model_config(config: ModelConfigIn, location: str) -> ModelConfig:
    linkage = config.linkage_type
    kind = _LINKAGE_NUMBERS.get(linkage) if isinstance(linkage, int) else None
    if isinstance(linkage, str) and linkage in LinkageType.__members__:
        kind = LinkageType(linkage)
    if kind is None:
        valid = ", ".join(t.value for t in LinkageType)
        raise InvalidParameter(
            f"Invalid or missing value for required parameter 'linkage_type' in {location}. Must be one of: {valid}."
        )
    return ModelConfig(
        model_definition_id=domain.require(f"{location}.model_definition_id", config.model_definition_id),
        linkage_type=kind,
        weight=1.0 if config.weight is None else config.weight,
        fallback_order=config.fallback_order,
    )


def _enum_name(value: str | int | None, numbers: dict[int, str]) -> str | None:
    if isinstance(value, int):
        return numbers.get(value, str(value)) if value else None
    return value or None


def _fallback(config: FallbackConfigIn | None) -> FallbackConfig | None:
    if config is None:
        return None
    return FallbackConfig(_enum_name(config.strategy, _FALLBACK_NUMBERS), config.max_attempts)


class SecretCreate(BaseModel):
    secret_name: str | None = None
    # Checked by the service, whose messages never repeat a value (validation errors here would).
    secret_value: dict[str, Any] | None = None
    provider: str | None = None
    auth_config: dict[str, str] | None = None
    created_by: str | None = None


class SecretUpdate(BaseModel):
    secret_id: str | None = None
    secret_value: dict[str, Any] | None = None
    auth_config: dict[str, str] | None = None
    updated_by: str | None = None


class SecretGet(BaseModel):
    secret_id: str | None = None
    secret_name: str | None = None


class SecretId(BaseModel):
    secret_id: str | None = None


class ProviderFilter(BaseModel):
    provider: str | None = None


class EndpointCreate(BaseModel):
    name: str | None = None
    model_configs: list[ModelConfigIn] | None = None
    created_by: str | None = None
    routing_strategy: str | int | None = None
    fallback_config: FallbackConfigIn | None = None
    experiment_id: str | None = None
    usage_tracking: bool | None = None


class EndpointUpdate(BaseModel):
    endpoint_id: str | None = None
    name: str | None = None
    updated_by: str | None = None
    model_configs: list[ModelConfigIn] | None = None
    routing_strategy: str | int | None = None
    fallback_config: FallbackConfigIn | None = None
    experiment_id: str | None = None
    usage_tracking: bool | None = None


class EndpointGet(BaseModel):
    endpoint_id: str | None = None
    name: str | None = None


class EndpointId(BaseModel):
    endpoint_id: str | None = None


class ListFilter(BaseModel):
    provider: str | None = None
    secret_id: str | None = None


class ModelCreate(BaseModel):
    name: str | None = None
    secret_id: str | None = None
    provider: str | None = None
    model_name: str | None = None
    created_by: str | None = None


class ModelUpdate(BaseModel):
    model_definition_id: str | None = None
    name: str | None = None
    secret_id: str | None = None
    model_name: str | None = None
    updated_by: str | None = None
    provider: str | None = None


class ModelId(BaseModel):
    model_definition_id: str | None = None


class Attach(BaseModel):
    endpoint_id: str | None = None
    model_config_: ModelConfigIn | None = Field(default=None, alias="model_config")
    created_by: str | None = None


class Detach(BaseModel):
    endpoint_id: str | None = None
    model_definition_id: str | None = None


class BindingIn(BaseModel):
    endpoint_id: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    created_by: str | None = None


class BindingFilter(BaseModel):
    endpoint_id: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None


class TagSet(BaseModel):
    endpoint_id: str | None = None
    key: str | None = None
    value: str | None = None


class TagDelete(BaseModel):
    endpoint_id: str | None = None
    key: str | None = None


# --- secrets ---


@router.post("/secrets/create", openapi_extra=json_body(SecretCreate))
async def create_secret(request: Request) -> Response:
    body = await _params(request, SecretCreate)
    platform = platform_of(request)
    allow_private = platform.settings.gateway_allow_private_urls
    secret = await platform.write(
        lambda c: service.create_secret(
            c, platform.gateway_secrets, secret_name=body.secret_name, secret_value=body.secret_value,
            provider=body.provider, auth_config=body.auth_config, created_by=_actor(request, body.created_by),
            allow_private=allow_private,
        )
    )  # fmt: skip
    return JSONResponse({"secret": secret_json(secret)})


@router.get("/secrets/get", openapi_extra=query(SecretGet))
async def get_secret(request: Request) -> Response:
    params = await _params(request, SecretGet)
    secret = await platform_of(request).read(
        lambda c: service.get_secret(c, secret_id=params.secret_id, secret_name=params.secret_name)
    )
    return JSONResponse({"secret": secret_json(secret)})


@router.post("/secrets/update", openapi_extra=json_body(SecretUpdate))
async def update_secret(request: Request) -> Response:
    body = await _params(request, SecretUpdate)
    platform = platform_of(request)
    allow_private = platform.settings.gateway_allow_private_urls
    secret = await platform.write(
        lambda c: service.update_secret(
            c, platform.gateway_secrets, body.secret_id, secret_value=body.secret_value, auth_config=body.auth_config,
            updated_by=_actor(request, body.updated_by), allow_private=allow_private,
        )
    )  # fmt: skip
    return JSONResponse({"secret": secret_json(secret)})


@router.delete("/secrets/delete", openapi_extra=json_body(SecretId))
async def delete_secret(request: Request) -> Response:
    body = await _params(request, SecretId)
    await platform_of(request).write(lambda c: service.delete_secret(c, body.secret_id))
    return JSONResponse({})


@router.get("/secrets/list", openapi_extra=query(ProviderFilter))
async def list_secrets(request: Request) -> Response:
    params = await _params(request, ProviderFilter)
    found = await platform_of(request).read(lambda c: service.list_secrets(c, params.provider))
    return JSONResponse({"secrets": [secret_json(secret) for secret in found]})


# --- endpoints ---


@router.post("/endpoints/create", openapi_extra=json_body(EndpointCreate))
async def create_endpoint(request: Request) -> Response:
    body = await _params(request, EndpointCreate)
    if body.model_configs is None:
        raise InvalidParameter("Missing value for required parameter 'model_configs'.")
    configs = [_model_config(config, f"model_configs[{i}]") for i, config in enumerate(body.model_configs)]
    endpoint = await platform_of(request).write(
        lambda c: service.create_endpoint(
            c, name=body.name, model_configs=configs, created_by=_actor(request, body.created_by),
            routing_strategy=_enum_name(body.routing_strategy, _ROUTING_NUMBERS),
            fallback_config=_fallback(body.fallback_config), experiment_id=body.experiment_id,
            usage_tracking=True if body.usage_tracking is None else body.usage_tracking,
        )
    )  # fmt: skip
    return JSONResponse({"endpoint": endpoint_json(endpoint)})


@read_router.get("/endpoints/get", openapi_extra=query(EndpointGet))
async def get_endpoint(request: Request) -> Response:
    params = await _params(request, EndpointGet)
    endpoint = await platform_of(request).read(
        lambda c: service.get_endpoint(c, endpoint_id=params.endpoint_id, name=params.name)
    )
    return JSONResponse({"endpoint": endpoint_json(endpoint)})


@router.post("/endpoints/update", openapi_extra=json_body(EndpointUpdate))
async def update_endpoint(request: Request) -> Response:
    body = await _params(request, EndpointUpdate)
    configs = [_model_config(config, f"model_configs[{i}]") for i, config in enumerate(body.model_configs or [])]
    endpoint = await platform_of(request).write(
        lambda c: service.update_endpoint(
            c, body.endpoint_id, name=body.name, model_configs=configs or None,
            updated_by=_actor(request, body.updated_by),
            routing_strategy=_enum_name(body.routing_strategy, _ROUTING_NUMBERS),
            fallback_config=_fallback(body.fallback_config), experiment_id=body.experiment_id,
            usage_tracking=body.usage_tracking,
        )
    )  # fmt: skip
    return JSONResponse({"endpoint": endpoint_json(endpoint)})


@router.delete("/endpoints/delete", openapi_extra=json_body(EndpointId))
async def delete_endpoint(request: Request) -> Response:
    body = await _params(request, EndpointId)
    await platform_of(request).write(lambda c: service.delete_endpoint(c, body.endpoint_id))
    return JSONResponse({})


@read_router.get("/endpoints/list", openapi_extra=query(ListFilter))
async def list_endpoints(request: Request) -> Response:
    params = await _params(request, ListFilter)
    found = await platform_of(request).read(
        lambda c: service.list_endpoints(c, provider=params.provider, secret_id=params.secret_id)
    )
    readable = await access.permitted(request, "gateway_endpoint", [e.endpoint_id for e in found], Level.READ)
    return JSONResponse({"endpoints": [endpoint_json(e) for e in found if e.endpoint_id in readable]})


@router.post("/endpoints/models/attach", openapi_extra=json_body(Attach))
async def attach_model(request: Request) -> Response:
    body = await _params(request, Attach)
    if body.model_config_ is None:
        raise InvalidParameter("Missing value for required parameter 'model_config'.")
    config = _model_config(body.model_config_, "model_config")
    mapping = await platform_of(request).write(
        lambda c: service.attach_model(c, body.endpoint_id, config, _actor(request, body.created_by))
    )
    return JSONResponse({"mapping": mapping_json(mapping)})


@router.post("/endpoints/models/detach", openapi_extra=json_body(Detach))
async def detach_model(request: Request) -> Response:
    body = await _params(request, Detach)
    await platform_of(request).write(lambda c: service.detach_model(c, body.endpoint_id, body.model_definition_id))
    return JSONResponse({})


@router.post("/endpoints/set-tag", openapi_extra=json_body(TagSet))
async def set_endpoint_tag(request: Request) -> Response:
    body = await _params(request, TagSet)
    await platform_of(request).write(lambda c: service.set_tag(c, body.endpoint_id, body.key, body.value))
    return JSONResponse({})


@router.delete("/endpoints/delete-tag", openapi_extra=json_body(TagDelete))
async def delete_endpoint_tag(request: Request) -> Response:
    body = await _params(request, TagDelete)
    await platform_of(request).write(lambda c: service.delete_tag(c, body.endpoint_id, body.key))
    return JSONResponse({})


# --- bindings ---


@router.post("/endpoints/bindings/create", openapi_extra=json_body(BindingIn))
async def create_binding(request: Request) -> Response:
    body = await _params(request, BindingIn)
    binding = await platform_of(request).write(
        lambda c: service.create_binding(
            c, body.endpoint_id, body.resource_type, body.resource_id, _actor(request, body.created_by)
        )
    )
    return JSONResponse({"binding": binding_json(binding)})


@router.delete("/endpoints/bindings/delete", openapi_extra=json_body(BindingFilter))
async def delete_binding(request: Request) -> Response:
    body = await _params(request, BindingFilter)
    await platform_of(request).write(
        lambda c: service.delete_binding(c, body.endpoint_id, body.resource_type, body.resource_id)
    )
    return JSONResponse({})


@router.get("/endpoints/bindings/list", openapi_extra=query(BindingFilter))
async def list_bindings(request: Request) -> Response:
    params = await _params(request, BindingFilter)
    found = await platform_of(request).read(
        lambda c: service.list_bindings(
            c, endpoint_id=params.endpoint_id, resource_type=params.resource_type, resource_id=params.resource_id
        )
    )
    return JSONResponse({"bindings": [binding_json(binding) for binding in found]})


# --- model definitions ---


@router.post("/model-definitions/create", openapi_extra=json_body(ModelCreate))
async def create_model(request: Request) -> Response:
    body = await _params(request, ModelCreate)
    model = await platform_of(request).write(
        lambda c: service.create_model(
            c, name=body.name, secret_id=body.secret_id, provider=body.provider, model_name=body.model_name,
            created_by=_actor(request, body.created_by),
        )
    )  # fmt: skip
    return JSONResponse({"model_definition": model_json(model)})


@router.get("/model-definitions/get", openapi_extra=query(ModelId))
async def get_model(request: Request) -> Response:
    params = await _params(request, ModelId)
    model = await platform_of(request).read(lambda c: service.get_model(c, params.model_definition_id))
    return JSONResponse({"model_definition": model_json(model)})


@router.get("/model-definitions/list", openapi_extra=query(ListFilter))
async def list_models(request: Request) -> Response:
    params = await _params(request, ListFilter)
    found = await platform_of(request).read(
        lambda c: service.list_models(c, provider=params.provider, secret_id=params.secret_id)
    )
    return JSONResponse({"model_definitions": [model_json(model) for model in found]})


@router.post("/model-definitions/update", openapi_extra=json_body(ModelUpdate))
async def update_model(request: Request) -> Response:
    body = await _params(request, ModelUpdate)
    model = await platform_of(request).write(
        lambda c: service.update_model(
            c, body.model_definition_id, name=body.name, secret_id=body.secret_id, model_name=body.model_name,
            provider=body.provider, updated_by=_actor(request, body.updated_by),
        )
    )  # fmt: skip
    return JSONResponse({"model_definition": model_json(model)})


@router.delete("/model-definitions/delete", openapi_extra=json_body(ModelId))
async def delete_model(request: Request) -> Response:
    body = await _params(request, ModelId)
    await platform_of(request).write(lambda c: service.delete_model(c, body.model_definition_id))
    return JSONResponse({})


# --- what the UI offers (ajax only) ---


def _model_entry(provider: str, model: str, mode: str) -> dict[str, Any]:
    """MLflow's ``ModelDict``: every field present, unknown ones null."""
    return {
        "model": model,
        "provider": provider,
        "mode": mode,
        "supports_function_calling": mode == "chat",
        "supports_vision": False,
        "supports_reasoning": False,
        "supports_prompt_caching": False,
        "supports_response_schema": False,
        "max_input_tokens": None,
        "max_output_tokens": None,
        "input_cost_per_token": None,
        "output_cost_per_token": None,
        "modality": None,
        "deprecation_date": None,
        "last_updated_at": None,
    }


@ajax_router.get("/supported-providers")
async def supported_providers() -> Response:
    return JSONResponse({"providers": sorted(domain.PROVIDERS)})


@ajax_router.get("/supported-models", openapi_extra=query(ProviderFilter))
async def supported_models(request: Request) -> Response:
    params = parse_query(request, ProviderFilter)
    providers = [domain.provider(params.provider)] if params.provider else list(domain.PROVIDERS.values())
    models = [_model_entry(p.name, model, mode) for p in providers for model, mode in p.models]
    return JSONResponse({"models": models})


@ajax_router.get("/provider-config", openapi_extra=query(ProviderFilter))
async def provider_config(request: Request) -> Response:
    params = parse_query(request, ProviderFilter)
    found = domain.provider(params.provider)
    title = found.name.replace("_", " ").title()
    mode = {
        "mode": "api_key",
        "display_name": "API Key",
        "description": f"Use {title} API Key",
        "secret_fields": [
            {"name": domain.API_KEY, "type": "string", "description": f"{title} API Key", "required": True}
        ],
        "config_fields": [
            {
                "name": domain.API_BASE,
                "type": "string",
                "description": f"{title} API Base URL (default {found.default_api_base})",
                "required": False,
            }
        ],
    }
    return JSONResponse({"auth_modes": [mode], "default_mode": "api_key"})


@ajax_router.get("/secrets/config")
async def secrets_config(request: Request) -> Response:
    settings = platform_of(request).settings
    return JSONResponse({"secrets_available": True, "using_default_passphrase": uses_default_key(settings)})
