"""Model versions: create (in two steps around the file copy), get, update, delete, stages, tags.

Creating a version is ``begin_model_version`` (validate, resolve the source, number the version,
PENDING_REGISTRATION) in one transaction, the file copy outside any transaction (a large model must
not hold database locks), then ``finish_model_version`` (READY with digest, or FAILED_REGISTRATION)
in another. Clients poll a pending version until it is READY, exactly as with MLflow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from runyard.domain import registry as rules
from runyard.domain.clock import now_ms
from runyard.domain.registry import EventType, ModelVersion, Stage, VersionStatus
from runyard.domain.tracking import Tag
from runyard.errors import InvalidParameter, NotFound
from runyard.services import registry_events as events
from runyard.services.registry import model_row
from runyard.services.registry_files import ResolvedSource, SourceLocation, resolve_source
from runyard.services.workspaces import workspace_scope
from runyard.stores.artifacts.paths import join
from runyard.stores.metadata import registry as store
from runyard.stores.metadata import runs as run_store


@dataclass(frozen=True, slots=True)
class PendingVersion:
    """A numbered version waiting for its files: copy ``source`` to ``destination`` in the registry store."""

    model_id: int
    name: str
    version: int
    source: SourceLocation | None
    destination: str
    user: str | None


# MLflow's prompt source placeholders (mlflow/prompt/constants.py): the client's and the store's.
PROMPT_SOURCE_PLACEHOLDERS = frozenset({"dummy-source", "prompt-template"})


def is_prompt_version(tags: Sequence[Tag]) -> bool:
    """MLflow's rule: tags collapse by key, the last value wins, only 'true' selects a prompt."""
    values = {tag.key: tag.value for tag in tags}
    return values.get(rules.PROMPT_TAG, "false").lower() == "true"


def begin_model_version(
    connection: Connection,
    name: str | None,
    source: str | None,
    *,
    artifacts_root: str,
    run_id: str | None = None,
    model_id: str | None = None,
    tags: Sequence[Tag] = (),
    run_link: str | None = None,
    description: str | None = None,
    user: str | None = None,
) -> PendingVersion:
    """A PENDING_REGISTRATION version whose files are to be copied into the registry store."""
    return _insert_version(
        connection, name, source, artifacts_root=artifacts_root, run_id=run_id, model_id=model_id, tags=tags,
        run_link=run_link, description=description, user=user, reference_only=False,
    )  # fmt: skip


def register_reference(
    connection: Connection,
    name: str | None,
    source: str | None,
    *,
    artifacts_root: str,
    run_id: str | None = None,
    model_id: str | None = None,
    tags: Sequence[Tag] = (),
    run_link: str | None = None,
    description: str | None = None,
    user: str | None = None,
) -> ModelVersion:
    """A READY version that records ``source`` without holding a copy (files outside this server's stores)."""
    pending = _insert_version(
        connection, name, source, artifacts_root=artifacts_root, run_id=run_id, model_id=model_id, tags=tags,
        run_link=run_link, description=description, user=user, reference_only=True,
    )  # fmt: skip
    return finish_model_version(connection, pending, size_bytes=None, digest=None)


