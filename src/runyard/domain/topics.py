"""Names of wake-up topics: what a waiting claim or log follower listens on, and a commit notifies."""

from __future__ import annotations


def queue_topic(queue: str) -> str:
    """Notified when a queue may have work for its agents (a job submitted, retried or requeued)."""
    return f"queue:{queue}"


def job_topic(job_id: str) -> str:
    """Notified when a job changes (state, cancellation, new log lines)."""
    return f"job:{job_id}"
