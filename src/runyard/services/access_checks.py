"""Whether a principal may act on the resource one request names: the decisions behind ``api/access.py``.

Runs, their artifacts and logged models follow their experiment; registry files follow their model;
jobs follow their queue (the job list shows the jobs of readable queues). A job's own token reaches
only its own run, experiment and bundle; an agent's only the workers of its pool, and uploads only to
the runs of its unfinished attempts. Admins and the local operator (auth off) pass everything.

Two per-process caches keep the hot tracking paths free of extra queries: the experiment of a run
(it never changes) and a principal's grants in a workspace (for ``auth_cache_seconds``).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import Connection

from runyard.domain.identity import Grant, Level, Principal
from runyard.domain.registry import REGISTRY_ARTIFACT_PREFIX
from runyard.errors import NotFound, PermissionDenied
from runyard.services import identity_permissions as permissions
from runyard.stores.metadata import evaluation_datasets as dataset_store
from runyard.stores.metadata import experiments as experiment_store
from runyard.stores.metadata import gateway as gateway_store
from runyard.stores.metadata import jobs as job_store
from runyard.stores.metadata import logged_models as logged_model_store
from runyard.stores.metadata import registry as registry_store
from runyard.stores.metadata import runs as run_store
from runyard.stores.metadata import scorers as scorer_store
from runyard.stores.metadata import traces as trace_store
from runyard.stores.metadata import workers as worker_store


@dataclass(slots=True)
class Target:
    """What one request names (each field when the request carries it)."""

    experiment_id: str | None = None
    experiment_name: str | None = None
    experiment_ids: list[str] = field(default_factory=list)
    run_id: str | None = None
    # Several runs or traces named at once (a bulk metric history, a batch of traces): each is checked.
    run_ids: list[str] = field(default_factory=list)
    trace_ids: list[str] = field(default_factory=list)
    model_name: str | None = None
    logged_model_id: str | None = None
    artifact_path: str | None = None
    # The storage id of a registered model whose files a ``_registry/<storage id>/…`` path names.
    registry_storage_id: str | None = None
    queue: str | None = None
    job_id: str | None = None
    recipe: str | None = None
    worker_id: str | None = None
    pool: str | None = None
    # An AI gateway endpoint, by name (invocations name the endpoint, never its id) or by id.
    gateway_endpoint: str | None = None
    gateway_endpoint_id: str | None = None
    # An evaluation dataset (checked on the experiments it is associated with) and registered scorers.
    dataset_id: str | None = None
    scorer_ids: list[str] = field(default_factory=list)

    def names_nothing(self) -> bool:
        """No single resource named: a search, a list or a create."""
        return not any(
            (self.experiment_id, self.experiment_name, self.experiment_ids, self.run_id, self.run_ids,
             self.trace_ids, self.model_name, self.logged_model_id, self.artifact_path, self.registry_storage_id,
             self.job_id, self.dataset_id, self.scorer_ids)
        )  # fmt: skip


class AccessChecker:
    def __init__(self, grants_ttl_seconds: float) -> None:
        self._ttl = grants_ttl_seconds
        self._lock = threading.Lock()
        self._run_experiments: dict[str, str] = {}
        self._grants: dict[tuple[str, int | None, str | None, str], tuple[float, list[Grant]]] = {}

    # --- caches ---

    def grants(self, connection: Connection, principal: Principal) -> list[Grant]:
        key = (principal.kind, principal.user_id, principal.role, principal.workspace)
        cached = self._grants.get(key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        found = permissions.grants_of(connection, principal, principal.workspace)
        if self._ttl > 0:
            with self._lock:
                if len(self._grants) > 10_000:
                    self._grants.clear()
                self._grants[key] = (time.monotonic() + self._ttl, found)
        return found

    def forget_grants(self) -> None:
        with self._lock:
            self._grants.clear()

    def experiment_of_run(self, connection: Connection, run_id: str, workspace: str) -> str:
        key = f"{workspace}\0{run_id}"
        cached = self._run_experiments.get(key)
        if cached is not None:
            return cached
        row = run_store.get_run_row(connection, run_id, workspace=workspace)
        if row is None:
            raise NotFound(f"Run '{run_id}' not found")
        experiment_id = str(row.experiment_id)
        with self._lock:
            if len(self._run_experiments) > 100_000:
                self._run_experiments.clear()
            self._run_experiments[key] = experiment_id
        return experiment_id

    # --- decisions ---

    def authorize(
        self, connection: Connection, principal: Principal, resource: str, level: Level, target: Target
    ) -> None:
        """Raise ``PermissionDenied`` unless ``principal`` may act at ``level`` on what ``target`` names.

        Cached grants only ever allow: a refusal is decided again on fresh grants, so a grant given a
        moment ago (the creator's MANAGE on what they just made) counts at once.
        """
        try:
            self._authorize(connection, principal, resource, level, target)
        except PermissionDenied:
            key = (principal.kind, principal.user_id, principal.role, principal.workspace)
            if self._grants.pop(key, None) is None:
                raise
            self._authorize(connection, principal, resource, level, target)

    def _authorize(
        self, connection: Connection, principal: Principal, resource: str, level: Level, target: Target
    ) -> None:
        if principal.kind == "local" or principal.is_admin:
            return
        if principal.kind == "job":
            self._authorize_job(connection, principal, resource, target)
            return
        if principal.kind == "agent":
            # The rule admitted agents here on purpose: bundles, and the outputs of their own attempts.
            if resource == "artifact":
                self._authorize_agent_upload(connection, principal, target)
            return
        grants = self.grants(connection, principal)

        def need(resource_type: str, resource_id: str | None, what: str) -> None:
            have = permissions.level_from_grants(principal, grants, resource_type, resource_id)
            if have < level:
                raise PermissionDenied(
                    f"Permission denied: {level.name} on {what} is needed; {principal.name} has {have.name}"
                )

        if target.registry_storage_id is not None and resource in ("artifact", "registered_model"):
            # Registry files follow their model: READ on it (DENY overriding), not only the workspace.
            name = self._model_of_storage(connection, target.registry_storage_id, principal.workspace)
            need("registered_model", name, f"registered model '{name}'")
        elif resource in ("experiment", "run", "artifact", "logged_model"):
            experiment_ids = self._experiments_named(connection, target, principal.workspace)
            if not experiment_ids:
                self._need_create(principal, grants, "experiment", level)
                return
            for experiment_id in experiment_ids:
                need("experiment", experiment_id, f"experiment {experiment_id}")
        elif resource == "registered_model":
            if target.model_name is None:
                self._need_create(principal, grants, "registered_model", level)
                return
            need("registered_model", target.model_name, f"registered model '{target.model_name}'")
        elif resource == "job" and level == Level.READ and target.queue is None and target.job_id is None:
            # The job list: shown only for the queues the principal may read (the handler filters).
            self._need_create(principal, grants, "queue", level)
        elif resource in ("queue", "job"):
            queue = target.queue
            if target.job_id is not None:
                queue = self._queue_of_job(connection, target.job_id)
            need("queue", queue, f"queue '{queue}'" if queue else "queues")
        elif resource == "recipe":
            need("recipe", target.recipe, f"recipe '{target.recipe}'" if target.recipe else "recipes")
        elif resource == "gateway_endpoint":
            endpoint_id, endpoint_name = target.gateway_endpoint_id, target.gateway_endpoint
            if endpoint_id is None and endpoint_name is None:
                # An endpoint list: it shows only the endpoints the principal may use or read (the handler filters).
                self._need_create(principal, grants, "gateway_endpoint", Level.READ)
                return
            row = gateway_store.get_endpoint_row(
                connection, principal.workspace, endpoint_id=endpoint_id, name=endpoint_name
            )
            if row is None:
                shown = f"endpoint_id='{endpoint_id}'" if endpoint_id else f"name='{endpoint_name}'"
                raise NotFound(f"GatewayEndpoint not found ({shown})")
            need("gateway_endpoint", str(row.endpoint_id), f"gateway endpoint '{row.name}'")
        elif resource == "workspace":
            if level < Level.MANAGE:
                # Creating in the workspace (a registered model): a member who may create there.
                self._need_create(principal, grants, "registered_model", level)
            elif not permissions.is_workspace_admin(connection, principal, principal.workspace):
                raise PermissionDenied(f"Permission denied: this needs an admin of workspace '{principal.workspace}'")
        else:
            raise PermissionDenied(f"Permission denied: no grant covers {resource}")

    def permitted(
        self, connection: Connection, principal: Principal, resource_type: str, ids: list[str], level: Level
    ) -> set[str]:
        """Those of ``ids`` (resources of ``resource_type``) on which ``principal`` holds ``level``."""
        if principal.kind == "local" or principal.is_admin:
            return set(ids)
        if principal.kind not in ("user", "service"):
            return set()
        grants = self.grants(connection, principal)
        return {i for i in ids if permissions.level_from_grants(principal, grants, resource_type, i) >= level}

    def allowed_from_cache(self, principal: Principal, resource: str, level: Level, target: Target) -> bool:
        """True when the caches alone show the request is allowed (the hot tracking path: no query at all).

        False means "not known from the caches", never "refused": the caller then decides in full.
        """
        if principal.kind not in ("user", "service") or resource not in ("run", "experiment"):
            return False
        experiment_id = (
            self._run_experiments.get(f"{principal.workspace}\0{target.run_id}") if target.run_id is not None else None
        )
        if experiment_id is None:
            return False
        key = (principal.kind, principal.user_id, principal.role, principal.workspace)
        cached = self._grants.get(key)
        if cached is None or cached[0] <= time.monotonic():
            return False
        return permissions.level_from_grants(principal, cached[1], "experiment", experiment_id) >= level

    def readable(self, connection: Connection, principal: Principal, resource_type: str) -> permissions.Readable | None:
        """What a list or search may show ``principal`` (None: everything), decided in the query."""
        if principal.kind == "local" or principal.is_admin:
            return None
        if principal.kind == "job":
            scope = principal.job
            own = frozenset({scope.experiment_id}) if scope is not None and scope.experiment_id else frozenset()
            return permissions.Readable(everything=False, ids=own, denied=frozenset())
        return permissions.readable(principal, self.grants(connection, principal), resource_type)

    def _need_create(self, principal: Principal, grants: list[Grant], resource_type: str, level: Level) -> None:
        """Creating (or searching, which the handler filters) needs presence in the workspace."""
        if level <= Level.READ:
            if grants:
                return
            raise PermissionDenied(
                f"Permission denied: {principal.name} has no role in workspace '{principal.workspace}'"
            )
        member = any(g.resource_type == "workspace" and g.permission in ("USE", "MANAGE") for g in grants)
        if member or permissions.level_from_grants(principal, grants, resource_type, None) >= Level.EDIT:
            return
        raise PermissionDenied(
            f"Permission denied: creating a {resource_type} in workspace '{principal.workspace}' needs a role that may "
            "create there (editor or admin)"
        )

    def _experiments_named(self, connection: Connection, target: Target, workspace: str) -> list[str]:
        """The experiments a request names, found in the request's workspace (elsewhere: not found)."""
        if target.dataset_id is not None:
            # A dataset follows every experiment it is associated with (one without any: its workspace's
            # members); a dataset of another workspace is unknown here, and its service reports it missing.
            row = dataset_store.get_dataset_row(connection, target.dataset_id, workspace)
            own = dataset_store.experiments_of(connection, [target.dataset_id])[target.dataset_id] if row else []
            return list(dict.fromkeys([*own, *target.experiment_ids]))
        if target.scorer_ids:
            of_scorers = scorer_store.scorer_experiments(connection, target.scorer_ids, workspace)
            return sorted(set(of_scorers.values()))
        if target.run_ids or target.trace_ids:
            named = [self.experiment_of_run(connection, run_id, workspace) for run_id in target.run_ids]
            infos = trace_store.get_infos(connection, target.trace_ids)
            found = {info.trace_id for info in infos}
            missing = [trace_id for trace_id in target.trace_ids if trace_id not in found]
            if missing and len(target.trace_ids) == 1:
                raise NotFound(f"Trace with ID '{missing[0]}' not found.")
            in_workspace = experiment_store.ids_among(
                connection, [int(info.experiment_id) for info in infos], workspace
            )
            if len(in_workspace) < len({info.experiment_id for info in infos}) and len(target.trace_ids) == 1:
                raise NotFound(f"Trace with ID '{target.trace_ids[0]}' not found.")
            # Batches leave out traces of other workspaces (the service does too); the rest are checked.
            return list(dict.fromkeys(named + [str(e) for e in in_workspace]))
        if target.run_id is not None:
            return [self.experiment_of_run(connection, target.run_id, workspace)]
        if target.logged_model_id is not None:
            row = logged_model_store.get_logged_model_row(connection, target.logged_model_id, workspace=workspace)
            if row is None:
                raise NotFound(f"Logged model with ID '{target.logged_model_id}' not found.")
            return [str(row.experiment_id)]
        if target.experiment_id is not None:
            return [target.experiment_id]
        if target.experiment_name is not None:
            experiment = experiment_store.get_experiment_by_name(connection, target.experiment_name, workspace)
            if experiment is None:
                raise NotFound(f"Could not find experiment with name '{target.experiment_name}'")
            return [str(experiment.experiment_id)]
        if target.artifact_path is not None:
            first = target.artifact_path.strip("/").split("/", 1)[0]
            return [first] if first.isdigit() else []
        return list(target.experiment_ids)

    def _model_of_storage(self, connection: Connection, storage_id: str, workspace: str) -> str:
        name = registry_store.model_name_of_storage(connection, storage_id, workspace)
        if name is None:
            raise NotFound(f"No artifacts at '{REGISTRY_ARTIFACT_PREFIX}/{storage_id}'")
        return name

    def _queue_of_job(self, connection: Connection, job_id: str) -> str:
        try:
            row = job_store.get_job(connection, int(job_id))
        except ValueError:
            row = None
        if row is None:
            raise NotFound(f"Job {job_id} does not exist")
        return str(row.queue)

    def _authorize_job(self, connection: Connection, principal: Principal, resource: str, target: Target) -> None:
        scope = principal.job
        assert scope is not None
        refused = PermissionDenied("Permission denied: a job's token reaches only its own run, experiment and bundle")
        if resource == "recipe":
            if target.recipe != scope.recipe:
                raise refused
            return
        if resource == "registered_model" or target.registry_storage_id is not None:
            return  # jobs may load registered models (declared readable for jobs), their files included
        if resource not in ("experiment", "run", "artifact", "logged_model"):
            raise refused
        if resource == "experiment" and target.names_nothing():
            return  # a search: restricted to the job's own experiment by ``readable``
        if any(run_id != scope.run_id for run_id in [*([target.run_id] if target.run_id else []), *target.run_ids]):
            raise refused
        if target.artifact_path is not None and f"/{scope.run_id}/" not in f"/{target.artifact_path.strip('/')}/":
            raise refused
        named = self._experiments_named(connection, target, principal.workspace)
        if not named or any(experiment_id != scope.experiment_id for experiment_id in named):
            raise refused

    def _authorize_agent_upload(self, connection: Connection, principal: Principal, target: Target) -> None:
        """An agent uploads only under the run of an attempt running on a worker of its pool."""
        refused = PermissionDenied(
            "Permission denied: this agent token uploads only to runs of unfinished attempts "
            f"in pool '{principal.pool}'"
        )
        if principal.pool is None or target.artifact_path is None:
            raise refused
        # The path is <experiment>/<run>/…: the run must be one of those attempts', under its own experiment.
        segments = target.artifact_path.strip("/").split("/")
        if len(segments) < 2:
            raise refused
        open_runs = job_store.open_attempt_runs_of_pool(connection, principal.pool, [segments[1]])
        if not any(str(row.experiment_id) == segments[0] for row in open_runs):
            raise refused

    def authorize_agent(self, connection: Connection, principal: Principal, target: Target) -> None:
        """An agent token acts only for its pool: registering in it, and as the workers registered there."""
        if principal.kind == "local" or principal.is_admin:
            return
        if principal.kind != "agent":
            raise PermissionDenied("this endpoint needs an agent token (runyard token create --agent --pool NAME)")
        refused = PermissionDenied(f"Permission denied: this agent token acts only for pool '{principal.pool}'")
        if target.pool is not None and target.pool != principal.pool:
            raise refused
        if target.worker_id is not None:
            worker = worker_store.get_worker(connection, target.worker_id)
            if worker is not None and str(worker.pool) != principal.pool:
                raise refused
        if target.job_id is not None:
            row = job_store.get_job(connection, int(target.job_id)) if target.job_id.isdigit() else None
            if row is not None and row.worker_id is not None:
                worker = worker_store.get_worker(connection, str(row.worker_id))
                if worker is not None and str(worker.pool) != principal.pool:
                    raise refused
