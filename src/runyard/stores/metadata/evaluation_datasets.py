"""Queries of evaluation datasets: rows, tags, experiment associations, records, and the search."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, and_, delete, func, insert, literal, not_, or_, select, update

from runyard.domain.eval_datasets import DatasetRecord, EvalDataset
from runyard.domain.search_ast import And, Comparison, Entity, Expr, Op, Or, OrderKey
from runyard.stores.metadata.evaluation_tables import (
    evaluation_dataset_experiments as associations,
)
from runyard.stores.metadata.evaluation_tables import (
    evaluation_dataset_records as records,
)
from runyard.stores.metadata.evaluation_tables import (
    evaluation_dataset_tags as tags,
)
from runyard.stores.metadata.evaluation_tables import (
    evaluation_datasets as datasets,
)
from runyard.stores.metadata.search import StringMatch

_NUMERIC = {Op.EQ: "__eq__", Op.NE: "__ne__", Op.LT: "__lt__", Op.LE: "__le__", Op.GT: "__gt__", Op.GE: "__ge__"}


def _in_workspace(workspace: str | None) -> ColumnElement[bool]:
    return literal(True) if workspace is None else datasets.c.workspace == workspace


def insert_dataset(connection: Connection, *, workspace: str, **values: Any) -> None:
    connection.execute(insert(datasets).values(workspace=workspace, **values))


def get_dataset_row(
    connection: Connection, dataset_id: str, workspace: str | None, *, lock: bool = False
) -> Row[Any] | None:
    statement = select(datasets).where(datasets.c.dataset_id == dataset_id, _in_workspace(workspace))
    if lock and connection.dialect.name != "sqlite":
        statement = statement.with_for_update()
    return connection.execute(statement).first()


def update_dataset(connection: Connection, dataset_id: str, **values: Any) -> None:
    connection.execute(update(datasets).where(datasets.c.dataset_id == dataset_id).values(**values))


def delete_dataset(connection: Connection, dataset_id: str) -> None:
    # Child rows go explicitly too: SQLite enforces ON DELETE CASCADE only with foreign keys on.
    for table in (records, tags, associations):
        connection.execute(delete(table).where(table.c.dataset_id == dataset_id))
    connection.execute(delete(datasets).where(datasets.c.dataset_id == dataset_id))


# --- tags and associations ---


def tags_of(connection: Connection, dataset_ids: Sequence[str]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {dataset_id: {} for dataset_id in dataset_ids}
    if dataset_ids:
        statement = select(tags.c.dataset_id, tags.c.key, tags.c.value).where(tags.c.dataset_id.in_(list(dataset_ids)))
        for dataset_id, key, value in connection.execute(statement):
            found[str(dataset_id)][str(key)] = value
    return found


def set_tags(connection: Connection, dataset_id: str, values: dict[str, str]) -> None:
    if not values:
        return
    connection.execute(delete(tags).where(tags.c.dataset_id == dataset_id, tags.c.key.in_(list(values))))
    connection.execute(
        insert(tags), [{"dataset_id": dataset_id, "key": key, "value": value} for key, value in values.items()]
    )


def delete_tag(connection: Connection, dataset_id: str, key: str) -> None:
    connection.execute(delete(tags).where(tags.c.dataset_id == dataset_id, tags.c.key == key))


def experiments_of(connection: Connection, dataset_ids: Sequence[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {dataset_id: [] for dataset_id in dataset_ids}
    if dataset_ids:
        statement = (
            select(associations.c.dataset_id, associations.c.experiment_id)
            .where(associations.c.dataset_id.in_(list(dataset_ids)))
            .order_by(associations.c.created_time, associations.c.experiment_id)
        )
        for dataset_id, experiment_id in connection.execute(statement):
            found[str(dataset_id)].append(str(experiment_id))
    return found


def add_experiments(connection: Connection, dataset_id: str, experiment_ids: Sequence[int], now: int) -> None:
    present = set(experiments_of(connection, [dataset_id])[dataset_id])
    new = [e for e in dict.fromkeys(experiment_ids) if str(e) not in present]
    if new:
        connection.execute(
            insert(associations),
            [{"dataset_id": dataset_id, "experiment_id": e, "created_time": now} for e in new],
        )


def remove_experiments(connection: Connection, dataset_id: str, experiment_ids: Sequence[int]) -> int:
    result = connection.execute(
        delete(associations).where(
            associations.c.dataset_id == dataset_id, associations.c.experiment_id.in_(list(experiment_ids))
        )
    )
    return int(result.rowcount or 0)


def to_dataset(row: Row[Any], tag_values: dict[str, str], experiment_ids: list[str]) -> EvalDataset:
    return EvalDataset(
        dataset_id=row.dataset_id,
        name=row.name,
        tags=tag_values,
        schema=row.schema,
        profile=row.profile,
        digest=row.digest,
        created_time=int(row.created_time),
        last_update_time=int(row.last_update_time),
        created_by=row.created_by,
        last_updated_by=row.last_updated_by,
        experiment_ids=experiment_ids,
    )


# --- records ---


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def records_by_hash(connection: Connection, dataset_id: str, hashes: Sequence[str]) -> dict[str, Row[Any]]:
    found: dict[str, Row[Any]] = {}
    for start in range(0, len(hashes), 500):
        statement = select(records).where(
            records.c.dataset_id == dataset_id, records.c.input_hash.in_(list(hashes[start : start + 500]))
        )
        for row in connection.execute(statement):
            found[str(row.input_hash)] = row
    return found


def insert_records(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        connection.execute(insert(records), [_encoded(row) for row in rows])


def update_record(connection: Connection, dataset_record_id: str, **values: Any) -> None:
    connection.execute(
        update(records).where(records.c.dataset_record_id == dataset_record_id).values(**_encoded(values))
    )


def _encoded(values: dict[str, Any]) -> dict[str, Any]:
    encoded = dict(values)
    for name in ("inputs", "outputs", "expectations", "tags", "source"):
        if name in encoded:
            encoded[name] = _dumps(encoded[name])
    return encoded


def count_records(connection: Connection, dataset_id: str) -> int:
    return int(
        connection.execute(
            select(func.count()).select_from(records).where(records.c.dataset_id == dataset_id)
        ).scalar_one()
    )


def delete_records(connection: Connection, dataset_id: str, record_ids: Sequence[str]) -> int:
    if not record_ids:
        return 0
    result = connection.execute(
        delete(records).where(records.c.dataset_id == dataset_id, records.c.dataset_record_id.in_(list(record_ids)))
    )
    return int(result.rowcount or 0)


def page_records(
    connection: Connection, dataset_id: str, *, after: tuple[int, str] | None, limit: int
) -> list[DatasetRecord]:
    """Records in (created_time, id) order, after the cursor ``after``."""
    conditions: list[ColumnElement[bool]] = [records.c.dataset_id == dataset_id]
    if after is not None:
        created, record_id = after
        conditions.append(
            or_(
                records.c.created_time > created,
                and_(records.c.created_time == created, records.c.dataset_record_id > record_id),
            )
        )
    statement = (
        select(records).where(*conditions).order_by(records.c.created_time, records.c.dataset_record_id).limit(limit)
    )
    return [_to_record(row) for row in connection.execute(statement)]


def _to_record(row: Row[Any]) -> DatasetRecord:
    return DatasetRecord(
        dataset_record_id=row.dataset_record_id,
        dataset_id=row.dataset_id,
        inputs=_loads(row.inputs),
        outputs=_loads(row.outputs),
        expectations=_loads(row.expectations),
        tags=_loads(row.tags),
        source=_loads(row.source),
        source_id=row.source_id,
        source_type=row.source_type,
        created_time=int(row.created_time),
        last_update_time=int(row.last_update_time),
        created_by=row.created_by,
        last_updated_by=row.last_updated_by,
    )


# --- search ---


class DatasetQuery:
    """Builds the search-datasets SELECT for one dialect."""

    def __init__(self, dialect: str) -> None:
        self.strings = StringMatch(dialect)

    def condition(self, expr: Expr) -> ColumnElement[bool]:
        if isinstance(expr, And):
            return and_(*(self.condition(operand) for operand in expr.operands))
        if isinstance(expr, Or):
            return or_(*(self.condition(operand) for operand in expr.operands))
        return self._comparison(expr)

    def _comparison(self, comparison: Comparison) -> ColumnElement[bool]:
        key, op, value = comparison.key, comparison.op, comparison.value
        if comparison.entity is Entity.TAG:
            return (
                select(literal(1))
                .where(
                    tags.c.dataset_id == datasets.c.dataset_id,
                    self.strings.compare(tags.c.key, Op.EQ, key),
                    self.strings.compare(tags.c.value, op, value),
                )
                .correlate(datasets)
                .exists()
            )
        column = datasets.c[key]
        if key in ("created_time", "last_update_time"):
            result: ColumnElement[bool] = getattr(column, _NUMERIC[op])(value)
            return result
        return self.strings.compare(column, op, value)


def search_dataset_rows(
    connection: Connection,
    *,
    workspace: str | None,
    experiment_ids: Sequence[int],
    expr: Expr | None,
    order_keys: Sequence[OrderKey],
    offset: int,
    limit: int,
    readable: tuple[bool, Sequence[int], Sequence[int]] | None = None,
) -> list[Row[Any]]:
    """One page of datasets.

    ``readable``: ``(everything, ids, denied)`` restricts the result to datasets all of whose
    experiments the principal may read (datasets with none are the workspace's, seen by its members).
    """
    query = DatasetQuery(connection.dialect.name)
    conditions: list[ColumnElement[bool]] = [_in_workspace(workspace)]
    if experiment_ids:
        conditions.append(
            select(literal(1))
            .where(
                associations.c.dataset_id == datasets.c.dataset_id,
                associations.c.experiment_id.in_(list(experiment_ids)),
            )
            .correlate(datasets)
            .exists()
        )
    if expr is not None:
        conditions.append(query.condition(expr))
    if readable is not None:
        everything, ids, denied = readable
        hidden = (
            associations.c.experiment_id.in_(list(denied))
            if everything
            else not_(associations.c.experiment_id.in_(list(ids)))
        )
        conditions.append(
            not_(
                select(literal(1))
                .where(associations.c.dataset_id == datasets.c.dataset_id, hidden)
                .correlate(datasets)
                .exists()
            )
        )
    order = []
    for key in order_keys or [OrderKey(Entity.ATTRIBUTE, "created_time", False)]:
        column: ColumnElement[Any] = datasets.c[key.key]
        if key.key == "name":
            column = query.strings.ordered(column)
        order.append(column.asc() if key.ascending else column.desc())
    order.append(datasets.c.dataset_id.desc())  # MLflow's tie-breaker
    statement = select(datasets).where(*conditions).order_by(*order).offset(offset).limit(limit)
    return list(connection.execute(statement))
