"""Attempts: starting one (its tracking run and scoped credential), agent status reports, loss, retry policy.

Each attempt gets its own tracking run in the experiment named after the recipe, with the job's
parameters logged as params, and a random credential that is valid only while that attempt is the
job's current, active one. Only the credential's SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row

from runyard.domain.clock import now_ms
from runyard.domain.jobs import REPORTABLE_STATES, JobState, check_transition, should_retry
from runyard.domain.tracking import RunStatus, Tag
from runyard.errors import Conflict, InvalidParameter, RunyardError, Unauthenticated
from runyard.services import job_runs
from runyard.services import jobs as job_service
from runyard.services import runs as run_service
from runyard.services.workspaces import every_workspace
from runyard.stores.metadata import jobs as store

TOKEN_PREFIX = "ryj_"
RUN_STATUS_FOR = {
    JobState.SUCCEEDED: RunStatus.FINISHED,
    JobState.FAILED: RunStatus.FAILED,
    JobState.CANCELLED: RunStatus.KILLED,
    JobState.LOST: RunStatus.FAILED,
}
# An agent that stops reports its killed attempts like this; they are lost, not cancelled by a user.
SHUTDOWN_REASON = "agent shutdown"


@dataclass(frozen=True, slots=True)
class AttemptStart:
    attempt: int
    run_id: str | None
    experiment_id: str | None
    token: str


@dataclass(frozen=True, slots=True)
class JobIdentity:
    """Who a job credential belongs to."""

    job_id: str
    attempt: int
    run_id: str | None
    experiment_id: str | None


@dataclass(frozen=True, slots=True)
class ReportResult:
    state: str
    requeued_queue: str | None = None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Placement:
    """A queued job row (locked by the caller) and the GPUs chosen for it on the claiming worker."""

    row: Row[Any]
    gpus: list[str]


@every_workspace
def start_attempts(
    connection: Connection, placements: Sequence[Placement], worker_id: str
) -> list[AttemptStart | None]:
    """Assign each placed job to ``worker_id``: its run, credential, attempt row, state and event.

    All jobs are written together, one statement per table, in the caller's transaction. An answer
    is ``None`` when the job's tracking run cannot be created (its experiment was deleted): that
    attempt is then failed at once, so one broken job never blocks the queue behind it.
    """
    if not placements:
        return []
    now = now_ms()
    attempts = [int(placement.row.attempt) + 1 for placement in placements]
    for placement in placements:
        check_transition(JobState(placement.row.state), JobState.ASSIGNED)
    runs = job_runs.create_attempt_runs(
        connection,
        [
            job_runs.RunSpec(
                experiment_id=int(placement.row.experiment_id),
                run_name=f"{placement.row.recipe_name}-{placement.row.job_id}-{attempt}",
                user_id=placement.row.user_id,
                tags=_run_tags(placement.row, attempt, worker_id, placement.gpus),
                parameters=json.loads(placement.row.parameters),
            )
            for placement, attempt in zip(placements, attempts, strict=True)
        ],
    )
    answers: list[AttemptStart | None] = []
    attempt_rows, job_rows, event_rows = [], [], []
    assigned = JobState.ASSIGNED.value
    for placement, attempt, run in zip(placements, attempts, runs, strict=True):
        row, gpus_json = placement.row, json.dumps(placement.gpus)
        run_id = run if isinstance(run, str) else None
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        attempt_rows.append((row.job_id, attempt, worker_id, gpus_json, run_id, hash_token(token), assigned, now, now))
        # ASSIGN_COLUMNS: state … inactive, then the key.
        job_rows.append(
            (assigned, now, attempt, worker_id, gpus_json, run_id, now, None, None, None, None, False, row.job_id)
        )
        message = f"worker {worker_id}, GPUs [{','.join(placement.gpus)}]"
        event_rows.append((row.job_id, attempt, now, assigned, row.state, assigned, worker_id, message))
        experiment_id = str(row.experiment_id) if row.experiment_id is not None else None
        answers.append(AttemptStart(attempt=attempt, run_id=run_id, experiment_id=experiment_id, token=token))
    store.insert_attempts(connection, attempt_rows)
    store.update_jobs(connection, job_rows)
    store.insert_event_rows(connection, event_rows)
    for index, run in enumerate(runs):
        if isinstance(run, RunyardError):
            reason = f"sandbox error: cannot create the tracking run: {run.message}"
            job = job_service.lock_job(connection, placements[index].row.job_id)
            _finish(connection, job, JobState.FAILED, reason=reason, exit_code=None, now=now)
            answers[index] = None
    return answers


def _run_tags(row: Row[Any], attempt: int, worker_id: str, gpus: list[str]) -> list[Tag]:
    return [
        Tag("runyard.job_id", str(row.job_id)),
        Tag("runyard.attempt", str(attempt)),
        Tag("runyard.recipe", row.recipe_name),
        Tag("runyard.recipe_version", str(row.recipe_version)),
        Tag("runyard.queue", row.queue),
        Tag("runyard.worker_id", worker_id),
        Tag("runyard.gpus", ",".join(gpus)),
        Tag("mlflow.source.name", f"runyard recipe {row.recipe_name}:{row.recipe_version}"),
        Tag("mlflow.source.type", "JOB"),
    ]


@every_workspace
def report_status(
    connection: Connection,
    job_id: str | int,
    attempt: int,
    state: str,
    *,
    exit_code: int | None = None,
    reason: str | None = None,
) -> ReportResult:
    """Apply an agent's report for its attempt; a stale attempt answers ``Conflict`` (the agent kills it)."""
    try:
        target = JobState(state)
    except ValueError:
        target = None
    if target is None or target not in REPORTABLE_STATES:
        raise InvalidParameter(
            f"Invalid value {state!r} for parameter 'state': use running, succeeded, failed or cancelled"
        )
    row = job_service.lock_job(connection, job_id)
    current = JobState(row.state)
    if int(row.attempt) != attempt:
        raise Conflict(f"attempt {attempt} of job {row.job_id} is no longer current (attempt {row.attempt} is)")
    if current is target:
        return ReportResult(state=current.value)  # a repeated report (e.g. retried after a timeout)
    if not current.is_active:
        raise Conflict(f"job {row.job_id} is {current}; attempt {attempt} can no longer report '{target}'")
    now = now_ms()
    if target is JobState.RUNNING:
        job_service.transition(connection, row, JobState.RUNNING, started_time=now)
        store.update_attempt(connection, row.job_id, attempt, state="running", started_time=now)
        return ReportResult(state=JobState.RUNNING.value)
    if target is JobState.CANCELLED and not row.cancel_requested:
        return lose(connection, row, reason or SHUTDOWN_REASON)
    if target is JobState.FAILED and not reason:
        reason = f"exit code {exit_code}" if exit_code is not None else "failed"
    if target is JobState.CANCELLED:
        reason = reason or row.cancel_reason or job_service.USER_CANCEL_REASON
    return _finish(connection, row, target, reason=reason, exit_code=exit_code, now=now)


