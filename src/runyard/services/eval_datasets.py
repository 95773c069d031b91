"""Evaluation datasets: create, read, search, tag, associate with experiments, merge and page records.

Every lookup is confined to the request's workspace: a dataset of another workspace is "not found",
whatever its id. Associations may only name experiments of that workspace.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from runyard.domain import eval_datasets as domain
from runyard.domain.clock import now_ms
from runyard.domain.eval_datasets import DatasetRecord, EvalDataset
from runyard.domain.search_filter import parse_filter, parse_order_by
from runyard.domain.tracking import Page
from runyard.domain.validation import parse_experiment_id
from runyard.errors import InvalidParameter, NotFound
from runyard.services import experiments as experiment_service
from runyard.services.identity_permissions import Readable
from runyard.services.metric_history import decode_offset_token, encode_offset_token
from runyard.services.workspaces import current_workspace, workspace_scope
from runyard.stores.metadata import evaluation_datasets as store


@dataclass(frozen=True, slots=True)
class UpsertResult:
    inserted: int
    updated: int


def not_found(dataset_id: str) -> NotFound:
    return NotFound(f"Evaluation dataset with id '{dataset_id}' not found")


def _load(connection: Connection, dataset_id: str, *, lock: bool = False) -> Any:
    row = store.get_dataset_row(connection, dataset_id, workspace_scope(), lock=lock)
    if row is None:
        raise not_found(dataset_id)
    return row


def _assemble(connection: Connection, rows: Sequence[Any]) -> list[EvalDataset]:
    ids = [row.dataset_id for row in rows]
    tags = store.tags_of(connection, ids)
    experiments = store.experiments_of(connection, ids)
    return [store.to_dataset(row, tags[row.dataset_id], experiments[row.dataset_id]) for row in rows]


def _experiment_ids(connection: Connection, experiment_ids: Sequence[str]) -> list[int]:
    """The experiments named, each checked to exist in the request's workspace."""
    parsed: list[int] = []
    for experiment_id in experiment_ids:
        parsed.append(int(experiment_service.get_experiment(connection, experiment_id).experiment_id))
    return list(dict.fromkeys(parsed))


def experiments_of_dataset(connection: Connection, dataset_id: str) -> list[str] | None:
    """The experiments a dataset of the request's workspace is associated with (None: no such dataset)."""
    if store.get_dataset_row(connection, dataset_id, workspace_scope()) is None:
        return None
    return store.experiments_of(connection, [dataset_id])[dataset_id]


def create_dataset(
    connection: Connection, name: str | None, *, experiment_ids: Sequence[str] = (), tags_json: str | None = None
) -> EvalDataset:
    name = domain.validate_name(name)
    tags = domain.parse_tags(tags_json)
    experiments = _experiment_ids(connection, experiment_ids)
    now = now_ms()
    dataset_id = f"{domain.DATASET_ID_PREFIX}{uuid.uuid4().hex}"
    user = domain.user_of(tags)
    store.insert_dataset(
        connection,
        workspace=current_workspace(),
        dataset_id=dataset_id,
        name=name,
        schema=None,
        profile=None,
        digest=domain.digest(name, now),
        created_time=now,
        last_update_time=now,
        created_by=user,
        last_updated_by=user,
    )
    store.set_tags(connection, dataset_id, tags)
    store.add_experiments(connection, dataset_id, experiments, now)
    return get_dataset(connection, dataset_id)


def get_dataset(connection: Connection, dataset_id: str) -> EvalDataset:
    return _assemble(connection, [_load(connection, dataset_id)])[0]


def delete_dataset(connection: Connection, dataset_id: str) -> None:
    """Delete a dataset with its records (deleting one that does not exist is not an error, as in MLflow)."""
    if store.get_dataset_row(connection, dataset_id, workspace_scope()) is not None:
        store.delete_dataset(connection, dataset_id)


def _restriction(readable: Readable | None) -> tuple[bool, list[int], list[int]] | None:
    if readable is None:
        return None

    def ids(values: frozenset[str]) -> list[int]:
        return sorted(int(value) for value in values if value.isdigit())

    return readable.everything, ids(readable.ids - readable.denied), ids(readable.denied)


