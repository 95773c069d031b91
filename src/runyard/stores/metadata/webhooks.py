"""Queries of webhooks, their events and the delivery outbox."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, and_, delete, insert, select, update

from runyard.stores.metadata.webhook_tables import webhook_deliveries, webhook_events, webhooks


def insert_webhook(connection: Connection, events: Sequence[tuple[str, str]], **values: Any) -> None:
    connection.execute(insert(webhooks).values(**values))
    set_events(connection, str(values["webhook_id"]), events)


def set_events(connection: Connection, webhook_id: str, events: Sequence[tuple[str, str]]) -> None:
    connection.execute(delete(webhook_events).where(webhook_events.c.webhook_id == webhook_id))
    if events:
        connection.execute(
            insert(webhook_events),
            [{"webhook_id": webhook_id, "entity": entity, "action": action} for entity, action in events],
        )


def get_webhook_row(connection: Connection, webhook_id: str, workspace: str | None) -> Row[Any] | None:
    condition = webhooks.c.webhook_id == webhook_id
    if workspace is not None:
        condition = and_(condition, webhooks.c.workspace == workspace)
    return connection.execute(select(webhooks).where(condition)).first()


def list_webhook_rows(connection: Connection, workspace: str | None, *, offset: int, limit: int) -> list[Row[Any]]:
    statement = select(webhooks).order_by(webhooks.c.creation_timestamp, webhooks.c.webhook_id)
    if workspace is not None:
        statement = statement.where(webhooks.c.workspace == workspace)
    return list(connection.execute(statement.offset(offset).limit(limit)))


def events_of(connection: Connection, webhook_ids: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {webhook_id: [] for webhook_id in webhook_ids}
    if webhook_ids:
        rows = connection.execute(
            select(webhook_events.c.webhook_id, webhook_events.c.entity, webhook_events.c.action).where(
                webhook_events.c.webhook_id.in_(list(webhook_ids))
            )
        )
        for webhook_id, entity, action in rows:
            found[str(webhook_id)].append((str(entity), str(action)))
    return found


def update_webhook(connection: Connection, webhook_id: str, **values: Any) -> None:
    connection.execute(update(webhooks).where(webhooks.c.webhook_id == webhook_id).values(**values))


def delete_webhook(connection: Connection, webhook_id: str) -> None:
    connection.execute(delete(webhook_deliveries).where(webhook_deliveries.c.webhook_id == webhook_id))
    connection.execute(delete(webhook_events).where(webhook_events.c.webhook_id == webhook_id))
    connection.execute(delete(webhooks).where(webhooks.c.webhook_id == webhook_id))


def any_active(connection: Connection, workspace: str) -> bool:
    statement = (
        select(webhooks.c.webhook_id).where(webhooks.c.workspace == workspace, webhooks.c.status == "ACTIVE").limit(1)
    )
    return connection.execute(statement).first() is not None


def subscribers(connection: Connection, workspace: str, entity: str, action: str) -> list[str]:
    statement = (
        select(webhooks.c.webhook_id)
        .join(webhook_events, webhook_events.c.webhook_id == webhooks.c.webhook_id)
        .where(
            webhooks.c.workspace == workspace,
            webhooks.c.status == "ACTIVE",
            webhook_events.c.entity == entity,
            webhook_events.c.action == action,
        )
    )
    return [str(row[0]) for row in connection.execute(statement)]


def enqueue(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        connection.execute(insert(webhook_deliveries), list(rows))


def claim_due(connection: Connection, now_ms: int, limit: int) -> list[Row[Any]]:
    """Due deliveries, locked: another replica's claim skips them (SQLite: the write lock serialises)."""
    statement = (
        select(webhook_deliveries)
        .where(webhook_deliveries.c.state == "pending", webhook_deliveries.c.next_attempt_at <= now_ms)
        .order_by(webhook_deliveries.c.next_attempt_at, webhook_deliveries.c.delivery_id)
        .limit(limit)
    )
    if connection.dialect.name != "sqlite":
        statement = statement.with_for_update(skip_locked=True)
    return list(connection.execute(statement))


def update_delivery(connection: Connection, delivery_id: str, **values: Any) -> None:
    connection.execute(
        update(webhook_deliveries).where(webhook_deliveries.c.delivery_id == delivery_id).values(**values)
    )


def deliveries_of(connection: Connection, webhook_id: str) -> list[Row[Any]]:
    statement = (
        select(webhook_deliveries)
        .where(webhook_deliveries.c.webhook_id == webhook_id)
        .order_by(webhook_deliveries.c.created_at, webhook_deliveries.c.delivery_id)
    )
    return list(connection.execute(statement))
