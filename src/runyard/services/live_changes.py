"""What the live-update streams report: runs of experiments that changed, a run's new metric points, job changes.

The streams poll these every second (and on wake-ups), so every server replica sees every commit
without any in-process signal: the database is the only source. Cursors overlap a little
(``OVERLAP_MS``) and callers de-duplicate, so a transaction that commits a moment after it took its
timestamp is still seen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from runyard.errors import InvalidParameter, NotFound
from runyard.services import experiments as experiment_service
from runyard.services.identity_permissions import Readable
from runyard.services.workspaces import workspace_scope
from runyard.stores.metadata import live_changes as store
from runyard.stores.metadata import runs as run_store

# How far back each poll looks again: longer than a tracking write takes from its timestamp to its commit.
OVERLAP_MS = 10_000
MAX_EXPERIMENTS = 100


@dataclass(frozen=True, slots=True)
class RunChange:
    run_id: str
    experiment_id: str
    status: str
    lifecycle_stage: str
    last_activity_time: int


@dataclass(frozen=True, slots=True)
class LatestPoint:
    key: str
    step: int
    timestamp: int
    value: float


@dataclass(frozen=True, slots=True)
class RunActivity:
    status: str
    lifecycle_stage: str
    last_activity_time: int
    latest: tuple[LatestPoint, ...]


@dataclass(frozen=True, slots=True)
class JobChange:
    event_id: int
    job_id: str
    kind: str
    state: str


def check_experiments(connection: Connection, experiment_ids: Sequence[str]) -> list[int]:
    """The experiments a runs stream watches: each must exist in the request's workspace."""
    if not experiment_ids:
        raise InvalidParameter("Missing value for required parameter 'experiment_ids'.")
    if len(experiment_ids) > MAX_EXPERIMENTS:
        raise InvalidParameter(f"Invalid value for parameter 'experiment_ids': at most {MAX_EXPERIMENTS} experiments")
    return sorted({int(experiment_service.get_experiment(connection, e).experiment_id) for e in experiment_ids})


def changed_runs(connection: Connection, experiment_ids: Sequence[int], since_ms: int) -> list[RunChange]:
    """Runs active at or after ``since_ms - OVERLAP_MS`` (the caller drops those it has already reported)."""
    return [
        RunChange(
            run_id=row.run_uuid,
            experiment_id=str(row.experiment_id),
            status=row.status,
            lifecycle_stage=row.lifecycle_stage,
            last_activity_time=int(row.last_activity_time or 0),
        )
        for row in store.runs_active_since(connection, experiment_ids, max(0, since_ms - OVERLAP_MS))
    ]


def run_activity(connection: Connection, run_id: str) -> RunActivity:
    """A run's status, last activity and latest point per metric key (what a chart needs to know it is stale)."""
    row = run_store.get_run_row(connection, run_id, workspace=workspace_scope())
    if row is None:
        raise NotFound(f"Run with id={run_id} not found")
    latest = tuple(
        LatestPoint(key=r.key, step=int(r.step), timestamp=int(r.timestamp), value=float(r.value))
        for r in store.latest_metrics_of(connection, run_id)
    )
    return RunActivity(
        status=row.status,
        lifecycle_stage=row.lifecycle_stage,
        last_activity_time=int(row.last_activity_time or 0),
        latest=latest,
    )


def job_cursor(connection: Connection) -> int:
    """The newest job event id: a jobs stream reports what happens after it."""
    return store.last_job_event_id(connection)


def job_changes(connection: Connection, after_id: int, readable_queues: Readable | None) -> list[JobChange]:
    """Job events after ``after_id`` on jobs of queues the principal may read (None: all), with each job's state."""
    rows = store.job_events_after(
        connection,
        after_id,
        workspace=workspace_scope(),
        only_queues=None if readable_queues is None or readable_queues.everything else readable_queues.ids,
        except_queues=frozenset() if readable_queues is None else readable_queues.denied,
    )
    return [JobChange(event_id=int(r.event_id), job_id=str(r.job_id), kind=r.kind, state=r.state) for r in rows]