def _insert_version(
    connection: Connection,
    name: str | None,
    source: str | None,
    *,
    artifacts_root: str,
    run_id: str | None,
    model_id: str | None,
    tags: Sequence[Tag],
    run_link: str | None,
    description: str | None,
    user: str | None,
    reference_only: bool,
) -> PendingVersion:
    checked = [rules.validate_registry_tag(tag) for tag in tags]
    row = model_row(connection, name, lock=True)
    if is_prompt_version(checked):
        # A prompt's text lives in its tags; its source is a placeholder, never a location.
        if source not in PROMPT_SOURCE_PLACEHOLDERS:
            raise InvalidParameter(f"Invalid prompt source: '{source}'. Prompt sources must use an MLflow placeholder.")
        reference_only = True
        resolved = ResolvedSource(None, run_id, model_id)
    else:
        resolved = resolve_source(connection, source, run_id=run_id, model_id=model_id, artifacts_root=artifacts_root)
    if user is None and resolved.run_id:
        run = run_store.get_run_row(connection, resolved.run_id, workspace=workspace_scope())
        user = run.user_id if run is not None and run.user_id else None
    number = store.next_version(connection, row.id)
    now = now_ms()
    # An empty storage path marks a version that holds no files of its own.
    destination = "" if reference_only else join(row.storage_id, str(number))
    store.insert_version(
        connection,
        model_id=row.id,
        version=number,
        creation_time=now,
        last_updated_time=now,
        description=description,
        user_id=user,
        current_stage=Stage.NONE.value,
        source=source,
        run_id=resolved.run_id,
        run_link=run_link,
        logged_model_id=resolved.model_id,
        status=VersionStatus.PENDING_REGISTRATION.value,
        storage_path=destination,
    )
    store.set_version_tags(connection, row.id, number, list({tag.key: tag for tag in checked}.values()))
    store.update_model(connection, row.id, last_updated_time=now)
    events.record(
        connection, EventType.VERSION_CREATED, model_name=row.name, version=number, user=user, source=source,
        run_id=resolved.run_id, model_id=resolved.model_id,
    )  # fmt: skip
    return PendingVersion(row.id, row.name, number, resolved.location, destination, user)


def finish_model_version(
    connection: Connection,
    pending: PendingVersion,
    *,
    size_bytes: int | None = None,
    digest: str | None = None,
    error: str | None = None,
) -> ModelVersion:
    """Mark the version READY (with its digest) or FAILED_REGISTRATION (with ``error``)."""
    # By id: the model may have been renamed while the files were copied.
    row = store.get_model_row_by_id(connection, pending.model_id)
    if row is None:
        raise NotFound(f"Registered Model with name={pending.name} not found")
    values: dict[str, object] = {"last_updated_time": now_ms()}
    if error is None:
        values.update(status=VersionStatus.READY.value, content_digest=digest, size_bytes=size_bytes)
        events.record(
            connection, EventType.VERSION_READY, model_name=row.name, version=pending.version, user=pending.user,
            digest=digest, size_bytes=size_bytes,
        )  # fmt: skip
    else:
        values.update(status=VersionStatus.FAILED_REGISTRATION.value, status_message=error[:1000])
        events.record(
            connection,
            EventType.VERSION_FAILED,
            model_name=row.name,
            version=pending.version,
            user=pending.user,
            error=error,
        )
    store.update_version(connection, row.id, pending.version, **values)
    return get_model_version(connection, row.name, pending.version)


def get_model_version(connection: Connection, name: str | None, version: str | int | None) -> ModelVersion:
    number = rules.parse_version(version)
    row = model_row(connection, name)
    version_row = store.get_version_row(connection, row.id, number)
    if version_row is None:
        raise NotFound(f"Model Version (name={row.name}, version={number}) not found")
    return store.load_versions(connection, [version_row])[0]


def _locked_version(connection: Connection, name: str | None, version: str | int | None) -> tuple[int, str, int]:
    number = rules.parse_version(version)
    row = model_row(connection, name, lock=True)
    if store.get_version_row(connection, row.id, number) is None:
        raise NotFound(f"Model Version (name={row.name}, version={number}) not found")
    return row.id, row.name, number


def update_model_version(
    connection: Connection, name: str | None, version: str | int | None, description: str | None, *, user: str | None
) -> ModelVersion:
    model_id, model_name, number = _locked_version(connection, name, version)
    store.update_version(connection, model_id, number, description=description, last_updated_time=now_ms())
    events.record(
        connection, EventType.VERSION_UPDATED, model_name=model_name, version=number, user=user, description=description
    )
    return get_model_version(connection, model_name, number)


