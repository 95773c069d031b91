"""SDK: jobs (submit, list, show, cancel, retry, events, logs)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from runyard.client._base import BaseClient

TERMINAL_STATES = frozenset({"succeeded", "failed", "cancelled"})


class JobsMixin(BaseClient):
    def submit_job(
        self,
        recipe: str,
        *,
        queue: str = "default",
        parameters: Mapping[str, Any] | None = None,
        gpus: int | None = None,
        priority: int = 0,
        retries: int = 0,
        timeout_seconds: float | None = None,
        env: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Queue a job of ``recipe`` (``NAME`` or ``NAME:VERSION``); returns the job."""
        body: dict[str, Any] = {
            "recipe": recipe,
            "queue": queue,
            "parameters": dict(parameters or {}),
            "priority": priority,
            "retries": retries,
            "env": dict(env or {}),
        }
        if gpus is not None:
            body["gpus"] = gpus
        if timeout_seconds is not None:
            body["timeout_seconds"] = timeout_seconds
        return dict(self.json("POST", "/api/v1/jobs", json=body)["job"])

    def list_jobs(
        self,
        *,
        states: list[str] | None = None,
        queue: str | None = None,
        recipe: str | None = None,
        limit: int = 100,
        before: str | None = None,
    ) -> list[dict[str, Any]]:
        params: list[tuple[str, str | int]] = [("limit", limit)]
        params += [("state", state) for state in states or []]
        for key, value in (("queue", queue), ("recipe", recipe), ("before", before)):
            if value:
                params.append((key, value))
        return list(self.json("GET", "/api/v1/jobs", params=params)["jobs"])

    def get_job(self, job_id: str) -> dict[str, Any]:
        return dict(self.json("GET", f"/api/v1/jobs/{job_id}")["job"])

    def get_job_attempts(self, job_id: str) -> list[dict[str, Any]]:
        return list(self.json("GET", f"/api/v1/jobs/{job_id}")["attempts"])

    def cancel_job(self, job_id: str) -> dict[str, Any]:
        return dict(self.json("POST", f"/api/v1/jobs/{job_id}/cancel")["job"])

    def retry_job(self, job_id: str) -> dict[str, Any]:
        return dict(self.json("POST", f"/api/v1/jobs/{job_id}/retry")["job"])

    def job_events(self, job_id: str, *, after: int = 0) -> list[dict[str, Any]]:
        return list(self.json("GET", f"/api/v1/jobs/{job_id}/events", params={"after": after})["events"])

    def job_logs(
        self, job_id: str, *, after: int = 0, attempt: int | None = None, wait_seconds: float = 0.0
    ) -> dict[str, Any]:
        """``{"lines": […], "next_after": id, "state": job state}``; ``wait_seconds`` long-polls."""
        params: dict[str, Any] = {"after": after, "wait_seconds": wait_seconds}
        if attempt is not None:
            params["attempt"] = attempt
        timeout = max(30.0, wait_seconds + 10.0)
        return dict(self.json("GET", f"/api/v1/jobs/{job_id}/logs", params=params, timeout=timeout))

    def follow_job_logs(self, job_id: str, *, after: int = 0, poll_seconds: float = 20.0) -> Iterator[dict[str, Any]]:
        """Yield log lines as they arrive until the job is over (long-polling; no busy loop)."""
        while True:
            page = self.job_logs(job_id, after=after, wait_seconds=poll_seconds)
            yield from page["lines"]
            after = int(page["next_after"])
            if not page["lines"] and page["state"] in TERMINAL_STATES:
                return

    def wait_for_job(self, job_id: str, *, timeout: float = 600.0) -> dict[str, Any]:
        """Block until the job is succeeded, failed or cancelled; returns it."""
        import time

        deadline = time.monotonic() + timeout
        after = 0
        while True:
            page = self.job_logs(job_id, after=after, wait_seconds=min(20.0, max(0.0, deadline - time.monotonic())))
            after = int(page["next_after"])
            if page["state"] in TERMINAL_STATES and not page["lines"]:
                return self.get_job(job_id)
            if time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} is still {page['state']} after {timeout} s")
