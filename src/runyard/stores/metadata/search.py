"""Search queries for runs and experiments: the filter AST and order-by keys → SQLAlchemy Core.

Each comparison becomes a boolean over the ``runs`` (or ``experiments``) row: an attribute test on the
row itself, or a correlated ``EXISTS`` on ``latest_metrics`` / ``params`` / ``run_tags`` / the dataset
tables that the primary keys answer with one index probe per run. Because every comparison is a
self-contained boolean, ``AND`` / ``OR`` / parentheses compose freely. Ordering on a metric, param or
tag is a ``LEFT JOIN`` on the (run, key) primary key, so runs without the key stay in the result;
when a top-level ``AND`` operand requires the key, it is an inner join carrying that operand's test,
which the database can answer by walking the (key, value) index in order.

Semantics follow MLflow's SQL store: metric tests use the latest value, a NaN metric satisfies only
``!=``, missing keys never match (except ``IS NULL``), ordering puts missing values last (and NaN
metrics after real values) in both directions, ties break on ``start_time DESC`` then run id. String
tests are case-sensitive on every database (MySQL/MariaDB compare with a binary collation, SQLite
matches ``LIKE`` through ``GLOB``) and strings order by code point everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    Row,
    Select,
    String,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.sql.elements import UnaryExpression

from runyard.domain.search_ast import And, Comparison, Entity, Expr, Op, Or, OrderKey
from runyard.stores.metadata.tables import (
    datasets,
    experiment_tags,
    experiments,
    input_tags,
    inputs,
    latest_metrics,
    params,
    run_tags,
    runs,
)

RUN_NAME_TAG = "mlflow.runName"
DATASET_CONTEXT_TAG = "mlflow.data.context"

_RUN_COLUMNS = {
    "run_id": "run_uuid",
    "run_name": "name",
    "user_id": "user_id",
    "status": "status",
    "artifact_uri": "artifact_uri",
    "start_time": "start_time",
    "end_time": "end_time",
}
_NUMERIC_OPS = {
    Op.EQ: "__eq__",
    Op.NE: "__ne__",
    Op.LT: "__lt__",
    Op.LE: "__le__",
    Op.GT: "__gt__",
    Op.GE: "__ge__",
}


class StringMatch:
    """Case-sensitive string tests and code-point ordering for one SQL dialect.

    MySQL/MariaDB compare strings case-insensitively and ignore trailing spaces under their default
    collations, so there ``=`` / ``IN`` / ordering use the value's bytes (UTF-8 byte order is code
    point order) and ``LIKE`` a binary collation; the plain comparison is kept beside the binary one
    so an index on the column stays usable.
    """

    def __init__(self, dialect: str) -> None:
        self.mysql = dialect == "mysql"
        self.dialect = dialect

    @staticmethod
    def _bytes(column: ColumnElement[Any]) -> ColumnElement[Any]:
        return type_coerce(cast(column, mysql.BINARY()), String())

    def compare(self, column: ColumnElement[Any], op: Op, value: Any) -> ColumnElement[bool]:
        exact = self._bytes(column) if self.mysql else column
        if op is Op.EQ:
            return and_(column == value, exact == value) if self.mysql else column == value
        if op is Op.NE:
            different: ColumnElement[bool] = exact != value
            return different
        if op is Op.IN:
            values = list(value)
            return and_(column.in_(values), exact.in_(values)) if self.mysql else column.in_(values)
        if op is Op.NOT_IN:
            return not_(exact.in_(list(value)))
        if op is Op.LIKE:
            if self.dialect == "sqlite":
                return column.op("GLOB")(like_to_glob(value))
            if self.mysql:
                return and_(column.like(value), column.collate("utf8mb4_bin").like(value))
            return column.like(value)
        if op is Op.ILIKE:
            if self.dialect == "sqlite":
                return func.lower(column).op("GLOB")(func.lower(like_to_glob(value)))
            if self.dialect == "postgresql":
                return column.ilike(value)
            return func.lower(column).like(func.lower(value))
        raise ValueError(f"not a string comparison: {op}")  # the schema never lets one through

    def ordered(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        if self.dialect == "postgresql":
            return column.collate("C")
        if self.mysql:
            return self._bytes(column)
        return column


def like_to_glob(pattern: str) -> str:
    """A SQL LIKE pattern (``%``, ``_``, backslash escapes) as an equivalent case-sensitive GLOB."""
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            index += 1
            out.append(_glob_literal(pattern[index]))
        elif char == "%":
            out.append("*")
        elif char == "_":
            out.append("?")
        else:
            out.append(_glob_literal(char))
        index += 1
    return "".join(out)


def _glob_literal(char: str) -> str:
    return f"[{char}]" if char in "*?[" else char


def _compare_numbers(column: ColumnElement[Any], op: Op, value: Any) -> ColumnElement[bool]:
    result: ColumnElement[bool] = getattr(column, _NUMERIC_OPS[op])(value)
    return result


def _combine(expr: Expr, leaf: Any) -> ColumnElement[bool]:
    if isinstance(expr, And):
        return and_(*(_combine(operand, leaf) for operand in expr.operands))
    if isinstance(expr, Or):
        return or_(*(_combine(operand, leaf) for operand in expr.operands))
    result: ColumnElement[bool] = leaf(expr)
    return result


# --- runs -----------------------------------------------------------------------------------------


class RunQuery:
    """Builds the search-runs SELECT for one dialect."""

    def __init__(self, dialect: str) -> None:
        self.strings = StringMatch(dialect)

    def condition(self, expr: Expr) -> ColumnElement[bool]:
        return _combine(expr, self._comparison)

    def _comparison(self, comparison: Comparison) -> ColumnElement[bool]:
        entity, key, op, value = comparison.entity, comparison.key, comparison.op, comparison.value
        if entity is Entity.METRIC:
            return self._metric(key, op, value)
        if entity is Entity.PARAM:
            return self._key_value(params, key, op, value)
        if entity is Entity.TAG:
            return self._key_value(run_tags, key, op, value)
        if entity is Entity.DATASET:
            return self._dataset(key, op, value)
        if key == "run_name":
            # As MLflow does: the name lives in the mlflow.runName tag (older runs have no name column).
            return self._key_value(run_tags, RUN_NAME_TAG, op, value)
        column = runs.c[_RUN_COLUMNS[key]]
        if key in ("start_time", "end_time"):
            return _compare_numbers(column, op, value)
        return self.strings.compare(column, op, value)

    def _metric(self, key: str, op: Op, value: Any) -> ColumnElement[bool]:
        return self._exists(latest_metrics, key, self._metric_test(latest_metrics, op, value))

    @staticmethod
    def _metric_test(table: Any, op: Op, value: Any) -> ColumnElement[bool]:
        # NaN is stored as 0 with is_nan set: it satisfies only "!=", and its placeholder never matches.
        if op is Op.NE:
            return or_(table.c.value != value, table.c.is_nan == true())
        return and_(_compare_numbers(table.c.value, op, value), table.c.is_nan == false())

    def _key_value(self, table: Any, key: str, op: Op, value: Any) -> ColumnElement[bool]:
        if op is Op.IS_NULL:
            return not_(self._exists(table, key, None))
        if op is Op.IS_NOT_NULL:
            return self._exists(table, key, None)
        return self._exists(table, key, self.strings.compare(table.c.value, op, value))

    def _test_on(self, table: Any, comparison: Comparison) -> ColumnElement[bool] | None:
        """``comparison`` as a test on a row of ``table`` (an alias) that is known to hold its key."""
        if comparison.op is Op.IS_NOT_NULL:
            return None
        if comparison.entity is Entity.METRIC:
            return self._metric_test(table, comparison.op, comparison.value)
        return self.strings.compare(table.c.value, comparison.op, comparison.value)

    def _exists(self, table: Any, key: str, test: ColumnElement[bool] | None) -> ColumnElement[bool]:
        conditions = [table.c.run_uuid == runs.c.run_uuid, self.strings.compare(table.c.key, Op.EQ, key)]
        if test is not None:
            conditions.append(test)
        return select(literal(1)).where(*conditions).correlate(runs).exists()

    def _dataset(self, key: str, op: Op, value: Any) -> ColumnElement[bool]:
        link = [
            inputs.c.destination_id == runs.c.run_uuid,
            inputs.c.destination_type == "RUN",
            inputs.c.source_type == "DATASET",
        ]
        if key == "context":
            source: FromClause = inputs.join(input_tags, input_tags.c.input_uuid == inputs.c.input_uuid)
            test = and_(
                input_tags.c.name == DATASET_CONTEXT_TAG,
                self.strings.compare(input_tags.c.value, op, value),
            )
        else:
            source = inputs.join(datasets, datasets.c.dataset_uuid == inputs.c.source_id)
            test = self.strings.compare(datasets.c[key], op, value)
        return select(literal(1)).select_from(source).where(*link, test).correlate(runs).exists()

    def statement(
        self,
        *,
        experiment_ids: Sequence[int],
        stages: Sequence[str],
        expr: Expr | None,
        order_keys: Sequence[OrderKey],
        offset: int,
        limit: int,
    ) -> Select[Any]:
        # Top-level AND operands: an order key that one of them requires becomes an inner join.
        conjuncts: list[Expr] = []
        if expr is not None:
            conjuncts = list(expr.operands) if isinstance(expr, And) else [expr]
        source: FromClause = runs
        order: list[ColumnElement[Any] | UnaryExpression[Any]] = []
        for index, order_key in enumerate(order_keys):
            source, clauses = self._order(source, index, order_key, conjuncts)
            order.extend(clauses)
        if not any(k.entity is Entity.ATTRIBUTE and k.key == "start_time" for k in order_keys):
            order.append(runs.c.start_time.desc())
        order.append(runs.c.run_uuid.asc())
        conditions: list[ColumnElement[bool]] = [
            runs.c.experiment_id.in_(list(experiment_ids)),
            runs.c.lifecycle_stage.in_(list(stages)),
        ]
        conditions.extend(self.condition(conjunct) for conjunct in conjuncts)
        return select(runs).select_from(source).where(*conditions).order_by(*order).offset(offset).limit(limit)

    def _order(
        self, source: FromClause, index: int, key: OrderKey, conjuncts: list[Expr]
    ) -> tuple[FromClause, list[ColumnElement[Any] | UnaryExpression[Any]]]:
        """The join (if any) and ORDER BY clauses for ``key``; takes over the ``conjuncts`` it can carry."""
        if key.entity is Entity.ATTRIBUTE:
            value: ColumnElement[Any] = runs.c[_RUN_COLUMNS[key.key]]
            is_missing = case((value.is_(None), 1), else_=0)
            if key.key not in ("start_time", "end_time"):
                value = self.strings.ordered(value)
            return source, [is_missing, value.asc() if key.ascending else value.desc()]
        table = {Entity.METRIC: latest_metrics, Entity.PARAM: params, Entity.TAG: run_tags}[key.entity]
        joined = table.alias(f"order_{index}")
        on = and_(joined.c.run_uuid == runs.c.run_uuid, self.strings.compare(joined.c.key, Op.EQ, key.key))
        required = [
            c
            for c in conjuncts
            if isinstance(c, Comparison) and c.entity is key.entity and c.key == key.key and c.op is not Op.IS_NULL
        ]
        value = joined.c.value
        missing: ColumnElement[Any] | None
        if required:
            # Every result holds this key, so runs without it need no place in the order: an inner join
            # carrying the filter's own tests on the key, which lets the database walk the (key, value)
            # index in order and stop at the page's end instead of sorting every match.
            tests = [test for c in required if (test := self._test_on(joined, c)) is not None]
            source = source.join(joined, and_(on, *tests))
            for comparison in required:
                conjuncts.remove(comparison)
            nan_possible = key.entity is Entity.METRIC and all(c.op in (Op.NE, Op.IS_NOT_NULL) for c in required)
            missing = case((joined.c.is_nan == true(), 1), else_=0) if nan_possible else None
        else:
            source = source.outerjoin(joined, on)
            if key.entity is Entity.METRIC:
                # Real values first, then NaN, then runs without the metric, in either direction.
                missing = case((joined.c.is_nan == true(), 1), (value.is_(None), 2), else_=0)
            else:
                missing = case((value.is_(None), 1), else_=0)
        if key.entity is not Entity.METRIC:
            value = self.strings.ordered(value)
        direction = value.asc() if key.ascending else value.desc()
        return source, [direction] if missing is None else [missing, direction]


def search_run_rows(
    connection: Connection,
    *,
    experiment_ids: Sequence[int],
    stages: Sequence[str],
    expr: Expr | None,
    order_keys: Sequence[OrderKey],
    offset: int,
    limit: int,
) -> list[Row[Any]]:
    """The ``runs`` rows of one result page, in order."""
    if not experiment_ids:
        return []
    statement = RunQuery(connection.dialect.name).statement(
        experiment_ids=experiment_ids,
        stages=stages,
        expr=expr,
        order_keys=order_keys,
        offset=offset,
        limit=limit,
    )
    return list(connection.execute(statement).all())


# --- experiments ----------------------------------------------------------------------------------


class ExperimentQuery:
    """Builds the search-experiments SELECT for one dialect."""

    def __init__(self, dialect: str) -> None:
        self.strings = StringMatch(dialect)

    def condition(self, expr: Expr) -> ColumnElement[bool]:
        return _combine(expr, self._comparison)

    def _comparison(self, comparison: Comparison) -> ColumnElement[bool]:
        key, op, value = comparison.key, comparison.op, comparison.value
        if comparison.entity is Entity.TAG:
            conditions = [
                experiment_tags.c.experiment_id == experiments.c.experiment_id,
                self.strings.compare(experiment_tags.c.key, Op.EQ, key),
            ]
            if op not in (Op.IS_NULL, Op.IS_NOT_NULL):
                conditions.append(self.strings.compare(experiment_tags.c.value, op, value))
            exists = select(literal(1)).where(*conditions).correlate(experiments).exists()
            return not_(exists) if op is Op.IS_NULL else exists
        column = experiments.c[key]
        if key == "name":
            return self.strings.compare(column, op, value)
        if op is Op.IN:
            return column.in_(list(value))  # type: ignore[arg-type]
        if op is Op.NOT_IN:
            return not_(column.in_(list(value)))  # type: ignore[arg-type]
        return _compare_numbers(column, op, value)

    def statement(
        self,
        *,
        workspace: str | None,
        stages: Sequence[str],
        expr: Expr | None,
        order_keys: Sequence[OrderKey],
        offset: int,
        limit: int,
    ) -> Select[Any]:
        order: list[UnaryExpression[Any]] = []
        if not order_keys:
            order_keys = [
                OrderKey(Entity.ATTRIBUTE, "creation_time", False),
                OrderKey(Entity.ATTRIBUTE, "experiment_id", True),
            ]
        for key in order_keys:
            column: ColumnElement[Any] = experiments.c[key.key]
            if key.key == "name":
                column = self.strings.ordered(column)
            order.append(column.asc() if key.ascending else column.desc())
        if not any(key.key == "experiment_id" for key in order_keys):
            order.append(experiments.c.experiment_id.desc())  # MLflow's tie-breaker
        conditions: list[ColumnElement[bool]] = [experiments.c.lifecycle_stage.in_(list(stages))]
        if workspace is not None:
            conditions.append(experiments.c.workspace == workspace)
        if expr is not None:
            conditions.append(self.condition(expr))
        return select(experiments).where(*conditions).order_by(*order).offset(offset).limit(limit)


def search_experiment_rows(
    connection: Connection,
    *,
    workspace: str | None,
    stages: Sequence[str],
    expr: Expr | None,
    order_keys: Sequence[OrderKey],
    offset: int,
    limit: int,
) -> list[Row[Any]]:
    """The ``experiments`` rows of one result page, in order."""
    statement = ExperimentQuery(connection.dialect.name).statement(
        workspace=workspace, stages=stages, expr=expr, order_keys=order_keys, offset=offset, limit=limit
    )
    return list(connection.execute(statement).all())
