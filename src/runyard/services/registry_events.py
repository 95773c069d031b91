"""The registry's audit log: every change is recorded with who and when, in the change's own transaction.

Events name the model (not its row), so they outlive deleted models; they are read newest first with
filters and keyset paging (``page_token`` is the last event id seen).
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, insert, select

from runyard.domain.clock import now_ms
from runyard.domain.registry import EventType, RegistryEvent
from runyard.domain.tracking import Page
from runyard.errors import InvalidParameter
from runyard.services.workspaces import current_workspace, workspace_scope
from runyard.stores.metadata.registry_tables import registry_events

MAX_RESULTS_DEFAULT = 100
MAX_RESULTS_LIMIT = 1000
ANONYMOUS = "anonymous"


def record(
    connection: Connection,
    event_type: EventType,
    *,
    model_name: str,
    user: str | None,
    version: int | None = None,
    **details: Any,
) -> None:
    """Append one event; call it inside the transaction that makes the change."""
    connection.execute(
        insert(registry_events).values(
            workspace=current_workspace(),
            timestamp=now_ms(),
            event_type=event_type.value,
            model_name=model_name,
            version=version,
            user_id=(user or ANONYMOUS)[:256],
            details=orjson.dumps({k: v for k, v in details.items() if v is not None}).decode(),
        )
    )


def list_events(
    connection: Connection,
    *,
    model_name: str | None = None,
    version: int | None = None,
    event_type: str | None = None,
    user: str | None = None,
    since: int | None = None,
    until: int | None = None,
    max_results: int | None = None,
    page_token: str | None = None,
) -> Page[RegistryEvent]:
    """Events newest first, filtered; ``since``/``until`` are epoch milliseconds (inclusive)."""
    limit = MAX_RESULTS_DEFAULT if max_results is None else max_results
    if not 1 <= limit <= MAX_RESULTS_LIMIT:
        raise InvalidParameter(f"max_results must be between 1 and {MAX_RESULTS_LIMIT}, got {limit}.")
    if event_type is not None and event_type not in {e.value for e in EventType}:
        valid = ", ".join(e.value for e in EventType)
        raise InvalidParameter(f"Unknown event_type {event_type!r}; expected one of: {valid}.")
    statement = select(registry_events).order_by(registry_events.c.event_id.desc()).limit(limit + 1)
    workspace = workspace_scope()
    if workspace is not None:
        statement = statement.where(registry_events.c.workspace == workspace)
    if page_token:
        if not page_token.isdigit():
            raise InvalidParameter(f"Invalid page_token {page_token!r}.")
        statement = statement.where(registry_events.c.event_id < int(page_token))
    if model_name is not None:
        statement = statement.where(registry_events.c.model_name == model_name)
    if version is not None:
        statement = statement.where(registry_events.c.version == version)
    if event_type is not None:
        statement = statement.where(registry_events.c.event_type == event_type)
    if user is not None:
        statement = statement.where(registry_events.c.user_id == user)
    if since is not None:
        statement = statement.where(registry_events.c.timestamp >= since)
    if until is not None:
        statement = statement.where(registry_events.c.timestamp <= until)
    rows = connection.execute(statement).all()
    events = [
        RegistryEvent(
            event_id=row.event_id,
            timestamp=row.timestamp,
            event_type=row.event_type,
            model_name=row.model_name,
            version=row.version,
            user_id=row.user_id,
            details=orjson.loads(row.details),
        )
        for row in rows[:limit]
    ]
    token = str(events[-1].event_id) if len(rows) > limit else None
    return Page(events, token)
