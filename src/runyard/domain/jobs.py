"""The job state machine and compute value types (pure: no I/O).

::

    queued ──► assigned ──► running ──► succeeded | failed | cancelled
       ▲          │            │
       │          └──► lost ◄──┘        (the worker's lease expired or it deregistered)
       └───────────────┘                (the retry policy requeues a lost or failed attempt)

``queued`` jobs can be cancelled directly; ``assigned``/``running`` ones are cancelled by their
agent (the server asks through the heartbeat's cancel list) or, if their worker disappears, end
``lost`` and then ``cancelled``. A terminal job can be retried by hand, which queues a new attempt.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from runyard.errors import Conflict


class JobState(enum.StrEnum):
    QUEUED = "queued"
    ASSIGNED = "assigned"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    LOST = "lost"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES

    @property
    def is_active(self) -> bool:
        """The job holds a worker's capacity (GPUs or a slot)."""
        return self in (JobState.ASSIGNED, JobState.RUNNING)


TERMINAL_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})

ALLOWED_TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.QUEUED: frozenset({JobState.ASSIGNED, JobState.CANCELLED}),
    JobState.ASSIGNED: frozenset(
        {JobState.RUNNING, JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.LOST}
    ),
    JobState.RUNNING: frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.LOST}),
    JobState.LOST: frozenset({JobState.QUEUED, JobState.FAILED, JobState.CANCELLED}),
    JobState.SUCCEEDED: frozenset({JobState.QUEUED}),
    JobState.FAILED: frozenset({JobState.QUEUED}),
    JobState.CANCELLED: frozenset({JobState.QUEUED}),
}

# What an agent may report for its attempt (the server decides queued/assigned/lost itself).
REPORTABLE_STATES = frozenset({JobState.RUNNING, JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})


def check_transition(current: JobState, target: JobState) -> None:
    """Raise ``Conflict`` unless ``current → target`` is a transition of the state machine."""
    if target not in ALLOWED_TRANSITIONS[current]:
        raise Conflict(f"a job cannot go from '{current}' to '{target}'")


def should_retry(attempts_used: int, max_retries: int, *, cancel_requested: bool) -> bool:
    """The retry policy: a lost or failed attempt is retried while retries remain, unless cancelled."""
    return not cancel_requested and attempts_used <= max_retries


class WorkerState(enum.StrEnum):
    ACTIVE = "active"
    LOST = "lost"
    GONE = "gone"


class EntrypointKind(enum.StrEnum):
    PYTHON = "python"
    MODULE = "module"
    COMMAND = "command"


@dataclass(frozen=True, slots=True)
class Resources:
    gpus: int = 0
    cpus: float | None = None
    memory_mb: int | None = None
    timeout_seconds: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "gpus": self.gpus,
            "cpus": self.cpus,
            "memory_mb": self.memory_mb,
            "timeout_seconds": self.timeout_seconds,
        }


@dataclass(frozen=True, slots=True)
class JobEvent:
    event_id: int
    job_id: str
    attempt: int
    time: int
    kind: str
    from_state: str | None
    to_state: str | None
    worker_id: str | None
    message: str | None


@dataclass(frozen=True, slots=True)
class LogLine:
    line_id: int
    attempt: int
    stream: str
    ts: int
    line: str


@dataclass(slots=True)
class GpuFit:
    """Which of a worker's GPUs a job gets: the first ``count`` free ids in inventory order."""

    inventory: list[str]
    in_use: set[str] = field(default_factory=set)

    @property
    def free(self) -> list[str]:
        return [gpu for gpu in self.inventory if gpu not in self.in_use]

    def take(self, count: int) -> list[str] | None:
        free = self.free
        if count > len(free):
            return None
        chosen = free[:count]
        self.in_use.update(chosen)
        return chosen


@dataclass(frozen=True, slots=True)
class Job:
    job_id: str
    recipe: str
    recipe_version: int
    queue: str
    state: str
    parameters: dict[str, Any]
    env: dict[str, str]
    resources: dict[str, Any]
    priority: int
    max_retries: int
    attempt: int
    worker_id: str | None
    gpus: list[str]
    run_id: str | None
    experiment_id: str | None
    cancel_requested: bool
    inactive: bool
    reason: str | None
    exit_code: int | None
    user_id: str | None
    submitted_time: int
    assigned_time: int | None
    started_time: int | None
    finished_time: int | None
    last_update_time: int


@dataclass(frozen=True, slots=True)
class Attempt:
    attempt: int
    worker_id: str
    gpus: list[str]
    run_id: str | None
    state: str
    reason: str | None
    exit_code: int | None
    assigned_time: int
    started_time: int | None
    finished_time: int | None


@dataclass(frozen=True, slots=True)
class CancelOrder:
    """An attempt an agent must kill, sent in the heartbeat answer."""

    job_id: str
    attempt: int
    reason: str
