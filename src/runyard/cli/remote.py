"""Shared by the CLI groups that talk to a running server: the ``--server`` option, errors, tables."""

from __future__ import annotations

import contextlib
import datetime
import json
from collections.abc import Iterator, Sequence
from typing import Annotated, Any

import typer
from rich.table import Table

from runyard.cli.output import console, fail
from runyard.client import Client, authorization_from_env
from runyard.errors import RunyardError
from runyard.settings import DEFAULT_HOST, DEFAULT_PORT

DEFAULT_SERVER = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"

ServerOption = Annotated[
    str,
    typer.Option(
        "--server",
        envvar=["RUNYARD_SERVER_URL", "MLFLOW_TRACKING_URI"],
        help=f"runyard server URL (env RUNYARD_SERVER_URL or MLFLOW_TRACKING_URI; default {DEFAULT_SERVER}).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@contextlib.contextmanager
def connect(server: str) -> Iterator[Client]:
    """A client of ``server``; any runyard error becomes a one-line message and exit code 1."""
    if not server.startswith(("http://", "https://")):
        fail(f"--server must be an http:// or https:// URL, not {server!r}")
    try:
        with Client(server, authorization=authorization_from_env()) as client:
            yield client
    except RunyardError as error:
        fail(error.message)


def print_json(data: Any) -> None:
    console.print_json(json.dumps(data, default=str))


def print_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], *, empty: str) -> None:
    if not rows:
        console.print(empty)
        return
    table = Table(*columns, box=None, pad_edge=False, header_style="bold")
    for row in rows:
        table.add_row(*("" if value is None else str(value) for value in row))
    console.print(table)


def when(ms: int | None) -> str:
    """A millisecond timestamp as local time (empty when unset)."""
    if not ms:
        return ""
    return datetime.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def ago(ms: int | None, now_ms: int) -> str:
    if not ms:
        return ""
    seconds = max(0, (now_ms - ms) // 1000)
    if seconds < 120:
        return f"{seconds}s ago"
    if seconds < 7200:
        return f"{seconds // 60}m ago"
    return f"{seconds // 3600}h ago"


def key_values(items: Sequence[str], option: str) -> dict[str, str]:
    """``["k=v", …]`` → dict, failing with a message naming ``option`` on a malformed item."""
    result: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"{option} takes KEY=VALUE, not {item!r}")
        result[key] = value
    return result
