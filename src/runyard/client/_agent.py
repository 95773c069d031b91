"""The agent endpoints of ``/api/v1`` (docs/agent-protocol.md): register, heartbeat, claim, report, logs, files.

``AgentAPI`` is a mixin over ``BaseClient``; ``runyard.client.Client`` composes it with the other
resource mixins. Every method raises ``runyard.errors`` classes: ``Unavailable`` when the server
cannot be reached or answers 502/503/504 (back off and retry), ``NotFound`` for an unknown worker
(register again), ``Conflict`` for an attempt that is no longer current (kill it).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from runyard.client._base import BaseClient, raise_for_error
from runyard.domain.workspaces import WORKSPACE_HEADER
from runyard.errors import Unavailable

CHUNK_BYTES = 1024 * 1024
# A claim is a long poll: the HTTP read timeout must outlast the wait the server is asked for.
CLAIM_TIMEOUT_MARGIN_SECONDS = 15.0
TRANSFER_TIMEOUT = httpx.Timeout(300.0, connect=5.0)


def _read_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as source:
        while chunk := source.read(CHUNK_BYTES):
            yield chunk


class AgentAPI(BaseClient):
    """Methods a ``runyard agent`` uses to take part in a compute pool."""

    def register_worker(
        self,
        *,
        name: str,
        pool: str,
        hostname: str,
        gpus: Sequence[str],
        slots: int,
        labels: Mapping[str, str] | None = None,
        version: str = "",
    ) -> dict[str, Any]:
        """Join ``pool``; returns ``{"worker_id", "lease_seconds", "heartbeat_seconds"}``."""
        body = {
            "name": name,
            "pool": pool,
            "hostname": hostname,
            "gpus": list(gpus),
            "slots": slots,
            "labels": dict(labels or {}),
            "version": version,
        }
        result: dict[str, Any] = self.json("POST", "/api/v1/workers/register", json=body)
        return result

    def heartbeat(self, worker_id: str, running: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Extend the lease; returns ``{"cancel": [...], "lease_expires_at": ms}``."""
        result: dict[str, Any] = self.json(
            "POST", f"/api/v1/workers/{quote(worker_id, safe='')}/heartbeat", json={"running": list(running)}
        )
        return result

    def deregister_worker(self, worker_id: str) -> None:
        """Leave the pool (graceful shutdown); the server marks the worker's running attempts lost."""
        self.request("POST", f"/api/v1/workers/{quote(worker_id, safe='')}/deregister")

    def claim(self, worker_id: str, wait_seconds: float) -> dict[str, Any] | None:
        """Wait up to ``wait_seconds`` for the scheduler to assign an attempt; ``None`` if none came."""
        assignments = self.claim_many(worker_id, wait_seconds, 1)
        return assignments[0] if assignments else None

    def claim_many(self, worker_id: str, wait_seconds: float, max_assignments: int) -> list[dict[str, Any]]:
        """Like ``claim``, but take up to ``max_assignments`` attempts in one answer (an empty list if none came)."""
        timeout = httpx.Timeout(wait_seconds + CLAIM_TIMEOUT_MARGIN_SECONDS, connect=5.0)
        body = self.json(
            "POST",
            f"/api/v1/workers/{quote(worker_id, safe='')}/claim",
            json={"wait_seconds": wait_seconds, "max_assignments": max_assignments},
            timeout=timeout,
        )
        assignments: list[dict[str, Any]] = body.get("assignments") or []
        if not assignments and body.get("assignment"):
            assignments = [body["assignment"]]  # a server that answers with one only
        return assignments

    def report_status(
        self, job_id: str, attempt: int, state: str, *, exit_code: int | None = None, reason: str | None = None
    ) -> dict[str, Any]:
        """Report an attempt's state (``running``, ``succeeded``, ``failed``, ``cancelled``)."""
        body: dict[str, Any] = {"state": state}
        if exit_code is not None:
            body["exit_code"] = exit_code
        if reason is not None:
            body["reason"] = reason
        result: dict[str, Any] = self.json(
            "POST", f"/api/v1/jobs/{quote(job_id, safe='')}/attempts/{attempt}/status", json=body
        )
        return result

    def append_logs(self, job_id: str, attempt: int, lines: Sequence[Mapping[str, Any]]) -> None:
        """Append ``{"stream", "line", "ts"}`` lines to the attempt's log, in order."""
        self.request(
            "POST", f"/api/v1/jobs/{quote(job_id, safe='')}/attempts/{attempt}/logs", json={"lines": list(lines)}
        )

    def download_bundle(self, bundle_url: str, destination: Path, *, workspace: str | None = None) -> None:
        """Stream a recipe bundle (``.tar.gz``) to ``destination``, atomically (no partial file left).

        ``workspace`` is the recipe's (an assignment says which); recipes are named within one.
        """
        headers = {WORKSPACE_HEADER: workspace} if workspace else None
        destination.parent.mkdir(parents=True, exist_ok=True)
        handle, partial = tempfile.mkstemp(dir=destination.parent, prefix=".download-")
        try:
            with os.fdopen(handle, "wb") as target:
                try:
                    with self._http.stream("GET", bundle_url, headers=headers, timeout=TRANSFER_TIMEOUT) as response:
                        if not response.is_success:
                            response.read()
                            raise_for_error(response)
                        for chunk in response.iter_bytes(CHUNK_BYTES):
                            target.write(chunk)
                except httpx.TransportError as error:
                    raise Unavailable(f"cannot download {bundle_url} from {self.base_url}: {error}") from error
            os.replace(partial, destination)
        finally:
            if os.path.exists(partial):
                os.unlink(partial)

    def upload_artifact(
        self,
        experiment_id: str,
        run_id: str,
        artifact_path: str,
        source: Path,
        *,
        token: str | None = None,
        workspace: str | None = None,
    ) -> None:
        """Stream ``source`` into the run's artifacts at ``artifact_path`` through the server's artifact proxy.

        ``token`` (the job's scoped credential) replaces the client's own for this request; ``workspace``
        is the run's (its experiment's).
        """
        url = (
            f"/api/2.0/mlflow-artifacts/artifacts/{quote(experiment_id, safe='')}/{quote(run_id, safe='')}"
            f"/artifacts/{quote(artifact_path)}"
        )
        headers = {"Content-Length": str(source.stat().st_size), "Content-Type": "application/octet-stream"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if workspace:
            headers[WORKSPACE_HEADER] = workspace
        self.request("PUT", url, content=_read_chunks(source), headers=headers, timeout=TRANSFER_TIMEOUT)
