"""Which artifact-proxy paths a request may reach: those of its workspace's experiments and models.

Proxied paths are relative to the artifact root and start with the owning experiment's id
(``7/<run_id>/artifacts/…``, ``7/models/<model_id>/artifacts/…``); registered versions' files start
with ``_registry/<model storage id>/``. A path of another workspace's experiment or model is
answered as if it did not exist (404), like a guessed run id.
"""

from __future__ import annotations

from sqlalchemy import Connection

from runyard.domain.registry import REGISTRY_ARTIFACT_PREFIX
from runyard.domain.workspaces import DEFAULT_WORKSPACE
from runyard.errors import NotFound
from runyard.services.workspaces import workspace_scope
from runyard.stores.metadata import experiments as experiment_store
from runyard.stores.metadata import registry as registry_store


def check_artifact_path(connection: Connection, path: str | None) -> None:
    """Refuse ``path`` unless it belongs to the request's workspace.

    Raises:
        NotFound: the path is another workspace's, or the store's root (which would list every workspace's).
    """
    workspace = workspace_scope()
    if workspace is None:
        return
    segments = [segment for segment in (path or "").split("/") if segment]
    if not segments:
        raise NotFound("List the artifacts of a run or a model: the store's root is not listed")
    first = segments[0]
    if first == REGISTRY_ARTIFACT_PREFIX:
        if len(segments) < 2 or not registry_store.storage_in_workspace(connection, segments[1], workspace):
            raise NotFound(f"No artifacts at '{path}'")
        return
    if first.isdigit():
        if not experiment_store.ids_among(connection, [int(first)], workspace):
            raise NotFound(f"No artifacts at '{path}'")
        return
    # Any other prefix is an experiment's custom ``mlflow-artifacts:/`` location from before
    # workspaces: reachable from the default workspace only, where all such experiments are.
    if workspace != DEFAULT_WORKSPACE:
        raise NotFound(f"No artifacts at '{path}'")
