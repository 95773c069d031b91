"""``runyard model ls/show/download/events``: the model registry from the command line.

References are ``NAME`` (the newest version), ``NAME/VERSION``, ``NAME/STAGE`` or ``NAME@ALIAS``,
as in ``models:/`` URIs. Downloads come from the version's immutable registry copy through the
server (no storage credentials needed) and are checked against the version's content digest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from runyard.cli.output import console, error_console, fail
from runyard.cli.remote import DEFAULT_SERVER, JsonOption, ServerOption, connect, print_json, print_table, when
from runyard.client._registry import DIGEST_TAG, parse_reference

app = typer.Typer(help="Browse and download registered models.", no_args_is_help=True)


def _tag(version: dict[str, Any], key: str) -> str:
    return next((t["value"] for t in version.get("tags", []) if t["key"] == key), "")


@app.command("ls")
def list_models(
    filter_string: Annotated[
        str | None, typer.Option("--filter", help="MLflow filter, e.g. \"name LIKE 'fraud%'\" or \"tags.team = 'x'\".")
    ] = None,
    max_results: Annotated[int, typer.Option(help="Show at most this many models.", min=1, max=1000)] = 100,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """List registered models with their newest version and aliases."""
    with connect(server) as client:
        models = client.search_registered_models(filter_string=filter_string, max_results=max_results).get(
            "registered_models", []
        )
    if as_json:
        print_json(models)
        return
    rows = []
    for model in models:
        latest = max((int(v["version"]) for v in model.get("latest_versions", [])), default=None)
        aliases = ", ".join(f"{a['alias']}→{a['version']}" for a in model.get("aliases", []))
        rows.append((model["name"], latest or "", aliases, when(model.get("last_updated_timestamp"))))
    print_table(("NAME", "LATEST", "ALIASES", "UPDATED"), rows, empty="no registered models")


@app.command("show")
def show(
    reference: Annotated[str, typer.Argument(help="NAME, NAME/VERSION, NAME/STAGE or NAME@ALIAS.")],
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Show a registered model (with its versions) or one version."""
    name, suffix, alias = parse_reference(reference)
    with connect(server) as client:
        if suffix is None and alias is None:
            model = client.get_registered_model(name)
            versions = client.search_model_versions(name)
            if as_json:
                print_json({"registered_model": model, "model_versions": versions})
                return
            _print_model(model, versions)
            return
        version = client.get_model_version(reference)
    if as_json:
        print_json(version)
        return
    _print_version(version)


def _print_model(model: dict[str, Any], versions: list[dict[str, Any]]) -> None:
    console.print(f"[bold]{model['name']}[/]  created {when(model.get('creation_timestamp'))}")
    if model.get("description"):
        console.print(model["description"])
    for tag in model.get("tags", []):
        console.print(f"tag {tag['key']} = {tag['value']}")
    rows = [
        (v["version"], v.get("current_stage", ""), ", ".join(v.get("aliases", [])), v.get("status", ""),
         when(v.get("creation_timestamp")), _tag(v, DIGEST_TAG)[:19])
        for v in versions
    ]  # fmt: skip
    print_table(("VERSION", "STAGE", "ALIASES", "STATUS", "CREATED", "DIGEST"), rows, empty="no versions yet")


def _print_version(version: dict[str, Any]) -> None:
    console.print(f"[bold]{version['name']}[/] version {version['version']}  ({version.get('status', '')})")
    fields = [
        ("stage", version.get("current_stage")),
        ("aliases", ", ".join(version.get("aliases", []))),
        ("digest", _tag(version, DIGEST_TAG)),
        ("source", version.get("source")),
        ("run", version.get("run_id")),
        ("logged model", version.get("model_id")),
        ("created", when(version.get("creation_timestamp"))),
        ("by", version.get("user_id")),
        ("description", version.get("description")),
    ]
    for label, value in fields:
        if value:
            console.print(f"{label + ':':<14}{value}")
    for tag in version.get("tags", []):
        if tag["key"] != DIGEST_TAG:
            console.print(f"{'tag:':<14}{tag['key']} = {tag['value']}")


@app.command("download")
def download(
    reference: Annotated[str, typer.Argument(help="NAME, NAME/VERSION, NAME/STAGE or NAME@ALIAS.")],
    dest: Annotated[
        Path | None, typer.Option("--dest", "-d", help="Directory to write into (default ./NAME-vVERSION).")
    ] = None,
    server: ServerOption = DEFAULT_SERVER,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Download a version's files (verified against its content digest)."""
    with connect(server) as client:
        version = client.get_model_version(reference)
        target = dest or Path(f"{version['name']}-v{version['version']}")
        if target.exists() and any(target.iterdir()):
            fail(f"{target} exists and is not empty; choose another --dest")
        target.mkdir(parents=True, exist_ok=True)
        progress = Progress(
            TextColumn(f"{version['name']} v{version['version']}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=error_console,
            disable=quiet,
        )
        with progress:
            task = progress.add_task("download", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            client.download_model_version(f"{version['name']}/{version['version']}", target, on_progress=advance)
    console.print(f"downloaded {version['name']} version {version['version']} to {target}")


@app.command("events")
def events(
    name: Annotated[str | None, typer.Argument(help="Only this registered model.")] = None,
    event_type: Annotated[str | None, typer.Option("--type", help="e.g. alias.set, model_version.created.")] = None,
    user: Annotated[str | None, typer.Option(help="Only events by this user.")] = None,
    max_results: Annotated[int, typer.Option(help="How many (newest first).", min=1, max=1000)] = 50,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """The registry audit log: who created, promoted or deleted what, and when."""
    with connect(server) as client:
        page = client.registry_events(name=name, event_type=event_type, user=user, max_results=max_results)
    items = page.get("events", [])
    if as_json:
        print_json(items)
        return
    rows = [
        (when(e["timestamp"]), e["user"], e["event_type"], e["name"], e["version"] or "",
         " ".join(f"{k}={v}" for k, v in e["details"].items()))
        for e in items
    ]  # fmt: skip
    print_table(("WHEN", "USER", "EVENT", "MODEL", "VERSION", "DETAILS"), rows, empty="no registry events")
