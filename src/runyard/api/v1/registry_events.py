"""``GET /api/v1/registry/events``: the registry's audit log (who changed what, when), newest first."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from runyard.api import access
from runyard.api.deps import platform_of
from runyard.api.openapi import query
from runyard.api.requests import parse_query
from runyard.api.responses import JSONResponse
from runyard.domain.identity import Level
from runyard.domain.registry import RegistryEvent
from runyard.services import registry_events as service

router = APIRouter(prefix="/registry", tags=["registry"])


class EventsQuery(BaseModel):
    name: str | None = Field(default=None, description="Only events of this registered model.")
    version: int | None = Field(default=None, ge=1, description="Only events of this version.")
    event_type: str | None = Field(default=None, description="e.g. model_version.created, alias.set.")
    user: str | None = Field(default=None, description="Only events by this user.")
    since: int | None = Field(default=None, ge=0, description="Epoch milliseconds, inclusive.")
    until: int | None = Field(default=None, ge=0, description="Epoch milliseconds, inclusive.")
    max_results: int | None = Field(default=None, description="Page size (1-1000, default 100).")
    page_token: str | None = None


def event_json(event: RegistryEvent) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "timestamp": event.timestamp,
        "event_type": event.event_type,
        "name": event.model_name,
        "version": event.version,
        "user": event.user_id,
        "details": event.details,
    }


@router.get("/events", dependencies=[access.requires("registered_model", Level.READ)], openapi_extra=query(EventsQuery))
async def list_registry_events(request: Request) -> Response:
    """Registry events, newest first, filtered and paged (``next_page_token``)."""
    query = parse_query(request, EventsQuery)
    page = await platform_of(request).read(
        lambda c: service.list_events(
            c, model_name=query.name, version=query.version, event_type=query.event_type, user=query.user,
            since=query.since, until=query.until, max_results=query.max_results, page_token=query.page_token,
        )
    )  # fmt: skip
    data: dict[str, Any] = {"events": [event_json(e) for e in page.items]}
    if page.next_page_token:
        data["next_page_token"] = page.next_page_token
    return JSONResponse(data)
