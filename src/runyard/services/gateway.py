"""The AI gateway's configuration (MLflow's gateway API): secrets, model definitions, endpoints, bindings.

Secret values are write-only: sealed with the gateway's key-encryption key in the transaction that
stores them and opened only by ``routes_for`` to call a provider; every answer carries the masked
form. The sealed token names its secret's id, so a token copied onto another row does not open there.
Everything lives in the request's workspace.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from sqlalchemy import Connection, Row

from runyard.domain import gateway as domain
from runyard.domain.clock import now_ms
from runyard.domain.gateway import (
    Binding,
    Endpoint,
    FallbackConfig,
    LinkageType,
    ModelConfig,
    ModelDefinition,
    ModelMapping,
    Route,
    SecretInfo,
)
from runyard.errors import AlreadyExists, Conflict, InvalidParameter, NotFound, Unavailable
from runyard.services.secret_box import SecretBox
from runyard.services.workspaces import current_workspace, workspace_scope
from runyard.stores.metadata import gateway as store


def _new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def _json_map(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    value = orjson.loads(text)
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _one_of(first: str, first_value: str | None, second: str, second_value: str | None) -> None:
    if bool(first_value) == bool(second_value):
        raise InvalidParameter(f"Exactly one of {first} or {second} must be provided")


# --- secrets ---


def _to_secret(row: Row[Any]) -> SecretInfo:
    return SecretInfo(
        secret_id=row.secret_id,
        secret_name=row.secret_name,
        masked_values=_json_map(row.masked_values),
        created_at=int(row.created_at),
        last_updated_at=int(row.last_updated_at),
        provider=row.provider,
        auth_config=_json_map(row.auth_config),
        created_by=row.created_by,
        last_updated_by=row.last_updated_by,
    )


def _seal(box: SecretBox, secret_id: str, value: dict[str, str]) -> dict[str, str]:
    token = box.seal(orjson.dumps({"secret_id": secret_id, "value": value}).decode())
    masked = {key: domain.mask(item) for key, item in value.items()}
    return {"value_encrypted": token, "masked_values": orjson.dumps(masked).decode()}


def _open(box: SecretBox, row: Row[Any]) -> dict[str, str]:
    sealed = orjson.loads(box.open(row.value_encrypted))
    if not isinstance(sealed, dict) or sealed.get("secret_id") != row.secret_id:
        raise Unavailable(f"the stored value of gateway secret '{row.secret_name}' belongs to another secret")
    value = sealed.get("value")
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def create_secret(
    connection: Connection,
    box: SecretBox,
    *,
    secret_name: str | None,
    secret_value: dict[str, Any] | None,
    provider: str | None,
    auth_config: dict[str, str] | None,
    created_by: str | None,
    allow_private: bool,
) -> SecretInfo:
    name = domain.require("secret_name", secret_name)
    checked_config = domain.validate_auth_config(auth_config, allow_private=allow_private)
    value = domain.validate_secret_value(secret_value, required=True)
    assert value is not None
    workspace = current_workspace()
    if store.get_secret_row(connection, workspace, secret_name=name) is not None:
        raise AlreadyExists(f"Secret with name '{name}' already exists")
    secret_id = _new_id("s")
    now = now_ms()
    store.insert_secret(
        connection,
        secret_id=secret_id,
        workspace=workspace,
        secret_name=name,
        provider=provider or None,
        auth_config=orjson.dumps(checked_config).decode() if checked_config else None,
        created_at=now,
        last_updated_at=now,
        created_by=created_by,
        last_updated_by=created_by,
        **_seal(box, secret_id, value),
    )
    return get_secret(connection, secret_id=secret_id)


def _secret_row(connection: Connection, secret_id: str | None = None, secret_name: str | None = None) -> Row[Any]:
    _one_of("secret_id", secret_id, "secret_name", secret_name)
    row = store.get_secret_row(connection, workspace_scope(), secret_id=secret_id, secret_name=secret_name)
    if row is None:
        shown = f"secret_id='{secret_id}'" if secret_id else f"secret_name='{secret_name}'"
        raise NotFound(f"GatewaySecret not found ({shown})")
    return row


def get_secret(connection: Connection, *, secret_id: str | None = None, secret_name: str | None = None) -> SecretInfo:
    return _to_secret(_secret_row(connection, secret_id, secret_name))


def list_secrets(connection: Connection, provider: str | None) -> list[SecretInfo]:
    return [_to_secret(row) for row in store.list_secret_rows(connection, workspace_scope(), provider or None)]


def update_secret(
    connection: Connection,
    box: SecretBox,
    secret_id: str | None,
    *,
    secret_value: dict[str, Any] | None,
    auth_config: dict[str, str] | None,
    updated_by: str | None,
    allow_private: bool,
) -> SecretInfo:
    row = _secret_row(connection, domain.require("secret_id", secret_id))
    values: dict[str, Any] = {"last_updated_at": now_ms(), "last_updated_by": updated_by}
    value = domain.validate_secret_value(secret_value, required=False)
    if value is not None:
        values.update(_seal(box, row.secret_id, value))
    if auth_config:  # an empty map leaves it as it is; one that normalises to nothing clears it
        checked = domain.validate_auth_config(auth_config, allow_private=allow_private)
        values["auth_config"] = orjson.dumps(checked).decode() if checked else None
    store.update_secret(connection, row.secret_id, **values)
    return get_secret(connection, secret_id=row.secret_id)


def delete_secret(connection: Connection, secret_id: str | None) -> None:
    row = _secret_row(connection, domain.require("secret_id", secret_id))
    store.delete_secret(connection, row.secret_id)


# --- model definitions ---


def _to_model(row: Row[Any]) -> ModelDefinition:
    return ModelDefinition(
        model_definition_id=row.model_definition_id,
        name=row.name,
        secret_id=row.secret_id,
        secret_name=row.secret_name,
        provider=row.provider,
        model_name=row.model_name,
        created_at=int(row.created_at),
        last_updated_at=int(row.last_updated_at),
        created_by=row.created_by,
        last_updated_by=row.last_updated_by,
    )


def _model_name_free(connection: Connection, name: str, except_id: str | None = None) -> None:
    for row in store.list_model_rows(connection, current_workspace(), provider=None, secret_id=None):
        if row.name == name and row.model_definition_id != except_id:
            raise AlreadyExists(f"Model definition with name '{name}' already exists")


def create_model(
    connection: Connection,
    *,
    name: str | None,
    secret_id: str | None,
    provider: str | None,
    model_name: str | None,
    created_by: str | None,
) -> ModelDefinition:
    name = domain.require("name", name)
    secret_id = domain.require("secret_id", secret_id)
    provider = domain.require("provider", provider)
    model_name = domain.require("model_name", model_name)
    _secret_row(connection, secret_id)
    _model_name_free(connection, name)
    model_definition_id = _new_id("d")
    now = now_ms()
    store.insert_model(
        connection,
        model_definition_id=model_definition_id,
        workspace=current_workspace(),
        name=name,
        secret_id=secret_id,
        provider=provider,
        model_name=model_name,
        created_at=now,
        last_updated_at=now,
        created_by=created_by,
        last_updated_by=created_by,
    )
    return get_model(connection, model_definition_id)


def get_model(connection: Connection, model_definition_id: str | None) -> ModelDefinition:
    model_definition_id = domain.require("model_definition_id", model_definition_id)
    row = store.get_model_row(connection, workspace_scope(), model_definition_id)
    if row is None:
        raise NotFound(f"GatewayModelDefinition not found (model_definition_id='{model_definition_id}')")
    return _to_model(row)


def list_models(connection: Connection, *, provider: str | None, secret_id: str | None) -> list[ModelDefinition]:
    rows = store.list_model_rows(connection, workspace_scope(), provider=provider or None, secret_id=secret_id or None)
    return [_to_model(row) for row in rows]


def update_model(
    connection: Connection,
    model_definition_id: str | None,
    *,
    name: str | None,
    secret_id: str | None,
    model_name: str | None,
    provider: str | None,
    updated_by: str | None,
) -> ModelDefinition:
    current = get_model(connection, model_definition_id)
    values: dict[str, Any] = {"last_updated_at": now_ms()}
    if updated_by:
        values["last_updated_by"] = updated_by
    if name:
        _model_name_free(connection, domain.require("name", name), current.model_definition_id)
        values["name"] = name
    if secret_id:
        _secret_row(connection, secret_id)
        values["secret_id"] = secret_id
    if model_name:
        values["model_name"] = domain.require("model_name", model_name)
    if provider:
        values["provider"] = domain.require("provider", provider)
    store.update_model(connection, current.model_definition_id, **values)
    return get_model(connection, current.model_definition_id)


def delete_model(connection: Connection, model_definition_id: str | None) -> None:
    current = get_model(connection, model_definition_id)
    if store.model_in_use(connection, current.model_definition_id):
        raise Conflict(
            "Cannot delete model definition that is currently in use by endpoints. Detach it from all endpoints first."
        )
    store.delete_model(connection, current.model_definition_id)


# --- endpoints ---


def _endpoints(connection: Connection, rows: list[Row[Any]]) -> list[Endpoint]:
    ids = [str(row.endpoint_id) for row in rows]
    mappings = store.mapping_rows(connection, ids)
    models = store.model_rows_by_id(connection, None, list({str(m.model_definition_id) for m in mappings}))
    tags = store.tags_of(connection, ids)
    by_endpoint: dict[str, list[ModelMapping]] = {endpoint_id: [] for endpoint_id in ids}
    for mapping in mappings:
        by_endpoint[str(mapping.endpoint_id)].append(
            ModelMapping(
                mapping_id=mapping.mapping_id,
                endpoint_id=mapping.endpoint_id,
                model_definition=_to_model(models[str(mapping.model_definition_id)]),
                linkage_type=LinkageType(mapping.linkage_type),
                weight=float(mapping.weight),
                created_at=int(mapping.created_at),
                created_by=mapping.created_by,
                fallback_order=mapping.fallback_order,
            )
        )
    found = []
    for row in rows:
        fallback = None
        if row.fallback_strategy is not None or row.fallback_max_attempts is not None:
            fallback = FallbackConfig(row.fallback_strategy, row.fallback_max_attempts)
        found.append(
            Endpoint(
                endpoint_id=row.endpoint_id,
                name=row.name,
                created_at=int(row.created_at),
                last_updated_at=int(row.last_updated_at),
                model_mappings=by_endpoint[str(row.endpoint_id)],
                tags=tags[str(row.endpoint_id)],
                created_by=row.created_by,
                last_updated_by=row.last_updated_by,
                routing_strategy=row.routing_strategy,
                fallback_config=fallback,
                experiment_id=row.experiment_id,
                usage_tracking=bool(row.usage_tracking),
            )
        )
    return found


def _mapping_rows(
    connection: Connection, endpoint_id: str, configs: list[ModelConfig], created_by: str | None
) -> list[dict[str, Any]]:
    wanted = list(dict.fromkeys(config.model_definition_id for config in configs))
    existing = store.model_rows_by_id(connection, workspace_scope(), wanted)
    if missing := [model_id for model_id in wanted if model_id not in existing]:
        raise NotFound(f"Model definitions not found: {', '.join(missing)}")
    now = now_ms()
    return [
        {
            "mapping_id": _new_id("m"),
            "endpoint_id": endpoint_id,
            "model_definition_id": config.model_definition_id,
            "linkage_type": config.linkage_type.value,
            "weight": config.weight,
            "fallback_order": config.fallback_order,
            "created_at": now,
            "created_by": created_by,
        }
        for config in configs
    ]


def _check_strategies(routing_strategy: str | None, fallback: FallbackConfig | None) -> None:
    if routing_strategy is not None and routing_strategy not in domain.ROUTING_STRATEGIES:
        raise InvalidParameter(
            f"Invalid routing_strategy '{routing_strategy}'. Must be one of: {', '.join(domain.ROUTING_STRATEGIES)}."
        )
    if fallback is not None:
        if fallback.strategy is not None and fallback.strategy not in domain.FALLBACK_STRATEGIES:
            raise InvalidParameter(
                f"Invalid fallback strategy '{fallback.strategy}'. Must be one of: "
                f"{', '.join(domain.FALLBACK_STRATEGIES)}."
            )
        if fallback.max_attempts is not None and not 0 <= fallback.max_attempts <= 100:
            raise InvalidParameter(f"fallback max_attempts must be between 0 and 100, got {fallback.max_attempts}.")


def create_endpoint(
    connection: Connection,
    *,
    name: str | None,
    model_configs: list[ModelConfig],
    created_by: str | None,
    routing_strategy: str | None = None,
    fallback_config: FallbackConfig | None = None,
    experiment_id: str | None = None,
    usage_tracking: bool = True,
) -> Endpoint:
    name = domain.validate_endpoint_name(name)
    domain.validate_model_configs(model_configs, required=True)
    _check_strategies(routing_strategy, fallback_config)
    workspace = current_workspace()
    if store.get_endpoint_row(connection, workspace, name=name) is not None:
        raise AlreadyExists(f"Endpoint with name '{name}' already exists")
    endpoint_id = _new_id("e")
    mappings = _mapping_rows(connection, endpoint_id, model_configs, created_by)
    now = now_ms()
    store.insert_endpoint(
        connection,
        endpoint_id=endpoint_id,
        workspace=workspace,
        name=name,
        routing_strategy=routing_strategy,
        fallback_strategy=fallback_config.strategy if fallback_config else None,
        fallback_max_attempts=fallback_config.max_attempts if fallback_config else None,
        experiment_id=experiment_id or None,
        usage_tracking=usage_tracking,
        created_at=now,
        last_updated_at=now,
        created_by=created_by,
        last_updated_by=created_by,
    )
    store.insert_mappings(connection, mappings)
    return get_endpoint(connection, endpoint_id=endpoint_id)


def _endpoint_row(connection: Connection, *, endpoint_id: str | None = None, name: str | None = None) -> Row[Any]:
    _one_of("endpoint_id", endpoint_id, "name", name)
    row = store.get_endpoint_row(connection, workspace_scope(), endpoint_id=endpoint_id, name=name)
    if row is None:
        shown = f"endpoint_id='{endpoint_id}'" if endpoint_id else f"name='{name}'"
        raise NotFound(f"GatewayEndpoint not found ({shown})")
    return row


def get_endpoint(connection: Connection, *, endpoint_id: str | None = None, name: str | None = None) -> Endpoint:
    return _endpoints(connection, [_endpoint_row(connection, endpoint_id=endpoint_id, name=name)])[0]


def endpoint_id_of(connection: Connection, name: str) -> str:
    """The id of the endpoint called ``name`` in the request's workspace (for permission checks)."""
    return str(_endpoint_row(connection, name=name).endpoint_id)


