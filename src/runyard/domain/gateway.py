"""The AI gateway: provider credentials (secrets), model definitions, endpoints and what uses them.

The vocabulary is MLflow's (``mlflow/entities/gateway_*.py``): a *secret* holds a provider's
credentials (write-only: stored encrypted, shown only masked); a *model definition* names a
provider's model and the secret that pays for it; an *endpoint* routes requests to its model
definitions (PRIMARY ones share the traffic by weight, FALLBACK ones are tried in order); a
*binding* records that a resource (a scorer) uses an endpoint. Requests reach a provider through
the OpenAI-compatible wire format, so the providers served here are those that speak it.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from runyard.errors import InvalidParameter

MAX_NAME_LENGTH = 255
MAX_VALUE_LENGTH = 10_000
MAX_TAG_KEY_LENGTH = 250
MAX_TAG_VALUE_LENGTH = 5000
_ENDPOINT_NAME = re.compile(r"^[a-zA-Z0-9_.-]+$")

# Keys that choose where requests go (MLflow's GATEWAY_DESTINATION_KEYS): only ``api_base`` in
# ``auth_config`` may do that, where it is validated; none may hide in the encrypted secret value.
DESTINATION_KEYS = frozenset({"api_base", "base_url", "model_list", "fallbacks", "custom_llm_provider"})
API_KEY = "api_key"
API_BASE = "api_base"


class LinkageType(enum.StrEnum):
    PRIMARY = "PRIMARY"
    FALLBACK = "FALLBACK"


class ResourceType(enum.StrEnum):
    """What may be bound to an endpoint (MLflow's ``GatewayResourceType``)."""

    SCORER = "scorer"


ROUTING_STRATEGIES = ("REQUEST_BASED_TRAFFIC_SPLIT",)
FALLBACK_STRATEGIES = ("SEQUENTIAL",)


@dataclass(frozen=True, slots=True)
class Provider:
    """A provider reachable over the OpenAI-compatible API, with its public default base URL."""

    name: str
    default_api_base: str
    models: tuple[tuple[str, str], ...] = ()  # (model, mode): a starting list for the UI, not a limit


PROVIDERS: dict[str, Provider] = {
    p.name: p
    for p in (
        Provider(
            "openai",
            "https://api.openai.com/v1",
            (
                ("gpt-4.1", "chat"),
                ("gpt-4.1-mini", "chat"),
                ("gpt-4o", "chat"),
                ("gpt-4o-mini", "chat"),
                ("o4-mini", "chat"),
                ("text-embedding-3-small", "embedding"),
                ("text-embedding-3-large", "embedding"),
            ),
        ),
        Provider(
            "mistral", "https://api.mistral.ai/v1", (("mistral-large-latest", "chat"), ("mistral-embed", "embedding"))
        ),
        Provider("groq", "https://api.groq.com/openai/v1", (("llama-3.3-70b-versatile", "chat"),)),
        Provider("deepseek", "https://api.deepseek.com/v1", (("deepseek-chat", "chat"), ("deepseek-reasoner", "chat"))),
        Provider("together_ai", "https://api.together.xyz/v1", (("meta-llama/Llama-3.3-70B-Instruct-Turbo", "chat"),)),
        Provider("fireworks_ai", "https://api.fireworks.ai/inference/v1"),
        Provider("xai", "https://api.x.ai/v1", (("grok-3", "chat"),)),
        Provider("openrouter", "https://openrouter.ai/api/v1"),
        Provider("perplexity", "https://api.perplexity.ai", (("sonar", "chat"),)),
    )
}


def provider(name: str | None) -> Provider:
    """The provider called ``name`` (case-insensitive), or a precise refusal."""
    if not name:
        raise InvalidParameter("Provider parameter is required")
    found = PROVIDERS.get(name.strip().lower())
    if found is None:
        raise InvalidParameter(
            f"Provider '{name}' is not supported by this gateway: it forwards requests in the OpenAI-compatible "
            f"format, to one of {', '.join(sorted(PROVIDERS))} (set api_base to reach any other compatible server)."
        )
    return found


@dataclass(frozen=True, slots=True)
class SecretInfo:
    secret_id: str
    secret_name: str
    masked_values: dict[str, str]
    created_at: int
    last_updated_at: int
    provider: str | None = None
    auth_config: dict[str, str] = field(default_factory=dict)
    created_by: str | None = None
    last_updated_by: str | None = None


@dataclass(frozen=True, slots=True)
class ModelDefinition:
    model_definition_id: str
    name: str
    secret_id: str | None
    secret_name: str | None
    provider: str
    model_name: str
    created_at: int
    last_updated_at: int
    created_by: str | None = None
    last_updated_by: str | None = None


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """One model definition as an endpoint should use it (the request side of a mapping)."""

    model_definition_id: str
    linkage_type: LinkageType
    weight: float = 1.0
    fallback_order: int | None = None


@dataclass(frozen=True, slots=True)
class ModelMapping:
    mapping_id: str
    endpoint_id: str
    model_definition: ModelDefinition
    linkage_type: LinkageType
    weight: float
    created_at: int
    created_by: str | None = None
    fallback_order: int | None = None


@dataclass(frozen=True, slots=True)
class FallbackConfig:
    strategy: str | None = None
    max_attempts: int | None = None


@dataclass(frozen=True, slots=True)
class Endpoint:
    endpoint_id: str
    name: str
    created_at: int
    last_updated_at: int
    model_mappings: list[ModelMapping]
    tags: dict[str, str]
    created_by: str | None = None
    last_updated_by: str | None = None
    routing_strategy: str | None = None
    fallback_config: FallbackConfig | None = None
    experiment_id: str | None = None
    usage_tracking: bool = True


@dataclass(frozen=True, slots=True)
class Binding:
    endpoint_id: str
    resource_type: str
    resource_id: str
    created_at: int
    last_updated_at: int
    created_by: str | None = None
    last_updated_by: str | None = None
    display_name: str | None = None


@dataclass(frozen=True, slots=True)
class Route:
    """What one invocation needs: the endpoint, the model chosen, and where and how to call it."""

    endpoint: Endpoint
    model: ModelDefinition
    api_base: str
    api_key: str | None


def mask(value: Any) -> str:
    """MLflow's display form of a credential: its first three and last four characters, else ``***``."""
    if not isinstance(value, str) or len(value) < 8:
        return "***"
    return f"{value[:3]}...{value[-4:]}"


def require(name: str, value: str | None) -> str:
    if value is None or value == "":
        raise InvalidParameter(f"Missing value for required parameter '{name}'.")
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidParameter(f"Parameter '{name}' is longer than {MAX_NAME_LENGTH} characters.")
    return value


def validate_endpoint_name(name: str | None) -> str:
    name = require("name", name)
    if not _ENDPOINT_NAME.match(name):
        raise InvalidParameter(
            f"Invalid endpoint name '{name}'. Name can only contain letters, numbers, underscores, hyphens, and dots."
        )
    return name


def validate_secret_value(secret_value: dict[str, Any] | None, *, required: bool) -> dict[str, str] | None:
    """The credentials map, checked without ever repeating a value in a message."""
    if not secret_value:
        if required:
            raise InvalidParameter("Missing value for required parameter 'secret_value'.")
        return None
    if reserved := sorted(DESTINATION_KEYS & set(secret_value)):
        raise InvalidParameter(
            f"secret_value must not contain {', '.join(map(repr, reserved))}: these keys choose where the gateway "
            "sends requests. Set the upstream with 'api_base' in auth_config, where it is validated."
        )
    for key, value in secret_value.items():
        if not isinstance(value, str):
            raise InvalidParameter(f"secret_value entry '{key[:50]}' must be a string.")
        if not key or len(key) > MAX_NAME_LENGTH or len(value) > MAX_VALUE_LENGTH:
            raise InvalidParameter(f"secret_value entry '{key[:50]}' is empty or too long.")
    return {str(key): str(value) for key, value in secret_value.items()}


def validate_auth_config(auth_config: dict[str, str] | None, *, allow_private: bool) -> dict[str, str] | None:
    """A normalised copy of ``auth_config`` (a blank ``api_base`` dropped), or a precise refusal."""
    if not auth_config:
        return None
    normalized = dict(auth_config)
    if reserved := sorted((DESTINATION_KEYS - {API_BASE}) & set(normalized)):
        raise InvalidParameter(
            f"auth_config must not contain {', '.join(map(repr, reserved))}: these options choose where the gateway "
            "sends requests. Set the upstream with 'api_base', which is validated."
        )
    for key, value in normalized.items():
        if not key or len(key) > MAX_NAME_LENGTH or len(value) > MAX_VALUE_LENGTH:
            raise InvalidParameter(f"auth_config entry '{key[:50]}' is empty or too long.")
    api_base = (normalized.get(API_BASE) or "").strip()
    if not api_base:
        normalized.pop(API_BASE, None)
        return normalized
    normalized[API_BASE] = validate_api_base(api_base, allow_private=allow_private)
    return normalized


def validate_api_base(url: str, *, allow_private: bool) -> str:
    """A provider base URL: public HTTPS unless private URLs are allowed (``gateway_allow_private_urls``).

    Host names are resolved and checked again when a request is sent; this refuses what is visibly wrong.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port
    except ValueError:
        raise InvalidParameter(f"Gateway secret api_base '{url[:200]}' is not a valid URL.") from None
    schemes = ("http", "https") if allow_private else ("https",)
    if parts.scheme not in schemes or not host:
        raise InvalidParameter(
            f"Gateway secret api_base must be an {' or '.join(schemes)} URL with a host, got '{url[:200]}' "
            "(plain http and private addresses need gateway_allow_private_urls)."
        )
    if parts.username or parts.password:
        raise InvalidParameter("Gateway secret api_base must not carry credentials: put the key in secret_value.")
    if not allow_private:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None
        if host == "localhost" or (address is not None and not address.is_global):
            raise InvalidParameter(
                f"Gateway secret api_base '{url[:200]}' is not a public address (gateway_allow_private_urls)."
            )
    return url.rstrip("/")


def validate_model_configs(configs: list[ModelConfig], *, required: bool) -> list[ModelConfig]:
    if required and not configs:
        raise InvalidParameter("Endpoint must have at least one model configuration")
    seen: set[tuple[str, LinkageType]] = set()
    for config in configs:
        if config.weight < 0:
            raise InvalidParameter(f"Model weight must not be negative, got {config.weight}.")
        key = (config.model_definition_id, config.linkage_type)
        if key in seen:
            raise InvalidParameter(
                f"Model definition '{config.model_definition_id}' is listed twice as {config.linkage_type.value}."
            )
        seen.add(key)
    return configs


def validate_tag(key: str | None, value: str | None) -> tuple[str, str]:
    key = require("key", key)
    if len(key) > MAX_TAG_KEY_LENGTH:
        raise InvalidParameter(f"Tag key is longer than {MAX_TAG_KEY_LENGTH} characters.")
    value = value or ""
    if len(value) > MAX_TAG_VALUE_LENGTH:
        raise InvalidParameter(f"Tag value is longer than {MAX_TAG_VALUE_LENGTH} characters.")
    return key, value


def resource_type(value: str | None) -> ResourceType:
    value = require("resource_type", value)
    try:
        return ResourceType(value)
    except ValueError:
        valid = ", ".join(t.value for t in ResourceType)
        raise InvalidParameter(f"Invalid resource_type '{value}'. Must be one of: {valid}.") from None


def choose(mappings: list[ModelMapping], draw: float) -> list[ModelMapping]:
    """The order to try an endpoint's models in: one PRIMARY picked by weight (``draw`` in [0, 1)),
    then the FALLBACK models by their order."""
    primaries = [m for m in mappings if m.linkage_type == LinkageType.PRIMARY]
    fallbacks = sorted(
        (m for m in mappings if m.linkage_type == LinkageType.FALLBACK),
        key=lambda m: (m.fallback_order if m.fallback_order is not None else 1 << 30, m.created_at),
    )
    picked: list[ModelMapping] = []
    total = sum(max(m.weight, 0.0) for m in primaries)
    if primaries:
        if total <= 0:
            picked.append(primaries[0])
        else:
            point = draw * total
            for mapping in primaries:
                point -= max(mapping.weight, 0.0)
                if point < 0:
                    picked.append(mapping)
                    break
            else:
                picked.append(primaries[-1])
    return picked + fallbacks
