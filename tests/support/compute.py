"""Helpers for compute tests: recipe directories and "fake agents" (plain HTTP clients of the real server).

A fake agent speaks docs/agent-protocol.md through the real SDK without running anything, for tests
that are about the server's scheduling (placement, priorities, leases) rather than the sandbox.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from runyard.client import Client


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def write_recipe(
    directory: Path,
    name: str,
    *,
    parameters: dict[str, Any] | None = None,
    gpus: int = 0,
    script: str = "print('hello')\n",
    extra: dict[str, Any] | None = None,
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {"name": name, "entrypoint": "main.py", "resources": {"gpus": gpus}}
    if parameters is not None:
        manifest["parameters"] = parameters
    manifest.update(extra or {})
    (directory / "runyard.yaml").write_text(yaml.safe_dump(manifest))
    (directory / "main.py").write_text(script)
    return directory


@dataclass
class FakeAgent:
    """A registered worker driven by hand: claim, report, heartbeat."""

    client: Client
    pool: str
    gpus: list[str]
    slots: int = 1
    worker_id: str = ""
    held: dict[str, dict[str, Any]] = field(default_factory=dict)

    def register(self) -> FakeAgent:
        answer = self.client.register_worker(
            name=unique("fake"), pool=self.pool, hostname="test", gpus=self.gpus, slots=self.slots
        )
        self.worker_id = answer["worker_id"]
        return self

    def claim(self, wait_seconds: float = 0.0) -> dict[str, Any] | None:
        assignment = self.client.claim(self.worker_id, wait_seconds)
        if assignment is not None:
            self.held[assignment["job_id"]] = assignment
        return assignment

    def claim_all(self) -> list[dict[str, Any]]:
        claimed = []
        while (assignment := self.claim()) is not None:
            claimed.append(assignment)
        return claimed

    def finish(self, job_id: str, state: str = "succeeded", exit_code: int | None = 0) -> dict[str, Any]:
        assignment = self.held.pop(job_id)
        self.client.report_status(job_id, assignment["attempt"], "running")
        return self.client.report_status(job_id, assignment["attempt"], state, exit_code=exit_code)

    def heartbeat(self) -> dict[str, Any]:
        running = [{"job_id": job_id, "attempt": a["attempt"]} for job_id, a in self.held.items()]
        return self.client.heartbeat(self.worker_id, running)