def list_endpoints(
    connection: Connection, *, provider: str | None = None, secret_id: str | None = None
) -> list[Endpoint]:
    rows = store.list_endpoint_rows(
        connection, workspace_scope(), provider=provider or None, secret_id=secret_id or None
    )
    return _endpoints(connection, rows)


def update_endpoint(
    connection: Connection,
    endpoint_id: str | None,
    *,
    name: str | None = None,
    model_configs: list[ModelConfig] | None = None,
    updated_by: str | None = None,
    routing_strategy: str | None = None,
    fallback_config: FallbackConfig | None = None,
    experiment_id: str | None = None,
    usage_tracking: bool | None = None,
) -> Endpoint:
    row = _endpoint_row(connection, endpoint_id=domain.require("endpoint_id", endpoint_id))
    _check_strategies(routing_strategy, fallback_config)
    values: dict[str, Any] = {"last_updated_at": now_ms()}
    if updated_by:
        values["last_updated_by"] = updated_by
    if name:
        name = domain.validate_endpoint_name(name)
        other = store.get_endpoint_row(connection, current_workspace(), name=name)
        if other is not None and other.endpoint_id != row.endpoint_id:
            raise AlreadyExists(f"Endpoint with name '{name}' already exists")
        values["name"] = name
    if routing_strategy is not None:
        values["routing_strategy"] = routing_strategy
    if fallback_config is not None:
        values["fallback_strategy"] = fallback_config.strategy
        values["fallback_max_attempts"] = fallback_config.max_attempts
    if experiment_id is not None:
        values["experiment_id"] = experiment_id or None
    if usage_tracking is not None:
        values["usage_tracking"] = usage_tracking
    if model_configs:
        domain.validate_model_configs(model_configs, required=True)
        mappings = _mapping_rows(connection, row.endpoint_id, model_configs, updated_by)
        store.delete_mappings(connection, row.endpoint_id)
        store.insert_mappings(connection, mappings)
    store.update_endpoint(connection, row.endpoint_id, **values)
    return get_endpoint(connection, endpoint_id=row.endpoint_id)


