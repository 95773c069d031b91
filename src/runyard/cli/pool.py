"""``runyard pool ls/set/rm``: compute pools, their capacity and the queues they serve."""

from __future__ import annotations

from typing import Annotated

import typer

from runyard.cli.output import console
from runyard.cli.remote import DEFAULT_SERVER, JsonOption, ServerOption, connect, key_values, print_json, print_table

app = typer.Typer(help="Compute pools: GPUs per replica, labels, queues served, live capacity.", no_args_is_help=True)


@app.command("ls")
def list_pools(server: ServerOption = DEFAULT_SERVER, as_json: JsonOption = False) -> None:
    """List pools with their workers, GPUs in use and the queues they serve."""
    with connect(server) as client:
        pools = client.list_pools()
    if as_json:
        print_json(pools)
        return
    rows = [
        (
            p["name"],
            p["gpus_per_replica"],
            p["workers"],
            f"{p['gpus_in_use']}/{p['gpus_total']}",
            p["slots_total"],
            p["jobs_running"],
            ", ".join(p["queues"]),
            ",".join(f"{k}={v}" for k, v in p["labels"].items()),
            p.get("status", "ok") + (f": {p['problem']}" if p.get("problem") else ""),
        )
        for p in pools
    ]
    print_table(
        ("POOL", "GPUS/REPLICA", "WORKERS", "GPUS USED", "SLOTS", "JOBS", "QUEUES", "LABELS", "STATUS"),
        rows,
        empty="no pools yet: start an agent (runyard agent --pool NAME) or configure pools",
    )


@app.command("set")
def set_pool(
    name: Annotated[str, typer.Argument(help="Pool name.")],
    gpus_per_replica: Annotated[int, typer.Option(help="GPUs one replica (worker) offers.")] = 0,
    queue: Annotated[list[str] | None, typer.Option("--queue", help="A queue the pool serves (repeatable).")] = None,
    label: Annotated[list[str] | None, typer.Option("--label", help="KEY=VALUE (repeatable).")] = None,
    server: ServerOption = DEFAULT_SERVER,
) -> None:
    """Declare a pool (or change one) over the API."""
    with connect(server) as client:
        pool = client.put_pool(
            name,
            gpus_per_replica=gpus_per_replica,
            queues=queue or ["default"],
            labels=key_values(label or [], "--label"),
        )
    console.print(
        f"pool {pool['name']}: {pool['gpus_per_replica']} GPUs per replica, queues {', '.join(pool['queues'])}"
    )


@app.command("rm")
def remove_pool(name: Annotated[str, typer.Argument(help="Pool name.")], server: ServerOption = DEFAULT_SERVER) -> None:
    """Remove a pool declared over the API (configured pools come back on restart)."""
    with connect(server) as client:
        client.delete_pool(name)
    console.print(f"pool {name} removed")
