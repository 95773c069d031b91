"""Placement: give a claiming worker the best queued job that fits its free GPUs or slots.

Order: queue priority, then job priority (both highest first), then submission order. A job that
does not fit the worker's free capacity is passed over for one that does (backfill), so no GPU idles
while a fitting job waits; the price is that a large job can wait behind a stream of small ones.

Coordination is through the database only, so any number of server replicas can place at once:
the worker's row is locked (its claims and heartbeats queue up, so its GPUs are counted once) and
candidate jobs are read ``FOR UPDATE SKIP LOCKED`` (a job another replica is placing is skipped, and
each job is handed out exactly once). On SQLite the write transaction holds the database write lock,
which serialises placement outright.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from runyard.domain.jobs import GpuFit
from runyard.domain.recipes import RecipeVersion
from runyard.errors import NotFound
from runyard.services import attempts as attempt_service
from runyard.services import recipes as recipe_service
from runyard.stores.metadata import jobs as job_store
from runyard.stores.metadata import pools as pool_store
from runyard.stores.metadata import workers as worker_store

# Jobs whose tracking run cannot be created are failed on the spot; skip a few before giving up.
MAX_FAILED_PER_CLAIM = 5


@dataclass(frozen=True, slots=True)
class Assignment:
    """What an agent needs to run one attempt (the claim answer of docs/agent-protocol.md)."""

    job_id: str
    attempt: int
    run_id: str | None
    experiment_id: str | None
    recipe: dict[str, Any]
    parameters: dict[str, Any]
    gpus: list[str]
    resources: dict[str, Any]
    sandbox: dict[str, Any]
    env: dict[str, str]
    token: str


class Placer:
    """Places jobs for claiming workers; caches recipe versions, which never change once pushed."""

    def __init__(self) -> None:
        self._recipes: dict[tuple[str, int], RecipeVersion] = {}

    def claim(
        self, connection: Connection, worker_id: str, queues: Sequence[str] | None = None, *, limit: int = 1
    ) -> list[Assignment]:
        """Assign up to ``limit`` fitting jobs to ``worker_id`` in this transaction (best first).

        ``queues`` are the queues the worker's pool serves when the caller already read them. Placing
        several at once costs one commit instead of several, which is what bounds placement rate.
        """
        worker = worker_store.get_worker(connection, worker_id, lock=True)
        if worker is None or worker.state != "active":
            raise NotFound(f"Worker {worker_id} is not registered (its lease expired?); register again")
        if queues is None:
            queues = pool_store.queues_of_pool(connection, worker.pool)
        if not queues:
            return []
        fit = GpuFit(inventory=json.loads(worker.gpus))
        cpu_jobs = 0
        for row in job_store.active_jobs_of_worker(connection, worker_id):
            held = json.loads(row.assigned_gpus) if row.assigned_gpus else []
            fit.in_use.update(held)
            cpu_jobs += 0 if held else 1
        free_slots = int(worker.slots) - cpu_jobs
        placed: list[Assignment] = []
        failures = 0
        while len(placed) < limit and failures < MAX_FAILED_PER_CLAIM:
            free_gpus = len(fit.free)
            if free_gpus == 0 and free_slots <= 0:
                break
            candidates = job_store.lock_candidates(
                connection, queues=queues, min_gpus=0 if free_slots > 0 else 1, max_gpus=free_gpus, limit=1
            )
            if not candidates:
                break
            row = candidates[0]
            gpus = fit.take(int(row.gpus)) or []
            started = attempt_service.start_attempt(connection, row, worker_id, gpus)
            if started is None:
                fit.in_use.difference_update(gpus)
                failures += 1
                continue
            free_slots -= 0 if gpus else 1
            placed.append(self._assignment(connection, row, started, gpus))
        return placed

    def _recipe(self, connection: Connection, name: str, version: int) -> RecipeVersion:
        key = (name, version)
        if key not in self._recipes:
            if len(self._recipes) > 1024:
                self._recipes.clear()
            self._recipes[key] = recipe_service.get_version(connection, name, version)
        return self._recipes[key]

    def _assignment(
        self, connection: Connection, row: Any, started: attempt_service.AttemptStart, gpus: list[str]
    ) -> Assignment:
        recipe = self._recipe(connection, row.recipe_name, int(row.recipe_version))
        manifest = recipe.manifest
        resources = {
            "gpus": int(row.gpus),
            "cpus": row.cpus,
            "memory_mb": row.memory_mb,
            "timeout_seconds": row.timeout_seconds,
        }
        return Assignment(
            job_id=str(row.job_id),
            attempt=started.attempt,
            run_id=started.run_id,
            experiment_id=started.experiment_id,
            recipe={
                "name": recipe.name,
                "version": recipe.version,
                "digest": recipe.digest,
                "entrypoint": {"kind": manifest.entrypoint.kind.value, "target": manifest.entrypoint.target},
                "requirements": manifest.requirements,
                "bundle_url": f"/api/v1/recipes/{recipe.name}/versions/{recipe.version}/bundle",
            },
            parameters=json.loads(row.parameters),
            gpus=gpus,
            resources=resources,
            sandbox={
                "isolation": manifest.sandbox.isolation,
                "network": manifest.sandbox.network,
                "memory_limit_mb": row.memory_mb,
                "cpu_seconds": manifest.sandbox.cpu_seconds,
                "max_processes": manifest.sandbox.max_processes,
                "max_file_size_mb": manifest.sandbox.max_file_size_mb,
                "inactivity_timeout_seconds": manifest.watchdog.inactivity_seconds,
                "kill_on_inactivity": manifest.watchdog.kill,
            },
            env=json.loads(row.env),
            token=started.token,
        )