def delete_endpoint(connection: Connection, endpoint_id: str | None) -> None:
    row = _endpoint_row(connection, endpoint_id=domain.require("endpoint_id", endpoint_id))
    store.delete_endpoint(connection, row.endpoint_id)


def attach_model(
    connection: Connection, endpoint_id: str | None, config: ModelConfig, created_by: str | None
) -> ModelMapping:
    row = _endpoint_row(connection, endpoint_id=domain.require("endpoint_id", endpoint_id))
    domain.validate_model_configs([config], required=True)
    get_model(connection, config.model_definition_id)
    if store.find_mapping(connection, row.endpoint_id, config.model_definition_id, config.linkage_type.value):
        raise AlreadyExists(
            f"Model definition '{config.model_definition_id}' is already attached to endpoint '{row.endpoint_id}'"
        )
    mapping = _mapping_rows(connection, row.endpoint_id, [config], created_by)
    store.insert_mappings(connection, mapping)
    values: dict[str, Any] = {"last_updated_at": now_ms()}
    if created_by:
        values["last_updated_by"] = created_by
    store.update_endpoint(connection, row.endpoint_id, **values)
    endpoint = get_endpoint(connection, endpoint_id=row.endpoint_id)
    return next(m for m in endpoint.model_mappings if m.mapping_id == mapping[0]["mapping_id"])


