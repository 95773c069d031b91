"""``runyard worker ls``: agents, their capacity, GPUs in use and last heartbeat."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from runyard.cli.remote import DEFAULT_SERVER, JsonOption, ServerOption, ago, connect, print_json, print_table

app = typer.Typer(help="Workers (agents) of the compute pools.", no_args_is_help=True)


@app.command("ls")
def list_workers(
    pool: Annotated[str | None, typer.Option(help="Only this pool.")] = None,
    include_gone: Annotated[bool, typer.Option("--all", help="Include lost and deregistered workers.")] = False,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """List workers."""
    with connect(server) as client:
        workers = client.list_workers(pool=pool, include_gone=include_gone)
    if as_json:
        print_json(workers)
        return
    now = int(time.time() * 1000)
    rows = [
        (
            w["worker_id"],
            w["name"],
            w["pool"],
            w["state"],
            f"{len(w['gpus_in_use'])}/{len(w['gpus'])}"
            + (f" [{','.join(w['gpus_in_use'])}]" if w["gpus_in_use"] else ""),
            w["slots"],
            ",".join(w["jobs"]),
            ago(w["last_heartbeat"], now),
        )
        for w in workers
    ]
    print_table(
        ("WORKER", "NAME", "POOL", "STATE", "GPUS USED", "SLOTS", "JOBS", "HEARTBEAT"),
        rows,
        empty="no workers: start one with runyard agent --server URL --pool NAME",
    )
