"""Workspaces: the namespace every experiment, model, recipe, queue and job belongs to (MLflow 3's).

Names follow MLflow's ``WorkspaceNameValidator`` (Kubernetes-style DNS labels), so a name the
``mlflow`` client accepts is accepted here and one it refuses is refused with the same message.
``default`` always exists: it holds everything created without a workspace, and cannot be created,
renamed or deleted.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from runyard.errors import InvalidParameter

DEFAULT_WORKSPACE = "default"
# The request header MLflow 3 clients send (``mlflow.set_workspace`` / ``MLFLOW_WORKSPACE``).
WORKSPACE_HEADER = "X-MLFLOW-WORKSPACE"
NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
MIN_NAME_LENGTH = 2
MAX_NAME_LENGTH = 63
# Names that would collide with URL segments in MLflow's own routing; refused as MLflow refuses them.
RESERVED_NAMES = frozenset({"workspaces", "api", "ajax-api", "static-files"})
MAX_DESCRIPTION_LENGTH = 5000
MAX_ARTIFACT_ROOT_LENGTH = 1000

_NAME = re.compile(NAME_PATTERN)


class DeletionMode(enum.StrEnum):
    """What deleting a workspace does with its contents (MLflow's ``WorkspaceDeletionMode``)."""

    RESTRICT = "RESTRICT"
    CASCADE = "CASCADE"
    SET_DEFAULT = "SET_DEFAULT"


@dataclass(frozen=True)
class Workspace:
    name: str
    description: str | None = None
    default_artifact_root: str | None = None
    creation_time: int = 0
    last_update_time: int = 0


def validate_name(name: object) -> str:
    """``name`` if MLflow would accept it as a workspace name; ``default`` is always accepted.

    Raises:
        InvalidParameter: with MLflow's message for the first rule ``name`` breaks.
    """
    if not isinstance(name, str):
        raise InvalidParameter(f"Workspace name must be a string, got {type(name).__name__}.")
    if name == DEFAULT_WORKSPACE:
        return name
    if not MIN_NAME_LENGTH <= len(name) <= MAX_NAME_LENGTH:
        raise InvalidParameter(
            f"Workspace name '{name}' must be between {MIN_NAME_LENGTH} and {MAX_NAME_LENGTH} characters."
        )
    if not _NAME.match(name):
        raise InvalidParameter(
            f"Workspace name '{name}' must match the pattern {NAME_PATTERN} "
            "(lowercase alphanumeric with optional internal hyphens)."
        )
    if name in RESERVED_NAMES:
        raise InvalidParameter(f"Workspace name '{name}' is reserved and cannot be used.")
    return name


def parse_deletion_mode(value: str | None) -> DeletionMode:
    if value is None or value == "":
        return DeletionMode.RESTRICT
    try:
        return DeletionMode(value)
    except ValueError:
        choices = ", ".join(mode.value for mode in DeletionMode)
        raise InvalidParameter(f"Invalid deletion mode '{value}'. Must be one of: {choices}") from None


def workspace_from_header(value: str | None) -> str:
    """The workspace a request names in its header: absent or blank means ``default``."""
    if value is None or not value.strip():
        return DEFAULT_WORKSPACE
    return validate_name(value.strip())