def detach_model(connection: Connection, endpoint_id: str | None, model_definition_id: str | None) -> None:
    endpoint_id = domain.require("endpoint_id", endpoint_id)
    model_definition_id = domain.require("model_definition_id", model_definition_id)
    row = store.get_endpoint_row(connection, workspace_scope(), endpoint_id=endpoint_id)
    if row is None:
        raise NotFound(f"GatewayEndpoint not found (endpoint_id='{endpoint_id}')")
    if not store.find_mapping(connection, endpoint_id, model_definition_id):
        raise NotFound(f"Model definition '{model_definition_id}' is not attached to endpoint '{endpoint_id}'")
    store.delete_mappings(connection, endpoint_id, model_definition_id)


def set_tag(connection: Connection, endpoint_id: str | None, key: str | None, value: str | None) -> None:
    row = _endpoint_row(connection, endpoint_id=domain.require("endpoint_id", endpoint_id))
    store.set_tag(connection, row.endpoint_id, *domain.validate_tag(key, value))


def delete_tag(connection: Connection, endpoint_id: str | None, key: str | None) -> None:
    row = _endpoint_row(connection, endpoint_id=domain.require("endpoint_id", endpoint_id))
    store.delete_tag(connection, row.endpoint_id, domain.require("key", key))


# --- bindings ---


