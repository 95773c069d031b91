"""Registry entities (registered models, versions, aliases, logged models, events) and MLflow's rules.

Pure values and validation with MLflow's messages, so the ``mlflow`` client raises the same errors
against runyard as against MLflow. Nothing here does I/O.
"""

from __future__ import annotations

import enum
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

from runyard.domain.tracking import Metric, Param, Tag
from runyard.domain.validation import check_length, invalid_value, validate_name
from runyard.errors import InvalidParameter

MAX_TAG_KEY_LENGTH = 250
MAX_TAG_VALUE_LENGTH = 100_000
MAX_ALIAS_LENGTH = 255
MAX_MODEL_NAME_LENGTH = 256
MAX_DESCRIPTION_LENGTH = 100_000
# The artifact proxy serves the registry store under this top-level folder, read-only:
# ``mlflow-artifacts:/_registry/<storage path>``. Experiment folders are numeric, so it never collides.
REGISTRY_ARTIFACT_PREFIX = "_registry"
# Tags runyard adds to every version it shows (not stored as tags, not settable by users).
DIGEST_TAG = "runyard.content_digest"
RESERVED_TAG_PREFIX = "runyard."
PROMPT_TAG = "mlflow.prompt.is_prompt"

_ALIAS_PATTERN = re.compile(r"^[\w\-]*$")
_VERSION_ALIAS_PATTERN = re.compile(r"^[vV]\d+$")
LATEST_ALIAS = "latest"


class Stage(enum.StrEnum):
    """Model version stages (deprecated in MLflow, still used by clients)."""

    NONE = "None"
    STAGING = "Staging"
    PRODUCTION = "Production"
    ARCHIVED = "Archived"

    @classmethod
    def parse(cls, text: str | None) -> Stage:
        """MLflow's ``get_canonical_stage``: case-insensitive."""
        for stage in cls:
            if text is not None and stage.value.lower() == text.lower():
                return stage
        valid = ", ".join(s.value for s in cls)
        raise InvalidParameter(f"Invalid Model Version stage: {text}. Value must be one of {valid}.")

    @property
    def is_active(self) -> bool:
        return self in (Stage.STAGING, Stage.PRODUCTION)


class VersionStatus(enum.StrEnum):
    PENDING_REGISTRATION = "PENDING_REGISTRATION"
    FAILED_REGISTRATION = "FAILED_REGISTRATION"
    READY = "READY"


class LoggedModelStatus(enum.StrEnum):
    UNSPECIFIED = "LOGGED_MODEL_STATUS_UNSPECIFIED"
    PENDING = "LOGGED_MODEL_PENDING"
    READY = "LOGGED_MODEL_READY"
    UPLOAD_FAILED = "LOGGED_MODEL_UPLOAD_FAILED"

    @classmethod
    def parse(cls, value: str | int | None) -> LoggedModelStatus:
        """A status as the REST API sends it: the enum name or its number."""
        if isinstance(value, int):
            members = list(cls)
            if 0 <= value < len(members):
                return members[value]
        elif value is not None:
            for status in cls:
                if status.value == value:
                    return status
        raise InvalidParameter(invalid_value("status", value, f"expected one of {', '.join(s.value for s in cls)}"))


class EventType(enum.StrEnum):
    """What happened in the registry (the audit log's vocabulary)."""

    MODEL_CREATED = "registered_model.created"
    MODEL_RENAMED = "registered_model.renamed"
    MODEL_UPDATED = "registered_model.updated"
    MODEL_DELETED = "registered_model.deleted"
    MODEL_TAG_SET = "registered_model.tag_set"
    MODEL_TAG_DELETED = "registered_model.tag_deleted"
    VERSION_CREATED = "model_version.created"
    VERSION_READY = "model_version.ready"
    VERSION_FAILED = "model_version.failed"
    VERSION_UPDATED = "model_version.updated"
    VERSION_DELETED = "model_version.deleted"
    VERSION_STAGE_CHANGED = "model_version.stage_changed"
    VERSION_TAG_SET = "model_version.tag_set"
    VERSION_TAG_DELETED = "model_version.tag_deleted"
    ALIAS_SET = "alias.set"
    ALIAS_DELETED = "alias.deleted"


@dataclass(frozen=True, slots=True)
class ModelVersion:
    name: str
    version: int
    creation_timestamp: int
    last_updated_timestamp: int
    current_stage: str
    source: str
    status: str
    storage_path: str
    description: str | None = None
    user_id: str | None = None
    run_id: str | None = None
    run_link: str | None = None
    status_message: str | None = None
    model_id: str | None = None
    content_digest: str | None = None
    size_bytes: int | None = None
    tags: list[Tag] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)

    @property
    def download_uri(self) -> str:
        """Where clients read this version's files: the registry copy through the artifact proxy, else its source."""
        if not self.storage_path:  # registered as a reference to files outside this server's stores
            return self.source
        return f"mlflow-artifacts:/{REGISTRY_ARTIFACT_PREFIX}/{self.storage_path}"


