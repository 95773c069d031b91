"""The recipe manifest (``runyard.yaml`` at the root of a bundle), validated and normalised.

A manifest names the recipe and says how to run it::

    name: train
    description: Fine-tune a classifier
    entrypoint: train.py              # a .py file; or {module: pkg.train}; or {command: [bash, run.sh]}
    requirements: requirements.txt    # a file in the bundle, or a list of requirement strings
    resources: {gpus: 1, cpus: 4, memory_mb: 8192, timeout_seconds: 3600}
    parameters:                       # JSON Schema of the job parameters
      type: object
      properties:
        lr: {type: number, default: 0.01}
      required: [lr]
    env: {TOKENIZERS_PARALLELISM: "false"}
    sandbox: {network: true, max_processes: 512}
    watchdog: {inactivity_seconds: 600, kill: false}

Pure: parsing the YAML and checking the JSON Schema itself happen in ``services.recipes``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from runyard.domain.jobs import EntrypointKind

MANIFEST_NAMES = ("runyard.yaml", "recipe.yaml")
# Bundles live in the artifact store under ``recipes/<name>/<hex>.tar.gz``; only the recipes API touches them.
RECIPE_BUNDLE_PREFIX = "recipes"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
MAX_GPUS = 64


class Entrypoint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: EntrypointKind
    target: str | list[str]

    @model_validator(mode="after")
    def _check_target(self) -> Entrypoint:
        if self.kind is EntrypointKind.COMMAND:
            if not isinstance(self.target, list) or not self.target or not all(self.target):
                raise ValueError("a command entrypoint is a non-empty list of arguments")
        elif not isinstance(self.target, str) or not self.target:
            raise ValueError(f"a {self.kind} entrypoint names one file or module")
        return self


class ResourceSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gpus: int = Field(default=0, ge=0, le=MAX_GPUS)
    cpus: float | None = Field(default=None, gt=0)
    memory_mb: int | None = Field(default=None, ge=16)
    timeout_seconds: float | None = Field(default=None, gt=0)


class SandboxSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    isolation: Literal["auto", "process", "namespace", "bubblewrap"] = "auto"
    network: bool = True
    cpu_seconds: int | None = Field(default=None, ge=1)
    max_processes: int | None = Field(default=None, ge=1)
    max_file_size_mb: int | None = Field(default=None, ge=1)


class WatchdogSpec(BaseModel):
    """No log line and no metric for ``inactivity_seconds`` flags the job; ``kill`` also stops it."""

    model_config = ConfigDict(extra="forbid")

    inactivity_seconds: float | None = Field(default=None, gt=0)
    kill: bool = False


class Manifest(BaseModel):
    """The normalised manifest, stored with each recipe version."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, pattern=NAME_PATTERN)
    description: str | None = Field(default=None, max_length=5000)
    entrypoint: Entrypoint
    requirements: list[str] = Field(default_factory=list)
    resources: ResourceSpec = Field(default_factory=ResourceSpec)
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})
    env: dict[str, str] = Field(default_factory=dict)
    sandbox: SandboxSpec = Field(default_factory=SandboxSpec)
    watchdog: WatchdogSpec = Field(default_factory=WatchdogSpec)

    @field_validator("entrypoint", mode="before")
    @classmethod
    def _expand_entrypoint(cls, value: Any) -> Any:
        """Accept ``train.py``, ``{python: …}``, ``{module: …}`` and ``{command: […]}`` shorthands."""
        if isinstance(value, str):
            if value.endswith(".py"):
                return {"kind": "python", "target": value}
            return {"kind": "command", "target": value.split()}
        if isinstance(value, dict) and "kind" not in value and len(value) == 1:
            ((kind, target),) = value.items()
            return {"kind": kind, "target": target}
        return value

    @field_validator("env")
    @classmethod
    def _check_env(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not key.replace("_", "a").isalnum() or key[0].isdigit():
                raise ValueError(f"invalid environment variable name {key!r}")
        return value


@dataclass(frozen=True, slots=True)
class RecipeVersion:
    name: str
    version: int
    digest: str
    manifest: Manifest
    bundle_path: str
    bundle_size: int
    creation_time: int


@dataclass(frozen=True, slots=True)
class Recipe:
    name: str
    description: str | None
    latest_version: int
    creation_time: int
    last_update_time: int
