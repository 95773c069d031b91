"""Searching registered models and model versions (MLflow's filter grammar, order_by, paging).

Prompts (registered models tagged ``mlflow.prompt.is_prompt = 'true'``) are left out unless the
filter asks for them, as MLflow does. Every query ends its ORDER BY on a unique key so pages are
stable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Select, select
from sqlalchemy.sql.elements import UnaryExpression

from runyard.domain.registry import ModelVersion, RegisteredModel
from runyard.domain.registry_search import MODEL_VERSIONS, REGISTERED_MODELS
from runyard.domain.search_filter import parse_filter, parse_order_by
from runyard.domain.tracking import Page
from runyard.errors import InvalidParameter
from runyard.services.identity_permissions import Readable
from runyard.services.metric_history import decode_offset_token, encode_offset_token
from runyard.services.workspaces import workspace_scope
from runyard.stores.metadata import registry as store
from runyard.stores.metadata import registry_search as conditions
from runyard.stores.metadata.registry_tables import model_versions, registered_models

MODELS_MAX_RESULTS_DEFAULT = 100
MODELS_MAX_RESULTS_LIMIT = 1000
VERSIONS_MAX_RESULTS_DEFAULT = 10_000
VERSIONS_MAX_RESULTS_LIMIT = 200_000
DEFAULT_VERSION_ORDER = ("last_updated_timestamp DESC", "name ASC", "version_number DESC")


def _limit(max_results: int | None, default: int, ceiling: int) -> int:
    limit = default if max_results is None else max_results
    if limit < 1:
        raise InvalidParameter(f"Invalid value for max_results. It must be a positive integer, but got {max_results}")
    if limit > ceiling:
        raise InvalidParameter(
            "Invalid value for request parameter max_results. It must be at most "
            f"{ceiling}, but got value {max_results}"
        )
    return limit


def _in_workspace(statement: Select[Any]) -> Select[Any]:
    """Only the request's workspace's models (and their versions)."""
    workspace = workspace_scope()
    return statement if workspace is None else statement.where(registered_models.c.workspace == workspace)


def _readable_only(statement: Select[Any], readable: Readable | None) -> Select[Any]:
    """Only the models the acting principal may read (grants name registered models by name)."""
    if readable is None:
        return statement
    name = registered_models.c.name
    if readable.everything:
        return statement.where(name.not_in(sorted(readable.denied))) if readable.denied else statement
    return statement.where(name.in_(sorted(readable.ids - readable.denied)))


def search_registered_models(
    connection: Connection,
    *,
    filter_string: str | None = None,
    max_results: int | None = None,
    order_by: Sequence[str] = (),
    page_token: str | None = None,
    readable: Readable | None = None,
) -> Page[RegisteredModel]:
    """``readable`` limits the search to what the acting principal may read (None: everything)."""
    limit = _limit(max_results, MODELS_MAX_RESULTS_DEFAULT, MODELS_MAX_RESULTS_LIMIT)
    expr = parse_filter(filter_string, REGISTERED_MODELS)
    columns = {
        "name": registered_models.c.name,
        "timestamp": registered_models.c.last_updated_time,
        "last_updated_timestamp": registered_models.c.last_updated_time,
        "creation_timestamp": registered_models.c.creation_time,
    }
    ordering: list[UnaryExpression[Any]] = []
    seen: set[str] = set()
    for key in parse_order_by(order_by, REGISTERED_MODELS):
        column = columns[key.key]
        if column.name in seen:
            raise InvalidParameter(f"`order_by` contains duplicate fields: {list(order_by)}")
        seen.add(column.name)
        ordering.append(column.asc() if key.ascending else column.desc())
    if "name" not in seen:
        ordering.append(registered_models.c.name.asc())
    offset = decode_offset_token(page_token)
    statement = select(registered_models).where(conditions.registered_model_condition(expr, connection.dialect.name))
    if not conditions.mentions_prompt_tag(expr):
        statement = statement.where(~conditions.is_prompt_model())
    statement = _readable_only(_in_workspace(statement), readable)
    rows = connection.execute(statement.order_by(*ordering).offset(offset).limit(limit + 1)).all()
    token = encode_offset_token(offset + limit) if len(rows) > limit else None
    return Page(store.load_registered_models(connection, rows[:limit]), token)


def search_model_versions(
    connection: Connection,
    *,
    filter_string: str | None = None,
    max_results: int | None = None,
    order_by: Sequence[str] = (),
    page_token: str | None = None,
    readable: Readable | None = None,
) -> Page[ModelVersion]:
    """``readable`` limits the search to versions of models the acting principal may read."""
    limit = _limit(max_results, VERSIONS_MAX_RESULTS_DEFAULT, VERSIONS_MAX_RESULTS_LIMIT)
    expr = parse_filter(filter_string, MODEL_VERSIONS)
    columns = {
        "name": registered_models.c.name,
        "version_number": model_versions.c.version,
        "creation_timestamp": model_versions.c.creation_time,
        "last_updated_timestamp": model_versions.c.last_updated_time,
    }
    ordering: list[UnaryExpression[Any]] = []
    seen: set[str] = set()
    for key in parse_order_by(order_by or DEFAULT_VERSION_ORDER, MODEL_VERSIONS):
        seen.add(key.key)
        column = columns[key.key]
        ordering.append(column.asc() if key.ascending else column.desc())
    if "name" not in seen:
        ordering.append(registered_models.c.name.asc())
    if "version_number" not in seen:
        ordering.append(model_versions.c.version.desc())
    offset = decode_offset_token(page_token)
    statement = store.version_select().where(conditions.model_version_condition(expr, connection.dialect.name))
    if not conditions.mentions_prompt_tag(expr):
        statement = statement.where(~conditions.is_prompt_model())
    statement = _readable_only(_in_workspace(statement), readable)
    rows = connection.execute(statement.order_by(*ordering).offset(offset).limit(limit + 1)).all()
    token = encode_offset_token(offset + limit) if len(rows) > limit else None
    return Page(store.load_versions(connection, rows[:limit]), token)