def search_datasets(
    connection: Connection,
    *,
    experiment_ids: Sequence[str] = (),
    filter_string: str | None = None,
    max_results: int | None = None,
    order_by: Sequence[str] = (),
    page_token: str | None = None,
    readable: Readable | None = None,
) -> Page[EvalDataset]:
    """One page of the workspace's datasets matching ``filter_string`` (newest first by default).

    ``readable`` limits the search to datasets whose experiments the principal may all read.
    """
    limit = domain.DEFAULT_SEARCH_RESULTS if max_results is None else max_results
    if not 1 <= limit <= domain.MAX_SEARCH_RESULTS:
        raise InvalidParameter(
            f"Invalid value {limit} for parameter 'max_results' supplied. It must be at most "
            f"{domain.MAX_SEARCH_RESULTS}, and at least 1."
        )
    experiments = [parse_experiment_id(e, "experiment_ids") for e in experiment_ids]
    expr = parse_filter(filter_string, domain.DATASETS)
    order_keys = parse_order_by(order_by, domain.DATASETS)
    offset = decode_offset_token(page_token)
    rows = store.search_dataset_rows(
        connection,
        workspace=workspace_scope(),
        experiment_ids=experiments,
        expr=expr,
        order_keys=order_keys,
        offset=offset,
        limit=limit + 1,
        readable=_restriction(readable),
    )
    token = encode_offset_token(offset + limit) if len(rows) > limit else None
    return Page(_assemble(connection, rows[:limit]), token)


def set_tags(connection: Connection, dataset_id: str, tags_json: str | None) -> None:
    if tags_json is None or tags_json == "":
        raise InvalidParameter("Missing value for required parameter 'tags'.")
    tags = domain.parse_tags(tags_json)
    _load(connection, dataset_id)
    store.set_tags(connection, dataset_id, tags)


def delete_tag(connection: Connection, dataset_id: str, key: str) -> None:
    """Remove one tag (a missing tag, or dataset, is not an error, as in MLflow)."""
    if store.get_dataset_row(connection, dataset_id, workspace_scope()) is not None:
        store.delete_tag(connection, dataset_id, key)


def experiment_ids(connection: Connection, dataset_id: str) -> list[str]:
    _load(connection, dataset_id)
    return store.experiments_of(connection, [dataset_id])[dataset_id]


def add_experiments(connection: Connection, dataset_id: str, experiment_ids: Sequence[str]) -> EvalDataset:
    _load(connection, dataset_id, lock=True)
    experiments = _experiment_ids(connection, experiment_ids)
    now = now_ms()
    store.add_experiments(connection, dataset_id, experiments, now)
    store.update_dataset(connection, dataset_id, last_update_time=now)
    return get_dataset(connection, dataset_id)


def remove_experiments(connection: Connection, dataset_id: str, experiment_ids: Sequence[str]) -> EvalDataset:
    """Remove associations (ones that do not exist are skipped, as in MLflow)."""
    _load(connection, dataset_id, lock=True)
    ids = [parse_experiment_id(e, "experiment_ids") for e in experiment_ids]
    if store.remove_experiments(connection, dataset_id, ids):
        store.update_dataset(connection, dataset_id, last_update_time=now_ms())
    return get_dataset(connection, dataset_id)


# --- records ---


