"""Searching runs (filter grammar support lives in ``runyard.domain.search_filter``)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select

from runyard.domain import validation
from runyard.domain.tracking import Page, Run, ViewType
from runyard.errors import InvalidParameter
from runyard.services.metric_history import decode_offset_token, encode_offset_token
from runyard.stores.metadata import runs as store
from runyard.stores.metadata.tables import runs

SEARCH_MAX_RESULTS_DEFAULT = 1000
SEARCH_MAX_RESULTS_THRESHOLD = 50000


def search_runs(
    connection: Connection,
    *,
    experiment_ids: Sequence[str],
    filter_string: str | None = None,
    view_type: ViewType = ViewType.ACTIVE_ONLY,
    max_results: int | None = None,
    order_by: Sequence[str] = (),
    page_token: str | None = None,
) -> Page[Run]:
    limit = SEARCH_MAX_RESULTS_DEFAULT if max_results is None else max_results
    if not 1 <= limit <= SEARCH_MAX_RESULTS_THRESHOLD:
        raise InvalidParameter(
            f"Invalid value {limit} for parameter 'max_results' supplied. It must be at most "
            f"{SEARCH_MAX_RESULTS_THRESHOLD}, and at least 1."
        )
    if filter_string or order_by:
        raise InvalidParameter("run filters are not supported yet")
    ids = [validation.parse_experiment_id(e, "experiment_ids") for e in experiment_ids]
    offset = decode_offset_token(page_token)
    statement = (
        select(runs)
        .where(runs.c.experiment_id.in_(ids), runs.c.lifecycle_stage.in_(view_type.stages()))
        .order_by(runs.c.start_time.desc(), runs.c.run_uuid.asc())
        .offset(offset)
        .limit(limit + 1)
    )
    rows = connection.execute(statement).all()
    token = encode_offset_token(offset + limit) if len(rows) > limit else None
    return Page(store.load_runs(connection, rows[:limit]), token)
