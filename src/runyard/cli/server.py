"""``runyard server``: run the tracking server, registry, platform API and scheduler."""

from __future__ import annotations

import os
import socket
from typing import Annotated

import typer
import uvicorn
from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError

from runyard.cli import local_pool
from runyard.cli.logging_setup import configure_logging
from runyard.cli.output import console, fail
from runyard.cli.settings_flags import (
    ArtifactsOption,
    BackendStoreOption,
    ConfigOption,
    DataDirOption,
    RegistryOption,
    build_settings,
)
from runyard.errors import RunyardError
from runyard.server.app import create_app
from runyard.server.assembly import prepare_database
from runyard.services import identity_startup
from runyard.settings import ServerSettings, redact_url, to_environment


def _listening_socket(config: uvicorn.Config) -> socket.socket:
    sock = config.bind_socket()
    # Accepted sockets inherit this: without it kept-alive clients wait ~40 ms per request on delayed ACKs.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _export_to_workers(settings: ServerSettings) -> None:
    """Worker processes rebuild settings from the environment, so put every effective value there."""
    os.environ.update(to_environment(settings))


def serve(settings: ServerSettings) -> None:
    """Open the stores, then serve until interrupted."""
    configure_logging(settings.log_level)
    try:
        database = prepare_database(settings)
    except RunyardError as error:
        fail(error.message)
    except SQLAlchemyError as error:
        fail(
            f"cannot open the database {redact_url(settings.database_url)}: {error.__class__.__name__}: {error.args[0]}"
        )
    token: str | None = None
    try:
        for note in identity_startup.prepare(settings, database):
            console.print(note)
        if settings.auth_enabled and settings.local_pool and "RUNYARD_AGENT_TOKEN" not in os.environ:
            token = identity_startup.local_pool_token(database, local_pool.LOCAL_POOL)
    except RunyardError as error:
        database.dispose()
        fail(error.message)
    console.print(
        f"runyard server on http://{settings.host}:{settings.port} — database {redact_url(settings.database_url)}, "
        f"artifacts {settings.artifacts_uri}"
    )
    with local_pool.local_agent(settings, token) as agent:
        if settings.workers == 1:
            config = _uvicorn_config(settings, create_app(settings, database))
            local_pool.AgentFirstServer(config, agent).run(sockets=[_listening_socket(config)])
            return
        database.dispose()
        _export_to_workers(settings)
        _prepare_multiprocess_metrics(settings)
        config = _uvicorn_config(settings, "runyard.server.asgi:create_app_from_environment")
        local_pool.AgentFirstMultiprocess(config, [_listening_socket(config)], agent).run()


def _prepare_multiprocess_metrics(settings: ServerSettings) -> None:
    """Workers write Prometheus samples to files so ``/metrics`` on any worker reports the whole server."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        return
    directory = settings.data_dir / "prometheus" / str(os.getpid())
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)


def _uvicorn_config(settings: ServerSettings, app: FastAPI | str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        factory=isinstance(app, str),
        log_level=settings.log_level,
        access_log=settings.log_level == "debug",
        timeout_keep_alive=30,
        # Long polls (claims, log follows) must not hold a stop for long.
        timeout_graceful_shutdown=3,
    )


def server(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1; env RUNYARD_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 5050; env RUNYARD_PORT).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (default 1; env RUNYARD_WORKERS).")] = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    backend_store_uri: BackendStoreOption = None,
    artifacts_destination: ArtifactsOption = None,
    registry_destination: RegistryOption = None,
    local_pool: Annotated[
        bool | None,
        typer.Option("--local-pool/--no-local-pool", help="Run a compute pool beside the server (default on)."),
    ] = None,
    log_level: Annotated[
        str | None,
        typer.Option(
            "--log-level",
            help="debug, info, warning or error, for the server and its local agent (default info; env "
            "RUNYARD_LOG_LEVEL).",
        ),
    ] = None,
) -> None:
    """Run the runyard server (MLflow-compatible tracking API, registry, platform API, scheduler)."""
    settings = build_settings(
        config,
        host=host,
        port=port,
        workers=workers,
        data_dir=data_dir,
        backend_store_uri=backend_store_uri,
        artifacts_destination=artifacts_destination,
        registry_uri=registry_destination,
        local_pool=local_pool,
        log_level=log_level,
    )
    serve(settings)
