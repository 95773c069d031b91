"""Job rows, their attempts, event history and log lines; the placement candidate query."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, and_, bindparam, func, insert, select, update

from runyard.stores.metadata import dialects
from runyard.stores.metadata.compute_tables import job_attempts, job_events, job_logs, jobs, workers
from runyard.stores.metadata.tables import runs

ACTIVE_STATES = ("assigned", "running")


# Statements built once with bound parameters: building one per call (``.values(**values)``, a
# literal in ``where``) costs more Python time than the database spends running it.
_INSERT_JOB = insert(jobs)
_GET_JOB = select(jobs).where(jobs.c.job_id == bindparam("b_job_id"))
_LOCK_JOB = _GET_JOB.with_for_update()
_UPDATE_JOB = update(jobs).where(jobs.c.job_id == bindparam("b_job_id"))
_UPDATE_ATTEMPT = update(job_attempts).where(
    job_attempts.c.job_id == bindparam("b_job_id"), job_attempts.c.attempt == bindparam("b_attempt")
)


def insert_job(connection: Connection, **values: Any) -> int:
    result = connection.execute(_INSERT_JOB, values)
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def get_job(
    connection: Connection, job_id: int, *, lock: bool = False, workspace: str | None = None
) -> Row[Any] | None:
    """The job's row; ``lock`` makes concurrent transitions of one job queue up (PostgreSQL/MariaDB).

    With ``workspace``, only a job in that workspace is found (``None``: whatever its workspace).
    """
    statement = _LOCK_JOB if lock and connection.dialect.name != "sqlite" else _GET_JOB
    row = connection.execute(statement, {"b_job_id": job_id}).first()
    if row is not None and workspace is not None and row.workspace != workspace:
        return None
    return row


def update_job(connection: Connection, job_id: int, **values: Any) -> None:
    """Set ``values`` (column → value) on the job."""
    connection.execute(_UPDATE_JOB, {"b_job_id": job_id, **values})


def list_jobs(
    connection: Connection,
    *,
    states: Sequence[str],
    queue: str | None,
    recipe: str | None,
    worker_id: str | None,
    limit: int,
    before_id: int | None,
    workspace: str | None,
    only_queues: frozenset[str] | None = None,
    except_queues: frozenset[str] = frozenset(),
) -> list[Row[Any]]:
    """Newest first; ``before_id`` pages backwards (keyset pagination).

    ``only_queues`` / ``except_queues`` restrict the rows in the query itself, so pages stay full.
    """
    statement = select(jobs).order_by(jobs.c.job_id.desc()).limit(limit)
    if only_queues is not None:
        statement = statement.where(jobs.c.queue.in_(sorted(only_queues)))
    if except_queues:
        statement = statement.where(jobs.c.queue.not_in(sorted(except_queues)))
    if workspace is not None:
        statement = statement.where(jobs.c.workspace == workspace)
    if states:
        statement = statement.where(jobs.c.state.in_(states))
    if queue:
        statement = statement.where(jobs.c.queue == queue)
    if recipe:
        statement = statement.where(jobs.c.recipe_name == recipe)
    if worker_id:
        statement = statement.where(jobs.c.worker_id == worker_id)
    if before_id is not None:
        statement = statement.where(jobs.c.job_id < before_id)
    return list(connection.execute(statement))


def active_jobs_of_worker(connection: Connection, worker_id: str) -> list[Row[Any]]:
    return list(connection.execute(select(jobs).where(jobs.c.worker_id == worker_id, jobs.c.state.in_(ACTIVE_STATES))))


def held_gpus_of_worker(connection: Connection, worker_id: str) -> list[str | None]:
    """``assigned_gpus`` (JSON, or NULL) of each job holding capacity on the worker."""
    statement = select(jobs.c.assigned_gpus).where(jobs.c.worker_id == worker_id, jobs.c.state.in_(ACTIVE_STATES))
    return list(connection.execute(statement).scalars())


def active_job_usage(connection: Connection) -> list[Row[Any]]:
    """(worker_id, assigned_gpus) of every job holding capacity, for ``worker ls``."""
    return list(
        connection.execute(
            select(jobs.c.worker_id, jobs.c.assigned_gpus, jobs.c.job_id).where(jobs.c.state.in_(ACTIVE_STATES))
        )
    )


def lock_candidates(
    connection: Connection,
    *,
    queues: Sequence[str],
    min_gpus: int,
    max_gpus: int,
    limit: int,
    exclude: Sequence[int] = (),
) -> list[Row[Any]]:
    """Up to ``limit`` queued jobs of ``queues`` that could fit, in placement order, locked.

    Rows another replica has locked are skipped (``SKIP LOCKED``), so N servers placing at once never
    hand one job out twice and never wait on each other. SQLite has no row locks: its write
    transactions hold the database write lock (``BEGIN IMMEDIATE``), which serialises placement.
    ``exclude`` are jobs this transaction already passed over (it holds their locks, so they would
    come back).
    """
    condition = and_(
        jobs.c.state == "queued", jobs.c.queue.in_(queues), jobs.c.gpus >= min_gpus, jobs.c.gpus <= max_gpus
    )
    if exclude:
        condition = and_(condition, jobs.c.job_id.not_in(list(exclude)))
    statement = (
        select(jobs).where(condition).order_by(jobs.c.queue_rank, jobs.c.priority_rank, jobs.c.job_id).limit(limit)
    )
    if connection.dialect.name != "sqlite":
        statement = statement.with_for_update(skip_locked=True)
    return list(connection.execute(statement))


ATTEMPT_COLUMNS = (
    "job_id",
    "attempt",
    "worker_id",
    "gpus",
    "run_id",
    "token_hash",
    "state",
    "assigned_time",
    "delivered_time",
)
ASSIGN_COLUMNS = (
    "state",
    "last_update_time",
    "attempt",
    "worker_id",
    "assigned_gpus",
    "run_id",
    "assigned_time",
    "started_time",
    "finished_time",
    "reason",
    "exit_code",
    "inactive",
)
EVENT_COLUMNS = ("job_id", "attempt", "time", "kind", "from_state", "to_state", "worker_id", "message")


def insert_attempts(connection: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Many attempts at once, each a tuple in ``ATTEMPT_COLUMNS`` order (one driver executemany)."""
    dialects.executemany_insert(connection, job_attempts, ATTEMPT_COLUMNS, rows)


