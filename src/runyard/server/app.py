"""``create_app(settings)``: the ASGI application — routers, identity, error mapping and lifecycle."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI

from runyard import __version__
from runyard.api import health, otlp
from runyard.api.auth import auth_router
from runyard.api.body_limits import BodyLimitMiddleware, BodyLimits
from runyard.api.errors import install_error_handlers
from runyard.api.mlflow import (
    artifacts,
    eval_datasets,
    experiments,
    gateway,
    gateway_invocations,
    graphql_api,
    logged_models,
    metrics,
    model_versions,
    promptlab,
    registered_models,
    registry_artifacts,
    runs,
    scorers,
    server_info,
    traces,
    traces_extra,
    ui_endpoints,
    webhooks,
    workspaces,
)
from runyard.api.observability import MetricsMiddleware, metrics_endpoint
from runyard.api.responses import JSONResponse
from runyard.api.v1 import auth_oidc, jobs, live, metric_charts, pools, recipes, registry_events, workers
from runyard.api.workspace import artifact_path_in_workspace, current_workspace
from runyard.scheduler.platform import Platform
from runyard.server.assembly import build_platform
from runyard.server.identity import resolve_principal
from runyard.settings import ServerSettings
from runyard.stores.metadata.session import Database
from runyard.ui import mount_ui

MLFLOW_PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")
MLFLOW_V3_PREFIXES = ("/api/3.0/mlflow", "/ajax-api/3.0/mlflow")
MLFLOW_ARTIFACTS_PREFIXES = ("/api/2.0/mlflow-artifacts", "/ajax-api/2.0/mlflow-artifacts")
# Served outside FastAPI's routing (no dependencies): they declare their access rule here.
PLAIN_ROUTES_ACCESS = {
    "/metrics": "public",
    "/openapi.json": "public",
    "/docs": "public",
    "/docs/oauth2-redirect": "public",
    "/redoc": "public",
    # The web UI's files: the page and its assets are public; everything it shows comes from the API.
    "/": "public",
    "/assets": "public",
    "/{path:path}": "public",
}


def _mlflow_router() -> APIRouter:
    router = APIRouter()
    for module in (experiments, runs, metrics, artifacts, registered_models, model_versions, logged_models, webhooks):
        router.include_router(module.router)
    return router


def _platform_router() -> APIRouter:
    router = APIRouter()
    for module in (recipes, jobs, pools, workers, registry_events, metric_charts, live):
        router.include_router(module.router)
    return router


def create_app(settings: ServerSettings, database: Database | None = None) -> FastAPI:
    """Build the server application for ``settings``."""
    return create_app_for(build_platform(settings, database))


def create_app_for(platform: Platform) -> FastAPI:
    """The ASGI app serving ``platform``; its lifespan starts and stops the platform's loops."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await platform.start()
        try:
            # Everything built so far (modules, the app, its routes and models) lives as long as the
            # process: moved out of the collector's reach, a full collection triggered by a request's
            # allocations no longer walks hundreds of thousands of objects (milliseconds per request).
            gc.freeze()
            yield
        finally:
            await platform.stop()

    app = FastAPI(
        title="runyard",
        version=__version__,
        default_response_class=JSONResponse,
        lifespan=lifespan,
        # The principal first; then the request's workspace, bound for the services.
        dependencies=[Depends(resolve_principal), Depends(current_workspace)],
    )
    app.state.platform = platform
    install_error_handlers(app)
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(BodyLimitMiddleware, limits=BodyLimits.from_settings(platform.settings))
    app.add_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)
    app.include_router(health.router)
    app.include_router(ui_endpoints.router)
    app.include_router(promptlab.router)
    app.include_router(_platform_router(), prefix="/api/v1")
    app.include_router(auth_router())
    app.include_router(auth_oidc.build_router(platform.settings), prefix="/api/v1")
    mlflow_router = _mlflow_router()
    for prefix in MLFLOW_PREFIXES:
        app.include_router(mlflow_router, prefix=prefix)
    for prefix in MLFLOW_ARTIFACTS_PREFIXES:
        in_workspace = [Depends(artifact_path_in_workspace)]
        app.include_router(registry_artifacts.router, prefix=prefix, dependencies=in_workspace)  # serves _registry/
        app.include_router(artifacts.proxy_router, prefix=prefix, dependencies=in_workspace)
    for prefix in MLFLOW_V3_PREFIXES:
        app.include_router(server_info.router, prefix=prefix)
        app.include_router(workspaces.router, prefix=prefix)
        app.include_router(traces.v3_router, prefix=prefix)
        app.include_router(eval_datasets.router, prefix=prefix)
        app.include_router(scorers.router, prefix=prefix)
        app.include_router(traces_extra.v3_router, prefix=prefix)
        app.include_router(gateway.router, prefix=prefix)
        app.include_router(gateway.read_router, prefix=prefix)
    app.include_router(gateway.ajax_router, prefix="/ajax-api/3.0/mlflow")
    app.include_router(gateway_invocations.router)
    for prefix in MLFLOW_PREFIXES:
        app.include_router(traces.v2_router, prefix=prefix)
        app.include_router(traces_extra.v2_router, prefix=prefix)
        app.include_router(traces_extra.unified_router, prefix=prefix)
    app.include_router(traces_extra.ui_router)
    app.include_router(otlp.router)
    app.include_router(graphql_api.router)
    mount_ui(app)  # last: the UI answers only paths no API route claims
    return app