def delete_model_version(
    connection: Connection, name: str | None, version: str | int | None, *, user: str | None
) -> str:
    """Delete the version (its aliases go with it); returns its storage path for file cleanup."""
    model_id, model_name, number = _locked_version(connection, name, version)
    version_row = store.get_version_row(connection, model_id, number)
    assert version_row is not None
    aliases = store.load_versions(connection, [version_row])[0].aliases
    store.delete_version(connection, model_id, number)
    store.update_model(connection, model_id, last_updated_time=now_ms())
    events.record(
        connection, EventType.VERSION_DELETED, model_name=model_name, version=number, user=user,
        digest=version_row.content_digest, aliases_removed=aliases or None,
    )  # fmt: skip
    return str(version_row.storage_path)


def transition_stage(
    connection: Connection,
    name: str | None,
    version: str | int | None,
    stage: str | None,
    *,
    archive_existing_versions: bool = False,
    user: str | None = None,
) -> ModelVersion:
    target = Stage.parse(stage)
    if archive_existing_versions and not target.is_active:
        raise InvalidParameter(
            "Model version transition cannot archive existing model versions because "
            f"'{stage}' is not an Active stage. Valid stages are ['Staging', 'Production']"
        )
    model_id, model_name, number = _locked_version(connection, name, version)
    now = now_ms()
    current = store.get_version_row(connection, model_id, number)
    assert current is not None
    archived: list[int] = []
    if archive_existing_versions:
        for other in store.version_rows_in_stage(connection, model_id, target.value):
            if other.version != number:
                store.update_version(
                    connection, model_id, other.version, current_stage=Stage.ARCHIVED.value, last_updated_time=now
                )
                archived.append(other.version)
    store.update_version(connection, model_id, number, current_stage=target.value, last_updated_time=now)
    store.update_model(connection, model_id, last_updated_time=now)
    events.record(
        connection, EventType.VERSION_STAGE_CHANGED, model_name=model_name, version=number, user=user,
        from_stage=current.current_stage, to_stage=target.value, archived_versions=archived or None,
    )  # fmt: skip
    return get_model_version(connection, model_name, number)


def get_latest_versions(connection: Connection, name: str | None, stages: Sequence[str] = ()) -> list[ModelVersion]:
    """The newest version in each of ``stages`` (every stage when empty)."""
    wanted = {Stage.parse(stage).value for stage in stages} if stages else {stage.value for stage in Stage}
    row = model_row(connection, name)
    latest = store.load_registered_models(connection, [row])[0].latest_versions
    matching = [v for v in latest if v.current_stage in wanted]
    if not matching:
        return []
    rows = [store.get_version_row(connection, row.id, v.version) for v in matching]
    return store.load_versions(connection, [r for r in rows if r is not None])


def download_uri(connection: Connection, name: str | None, version: str | int | None) -> str:
    found = get_model_version(connection, name, version)
    if found.status != VersionStatus.READY:
        raise InvalidParameter(
            f"Model Version (name={found.name}, version={found.version}) is {found.status}; its files are not "
            "available."
        )
    return found.download_uri


def set_tag(
    connection: Connection, name: str | None, version: str | int | None, key: str, value: str, *, user: str | None
) -> None:
    tag = rules.validate_registry_tag(Tag(key, value))
    model_id, model_name, number = _locked_version(connection, name, version)
    store.set_version_tags(connection, model_id, number, [tag])
    events.record(
        connection, EventType.VERSION_TAG_SET, model_name=model_name, version=number, user=user, key=key, value=value
    )


def delete_tag(
    connection: Connection, name: str | None, version: str | int | None, key: str, *, user: str | None
) -> None:
    rules.validate_registry_tag(Tag(key, ""), settable=False)
    model_id, model_name, number = _locked_version(connection, name, version)
    if store.delete_version_tag(connection, model_id, number, key):
        events.record(
            connection, EventType.VERSION_TAG_DELETED, model_name=model_name, version=number, user=user, key=key
        )
