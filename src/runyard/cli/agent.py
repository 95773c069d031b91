"""``runyard agent``: join a compute pool and run the jobs the scheduler assigns, each in a sandbox."""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from runyard.agent.gpus import GpuSpecError, parse_gpus
from runyard.agent.sandbox import BY_STRENGTH, SandboxError, choose, network, probe, probe_private_network
from runyard.agent.sandbox.users import JobUserError, ensure_job_user
from runyard.agent.worker import Agent, WorkerIdentity, default_name, protect_own_environment
from runyard.cli.logging_setup import configure_logging
from runyard.cli.output import console, fail
from runyard.client._agent import AgentAPI
from runyard.settings import AgentSettings, SandboxSettings


def _settings(flags: dict[str, Any]) -> tuple[AgentSettings, SandboxSettings]:
    given = {name: value for name, value in flags.items() if value is not None}
    try:
        return AgentSettings(**given), SandboxSettings()
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "settings"
        fail(f"invalid configuration: {where}: {first['msg']}")


def _run_as(sandbox: SandboxSettings) -> tuple[int, int] | None:
    """The user jobs run as: none but the agent's own unless the agent is root, never root itself.

    A root agent uses ``run_as_uid`` if set, else the dedicated ``job_user`` (created if missing).
    """
    if os.geteuid() != 0:
        return None
    if sandbox.run_as_uid == 0:
        # An explicit choice for trusted jobs only: no process limit, every root-only file readable.
        logging.getLogger("runyard.agent").warning("RUNYARD_SANDBOX_RUN_AS_UID=0: jobs run as root")
        return None
    if sandbox.run_as_uid is not None:
        return sandbox.run_as_uid, sandbox.run_as_gid or sandbox.run_as_uid
    try:
        return ensure_job_user(sandbox.job_user)
    except JobUserError as error:
        fail(str(error))


def _networking(level: str, run_as: tuple[int, int] | None) -> str:
    """What a networked job reaches here; private networks that fail their probe are switched off."""
    why = probe_private_network(level, run_as)
    if why is None:
        return "networked jobs: a private network (pasta), outbound only; host loopback unreachable"
    if level != "process":
        network.disable(why)
    return f"networked jobs share the host's network, its loopback services included, at the {level} level: {why}"


def agent(
    server: Annotated[str | None, typer.Option("--server", help="Server URL (env RUNYARD_AGENT_SERVER_URL).")] = None,
    pool: Annotated[str | None, typer.Option("--pool", help="Compute pool (env RUNYARD_AGENT_POOL).")] = None,
    gpus: Annotated[
        str | None,
        typer.Option("--gpus", help="auto (NVML/nvidia-smi), none, or ids such as 0,1,2,3 (env RUNYARD_AGENT_GPUS)."),
    ] = None,
    slots: Annotated[
        int | None,
        typer.Option("--slots", help="Concurrent CPU-only jobs (default CPU count; env RUNYARD_AGENT_SLOTS)."),
    ] = None,
    work_dir: Annotated[
        Path | None,
        typer.Option("--work-dir", help="Job directories and bundles (env RUNYARD_AGENT_WORK_DIR)."),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Worker name (default hostname-pid).")] = None,
    log_level: Annotated[
        str | None,
        typer.Option("--log-level", help="debug, info, warning or error (default info; env RUNYARD_AGENT_LOG_LEVEL)."),
    ] = None,
) -> None:
    """Run an agent: register with the server, then run assigned jobs in a sandbox until SIGTERM."""
    settings, sandbox = _settings(
        {
            "server_url": server,
            "pool": pool,
            "gpus": gpus,
            "slots": slots,
            "work_dir": work_dir,
            "name": name,
            "log_level": log_level,
        }
    )
    configure_logging(settings.log_level)
    try:
        gpu_ids = parse_gpus(settings.gpus)
    except GpuSpecError as error:
        fail(str(error))
    run_as = _run_as(sandbox)
    try:
        level = choose(
            sandbox.isolation, run_as, need_network_isolation=not sandbox.network, allow_process=sandbox.allow_process
        ).name
    except SandboxError as error:
        user = f" (jobs run as uid {run_as[0]})" if run_as is not None else ""
        fail(f"cannot start the agent{user}: {error}")
    unavailable = {other: probe(other, run_as) for other in BY_STRENGTH if probe(other, run_as) is not None}
    networking = _networking(level, run_as)
    protect_own_environment()
    identity = WorkerIdentity(
        name=settings.name or default_name(),
        pool=settings.pool,
        hostname=socket.gethostname(),
        gpus=gpu_ids,
        slots=settings.slots or os.cpu_count() or 1,
        labels=settings.labels,
    )
    token = settings.token.get_secret_value() if settings.token is not None else None
    client = AgentAPI(settings.server_url, token=token)
    console.print(
        f"runyard agent {identity.name}: pool {identity.pool}, server {settings.server_url}, "
        f"GPUs {','.join(gpu_ids) or 'none'}, slots {identity.slots}, sandbox {level}"
        + (f", jobs run as uid {run_as[0]}" if run_as is not None else "")
        + "".join(f"\n  {other} level unavailable: {why}" for other, why in unavailable.items())
        + f"\n  {networking}"
    )
    try:
        Agent(settings, sandbox, identity, client, run_as=run_as).run()
    finally:
        client.close()
