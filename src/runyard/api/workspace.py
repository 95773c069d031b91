"""The workspace a request acts in: its ``X-MLFLOW-WORKSPACE`` header, ``default`` without one.

The web UI sends the header on its API calls and also keeps the choice in the ``runyard_workspace``
cookie, for what a browser requests by itself (an image, a download link, a log stream): a request
without the header acts in the cookie's workspace. Clients other than a browser never send it.

Installed once, as an app-wide dependency, so every route runs in its request's workspace. A name
MLflow would refuse is a 400; a workspace that does not exist is a 404 in MLflow's error shape (the
client raises ``RestException`` with ``RESOURCE_DOES_NOT_EXIST``).
"""

from __future__ import annotations

from starlette.requests import Request

from runyard.api.deps import current_principal, platform_of
from runyard.domain.registry import REGISTRY_ARTIFACT_PREFIX
from runyard.domain.workspaces import DEFAULT_WORKSPACE, WORKSPACE_HEADER, workspace_from_header
from runyard.services import artifact_scope
from runyard.services import workspaces as service

WORKSPACE_COOKIE = "runyard_workspace"


def requested_workspace(request: Request) -> str | None:
    """The workspace the request names (header first, then the web UI's cookie), unvalidated."""
    return request.headers.get(WORKSPACE_HEADER) or request.cookies.get(WORKSPACE_COOKIE) or None


async def current_workspace(request: Request) -> str:
    """Validate the request's workspace, check it exists, and bind it for the services."""
    name = workspace_from_header(requested_workspace(request))
    # No probe for a caller who is not signed in: the route's access rule answers 401 first, and
    # whether a workspace exists is not told to anonymous callers.
    if name != DEFAULT_WORKSPACE and current_principal(request).is_authenticated:
        # One primary-key probe; ``default`` always exists and costs nothing.
        await platform_of(request).read(lambda connection: service.check_exists(connection, name))
    # Async, so the binding happens in the request's own context (a sync dependency would run in,
    # and bind only, a worker thread's copy).
    service.bind_workspace(name)
    return name


async def artifact_path_in_workspace(request: Request) -> None:
    """Confine the artifact proxy to the request's workspace (a dependency of the proxy's routers).

    The path is the route's ``{path}`` (``{directory}`` for multipart uploads) or, for listings, the
    ``path`` query parameter.
    """
    params = request.path_params
    path = params.get("path", params.get("directory"))
    if path is None:
        path = request.query_params.get("path")
    elif f"/artifacts/{REGISTRY_ARTIFACT_PREFIX}/" in request.url.path and not path.startswith(
        REGISTRY_ARTIFACT_PREFIX
    ):
        # Registry downloads are routed with the ``_registry/`` prefix taken off the path.
        path = f"{REGISTRY_ARTIFACT_PREFIX}/{path}"
    await platform_of(request).read(lambda connection: artifact_scope.check_artifact_path(connection, path))
