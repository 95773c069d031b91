"""``/api/2.0/mlflow/webhooks``: MLflow's webhook API (create, list, get, update, delete, test).

Webhooks send registry data to URLs of the caller's choosing, so only administrators manage them.
The signing secret is write-only: stored encrypted, never returned.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from runyard.api import access
from runyard.api.deps import platform_of
from runyard.api.openapi import json_body, query
from runyard.api.requests import parse_json, parse_query
from runyard.api.responses import JSONResponse
from runyard.domain.webhooks import Event, Webhook
from runyard.services import webhook_delivery
from runyard.services import webhooks as service

router = APIRouter(prefix="/webhooks", tags=["mlflow-webhooks"], dependencies=[access.admin])


class EventIn(BaseModel):
    entity: str
    action: str


class WebhookCreate(BaseModel):
    name: str | None = None
    url: str | None = None
    events: list[EventIn] = Field(default_factory=list)
    description: str | None = None
    secret: str | None = Field(default=None, max_length=1000)
    status: str | None = None


class WebhookUpdate(BaseModel):
    name: str | None = None
    url: str | None = None
    events: list[EventIn] | None = None
    description: str | None = None
    secret: str | None = Field(default=None, max_length=1000)
    status: str | None = None


class ListQuery(BaseModel):
    max_results: int | None = None
    page_token: str | None = None


class TestBody(BaseModel):
    event: EventIn | None = None


def _events(events: list[EventIn] | None) -> list[Event]:
    return [Event.parse(event.entity, event.action) for event in events or []]


def webhook_json(webhook: Webhook) -> dict[str, Any]:
    return {
        "webhook_id": webhook.webhook_id,
        "name": webhook.name,
        "description": webhook.description or "",
        "url": webhook.url,
        "events": [{"entity": e.entity.value.upper(), "action": e.action.value.upper()} for e in webhook.events],
        "status": webhook.status.value,
        "creation_timestamp": webhook.creation_timestamp,
        "last_updated_timestamp": webhook.last_updated_timestamp,
    }


@router.post("", openapi_extra=json_body(WebhookCreate))
async def create_webhook(request: Request) -> Response:
    body = await parse_json(request, WebhookCreate)
    platform = platform_of(request)
    events = _events(body.events)
    webhook = await platform.write(
        lambda c: service.create_webhook(
            c, platform.secrets, name=body.name, url=body.url, events=events, description=body.description,
            secret=body.secret, status=body.status,
        )
    )  # fmt: skip
    return JSONResponse({"webhook": webhook_json(webhook)})


@router.get("", openapi_extra=query(ListQuery))
async def list_webhooks(request: Request) -> Response:
    params = parse_query(request, ListQuery)
    found, token = await platform_of(request).read(
        lambda c: service.list_webhooks(c, max_results=params.max_results, page_token=params.page_token)
    )
    answer: dict[str, Any] = {"webhooks": [webhook_json(webhook) for webhook in found]}
    if token:
        answer["next_page_token"] = token
    return JSONResponse(answer)


@router.get("/{webhook_id}")
async def get_webhook(webhook_id: str, request: Request) -> Response:
    webhook = await platform_of(request).read(lambda c: service.get_webhook(c, webhook_id))
    return JSONResponse({"webhook": webhook_json(webhook)})


@router.patch("/{webhook_id}", openapi_extra=json_body(WebhookUpdate))
async def update_webhook(webhook_id: str, request: Request) -> Response:
    body = await parse_json(request, WebhookUpdate)
    platform = platform_of(request)
    events = _events(body.events) if body.events is not None else None
    webhook = await platform.write(
        lambda c: service.update_webhook(
            c, platform.secrets, webhook_id, name=body.name, url=body.url, events=events,
            description=body.description, secret=body.secret, status=body.status,
        )
    )  # fmt: skip
    return JSONResponse({"webhook": webhook_json(webhook)})


@router.delete("/{webhook_id}")
async def delete_webhook(webhook_id: str, request: Request) -> Response:
    await platform_of(request).write(lambda c: service.delete_webhook(c, webhook_id))
    return JSONResponse({})


@router.post("/{webhook_id}/test", openapi_extra=json_body(TestBody))
async def test_webhook(webhook_id: str, request: Request) -> Response:
    """Send an example payload of one of the webhook's events now, and report what the receiver answered."""
    body = await parse_json(request, TestBody)
    platform = platform_of(request)
    webhook = await platform.read(lambda c: service.get_webhook(c, webhook_id))
    full = await platform.read(lambda c: service.webhook_with_secret(c, platform.secrets, webhook.webhook_id))
    event = Event.parse(body.event.entity, body.event.action) if body.event else full.events[0]
    settings = platform.settings
    sent = await platform.offload(
        lambda: webhook_delivery.send(
            full, event, service.example_payload(event), delivery_id=uuid.uuid4().hex,
            timeout=settings.webhook_timeout_seconds, allow_private=settings.webhook_allow_private_urls,
        )
    )  # fmt: skip
    result: dict[str, Any] = {"success": sent.success}
    if sent.status is not None:
        result["response_status"] = sent.status
        result["response_body"] = sent.body
    if sent.error is not None and sent.status is None:
        result["error_message"] = f"Failed to test webhook: {sent.error}"
    return JSONResponse({"result": result})
