"""Searching experiments: MLflow's filter grammar (plus OR and parentheses), order_by, paging."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from runyard.domain.search_filter import EXPERIMENTS, parse_filter, parse_order_by
from runyard.domain.tracking import Experiment, Page, ViewType
from runyard.services.metric_history import decode_offset_token, encode_offset_token
from runyard.services.search_runs import check_max_results
from runyard.services.workspaces import workspace_scope
from runyard.stores.metadata import experiments as store
from runyard.stores.metadata import search


def search_experiments(
    connection: Connection,
    *,
    view_type: ViewType = ViewType.ACTIVE_ONLY,
    max_results: int | None = None,
    filter_string: str | None = None,
    order_by: Sequence[str] = (),
    page_token: str | None = None,
) -> Page[Experiment]:
    """One page of experiments matching ``filter_string``, in MLflow's order.

    Raises:
        InvalidParameter: for a bad filter, order_by, max_results or page token.
    """
    limit = check_max_results(max_results)
    expr = parse_filter(filter_string, EXPERIMENTS)
    order_keys = parse_order_by(order_by, EXPERIMENTS)
    offset = decode_offset_token(page_token)
    rows = search.search_experiment_rows(
        connection,
        workspace=workspace_scope(),
        stages=view_type.stages(),
        expr=expr,
        order_keys=order_keys,
        offset=offset,
        limit=limit + 1,
    )
    token = encode_offset_token(offset + limit) if len(rows) > limit else None
    return Page(store.experiments_from_rows(connection, rows[:limit]), token)