def update_jobs(connection: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Many job updates at once: each a tuple of ``ASSIGN_COLUMNS`` values followed by the job id."""
    dialects.executemany_update(connection, jobs, ASSIGN_COLUMNS, ("job_id",), rows)


def insert_event_rows(connection: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Many events at once, each a tuple in ``EVENT_COLUMNS`` order."""
    dialects.executemany_insert(connection, job_events, EVENT_COLUMNS, rows)


def get_attempt(connection: Connection, job_id: int, attempt: int) -> Row[Any] | None:
    return connection.execute(
        select(job_attempts).where(job_attempts.c.job_id == job_id, job_attempts.c.attempt == attempt)
    ).first()


def update_attempt(connection: Connection, job_id: int, attempt: int, **values: Any) -> None:
    connection.execute(_UPDATE_ATTEMPT, {"b_job_id": job_id, "b_attempt": attempt, **values})


def list_attempts(connection: Connection, job_id: int) -> list[Row[Any]]:
    return list(
        connection.execute(select(job_attempts).where(job_attempts.c.job_id == job_id).order_by(job_attempts.c.attempt))
    )


def undelivered_attempt(connection: Connection, worker_id: str) -> Row[Any] | None:
    """An attempt placed on the worker but not yet handed to it (e.g. a claim answer was lost)."""
    return connection.execute(
        select(job_attempts)
        .join(jobs, and_(jobs.c.job_id == job_attempts.c.job_id, jobs.c.attempt == job_attempts.c.attempt))
        .where(
            jobs.c.worker_id == worker_id,
            jobs.c.state == "assigned",
            job_attempts.c.delivered_time.is_(None),
        )
        .order_by(job_attempts.c.assigned_time)
        .limit(1)
    ).first()


def open_attempt_runs_of_pool(connection: Connection, pool: str, run_ids: Sequence[str]) -> list[Row[Any]]:
    """(run_id, experiment_id) of the ``run_ids`` that belong to an unfinished attempt on a worker of ``pool``."""
    if not run_ids:
        return []
    statement = (
        select(job_attempts.c.run_id, runs.c.experiment_id)
        .join(workers, workers.c.worker_id == job_attempts.c.worker_id)
        .join(runs, runs.c.run_uuid == job_attempts.c.run_id)
        .where(
            workers.c.pool == pool,
            job_attempts.c.run_id.in_(list(run_ids)),
            job_attempts.c.finished_time.is_(None),
        )
    )
    return list(connection.execute(statement))


def attempt_by_token_hash(connection: Connection, token_hash: str) -> Row[Any] | None:
    return connection.execute(select(job_attempts).where(job_attempts.c.token_hash == token_hash)).first()


def insert_events(connection: Connection, events: Sequence[dict[str, Any]]) -> None:
    if events:
        connection.execute(insert(job_events), list(events))


def list_events(connection: Connection, job_id: int, *, after_id: int, limit: int) -> list[Row[Any]]:
    return list(
        connection.execute(
            select(job_events)
            .where(job_events.c.job_id == job_id, job_events.c.event_id > after_id)
            .order_by(job_events.c.event_id)
            .limit(limit)
        )
    )


def insert_log_lines(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        connection.execute(insert(job_logs), list(rows))


def list_log_lines(
    connection: Connection, job_id: int, *, after_id: int, attempt: int | None, limit: int
) -> list[Row[Any]]:
    statement = (
        select(job_logs)
        .where(job_logs.c.job_id == job_id, job_logs.c.line_id > after_id)
        .order_by(job_logs.c.line_id)
        .limit(limit)
    )
    if attempt is not None:
        statement = statement.where(job_logs.c.attempt == attempt)
    return list(connection.execute(statement))


def list_log_lines_before(
    connection: Connection, job_id: int, *, before_id: int | None, attempt: int | None, limit: int
) -> list[Row[Any]]:
    """The last ``limit`` lines before line id ``before_id`` (None: the end of the log), newest first."""
    statement = select(job_logs).where(job_logs.c.job_id == job_id).order_by(job_logs.c.line_id.desc()).limit(limit)
    if before_id is not None:
        statement = statement.where(job_logs.c.line_id < before_id)
    if attempt is not None:
        statement = statement.where(job_logs.c.attempt == attempt)
    return list(connection.execute(statement))


def inactivity_candidates(connection: Connection) -> list[Row[Any]]:
    """Running jobs with their attempt's last log time and run's last activity (for the watchdog)."""
    return list(
        connection.execute(
            select(
                jobs.c.job_id,
                jobs.c.recipe_name,
                jobs.c.recipe_version,
                jobs.c.attempt,
                jobs.c.inactive,
                jobs.c.cancel_requested,
                jobs.c.started_time,
                job_attempts.c.last_log_time,
                runs.c.last_activity_time,
            )
            .join(job_attempts, and_(jobs.c.job_id == job_attempts.c.job_id, jobs.c.attempt == job_attempts.c.attempt))
            .outerjoin(runs, runs.c.run_uuid == jobs.c.run_id)
            .where(jobs.c.state == "running")
        )
    )


def stale_attempts(connection: Connection, worker_id: str, *, delivered_before: int) -> list[Row[Any]]:
    """Assigned jobs of the worker delivered long ago that never started (the agent dropped them)."""
    return list(
        connection.execute(
            select(jobs)
            .join(job_attempts, and_(jobs.c.job_id == job_attempts.c.job_id, jobs.c.attempt == job_attempts.c.attempt))
            .where(
                jobs.c.worker_id == worker_id,
                jobs.c.state == "assigned",
                job_attempts.c.delivered_time < delivered_before,
            )
        )
    )


def count_by_state(connection: Connection) -> dict[str, int]:
    rows = connection.execute(select(jobs.c.state, func.count()).group_by(jobs.c.state))
    return {row[0]: int(row[1]) for row in rows}


def stale_runs(connection: Connection, *, inactive_before: int, limit: int) -> list[str]:
    """Ids of RUNNING tracking runs idle since ``inactive_before`` that no active job attempt owns."""
    owned = select(jobs.c.run_id).where(jobs.c.state.in_(ACTIVE_STATES), jobs.c.run_id.is_not(None))
    statement = (
        select(runs.c.run_uuid)
        .where(
            runs.c.status == "RUNNING",
            runs.c.lifecycle_stage == "active",
            runs.c.last_activity_time < inactive_before,
            runs.c.run_uuid.not_in(owned),
        )
        .limit(limit)
    )
    return list(connection.execute(statement).scalars())
