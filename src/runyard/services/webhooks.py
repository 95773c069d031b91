"""Webhook subscriptions (MLflow's webhook API) and the outbox their registry events go into.

``enqueue_registry_event`` runs inside the transaction of the registry change it reports (called by
the registry's audit log), so a delivery exists exactly when the change committed. Payloads are
MLflow's (``mlflow/webhooks/types.py``), read in that same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import orjson
from sqlalchemy import Connection, Row, select

from runyard.domain.clock import now_ms
from runyard.domain.registry import PROMPT_TAG, EventType
from runyard.domain.webhooks import Event, Status, Webhook, fires_any, validate_events, validate_name, validate_url
from runyard.domain.webhooks import webhook_event_for as _event_for
from runyard.errors import InvalidParameter, NotFound
from runyard.services.secret_box import SecretBox
from runyard.services.workspaces import current_workspace, workspace_scope
from runyard.stores.metadata import webhooks as store
from runyard.stores.metadata.registry_tables import (
    model_version_tags,
    model_versions,
    registered_model_tags,
    registered_models,
)

MAX_RESULTS_DEFAULT = 100
MAX_RESULTS_LIMIT = 1000
PROMPT_TEXT_TAG = "mlflow.prompt.text"


def _to_webhook(row: Row[Any], events: list[tuple[str, str]]) -> Webhook:
    return Webhook(
        webhook_id=row.webhook_id,
        name=row.name,
        url=row.url,
        events=sorted(Event.parse(entity, action) for entity, action in events),
        status=Status(row.status),
        creation_timestamp=int(row.creation_timestamp),
        last_updated_timestamp=int(row.last_updated_timestamp),
        description=row.description,
        workspace=row.workspace,
    )


def _status(value: str | None) -> Status:
    if value is None:
        return Status.ACTIVE
    try:
        return Status(value.upper())
    except ValueError:
        raise InvalidParameter(f"Invalid webhook status '{value}': use ACTIVE or DISABLED.") from None


def create_webhook(
    connection: Connection,
    box: SecretBox,
    *,
    name: str | None,
    url: str | None,
    events: list[Event],
    description: str | None = None,
    secret: str | None = None,
    status: str | None = None,
) -> Webhook:
    webhook_id = uuid.uuid4().hex
    now = now_ms()
    checked = validate_events(events)
    store.insert_webhook(
        connection,
        [(event.entity.value, event.action.value) for event in checked],
        webhook_id=webhook_id,
        workspace=current_workspace(),
        name=validate_name(name),
        url=validate_url(url),
        description=description,
        status=_status(status).value,
        secret_encrypted=box.seal(secret) if secret else None,
        creation_timestamp=now,
        last_updated_timestamp=now,
    )
    return get_webhook(connection, webhook_id)


def get_webhook(connection: Connection, webhook_id: str | None) -> Webhook:
    if not webhook_id:
        raise InvalidParameter("Missing value for required parameter 'webhook_id'.")
    row = store.get_webhook_row(connection, webhook_id, workspace_scope())
    if row is None:
        raise NotFound(f"Webhook with ID {webhook_id} not found.")
    return _to_webhook(row, store.events_of(connection, [webhook_id])[webhook_id])


def webhook_with_secret(connection: Connection, box: SecretBox, webhook_id: str) -> Webhook:
    """The webhook and its decrypted signing secret (for delivering, never for answering)."""
    row = store.get_webhook_row(connection, webhook_id, None)
    if row is None:
        raise NotFound(f"Webhook with ID {webhook_id} not found.")
    webhook = _to_webhook(row, store.events_of(connection, [webhook_id])[webhook_id])
    return replace(webhook, secret=box.open(row.secret_encrypted) if row.secret_encrypted else None)


def list_webhooks(
    connection: Connection, *, max_results: int | None, page_token: str | None
) -> tuple[list[Webhook], str | None]:
    limit = MAX_RESULTS_DEFAULT if max_results is None else max_results
    if not 1 <= limit <= MAX_RESULTS_LIMIT:
        raise InvalidParameter(f"max_results must be between 1 and {MAX_RESULTS_LIMIT}, got {limit}.")
    offset = 0
    if page_token:
        if not (page_token.isascii() and page_token.isdigit()) or len(page_token) > 12:
            raise InvalidParameter(f"Invalid page token: {page_token!r}")
        offset = int(page_token)
    rows = store.list_webhook_rows(connection, workspace_scope(), offset=offset, limit=limit + 1)
    events = store.events_of(connection, [row.webhook_id for row in rows[:limit]])
    found = [_to_webhook(row, events[row.webhook_id]) for row in rows[:limit]]
    return found, str(offset + limit) if len(rows) > limit else None


def update_webhook(
    connection: Connection,
    box: SecretBox,
    webhook_id: str | None,
    *,
    name: str | None = None,
    url: str | None = None,
    events: list[Event] | None = None,
    description: str | None = None,
    secret: str | None = None,
    status: str | None = None,
) -> Webhook:
    current = get_webhook(connection, webhook_id)
    values: dict[str, Any] = {"last_updated_timestamp": now_ms()}
    if name is not None:
        values["name"] = validate_name(name)
    if url is not None:
        values["url"] = validate_url(url)
    if description is not None:
        values["description"] = description
    if status is not None:
        values["status"] = _status(status).value
    if secret is not None:
        values["secret_encrypted"] = box.seal(secret) if secret else None
    store.update_webhook(connection, current.webhook_id, **values)
    if events:
        checked = validate_events(events)
        store.set_events(connection, current.webhook_id, [(e.entity.value, e.action.value) for e in checked])
    return get_webhook(connection, current.webhook_id)


def delete_webhook(connection: Connection, webhook_id: str | None) -> None:
    store.delete_webhook(connection, get_webhook(connection, webhook_id).webhook_id)


# -- the outbox ------------------------------------------------------------------------------------


def enqueue_registry_event(
    connection: Connection, event_type: EventType, model_name: str, version: int | None, details: dict[str, Any]
) -> None:
    """Queue a delivery per active subscriber of the webhook event this registry change fires."""
    workspace = current_workspace()
    if not fires_any(event_type) or not store.any_active(connection, workspace):
        return  # the common case costs one indexed lookup
    model = connection.execute(
        select(registered_models.c.id, registered_models.c.description).where(
            registered_models.c.workspace == workspace, registered_models.c.name == model_name
        )
    ).first()
    if model is None:
        return
    model_tags = _tags(connection, registered_model_tags, model.id)
    event = _event_for(event_type, is_prompt=model_tags.get(PROMPT_TAG, "").lower() == "true")
    if event is None:
        return
    subscribers = store.subscribers(connection, workspace, event.entity.value, event.action.value)
    if not subscribers:
        return
    payload = orjson.dumps(_payload(connection, event, model_name, model, model_tags, version, details)).decode()
    now = now_ms()
    store.enqueue(
        connection,
        [
            {
                "delivery_id": uuid.uuid4().hex,
                "webhook_id": webhook_id,
                "entity": event.entity.value,
                "action": event.action.value,
                "payload": payload,
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for webhook_id in subscribers
        ],
    )


def _tags(connection: Connection, table: Any, model_id: int, version: int | None = None) -> dict[str, str]:
    condition = table.c.model_id == model_id
    if version is not None:
        condition = condition & (table.c.version == version)
    return {
        str(key): str(value) for key, value in connection.execute(select(table.c.key, table.c.value).where(condition))
    }


def _payload(
    connection: Connection,
    event: Event,
    name: str,
    model: Any,
    model_tags: dict[str, str],
    version: int | None,
    details: dict[str, Any],
) -> dict[str, Any]:
    kind = str(event)
    if kind in ("registered_model.created", "prompt.created"):
        return {"name": name, "tags": model_tags, "description": model.description}
    if kind in ("model_version.created", "prompt_version.created"):
        row = connection.execute(
            select(model_versions).where(model_versions.c.model_id == model.id, model_versions.c.version == version)
        ).first()
        tags = _tags(connection, model_version_tags, model.id, version)
        base = {"name": name, "version": str(version), "tags": tags, "description": row.description if row else None}
        if kind == "prompt_version.created":
            return base | {"template": tags.get(PROMPT_TEXT_TAG, "")}
        return base | {"source": row.source if row else "", "run_id": row.run_id if row else None}
    if kind in ("model_version_tag.set", "prompt_version_tag.set"):
        return {"name": name, "version": str(version), "key": details.get("key"), "value": details.get("value")}
    if kind in ("model_version_tag.deleted", "prompt_version_tag.deleted"):
        return {"name": name, "version": str(version), "key": details.get("key")}
    if kind in ("model_version_alias.created", "prompt_alias.created"):
        return {"name": name, "alias": details.get("alias"), "version": str(version)}
    if kind in ("model_version_alias.deleted", "prompt_alias.deleted"):
        return {"name": name, "alias": details.get("alias")}
    if kind == "prompt_tag.set":
        return {"name": name, "key": details.get("key"), "value": details.get("value")}
    return {"name": name, "key": details.get("key")}  # prompt_tag.deleted


def claim_due(connection: Connection, *, limit: int, lease_ms: int) -> list[dict[str, Any]]:
    """Take due deliveries: each is leased (due again after ``lease_ms`` if this replica dies mid-send)."""
    now = now_ms()
    claimed = []
    for row in store.claim_due(connection, now, limit):
        store.update_delivery(connection, row.delivery_id, attempts=row.attempts + 1, next_attempt_at=now + lease_ms)
        claimed.append(dict(row._mapping) | {"attempts": row.attempts + 1})
    return claimed


def finish_delivery(
    connection: Connection,
    delivery_id: str,
    *,
    attempts: int,
    max_attempts: int,
    status: int | None,
    error: str | None,
) -> None:
    """Delivered, or due again with exponential backoff (1 s, 2 s, 4 s…, at most 5 min), or failed."""
    if error is None:
        store.update_delivery(connection, delivery_id, state="delivered", last_status=status, last_error=None)
        return
    if attempts >= max_attempts:
        store.update_delivery(connection, delivery_id, state="failed", last_status=status, last_error=error[:2000])
        return
    delay_ms = min(1000 * 2 ** (attempts - 1), 300_000)
    store.update_delivery(
        connection, delivery_id, next_attempt_at=now_ms() + delay_ms, last_status=status, last_error=error[:2000]
    )


def delivery_states(connection: Connection, webhook_id: str) -> Sequence[Row[Any]]:
    return store.deliveries_of(connection, webhook_id)


def example_payload(event: Event) -> dict[str, Any]:
    """What a test delivery of ``event`` carries (shaped as MLflow's examples)."""
    kind = str(event)
    prompt = kind.startswith("prompt")
    name = "example_prompt" if prompt else "example_model"
    if kind.endswith(".created") and event.entity.value in ("registered_model", "prompt"):
        return {"name": name, "tags": {"example_key": "example_value"}, "description": f"An example {event.entity}"}
    if kind in ("model_version.created", "prompt_version.created"):
        base = {"name": name, "version": "1", "tags": {"example_key": "example_value"}, "description": None}
        if prompt:
            return base | {"template": "Hello {{name}}!"}
        return base | {"source": "models:/123", "run_id": "abcd1234abcd5678"}
    if "alias" in kind:
        return {"name": name, "alias": "example_alias"} | ({"version": "1"} if kind.endswith("created") else {})
    tag = {"name": name, "key": "example_key"} | ({"value": "example_value"} if kind.endswith(".set") else {})
    return tag | ({"version": "1"} if "version" in kind else {})
