"""Watchdog checks (the loops that call them live in ``runyard.scheduler.watchdog``).

* Inactivity: a running job whose recipe sets ``watchdog.inactivity_seconds`` and that has written
  no log line and logged no metric for that long is flagged ``inactive`` (shown by the API) and, when
  the recipe sets ``watchdog.kill``, cancelled through its agent with reason ``inactivity``.
* Stale runs (opt-in, ``stale_run_seconds``): a plain tracking run left ``RUNNING`` with no activity
  for that long is marked ``FAILED``, curing runs stuck ``RUNNING`` after a client died.
"""

from __future__ import annotations

from sqlalchemy import Connection

from runyard.domain.clock import now_ms
from runyard.domain.recipes import RecipeVersion
from runyard.domain.tracking import RunStatus, Tag
from runyard.errors import RunyardError
from runyard.services import jobs as job_service
from runyard.services import recipes as recipe_service
from runyard.services import runs as run_service
from runyard.stores.metadata import jobs as store

INACTIVITY_REASON = "inactivity"
STALE_RUN_TAG = "runyard.watchdog"


def check_inactivity(connection: Connection) -> int:
    """Flag (and, if configured, cancel) inactive running jobs; clear the flag when activity resumes.

    Returns how many jobs changed.
    """
    now = now_ms()
    recipes: dict[tuple[str, int], RecipeVersion | None] = {}
    changed = 0
    for row in store.inactivity_candidates(connection):
        key = (row.recipe_name, int(row.recipe_version))
        if key not in recipes:
            try:
                recipes[key] = recipe_service.get_version(connection, *key)
            except RunyardError:
                recipes[key] = None
        recipe = recipes[key]
        limit = recipe.manifest.watchdog.inactivity_seconds if recipe is not None else None
        if limit is None:
            continue
        last = max(value or 0 for value in (row.started_time, row.last_log_time, row.last_activity_time))
        idle_ms = now - last
        if idle_ms >= limit * 1000 and not row.inactive:
            job = job_service.lock_job(connection, row.job_id)
            if job.state != "running" or int(job.attempt) != int(row.attempt):
                continue
            message = f"no log output and no metric for {idle_ms // 1000} s (limit {limit:g} s)"
            store.update_job(connection, row.job_id, inactive=True, last_update_time=now)
            job_service.add_event(connection, row.job_id, row.attempt, "inactive", message=message)
            if recipe is not None and recipe.manifest.watchdog.kill and not job.cancel_requested:
                job_service.cancel_job(connection, row.job_id, reason=INACTIVITY_REASON)
            changed += 1
        elif idle_ms < limit * 1000 and row.inactive:
            store.update_job(connection, row.job_id, inactive=False, last_update_time=now)
            job_service.add_event(connection, row.job_id, row.attempt, "active", message="activity resumed")
            changed += 1
    return changed


def fail_stale_runs(connection: Connection, stale_seconds: float, *, limit: int = 500) -> int:
    """Mark tracking runs ``RUNNING`` without activity for ``stale_seconds`` as ``FAILED``."""
    now = now_ms()
    run_ids = store.stale_runs(connection, inactive_before=now - int(stale_seconds * 1000), limit=limit)
    for run_id in run_ids:
        run_service.update_run(connection, run_id, status=RunStatus.FAILED.value, end_time=now)
        run_service.apply_tags(
            connection, run_id, [Tag(STALE_RUN_TAG, f"marked FAILED: no activity for {stale_seconds:g} s")]
        )
    return len(run_ids)
