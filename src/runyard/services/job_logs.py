"""A job's log lines (appended by its agent, stored durably in order) and its event history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from runyard.domain.clock import now_ms
from runyard.domain.jobs import JobEvent, LogLine
from runyard.errors import Conflict, InvalidParameter, LimitExceeded
from runyard.services import jobs as job_service
from runyard.services.workspaces import every_workspace
from runyard.stores.metadata import jobs as store

MAX_LINES_PER_BATCH = 10_000
MAX_LINE_CHARS = 64 * 1024
STREAMS = ("stdout", "stderr", "system")


@dataclass(frozen=True, slots=True)
class LineIn:
    stream: str
    line: str
    ts: int | None = None


@every_workspace
def append_lines(connection: Connection, job_id: str | int, attempt: int, lines: Sequence[LineIn]) -> int:
    """Store ``lines`` of ``attempt``; returns how many. Counts as activity for the inactivity watchdog."""
    if len(lines) > MAX_LINES_PER_BATCH:
        raise LimitExceeded(f"at most {MAX_LINES_PER_BATCH} log lines per request ({len(lines)} given)")
    number = job_service.parse_job_id(job_id)
    if store.get_attempt(connection, number, attempt) is None:
        job_service.get_job(connection, number)  # 404 for an unknown job
        raise Conflict(f"job {number} has no attempt {attempt}")
    now = now_ms()
    rows = []
    for index, line in enumerate(lines):
        if line.stream not in STREAMS:
            raise InvalidParameter(
                f"Invalid value {line.stream!r} for parameter 'lines[{index}].stream': use stdout or stderr"
            )
        rows.append(
            {
                "job_id": number,
                "attempt": attempt,
                "stream": line.stream,
                "ts": line.ts if line.ts is not None else now,
                # Oversize lines are cut rather than refused: losing a log batch is worse.
                "line": line.line[:MAX_LINE_CHARS],
            }
        )
    store.insert_log_lines(connection, rows)
    if rows:
        store.update_attempt(connection, number, attempt, last_log_time=now)
    return len(rows)


def read_lines(
    connection: Connection,
    job_id: str | int,
    *,
    after: int = 0,
    attempt: int | None = None,
    limit: int = 1000,
    before: int | None = None,
    tail: bool = False,
) -> list[LogLine]:
    """Lines after line id ``after``, oldest first (pass the last id seen to follow).

    With ``tail`` or ``before``: the last ``limit`` lines of the log (before line id ``before``), still
    oldest first, so a long log opens at its end and pages backwards.
    """
    number = job_service.parse_job_id(job_id)
    job_service.get_job(connection, number)
    if not 1 <= limit <= 10_000:
        raise InvalidParameter("Invalid value for parameter 'limit': use 1..10000")
    if tail or before is not None:
        rows = store.list_log_lines_before(connection, number, before_id=before, attempt=attempt, limit=limit)
        rows.reverse()
    else:
        rows = store.list_log_lines(connection, number, after_id=after, attempt=attempt, limit=limit)
    return [
        LogLine(line_id=int(row.line_id), attempt=int(row.attempt), stream=row.stream, ts=int(row.ts), line=row.line)
        for row in rows
    ]


def list_events(connection: Connection, job_id: str | int, *, after: int = 0, limit: int = 1000) -> list[JobEvent]:
    number = job_service.parse_job_id(job_id)
    job_service.get_job(connection, number)
    return [
        JobEvent(
            event_id=int(row.event_id),
            job_id=str(row.job_id),
            attempt=int(row.attempt),
            time=int(row.time),
            kind=row.kind,
            from_state=row.from_state,
            to_state=row.to_state,
            worker_id=row.worker_id,
            message=row.message,
        )
        for row in store.list_events(connection, number, after_id=after, limit=limit)
    ]
