"""Webhooks: what a subscription is, which events exist, and how registry changes map onto them.

The vocabulary is MLflow's (``mlflow/entities/webhook.py``): an event is an (entity, action) pair such
as ``model_version.created``; on the wire the pair travels as the proto enum names
(``{"entity": "MODEL_VERSION", "action": "CREATED"}``) and in delivered payloads as the lower-case
values. Prompts are registered models tagged as prompts, so one registry change maps to either the
model or the prompt event.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from urllib.parse import urlparse

from runyard.domain.registry import EventType
from runyard.errors import InvalidParameter

MAX_NAME_LENGTH = 63
MAX_URL_LENGTH = 500
MAX_DESCRIPTION_LENGTH = 1000
MAX_SECRET_LENGTH = 1000


class Entity(enum.StrEnum):
    REGISTERED_MODEL = "registered_model"
    MODEL_VERSION = "model_version"
    MODEL_VERSION_TAG = "model_version_tag"
    MODEL_VERSION_ALIAS = "model_version_alias"
    PROMPT = "prompt"
    PROMPT_VERSION = "prompt_version"
    PROMPT_TAG = "prompt_tag"
    PROMPT_VERSION_TAG = "prompt_version_tag"
    PROMPT_ALIAS = "prompt_alias"


class Action(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    SET = "set"


class Status(enum.StrEnum):
    ACTIVE = "ACTIVE"
    DISABLED = "DISABLED"


VALID_ACTIONS: dict[Entity, frozenset[Action]] = {
    Entity.REGISTERED_MODEL: frozenset({Action.CREATED}),
    Entity.MODEL_VERSION: frozenset({Action.CREATED}),
    Entity.MODEL_VERSION_TAG: frozenset({Action.SET, Action.DELETED}),
    Entity.MODEL_VERSION_ALIAS: frozenset({Action.CREATED, Action.DELETED}),
    Entity.PROMPT: frozenset({Action.CREATED}),
    Entity.PROMPT_VERSION: frozenset({Action.CREATED}),
    Entity.PROMPT_TAG: frozenset({Action.SET, Action.DELETED}),
    Entity.PROMPT_VERSION_TAG: frozenset({Action.SET, Action.DELETED}),
    Entity.PROMPT_ALIAS: frozenset({Action.CREATED, Action.DELETED}),
}


@dataclass(frozen=True, slots=True, order=True)
class Event:
    entity: Entity
    action: Action

    def __str__(self) -> str:
        return f"{self.entity.value}.{self.action.value}"

    @classmethod
    def parse(cls, entity: str, action: str) -> Event:
        """From the wire's enum names or the payload's values, case-insensitively."""
        try:
            parsed = cls(Entity(entity.lower()), Action(action.lower()))
        except ValueError:
            raise InvalidParameter(f"Invalid webhook event: entity={entity!r}, action={action!r}") from None
        if parsed.action not in VALID_ACTIONS[parsed.entity]:
            valid = ", ".join(sorted(a.value for a in VALID_ACTIONS[parsed.entity]))
            raise InvalidParameter(
                f"Invalid action '{parsed.action.value}' for entity '{parsed.entity.value}'. Valid actions: {valid}"
            )
        return parsed


@dataclass(frozen=True, slots=True)
class Webhook:
    webhook_id: str
    name: str
    url: str
    events: list[Event]
    status: Status
    creation_timestamp: int
    last_updated_timestamp: int
    description: str | None = None
    workspace: str = "default"
    # Never serialised: the decrypted secret, only when delivering.
    secret: str | None = field(default=None, repr=False)


def validate_name(name: str | None) -> str:
    if not name or not name.strip():
        raise InvalidParameter("Missing value for required parameter 'name'.")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidParameter(f"Webhook name must be at most {MAX_NAME_LENGTH} characters.")
    return name


def validate_url(url: str | None) -> str:
    if not url:
        raise InvalidParameter("Missing value for required parameter 'url'.")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidParameter(f"Webhook URL must be at most {MAX_URL_LENGTH} characters.")
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InvalidParameter(f"Invalid webhook URL '{url}': it must be an absolute http:// or https:// URL.")
    return url


def validate_events(events: list[Event]) -> list[Event]:
    if not events:
        raise InvalidParameter("Webhook events cannot be empty.")
    return sorted(set(events))


# Registry audit events → (model event, prompt event); None where MLflow has no webhook event.
_REGISTRY_EVENTS: dict[EventType, tuple[Event | None, Event | None]] = {
    EventType.MODEL_CREATED: (Event(Entity.REGISTERED_MODEL, Action.CREATED), Event(Entity.PROMPT, Action.CREATED)),
    EventType.VERSION_CREATED: (
        Event(Entity.MODEL_VERSION, Action.CREATED),
        Event(Entity.PROMPT_VERSION, Action.CREATED),
    ),
    EventType.VERSION_TAG_SET: (
        Event(Entity.MODEL_VERSION_TAG, Action.SET),
        Event(Entity.PROMPT_VERSION_TAG, Action.SET),
    ),
    EventType.VERSION_TAG_DELETED: (
        Event(Entity.MODEL_VERSION_TAG, Action.DELETED),
        Event(Entity.PROMPT_VERSION_TAG, Action.DELETED),
    ),
    EventType.ALIAS_SET: (
        Event(Entity.MODEL_VERSION_ALIAS, Action.CREATED),
        Event(Entity.PROMPT_ALIAS, Action.CREATED),
    ),
    EventType.ALIAS_DELETED: (
        Event(Entity.MODEL_VERSION_ALIAS, Action.DELETED),
        Event(Entity.PROMPT_ALIAS, Action.DELETED),
    ),
    EventType.MODEL_TAG_SET: (None, Event(Entity.PROMPT_TAG, Action.SET)),
    EventType.MODEL_TAG_DELETED: (None, Event(Entity.PROMPT_TAG, Action.DELETED)),
}


def webhook_event_for(event_type: EventType, *, is_prompt: bool) -> Event | None:
    """The webhook event a registry change fires, if any."""
    model_event, prompt_event = _REGISTRY_EVENTS.get(event_type, (None, None))
    return prompt_event if is_prompt else model_event


def fires_any(event_type: EventType) -> bool:
    return event_type in _REGISTRY_EVENTS
