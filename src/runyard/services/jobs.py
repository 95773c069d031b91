"""Jobs: submission (with parameter validation), reads, cancel, manual retry, and state transitions.

Every transition goes through ``transition``: it checks the state machine, updates the job row and
appends the matching event in the caller's transaction, so a state change and its history entry
are committed together or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import jsonschema
from sqlalchemy import Connection, Row

from runyard.domain.clock import now_ms
from runyard.domain.jobs import Attempt, Job, JobState, check_transition
from runyard.domain.recipes import MAX_GPUS
from runyard.errors import AlreadyExists, Conflict, InvalidParameter, NotFound
from runyard.services import experiments as experiment_service
from runyard.services import job_runs
from runyard.services import pools as pool_service
from runyard.services import recipes as recipe_service
from runyard.services.identity_permissions import Readable
from runyard.services.workspaces import current_workspace, workspace_scope
from runyard.stores.metadata import experiments as experiment_store
from runyard.stores.metadata import jobs as store

MAX_PRIORITY = 1_000_000
MAX_RETRIES = 100
USER_CANCEL_REASON = "cancelled by user"


def parse_job_id(job_id: str | int) -> int:
    text = str(job_id).strip()
    if text.startswith("j-"):
        text = text[2:]
    # ASCII only: str.isdigit() accepts '²' or '١', which int() then refuses or reads as another number.
    if not (text.isascii() and text.isdigit()) or len(text) > 12:
        raise InvalidParameter(f"Invalid job id {job_id!r}: job ids are numbers")
    return int(text)


def validate_parameters(schema: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """Check ``parameters`` against the recipe's JSON Schema; fill top-level defaults.

    The error names the failing field (``parameters.lr``) so the user knows what to fix.
    """
    filled = dict(parameters)
    for key, spec in (schema.get("properties") or {}).items():
        if key not in filled and isinstance(spec, dict) and "default" in spec:
            filled[key] = spec["default"]
    validator_class = jsonschema.validators.validator_for(schema)
    error = jsonschema.exceptions.best_match(validator_class(schema).iter_errors(filled))
    if error is None:
        return filled
    path = [str(part) for part in error.absolute_path]
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [name for name in error.validator_value if name not in error.instance]
        path.append(str(missing[0]) if missing else "?")
        raise InvalidParameter(f"Missing value for required parameter 'parameters.{'.'.join(path)}'.")
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set((error.schema or {}).get("properties", {}) if isinstance(error.schema, dict) else {})
        extra = sorted(name for name in error.instance if name not in allowed)
        path.append(extra[0] if extra else "?")
        raise InvalidParameter(f"Unknown parameter 'parameters.{'.'.join(path)}': the recipe does not declare it.")
    where = "parameters." + ".".join(path) if path else "parameters"
    shown = json.dumps(error.instance, default=str)[:200]
    raise InvalidParameter(f"Invalid value {shown} for parameter '{where}': {error.message}")


def submit_job(
    connection: Connection,
    *,
    recipe: str,
    version: int | None,
    queue: str,
    parameters: dict[str, Any],
    gpus: int | None = None,
    priority: int = 0,
    retries: int = 0,
    timeout_seconds: float | None = None,
    env: dict[str, str] | None = None,
    user_id: str | None = None,
) -> Job:
    """Validate and queue a job; it waits in ``queued`` until the scheduler places it."""
    recipe_version = recipe_service.get_version(connection, recipe, version)
    manifest = recipe_version.manifest
    pool_service.check_queue_name(queue)
    if not -MAX_PRIORITY <= priority <= MAX_PRIORITY:
        raise InvalidParameter(
            f"Invalid value {priority} for parameter 'priority': use -{MAX_PRIORITY}..{MAX_PRIORITY}"
        )
    if not 0 <= retries <= MAX_RETRIES:
        raise InvalidParameter(f"Invalid value {retries} for parameter 'retries': use 0..{MAX_RETRIES}")
    if timeout_seconds is not None and timeout_seconds <= 0:
        raise InvalidParameter("Invalid value for parameter 'timeout_seconds': it must be positive")
    wanted_gpus = manifest.resources.gpus if gpus is None else gpus
    if not 0 <= wanted_gpus <= MAX_GPUS:
        raise InvalidParameter(f"Invalid value {wanted_gpus} for parameter 'gpus': use 0..{MAX_GPUS}")
    checked = validate_parameters(manifest.parameters, parameters)
    job_runs.check_param_names(checked)
    _check_capacity(connection, queue, wanted_gpus)
    queue_priority = pool_service.queue_priority(connection, queue)
    experiment_id = _experiment_for(connection, recipe_version.name)
    now = now_ms()
    job_id = store.insert_job(
        connection,
        workspace=current_workspace(),
        recipe_name=recipe_version.name,
        recipe_version=recipe_version.version,
        queue=queue,
        parameters=json.dumps(checked),
        env=json.dumps({**manifest.env, **(env or {})}),
        gpus=wanted_gpus,
        cpus=manifest.resources.cpus,
        memory_mb=manifest.resources.memory_mb,
        timeout_seconds=timeout_seconds if timeout_seconds is not None else manifest.resources.timeout_seconds,
        priority=priority,
        queue_rank=-queue_priority,
        priority_rank=-priority,
        max_retries=retries,
        state=JobState.QUEUED.value,
        attempt=0,
        experiment_id=experiment_id,
        cancel_requested=False,
        inactive=False,
        user_id=user_id,
        submitted_time=now,
        last_update_time=now,
    )
    add_event(connection, job_id, 0, "submitted", to_state=JobState.QUEUED, time=now, message=f"queue {queue}")
    return get_job(connection, job_id)


def _check_capacity(connection: Connection, queue: str, gpus: int) -> None:
    offered = pool_service.max_gpus_for_queue(connection, queue)
    if offered is None or gpus <= offered[0]:
        return
    most, pools = offered
    raise InvalidParameter(
        f"The job asks for {gpus} GPUs but no compute pool serving queue '{queue}' offers that many per "
        f"replica (the most is {most}, pools: {', '.join(pools)}); ask for at most {most} GPUs or use another queue."
    )


def _experiment_for(connection: Connection, recipe: str) -> int:
    """The experiment named after the recipe, created on first use (safe against concurrent creation)."""
    for _ in range(2):
        experiment = experiment_store.experiment_state_by_name(connection, recipe, current_workspace())
        if experiment is None:
            try:
                return int(experiment_service.create_experiment(connection, recipe))
            except AlreadyExists:
                continue
        if experiment.lifecycle_stage != "active":
            raise InvalidParameter(
                f"The experiment '{recipe}' that records this recipe's runs is deleted; restore it first."
            )
        return int(experiment.experiment_id)
    raise Conflict(f"could not create the experiment for recipe '{recipe}'; retry")


def get_job(connection: Connection, job_id: str | int) -> Job:
    row = store.get_job(connection, parse_job_id(job_id), workspace=workspace_scope())
    if row is None:
        raise NotFound(f"Job {job_id} does not exist")
    return to_job(row)


def lock_job(connection: Connection, job_id: str | int) -> Row[Any]:
    row = store.get_job(connection, parse_job_id(job_id), lock=True, workspace=workspace_scope())
    if row is None:
        raise NotFound(f"Job {job_id} does not exist")
    return row


def list_jobs(
    connection: Connection,
    *,
    states: Sequence[str] = (),
    queue: str | None = None,
    recipe: str | None = None,
    worker_id: str | None = None,
    limit: int = 100,
    before: str | None = None,
    readable_queues: Readable | None = None,
) -> list[Job]:
    """Newest first; ``readable_queues`` keeps only jobs of queues the principal may read (None: all)."""
    for state in states:
        try:
            JobState(state)
        except ValueError:
            raise InvalidParameter(
                f"Invalid value {state!r} for parameter 'state': use one of {', '.join(s.value for s in JobState)}"
            ) from None
    if not 1 <= limit <= 1000:
        raise InvalidParameter("Invalid value for parameter 'limit': use 1..1000")
    rows = store.list_jobs(
        connection,
        states=states,
        queue=queue,
        recipe=recipe,
        worker_id=worker_id,
        limit=limit,
        before_id=parse_job_id(before) if before else None,
        workspace=workspace_scope(),
        only_queues=None if readable_queues is None or readable_queues.everything else readable_queues.ids,
        except_queues=frozenset() if readable_queues is None else readable_queues.denied,
    )
    return [to_job(row) for row in rows]


def list_attempts(connection: Connection, job_id: str | int) -> list[Attempt]:
    job = get_job(connection, job_id)
    return [
        Attempt(
            attempt=int(row.attempt),
            worker_id=row.worker_id,
            gpus=json.loads(row.gpus),
            run_id=row.run_id,
            state=row.state,
            reason=row.reason,
            exit_code=row.exit_code,
            assigned_time=int(row.assigned_time),
            started_time=row.started_time,
            finished_time=row.finished_time,
        )
        for row in store.list_attempts(connection, int(job.job_id))
    ]


def cancel_job(connection: Connection, job_id: str | int, reason: str = USER_CANCEL_REASON) -> Job:
    """Cancel a queued job at once; ask the agent of an assigned/running one to stop it."""
    row = lock_job(connection, job_id)
    state = JobState(row.state)
    if state is JobState.QUEUED:
        transition(connection, row, JobState.CANCELLED, message=reason, reason=reason, finished_time=now_ms())
    elif state.is_active:
        if not row.cancel_requested:
            store.update_job(
                connection, row.job_id, cancel_requested=True, cancel_reason=reason, last_update_time=now_ms()
            )
            add_event(connection, row.job_id, row.attempt, "cancel_requested", message=reason, worker_id=row.worker_id)
    else:
        raise Conflict(f"Job {row.job_id} is already {state}; nothing to cancel")
    return get_job(connection, row.job_id)


def retry_job(connection: Connection, job_id: str | int) -> Job:
    """Queue a finished job again: its next placement starts a new attempt with a new run."""
    row = lock_job(connection, job_id)
    state = JobState(row.state)
    if not state.is_terminal:
        raise Conflict(f"Job {row.job_id} is {state}; only a succeeded, failed or cancelled job can be retried")
    transition(
        connection,
        row,
        JobState.QUEUED,
        message="retried by user",
        worker_id=None,
        assigned_gpus=None,
        cancel_requested=False,
        cancel_reason=None,
        inactive=False,
        reason=None,
        exit_code=None,
        finished_time=None,
    )
    return get_job(connection, row.job_id)


def transition(
    connection: Connection,
    row: Row[Any],
    target: JobState,
    *,
    message: str | None = None,
    event_worker: str | None = None,
    **values: Any,
) -> None:
    """Move the (locked) job ``row`` to ``target``: one row update and one event, same transaction."""
    current = JobState(row.state)
    check_transition(current, target)
    now = now_ms()
    store.update_job(connection, row.job_id, state=target.value, last_update_time=now, **values)
    add_event(
        connection,
        row.job_id,
        int(values.get("attempt", row.attempt)),
        target.value,
        from_state=current,
        to_state=target,
        message=message,
        worker_id=event_worker or row.worker_id,
        time=now,
    )


def add_event(
    connection: Connection,
    job_id: int,
    attempt: int,
    kind: str,
    *,
    from_state: str | None = None,
    to_state: str | None = None,
    message: str | None = None,
    worker_id: str | None = None,
    time: int | None = None,
) -> None:
    store.insert_events(
        connection,
        [
            {
                "job_id": job_id,
                "attempt": attempt,
                "time": time if time is not None else now_ms(),
                "kind": kind,
                "from_state": from_state,
                "to_state": to_state,
                "worker_id": worker_id,
                "message": message,
            }
        ],
    )


def to_job(row: Row[Any]) -> Job:
    return Job(
        job_id=str(row.job_id),
        recipe=row.recipe_name,
        recipe_version=int(row.recipe_version),
        queue=row.queue,
        state=row.state,
        parameters=json.loads(row.parameters),
        env=json.loads(row.env),
        resources={
            "gpus": int(row.gpus),
            "cpus": row.cpus,
            "memory_mb": row.memory_mb,
            "timeout_seconds": row.timeout_seconds,
        },
        priority=int(row.priority),
        max_retries=int(row.max_retries),
        attempt=int(row.attempt),
        worker_id=row.worker_id,
        gpus=json.loads(row.assigned_gpus) if row.assigned_gpus else [],
        run_id=row.run_id,
        experiment_id=str(row.experiment_id) if row.experiment_id is not None else None,
        cancel_requested=bool(row.cancel_requested),
        inactive=bool(row.inactive),
        reason=row.reason,
        exit_code=row.exit_code,
        user_id=row.user_id,
        submitted_time=int(row.submitted_time),
        assigned_time=row.assigned_time,
        started_time=row.started_time,
        finished_time=row.finished_time,
        last_update_time=int(row.last_update_time),
    )
