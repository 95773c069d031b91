"""Helpers for registry tests: a run with model-like files, and a registered version made from it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from tests.conftest import unique


def model_files() -> dict[str, bytes]:
    return {
        "MLmodel": b"flavors:\n  python_function:\n    loader_module: fake\n",
        "model.bin": os.urandom(20_000),
        "conf/params.yaml": b"lr: 0.1\n",
    }


def run_with_model(client, files: dict[str, bytes] | None = None):  # type: ignore[no-untyped-def]
    """A finished run whose artifacts hold ``files`` under ``model/``."""
    experiment_id = client.create_experiment(unique("registry-exp"))
    run = client.create_run(experiment_id)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "model"
        for relative, content in (files or model_files()).items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        client.log_artifacts(run.info.run_id, str(root), "model")
    client.set_terminated(run.info.run_id)
    return run


def new_version(client, name: str | None = None, files: dict[str, bytes] | None = None):  # type: ignore[no-untyped-def]
    """Register ``name`` (if needed) and a version made from a fresh run's ``model/`` artifacts."""
    name = name or unique("model")
    try:
        client.create_registered_model(name)
    except Exception as error:  # already registered by an earlier call
        if "RESOURCE_ALREADY_EXISTS" not in str(error):
            raise
    run = run_with_model(client, files)
    return client.create_model_version(name, f"{run.info.artifact_uri}/model", run_id=run.info.run_id)
