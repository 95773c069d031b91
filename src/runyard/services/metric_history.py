"""Reading metric history: one metric of one run (paged), or sampled across runs for charts."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Connection

from runyard.domain.tracking import Metric
from runyard.errors import InvalidParameter, NotFound
from runyard.services.workspaces import workspace_scope
from runyard.stores.metadata import metrics as metric_store
from runyard.stores.metadata import runs as run_store

_Row = TypeVar("_Row")

MAX_RUNS_BULK_INTERVAL = 100
MAX_RESULTS_PER_RUN = 2500
# Page sizes and offsets end up as SQL LIMIT / OFFSET, which are 64-bit on every database; far past any real history.
MAX_PAGE_SIZE = 2**31 - 1
MAX_OFFSET = 2**62


@dataclass(frozen=True, slots=True)
class HistoryPage:
    metrics: list[Metric]
    next_page_token: str | None


def encode_offset_token(offset: int) -> str:
    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_offset_token(token: str | None) -> int:
    """The offset inside a page token (MLflow's base64 JSON form); 0 for none."""
    if not token:
        return 0
    try:
        offset = json.loads(base64.b64decode(token, validate=True))["offset"]
    except (ValueError, KeyError, TypeError):
        raise InvalidParameter(f"Invalid page token, could not base64-decode: {token!r}") from None
    if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset <= MAX_OFFSET:
        raise InvalidParameter(
            f"Invalid page token: offset must be an integer between 0 and {MAX_OFFSET}, got {offset!r}"
        )
    return offset


def _require_run(connection: Connection, run_id: str | None) -> str:
    if not run_id:
        raise InvalidParameter("Missing value for required parameter 'run_id'.")
    if run_store.get_run_row(connection, run_id, workspace=workspace_scope()) is None:
        raise NotFound(f"Run with id={run_id} not found")
    return run_id


def get_metric_history(
    connection: Connection,
    run_id: str | None,
    key: str | None,
    *,
    page_token: str | None = None,
    max_results: int | None = None,
) -> HistoryPage:
    """Every point of ``key`` in ``run_id`` ordered by step, paged when ``max_results`` is set."""
    run_id = _require_run(connection, run_id)
    if not key:
        raise InvalidParameter("Missing value for required parameter 'metric_key'.")
    if max_results is not None and not 1 <= max_results <= MAX_PAGE_SIZE:
        raise InvalidParameter(
            f"Invalid value {max_results} for parameter 'max_results': must be between 1 and {MAX_PAGE_SIZE}"
        )
    offset = decode_offset_token(page_token)
    limit = None if max_results is None else max_results + 1
    rows = metric_store.history_page(connection, run_id, key, offset=offset, limit=limit)
    next_token = None
    if max_results is not None and len(rows) > max_results:
        rows = rows[:max_results]
        next_token = encode_offset_token(offset + max_results)
    points = [
        Metric(key, float("nan") if is_nan else value, timestamp, step) for value, timestamp, step, is_nan in rows
    ]
    return HistoryPage(points, next_token)


def get_metric_history_bulk_interval(
    connection: Connection,
    run_ids: Sequence[str],
    key: str | None,
    *,
    start_step: int | None = None,
    end_step: int | None = None,
    max_results: int | None = None,
) -> list[Metric]:
    """Up to ``max_results`` points per run, evenly sampled in step order, first and last kept."""
    if not run_ids:
        raise InvalidParameter("Missing value for required parameter 'run_ids'.")
    if len(run_ids) > MAX_RUNS_BULK_INTERVAL:
        raise InvalidParameter(
            f"GetMetricHistoryBulkInterval request must specify at most {MAX_RUNS_BULK_INTERVAL} run_ids. "
            f"Received {len(run_ids)} run_ids."
        )
    if not key:
        raise InvalidParameter("Missing value for required parameter 'metric_key'.")
    limit = MAX_RESULTS_PER_RUN if max_results is None else max_results
    if not 1 <= limit <= MAX_RESULTS_PER_RUN:
        raise InvalidParameter(f"max_results must be between 1 and {MAX_RESULTS_PER_RUN}.")
    if (start_step is None) != (end_step is None):
        raise InvalidParameter("If either start step or end step are specified, both must be specified.")
    if start_step is not None and end_step is not None and start_step > end_step:
        raise InvalidParameter(
            f"end_step must be greater than start_step. Found start_step={start_step} and end_step={end_step}."
        )
    result: list[Metric] = []
    for run_id in run_ids:
        _require_run(connection, run_id)
        rows = metric_store.history_in_range(connection, run_id, key, start_step, end_step)
        for value, timestamp, step, is_nan in sample_evenly(rows, limit):
            result.append(Metric(key, float("nan") if is_nan else value, timestamp, step, run_id=run_id))
    return result


def sample_evenly(rows: Sequence[_Row], limit: int) -> list[_Row]:
    """``limit`` rows spread evenly over ``rows``, always with the last (and, if room, the first)."""
    count = len(rows)
    if count <= limit:
        return list(rows)
    if limit == 1:
        return [rows[-1]]
    # Positions 0 … count-1 at equal spacing: first and last are always included.
    indices = sorted({round(i * (count - 1) / (limit - 1)) for i in range(limit)})
    return [rows[i] for i in indices]