def _finish(
    connection: Connection,
    row: Row[Any],
    target: JobState,
    *,
    reason: str | None,
    exit_code: int | None,
    now: int,
) -> ReportResult:
    attempt = int(row.attempt)
    job_service.transition(
        connection, row, target, message=reason, reason=reason, exit_code=exit_code, finished_time=now
    )
    store.update_attempt(
        connection, row.job_id, attempt, state=target.value, reason=reason, exit_code=exit_code, finished_time=now
    )
    _end_run(connection, row.run_id, target, now)
    if target in (JobState.FAILED, JobState.LOST):
        return _apply_retry_policy(connection, row.job_id, target)
    return ReportResult(state=target.value)


@every_workspace
def lose(connection: Connection, row: Row[Any], reason: str) -> ReportResult:
    """The attempt's worker is gone: mark it ``lost``, then requeue, fail or cancel per the retry policy."""
    return _finish(connection, row, JobState.LOST, reason=f"lost: {reason}", exit_code=None, now=now_ms())


def _apply_retry_policy(connection: Connection, job_id: int, outcome: JobState) -> ReportResult:
    row = job_service.lock_job(connection, job_id)
    attempt = int(row.attempt)
    if should_retry(attempt, int(row.max_retries), cancel_requested=bool(row.cancel_requested)):
        job_service.transition(
            connection,
            row,
            JobState.QUEUED,
            message=f"retry {attempt} of {row.max_retries} after: {row.reason}",
            worker_id=None,
            assigned_gpus=None,
            finished_time=None,
        )
        return ReportResult(state=JobState.QUEUED.value, requeued_queue=row.queue)
    if outcome is JobState.LOST:
        final = JobState.CANCELLED if row.cancel_requested else JobState.FAILED
        reason = row.cancel_reason if row.cancel_requested else row.reason
        job_service.transition(connection, row, final, message=reason, reason=reason)
        return ReportResult(state=final.value)
    return ReportResult(state=outcome.value)


def _end_run(connection: Connection, run_id: str | None, target: JobState, now: int) -> None:
    if not run_id:
        return
    status = RUN_STATUS_FOR.get(target)
    if status is None:
        return
    try:
        with connection.begin_nested():
            run_service.update_run(connection, run_id, status=status.value, end_time=now)
    except RunyardError:
        pass  # the run was deleted by a user; the job's outcome still counts


@every_workspace
def identify(connection: Connection, token: str) -> JobIdentity:
    """The job attempt a credential belongs to; valid only while that attempt is current and active."""
    if not token.startswith(TOKEN_PREFIX):
        raise Unauthenticated("not a job credential")
    attempt = store.attempt_by_token_hash(connection, hash_token(token))
    if attempt is None:
        raise Unauthenticated("unknown job credential")
    job = store.get_job(connection, int(attempt.job_id))
    if job is None or int(job.attempt) != int(attempt.attempt) or not JobState(job.state).is_active:
        raise Unauthenticated("the job credential has expired: its attempt is over")
    return JobIdentity(
        job_id=str(job.job_id),
        attempt=int(attempt.attempt),
        run_id=attempt.run_id,
        experiment_id=str(job.experiment_id) if job.experiment_id is not None else None,
    )


@every_workspace
def authorizes_run(connection: Connection, token: str, run_id: str) -> bool:
    """Whether ``token`` may write to tracking run ``run_id`` (its own attempt's run only)."""
    try:
        return identify(connection, token).run_id == run_id
    except Unauthenticated:
        return False
