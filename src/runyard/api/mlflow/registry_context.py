"""What the registry routes share: the acting user, request parsing for MLflow's verbs, the stores.

The MLflow client sends GET parameters in the query string and everything else (DELETE included) as
a JSON body; ``parse_request`` accepts either, so curl users can also put DELETE parameters in the
query string.

The user recorded in registry events is the ``X-Runyard-User`` header, else the Basic-auth user name,
else (for new versions) the source run's user, else ``anonymous``. Authentication is not enforced
here; once it is, the authenticated principal should take the header's place.
"""

from __future__ import annotations

import base64
import binascii
import logging
from typing import TypeVar

from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from runyard.api.context import AppContext, get_context
from runyard.api.requests import parse_json, parse_query
from runyard.stores.artifacts import open_store
from runyard.stores.artifacts.base import ArtifactStore

M = TypeVar("M", bound=BaseModel)

USER_HEADER = "x-runyard-user"
_REGISTRY_STORE_KEY = "registry_store"
logger = logging.getLogger("runyard.registry")


async def parse_request(request: Request, model: type[M]) -> M:
    """GET parameters from the query string; other verbs from the JSON body (or the query string)."""
    if request.method == "GET":
        return parse_query(request, model)
    body = await request.body()
    if not body.strip() and request.query_params:
        return parse_query(request, model)
    return await parse_json(request, model)


def request_user(request: Request) -> str | None:
    """Who is acting, as far as the request says (see the module docstring)."""
    header = request.headers.get(USER_HEADER, "").strip()
    if header:
        return header[:256]
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "basic" and credentials:
        try:
            user = base64.b64decode(credentials, validate=True).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            return None
        return user[:256] or None
    return None


def artifact_store(context: AppContext) -> ArtifactStore:
    """The tracking artifact store (opened by the app; opened here if the app did not)."""
    store: ArtifactStore | None = context.extras.get("artifacts")
    if store is None:
        store = open_store(context.settings.artifacts_uri, context.settings)
        context.extras["artifacts"] = store
    return store


def registry_store(context: AppContext) -> ArtifactStore:
    """The registry store holding the immutable copies of model versions (opened on first use)."""
    store: ArtifactStore | None = context.extras.get(_REGISTRY_STORE_KEY)
    if store is None:
        store = open_store(context.settings.registry_location, context.settings)
        context.extras[_REGISTRY_STORE_KEY] = store
    return store


def stores_for(request: Request) -> tuple[AppContext, ArtifactStore, ArtifactStore]:
    context = get_context(request)
    return context, artifact_store(context), registry_store(context)


async def remove_registry_files(context: AppContext, path: str) -> None:
    """Delete registry files no version refers to any more (best effort: the metadata change stands)."""
    try:
        await run_in_threadpool(registry_store(context).delete, path)
    except Exception:
        logger.exception("could not delete registry files at %s; remove them by hand", path)