def upsert_records(connection: Connection, dataset_id: str, records_json: str | None) -> UpsertResult:
    """Merge records by their inputs: new inputs insert a record, known ones update it.

    An update replaces the record's outputs (when the new record names them) and merges its
    expectations and tags into the stored ones. The dataset row is locked for the merge, so two
    concurrent merges of the same inputs serialise instead of colliding.
    """
    incoming = domain.parse_records(records_json)
    row = _load(connection, dataset_id, lock=True)
    now = now_ms()
    hashes = [domain.input_hash(record.inputs) for record in incoming]
    existing = {
        key: dict(found._mapping) for key, found in store.records_by_hash(connection, dataset_id, hashes).items()
    }
    new: dict[str, dict[str, Any]] = {}
    changed: dict[str, dict[str, Any]] = {}
    inserted = updated = 0
    last_user: str | None = None
    for record, key in zip(incoming, hashes, strict=True):
        user = domain.user_of(record.tags)
        last_user = user or last_user
        target = new.get(key) or changed.get(key)
        if target is None and key in existing:
            target = changed[key] = _decoded(existing[key])
        if target is not None:
            _merge(target, record, user, now)
            updated += 1
            continue
        new[key] = {
            "dataset_record_id": f"{domain.RECORD_ID_PREFIX}{uuid.uuid4().hex}",
            "dataset_id": dataset_id,
            "input_hash": key,
            "inputs": record.inputs,
            "outputs": record.outputs if record.has_outputs else {},
            "expectations": record.expectations,
            "tags": record.tags,
            "source": record.source,
            "source_id": record.source_id,
            "source_type": record.source_type,
            "created_time": now,
            "last_update_time": now,
            "created_by": user,
            "last_updated_by": user,
        }
        inserted += 1
    store.insert_records(connection, list(new.values()))
    for values in changed.values():
        record_id = values.pop("dataset_record_id")
        store.update_record(
            connection,
            record_id,
            **{k: values[k] for k in ("outputs", "expectations", "tags", "last_update_time", "last_updated_by")},
        )
    store.update_dataset(
        connection,
        dataset_id,
        schema=domain.merged_schema(row.schema, incoming) or row.schema,
        profile=domain.profile(store.count_records(connection, dataset_id)),
        digest=domain.digest(row.name, now),
        last_update_time=now,
        last_updated_by=last_user,
    )
    return UpsertResult(inserted, updated)


def _decoded(values: dict[str, Any]) -> dict[str, Any]:
    decoded = dict(values)
    for name in ("outputs", "expectations", "tags"):
        text = decoded.get(name)
        decoded[name] = None if text is None else json.loads(text)
    return decoded


def _merge(target: dict[str, Any], record: domain.RecordIn, user: str | None, now: int) -> None:
    if record.has_outputs:
        target["outputs"] = record.outputs
    if record.expectations:
        target["expectations"] = {**(target.get("expectations") or {}), **record.expectations}
    if record.tags:
        target["tags"] = {**(target.get("tags") or {}), **record.tags}
    target["last_update_time"] = now
    if user is not None:
        target["last_updated_by"] = user


def _cursor(token: str | None) -> tuple[int, str] | None:
    if not token:
        return None
    try:
        created, record_id = base64.b64decode(token, validate=True).decode().split(":", 1)
        return int(created), record_id
    except ValueError:
        raise InvalidParameter(f"Invalid page token: {token!r}") from None


def get_records(
    connection: Connection, dataset_id: str, *, max_results: int | None = None, page_token: str | None = None
) -> tuple[list[DatasetRecord], str | None]:
    """One page of a dataset's records, oldest first; the token is MLflow's (created_time:id) cursor."""
    limit = max_results or domain.DEFAULT_RECORD_RESULTS
    if not 1 <= limit <= domain.MAX_RECORD_RESULTS:
        raise InvalidParameter(
            f"Invalid value {limit} for parameter 'max_results' supplied. It must be at most "
            f"{domain.MAX_RECORD_RESULTS}, and at least 1."
        )
    after = _cursor(page_token)
    _load(connection, dataset_id)
    page = store.page_records(connection, dataset_id, after=after, limit=limit + 1)
    if len(page) <= limit:
        return page, None
    last = page[limit - 1]
    token = base64.b64encode(f"{last.created_time}:{last.dataset_record_id}".encode()).decode()
    return page[:limit], token


def delete_records(connection: Connection, dataset_id: str, record_ids: Sequence[str]) -> int:
    _load(connection, dataset_id, lock=True)
    deleted = store.delete_records(connection, dataset_id, record_ids)
    if deleted:
        store.update_dataset(
            connection,
            dataset_id,
            profile=domain.profile(store.count_records(connection, dataset_id)),
            last_update_time=now_ms(),
        )
    return deleted
