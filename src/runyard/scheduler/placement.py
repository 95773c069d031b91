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
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from runyard.domain.jobs import GpuFit
from runyard.domain.recipes import RecipeVersion
from runyard.errors import NotFound
from runyard.services import attempts as attempt_service
from runyard.services import recipes as recipe_service
from runyard.services.workspaces import every_workspace
from runyard.stores.metadata import jobs as job_store
from runyard.stores.metadata import pools as pool_store
from runyard.stores.metadata import workers as worker_store

# Jobs whose tracking run cannot be created are failed on the spot; skip a few before giving up.
MAX_FAILED_PER_CLAIM = 5
# Candidates read beyond what a claim asks for, so a few that do not fit cost no second round.
CANDIDATE_MARGIN = 4


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


@dataclass(frozen=True, slots=True)
class Claim:
    """What one claim transaction found: the queues the worker's pool serves now, and what it placed."""

    queues: list[str]
    assignments: list[Assignment]


class Placer:
    """Places jobs for claiming workers.

    Caches recipe versions (immutable once pushed) and, per worker, the queues its pool served at its
    last claim: what the next claim subscribes to before its first check (the check itself reads them
    again, and a claim that finds them changed re-subscribes and checks again).
    """

    def __init__(self) -> None:
        self._recipes: dict[tuple[str, str, int], RecipeVersion] = {}
        self._queues: dict[str, list[str]] = {}

    def known_queues(self, worker_id: str) -> list[str] | None:
        """The queues of the worker's pool as its last claim here found them (what to wait on)."""
        return self._queues.get(worker_id)

    @every_workspace
    def claim(self, connection: Connection, worker_id: str, *, limit: int = 1) -> Claim:
        """Assign up to ``limit`` fitting jobs to ``worker_id`` in this transaction (best first).

        The candidates are read and locked together (``limit`` plus a few, in case some do not fit),
        fitted here in placement order, and written together, one statement per table: a claim for
        many jobs costs about as many statements as a claim for one.
        """
        worker = worker_store.get_worker(connection, worker_id, lock=True)
        if worker is None or worker.state != "active":
            self._queues.pop(worker_id, None)
            raise NotFound(f"Worker {worker_id} is not registered (its lease expired?); register again")
        queues = pool_store.queues_of_pool(connection, worker.pool)
        if len(self._queues) > 4096:
            self._queues.clear()
        self._queues[worker_id] = queues
        if not queues:
            return Claim(queues, [])
        fit = GpuFit(inventory=json.loads(worker.gpus))
        cpu_jobs = 0
        for held_json in job_store.held_gpus_of_worker(connection, worker_id):
            held = json.loads(held_json) if held_json else []
            fit.in_use.update(held)
            cpu_jobs += 0 if held else 1
        free_slots = int(worker.slots) - cpu_jobs
        placed: list[Assignment] = []
        passed_over: list[int] = []  # locked here but did not fit: excluded from the next round
        failures = 0
        while len(placed) < limit and failures < MAX_FAILED_PER_CLAIM:
            wanted = limit - len(placed)
            free_gpus = len(fit.free)
            if free_gpus == 0 and free_slots <= 0:
                break
            # Only CPU jobs can come back and each has a slot: all fit, so lock no spare rows (spare
            # locks make concurrent claims skip, and scan, more rows).
            margin = 0 if free_gpus == 0 and free_slots >= wanted else CANDIDATE_MARGIN
            candidates = job_store.lock_candidates(
                connection,
                queues=queues,
                min_gpus=0 if free_slots > 0 else 1,
                max_gpus=free_gpus,
                limit=wanted + margin,
                exclude=passed_over,
            )
            chosen: list[attempt_service.Placement] = []
            for row in candidates:
                if len(chosen) == wanted:
                    break
                gpus = fit.take(int(row.gpus)) if int(row.gpus) > 0 else ([] if free_slots > 0 else None)
                if gpus is None:
                    passed_over.append(int(row.job_id))  # backfill: a later job may fit
                    continue
                free_slots -= 0 if gpus else 1
                chosen.append(attempt_service.Placement(row, gpus))
            starts = attempt_service.start_attempts(connection, chosen, worker_id)
            for placement, started in zip(chosen, starts, strict=True):
                if started is None:
                    fit.in_use.difference_update(placement.gpus)
                    free_slots += 0 if placement.gpus else 1
                    failures += 1
                    continue
                placed.append(self._assignment(connection, placement.row, started, placement.gpus))
            if len(candidates) < wanted + margin and None not in starts:
                break  # every queued job that could fit was seen
        return Claim(queues, placed)

    def _recipe(self, connection: Connection, workspace: str, name: str, version: int) -> RecipeVersion:
        key = (workspace, name, version)
        if key not in self._recipes:
            if len(self._recipes) > 1024:
                self._recipes.clear()
            self._recipes[key] = recipe_service.get_version(connection, name, version, workspace=workspace)
        return self._recipes[key]

    def _assignment(
        self, connection: Connection, row: Any, started: attempt_service.AttemptStart, gpus: list[str]
    ) -> Assignment:
        recipe = self._recipe(connection, row.workspace, row.recipe_name, int(row.recipe_version))
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
                # The bundle URL names the recipe within this workspace (the agent sends it as a header).
                "workspace": row.workspace,
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
            # The job's mlflow client logs to its run, which is in the job's workspace.
            env={**json.loads(row.env), "MLFLOW_WORKSPACE": row.workspace},
            token=started.token,
        )
