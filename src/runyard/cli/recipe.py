"""``runyard recipe push/ls/show``: recipes on a server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from runyard.cli.output import console, fail
from runyard.cli.remote import DEFAULT_SERVER, JsonOption, ServerOption, connect, print_json, print_table, when

app = typer.Typer(help="Push and inspect recipes (versioned bundles that jobs run).", no_args_is_help=True)


@app.command("push")
def push(
    directory: Annotated[Path, typer.Argument(help="Recipe directory with runyard.yaml at its root.")],
    name: Annotated[
        str | None, typer.Option(help="Recipe name when the manifest has none (default: dir name).")
    ] = None,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Upload DIRECTORY as a new recipe version (identical content keeps the current version)."""
    if not directory.is_dir():
        fail(f"{directory} is not a directory")
    with connect(server) as client:
        try:
            result = client.push_recipe(directory, name=name)
        except FileNotFoundError as error:
            fail(str(error))
    recipe = result["recipe"]
    if as_json:
        print_json(result)
        return
    verb = "pushed" if result["created"] else "unchanged:"
    console.print(f"{verb} recipe {recipe['name']} version {recipe['version']} ({recipe['digest'][:19]})")


@app.command("ls")
def list_recipes(
    prefix: Annotated[str | None, typer.Option(help="Only names starting with this.")] = None,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """List recipes."""
    with connect(server) as client:
        recipes = client.list_recipes(prefix=prefix, limit=1000)
    if as_json:
        print_json(recipes)
        return
    rows = [(r["name"], r["latest_version"], when(r["last_update_time"]), r["description"] or "") for r in recipes]
    print_table(("NAME", "LATEST", "UPDATED", "DESCRIPTION"), rows, empty="no recipes yet: runyard recipe push DIR")


@app.command("show")
def show(
    reference: Annotated[str, typer.Argument(help="NAME or NAME:VERSION")],
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Show a recipe version: entrypoint, resources, parameter schema."""
    name, _, version = reference.partition(":")
    with connect(server) as client:
        found = client.get_recipe_version(name, version or "latest")
    if as_json:
        print_json(found)
        return
    manifest = found["manifest"]
    entry = manifest["entrypoint"]
    target = " ".join(entry["target"]) if isinstance(entry["target"], list) else entry["target"]
    console.print(f"[bold]{found['name']}[/] version {found['version']}  {found['digest']}")
    if manifest.get("description"):
        console.print(manifest["description"])
    console.print(f"entrypoint: {entry['kind']} {target}")
    resources = {k: v for k, v in manifest["resources"].items() if v is not None}
    console.print(f"resources:  {resources}")
    if manifest["requirements"]:
        console.print(f"requirements: {', '.join(manifest['requirements'])}")
    properties = manifest["parameters"].get("properties", {})
    required = set(manifest["parameters"].get("required", []))
    rows = [
        (key, spec.get("type", ""), "yes" if key in required else "", spec.get("default", ""))
        for key, spec in properties.items()
    ]
    print_table(("PARAMETER", "TYPE", "REQUIRED", "DEFAULT"), rows, empty="parameters: none declared")
