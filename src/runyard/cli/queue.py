"""``runyard queue ls/set``: queues, their priorities and which pools serve them."""

from __future__ import annotations

from typing import Annotated

import typer

from runyard.cli.output import console
from runyard.cli.remote import DEFAULT_SERVER, JsonOption, ServerOption, connect, print_json, print_table

app = typer.Typer(help="Queues: priorities and the pools that serve them.", no_args_is_help=True)


@app.command("ls")
def list_queues(server: ServerOption = DEFAULT_SERVER, as_json: JsonOption = False) -> None:
    """List queues; a queue no pool serves is marked (its jobs wait until one does)."""
    with connect(server) as client:
        queues = client.list_queues()
    if as_json:
        print_json(queues)
        return
    rows = [
        (
            q["name"],
            q["priority"],
            q["queued"],
            q["assigned"] + q["running"],
            ", ".join(q["pools"]) if q["pools"] else "NOT SERVED by any pool",
        )
        for q in queues
    ]
    print_table(("QUEUE", "PRIORITY", "QUEUED", "RUNNING", "POOLS"), rows, empty="no queues yet")


@app.command("set")
def set_queue(
    name: Annotated[str, typer.Argument(help="Queue name (created if new).")],
    priority: Annotated[int, typer.Option(help="Higher queues are placed first.")] = 0,
    description: Annotated[str | None, typer.Option(help="What the queue is for.")] = None,
    server: ServerOption = DEFAULT_SERVER,
) -> None:
    """Create a queue or change its priority."""
    with connect(server) as client:
        queue = client.put_queue(name, priority=priority, description=description)
    console.print(f"queue {queue['name']}: priority {queue['priority']}")
