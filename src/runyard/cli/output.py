"""Printing for the CLI: one console, and one way to fail with a one-line message."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

console = Console(highlight=False)
error_console = Console(stderr=True, highlight=False)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: message`` on stderr and exit non-zero (no traceback for user errors)."""
    error_console.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    raise typer.Exit(code)