@dataclass(frozen=True, slots=True)
class Alias:
    alias: str
    version: int


@dataclass(frozen=True, slots=True)
class RegisteredModel:
    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str | None = None
    user_id: str | None = None
    tags: list[Tag] = field(default_factory=list)
    aliases: list[Alias] = field(default_factory=list)
    latest_versions: list[ModelVersion] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class LoggedModel:
    model_id: str
    experiment_id: str
    name: str
    artifact_location: str
    creation_timestamp_ms: int
    last_updated_timestamp_ms: int
    status: str
    lifecycle_stage: str
    model_type: str | None = None
    source_run_id: str | None = None
    status_message: str | None = None
    tags: list[Tag] = field(default_factory=list)
    params: list[Param] = field(default_factory=list)
    metrics: list[Metric] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RegistryEvent:
    event_id: int
    timestamp: int
    event_type: str
    model_name: str
    version: int | None
    user_id: str
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class VersionRef:
    """``NAME``, ``NAME/VERSION``, ``NAME@ALIAS`` or ``NAME/STAGE`` (the CLI's and ``models:/``'s forms)."""

    name: str
    version: int | None = None
    alias: str | None = None
    stage: str | None = None

    @classmethod
    def parse(cls, text: str) -> VersionRef:
        text = text.removeprefix("models:/")
        if "@" in text:
            name, alias = text.rsplit("@", 1)
            return cls(name=name, alias=alias)
        if "/" in text:
            name, suffix = text.split("/", 1)
            if suffix.isdigit():
                return cls(name=name, version=int(suffix))
            return cls(name=name, stage=suffix)
        return cls(name=text)


def missing(path: str) -> InvalidParameter:
    return InvalidParameter(f"Missing value for required parameter '{path}'.")


def validate_model_name(name: str | None, path: str = "name") -> str:
    """MLflow's ``_validate_model_name``: non-empty, no ``/`` or ``:``, no path tricks."""
    if name is None or not name.strip():
        raise missing(path)
    if "/" in name or ":" in name:
        raise InvalidParameter(f"Invalid model name '{name}'. Names cannot contain '/' or ':'.")
    normalised = posixpath.normpath(name)
    if normalised != name or normalised == "." or normalised.startswith(".."):
        raise InvalidParameter(
            invalid_value(
                path,
                name,
                "Names may be treated as files in certain cases, and must not resolve to other names when "
                f"treated as such. This name would resolve to {normalised!r}",
            )
        )
    check_length(path, MAX_MODEL_NAME_LENGTH, name)
    return name


def parse_version(version: str | int | None, path: str = "version") -> int:
    """A version number as MLflow accepts it (an integer, possibly sent as a string)."""
    if version is None or version == "":
        raise missing(path)
    try:
        number = int(version)
    except (TypeError, ValueError):
        raise InvalidParameter(
            f"Parameter '{path}' must be an integer, got '{version}'.", error_code="INVALID_PARAMETER_VALUE"
        ) from None
    if not 1 <= number < 2**31:
        raise InvalidParameter(invalid_value(path, version, "model versions are positive 32-bit integers"))
    return number


def validate_alias(alias: str | None) -> str:
    if alias is None or alias == "":
        raise InvalidParameter("Registered model alias name cannot be empty.")
    if not _ALIAS_PATTERN.match(alias):
        raise InvalidParameter(
            f"Invalid alias name: '{alias}'. Names may only contain alphanumerics, underscores (_), and dashes (-)."
        )
    check_length("Registered model alias name", MAX_ALIAS_LENGTH, alias)
    return alias


def validate_settable_alias(alias: str | None) -> str:
    """An alias a user may set: valid, and neither ``latest`` nor a version alias like ``v3``."""
    alias = validate_alias(alias)
    if alias.lower() == LATEST_ALIAS:
        raise InvalidParameter("'latest' alias name (case insensitive) is reserved.")
    if _VERSION_ALIAS_PATTERN.match(alias):
        raise InvalidParameter(f"Version alias name '{alias}' is reserved.")
    return alias


def validate_registry_tag(tag: Tag, *, settable: bool = True) -> Tag:
    """MLflow's registry tag rules; ``runyard.`` keys are runyard's own and cannot be set."""
    validate_name(tag.key, "key", "Tag")
    check_length("key", MAX_TAG_KEY_LENGTH, tag.key)
    check_length("value", MAX_TAG_VALUE_LENGTH, tag.value)
    if settable and tag.key.startswith(RESERVED_TAG_PREFIX):
        raise InvalidParameter(f"Tag keys starting with '{RESERVED_TAG_PREFIX}' are reserved for runyard: '{tag.key}'.")
    return tag


def validate_logged_model_name(name: str | None) -> None:
    if name is None:
        return
    bad = ("/", ":", ".", "%", '"', "'")
    if not name or any(c in name for c in bad):
        raise InvalidParameter(
            f"Invalid model name ({name!r}) provided. Model name must be a non-empty string "
            f"and cannot contain the following characters: {bad}"
        )
