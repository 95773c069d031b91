"""Server settings from CLI flags: flags that were given override environment and config file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from runyard.cli.output import fail
from runyard.settings import ServerSettings

DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help="Local data directory (default ~/.runyard; env RUNYARD_DATA_DIR).")
]
BackendStoreOption = Annotated[
    str | None,
    typer.Option(
        "--backend-store-uri",
        help="Metadata database: sqlite:///PATH, postgresql://…, mysql://… or mariadb://… "
        "(env RUNYARD_BACKEND_STORE_URI; default sqlite in the data directory).",
    ),
]
ArtifactsOption = Annotated[
    str | None,
    typer.Option(
        "--artifacts-destination",
        help="Artifact store: a path, file://… or s3://bucket/prefix; the S3 endpoint comes from "
        "AWS_ENDPOINT_URL or MLFLOW_S3_ENDPOINT_URL (env RUNYARD_ARTIFACTS_DESTINATION).",
    ),
]
RegistryOption = Annotated[
    str | None,
    typer.Option(
        "--registry-destination",
        help="Where registered model versions are copied: a path or s3://… (env RUNYARD_REGISTRY_URI).",
    ),
]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="TOML config file (env RUNYARD_CONFIG).", exists=False)
]


def build_settings(config: Path | None = None, **flags: Any) -> ServerSettings:
    """Settings with only the flags the user actually passed taking precedence."""
    import os

    if config is not None:
        if not config.is_file():
            fail(f"config file {config} does not exist")
        os.environ["RUNYARD_CONFIG"] = str(config)
    given = {name: value for name, value in flags.items() if value is not None}
    try:
        return ServerSettings(**given)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "settings"
        fail(f"invalid configuration: {where}: {first['msg']}")