def _to_binding(row: Row[Any]) -> Binding:
    return Binding(
        endpoint_id=row.endpoint_id,
        resource_type=row.resource_type,
        resource_id=row.resource_id,
        created_at=int(row.created_at),
        last_updated_at=int(row.last_updated_at),
        created_by=row.created_by,
        last_updated_by=row.last_updated_by,
    )


def create_binding(
    connection: Connection,
    endpoint_id: str | None,
    resource_type: str | None,
    resource_id: str | None,
    created_by: str | None,
) -> Binding:
    endpoint_id = domain.require("endpoint_id", endpoint_id)
    kind = domain.resource_type(resource_type).value
    resource_id = domain.require("resource_id", resource_id)
    _endpoint_row(connection, endpoint_id=endpoint_id)
    if store.get_binding_row(connection, endpoint_id, kind, resource_id) is not None:
        raise AlreadyExists(f"Endpoint '{endpoint_id}' is already bound to {kind} '{resource_id}'")
    now = now_ms()
    store.insert_binding(
        connection,
        endpoint_id=endpoint_id,
        resource_type=kind,
        resource_id=resource_id,
        created_at=now,
        last_updated_at=now,
        created_by=created_by,
        last_updated_by=created_by,
    )
    row = store.get_binding_row(connection, endpoint_id, kind, resource_id)
    assert row is not None
    return _to_binding(row)


