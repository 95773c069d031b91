"""``create_app(settings)``: the ASGI application, its routers, error mapping and lifecycle."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from runyard import __version__
from runyard.api import health
from runyard.api.context import AppContext
from runyard.api.errors import install_error_handlers
from runyard.api.mlflow import (
    artifacts,
    experiments,
    logged_models,
    metrics,
    model_versions,
    registered_models,
    registry_artifacts,
    runs,
    server_info,
)
from runyard.api.observability import MetricsMiddleware, metrics_endpoint
from runyard.api.responses import JSONResponse
from runyard.api.v1 import compute, metric_charts, registry_events
from runyard.settings import ServerSettings
from runyard.stores.artifacts import open_store
from runyard.stores.metadata.session import Database
from runyard.stores.migrations import runner
from runyard.ui import mount_ui

MLFLOW_PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")
MLFLOW_V3_PREFIXES = ("/api/3.0/mlflow", "/ajax-api/3.0/mlflow")
MLFLOW_ARTIFACTS_PREFIXES = ("/api/2.0/mlflow-artifacts", "/ajax-api/2.0/mlflow-artifacts")


def _mlflow_router() -> APIRouter:
    router = APIRouter()
    for module in (experiments, runs, metrics, artifacts, registered_models, model_versions, logged_models):
        router.include_router(module.router)
    return router


def prepare_database(settings: ServerSettings) -> Database:
    """Open the metadata database: migrate it (embedded default) or refuse an out-of-date one."""
    database = Database.from_url(settings.database_url)
    if settings.should_migrate_on_start:
        runner.upgrade(database.engine)
    else:
        runner.ensure_up_to_date(database.engine)
    return database


def create_app(settings: ServerSettings, database: Database | None = None) -> FastAPI:
    """Build the server application for ``settings``."""
    context = AppContext(settings=settings, database=database or prepare_database(settings))
    context.extras["artifacts"] = open_store(settings.artifacts_uri, settings)
    # Parts go through the server's own upload URLs, whatever the store.
    context.extras["multipart_uploads"] = True

    compute.install(context)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with compute.lifespan(context):
            # Everything built so far (modules, the app, its routes and models) lives as long as the
            # process: moved out of the collector's reach, a full collection triggered by a request's
            # allocations no longer walks hundreds of thousands of objects (milliseconds per request).
            gc.freeze()
            yield
        context.database.dispose()

    app = FastAPI(
        title="runyard",
        version=__version__,
        default_response_class=JSONResponse,
        lifespan=lifespan,
    )
    app.state.context = context
    install_error_handlers(app)
    app.add_middleware(MetricsMiddleware)
    app.add_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)
    app.include_router(health.router)
    app.include_router(compute.compute_router(), prefix="/api/v1")
    app.include_router(registry_events.router, prefix="/api/v1")
    app.include_router(metric_charts.router, prefix="/api/v1")
    mlflow_router = _mlflow_router()
    for prefix in MLFLOW_PREFIXES:
        app.include_router(mlflow_router, prefix=prefix)
    for prefix in MLFLOW_ARTIFACTS_PREFIXES:
        app.include_router(registry_artifacts.router, prefix=prefix)  # before the proxy: serves _registry/
        app.include_router(artifacts.proxy_router, prefix=prefix)
    for prefix in MLFLOW_V3_PREFIXES:
        app.include_router(server_info.router, prefix=prefix)
    mount_ui(app)  # last: the UI answers only paths no API route claims
    return app
