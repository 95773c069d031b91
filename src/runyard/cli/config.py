"""``runyard config check``: print the effective configuration or fail on a bad one."""

from __future__ import annotations

import json

import typer

from runyard.cli.output import console
from runyard.cli.settings_flags import (
    ArtifactsOption,
    BackendStoreOption,
    ConfigOption,
    DataDirOption,
    RegistryOption,
    build_settings,
)

app = typer.Typer(help="Inspect runyard's configuration.", no_args_is_help=True)


@app.command("check")
def check(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    backend_store_uri: BackendStoreOption = None,
    artifacts_destination: ArtifactsOption = None,
    registry_destination: RegistryOption = None,
) -> None:
    """Validate the configuration (flags > RUNYARD_* env > config file > defaults) and print it, secrets redacted."""
    settings = build_settings(
        config,
        data_dir=data_dir,
        backend_store_uri=backend_store_uri,
        artifacts_destination=artifacts_destination,
        registry_uri=registry_destination,
    )
    console.print_json(json.dumps(settings.redacted()))
    console.print("[green]configuration OK[/]")