def delete_binding(
    connection: Connection, endpoint_id: str | None, resource_type: str | None, resource_id: str | None
) -> None:
    endpoint_id = domain.require("endpoint_id", endpoint_id)
    resource_type = domain.require("resource_type", resource_type)
    resource_id = domain.require("resource_id", resource_id)
    in_workspace = store.get_endpoint_row(connection, workspace_scope(), endpoint_id=endpoint_id) is not None
    if not in_workspace or store.get_binding_row(connection, endpoint_id, resource_type, resource_id) is None:
        raise NotFound(
            f"GatewayEndpointBinding not found (endpoint_id='{endpoint_id}', resource_type='{resource_type}', "
            f"resource_id='{resource_id}')"
        )
    store.delete_binding(connection, endpoint_id, resource_type, resource_id)


def list_bindings(
    connection: Connection, *, endpoint_id: str | None, resource_type: str | None, resource_id: str | None
) -> list[Binding]:
    rows = store.list_binding_rows(
        connection, workspace_scope(), endpoint_id=endpoint_id or None, resource_type=resource_type or None,
        resource_id=resource_id or None,
    )  # fmt: skip
    return [_to_binding(row) for row in rows]


# --- invocation ---


def routes_for(connection: Connection, box: SecretBox, endpoint_name: str, draw: float) -> list[Route]:
    """The models to try for one request to ``endpoint_name``, in order, each with its opened credentials."""
    endpoint = get_endpoint(connection, name=domain.require("endpoint_name", endpoint_name))
    ordered = domain.choose(endpoint.model_mappings, draw)
    if endpoint.fallback_config is not None and endpoint.fallback_config.max_attempts:
        ordered = ordered[: 1 + endpoint.fallback_config.max_attempts]
    routes = []
    for mapping in ordered:
        model = mapping.model_definition
        if model.secret_id is None:
            raise InvalidParameter(
                f"Model definition '{model.name}' of endpoint '{endpoint.name}' has no secret: its secret was "
                "deleted; update the model definition with a new secret_id."
            )
        row = _secret_row(connection, model.secret_id)
        value = _open(box, row)
        api_base = _json_map(row.auth_config).get(domain.API_BASE) or domain.provider(model.provider).default_api_base
        routes.append(Route(endpoint=endpoint, model=model, api_base=api_base, api_key=value.get(domain.API_KEY)))
    if not routes:
        raise InvalidParameter(f"Endpoint '{endpoint.name}' has no PRIMARY model to route requests to.")
    return routes
