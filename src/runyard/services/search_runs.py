"""Searching runs: MLflow's filter grammar (plus OR and parentheses), order_by, paging.

The grammar is parsed in ``runyard.domain.search_filter``; the query is built in
``runyard.stores.metadata.search``; the page's runs are then loaded with one more query for all their child rows.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from runyard.domain import validation
from runyard.domain.search_filter import RUNS, parse_filter, parse_order_by
from runyard.domain.tracking import Page, Run, ViewType
from runyard.errors import InvalidParameter
from runyard.services.metric_history import decode_offset_token, encode_offset_token
from runyard.services.workspaces import workspace_scope
from runyard.stores.metadata import experiments as experiment_store
from runyard.stores.metadata import runs as store
from runyard.stores.metadata import search

SEARCH_MAX_RESULTS_DEFAULT = 1000
SEARCH_MAX_RESULTS_THRESHOLD = 50000
# Child rows are fetched with ``run_uuid IN (…)``; chunks keep that under every driver's bind limit.
LOAD_CHUNK = 5000


def check_max_results(max_results: int | None) -> int:
    """``max_results`` or MLflow's default, refusing values MLflow refuses (with its message)."""
    limit = SEARCH_MAX_RESULTS_DEFAULT if max_results is None else max_results
    if not 1 <= limit <= SEARCH_MAX_RESULTS_THRESHOLD:
        raise InvalidParameter(
            f"Invalid value {limit} for parameter 'max_results' supplied. It must be at most "
            f"{SEARCH_MAX_RESULTS_THRESHOLD}, and at least 1."
        )
    return limit


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
    """One page of the runs of ``experiment_ids`` matching ``filter_string``, in MLflow's order.

    Raises:
        InvalidParameter: for a bad filter, order_by, max_results, page token or experiment id.
    """
    limit = check_max_results(max_results)
    expr = parse_filter(filter_string, RUNS)
    order_keys = parse_order_by(order_by, RUNS)
    ids = [validation.parse_experiment_id(e, "experiment_ids") for e in experiment_ids]
    # Another workspace's experiments are not there: asking for one finds no runs.
    ids = experiment_store.ids_among(connection, ids, workspace_scope())
    offset = decode_offset_token(page_token)
    rows = search.search_run_rows(
        connection,
        experiment_ids=ids,
        stages=view_type.stages(),
        expr=expr,
        order_keys=order_keys,
        offset=offset,
        limit=limit + 1,  # one more than asked says whether a next page exists
    )
    token = encode_offset_token(offset + limit) if len(rows) > limit else None
    rows = rows[:limit]
    loaded: list[Run] = []
    for start in range(0, len(rows), LOAD_CHUNK):
        loaded.extend(store.load_runs(connection, rows[start : start + LOAD_CHUNK]))
    return Page(loaded, token)
