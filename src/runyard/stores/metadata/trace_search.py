"""Search-traces queries: the trace filter AST and order-by keys → SQLAlchemy Core.

Every comparison is a boolean over the ``trace_info`` row: a column test, or a correlated ``EXISTS``
on tags, metadata, spans, assessments or run links, so ``AND`` / ``OR`` / parentheses compose
freely. String tests are case-sensitive on every database (``StringMatch``, shared with run search).
Semantics follow MLflow's SQL store: ``run_id`` matches the ``mlflow.sourceRun`` metadata or a link
made with ``link-to-run``; assessment tests see only valid (not overridden) assessments; an
assessment's value is JSON, so ``feedback.x = 'yes'`` matches the string ``"yes"`` and
``feedback.x = 5`` / ``'true'`` the number or boolean.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Select, and_, func, literal, not_, or_, select, true
from sqlalchemy.sql.elements import UnaryExpression

from runyard.domain.search_ast import Comparison, Entity, Expr, Op, OrderKey
from runyard.domain.traces import SOURCE_RUN_METADATA
from runyard.stores.metadata.search import StringMatch, _combine, _compare_numbers
from runyard.stores.metadata.trace_tables import (
    trace_assessments,
    trace_info,
    trace_request_metadata,
    trace_run_links,
    trace_spans,
    trace_tags,
)

_NEGATED = {Op.NE: Op.EQ, Op.NOT_IN: Op.IN}


def _compact(text: str) -> str:
    """``text`` as a JSON string, written as the stored spans write it (non-ASCII text as is)."""
    return json.dumps(text, ensure_ascii=False)


def _like_literal(text: str) -> str:
    """``text`` as a LIKE pattern that matches only itself."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class TraceQuery:
    """Builds the search-traces SELECT for one dialect."""

    def __init__(self, dialect: str) -> None:
        self.strings = StringMatch(dialect)

    def condition(self, expr: Expr) -> ColumnElement[bool]:
        return _combine(expr, self._comparison)

    def _comparison(self, comparison: Comparison) -> ColumnElement[bool]:
        entity, key, op, value = comparison.entity, comparison.key, comparison.op, comparison.value
        if entity is Entity.TAG:
            return self._key_value(trace_tags, key, op, value)
        if entity is Entity.METADATA:
            return self._key_value(trace_request_metadata, key, op, value)
        if entity is Entity.SPAN:
            return self._span(key, op, value)
        if entity in (Entity.FEEDBACK, Entity.EXPECTATION):
            return self._assessment(entity.value, key, op, value)
        if key == "run_id":
            return self._run(op, value)
        if key == "end_time_ms":
            end = trace_info.c.timestamp_ms + func.coalesce(trace_info.c.execution_time_ms, 0)
            return _compare_numbers(end, op, value)
        if key in ("timestamp_ms", "execution_time_ms"):
            return _compare_numbers(trace_info.c[key], op, value)
        column = {"request_id": trace_info.c.request_id, "status": trace_info.c.status}.get(
            key, trace_info.c.client_request_id
        )
        return self.strings.compare(column, op, value)

    def _exists(self, *conditions: ColumnElement[bool]) -> ColumnElement[bool]:
        return select(literal(1)).where(*conditions).correlate(trace_info).exists()

    def _key_value(self, table: Any, key: str, op: Op, value: Any) -> ColumnElement[bool]:
        conditions = [table.c.request_id == trace_info.c.request_id, self.strings.compare(table.c.key, Op.EQ, key)]
        if op is Op.IS_NULL:
            return not_(self._exists(*conditions))
        if op is Op.IS_NOT_NULL:
            return self._exists(*conditions)
        return self._exists(*conditions, self.strings.compare(table.c.value, op, value))

    def _run(self, op: Op, value: Any) -> ColumnElement[bool]:
        positive = _NEGATED.get(op, op)
        source = self._exists(
            trace_request_metadata.c.request_id == trace_info.c.request_id,
            trace_request_metadata.c.key == SOURCE_RUN_METADATA,
            self.strings.compare(trace_request_metadata.c.value, positive, value),
        )
        linked = self._exists(
            trace_run_links.c.trace_id == trace_info.c.request_id,
            self.strings.compare(trace_run_links.c.run_id, positive, value),
        )
        either = or_(source, linked)
        return not_(either) if op in _NEGATED else either

    def _span(self, key: str, op: Op, value: Any) -> ColumnElement[bool]:
        on_trace = trace_spans.c.trace_id == trace_info.c.request_id
        if key == "content":
            return self._exists(on_trace, self.strings.compare(trace_spans.c.content, op, value))
        if key.startswith("attributes."):
            return self._exists(on_trace, self._span_attribute(key.removeprefix("attributes."), op, str(value)))
        return self._exists(on_trace, self.strings.compare(trace_spans.c[key], op, value))

    def _span_attribute(self, name: str, op: Op, value: str) -> ColumnElement[bool]:
        # Spans are stored as compact OTLP JSON: an attribute reads
        # {"key":"<name>","value":{"string_value":"<text>"}}, the text itself JSON for MLflow's values.
        prefix = f'%{{"key":{_like_literal(_compact(name))},"value":{{"string_value":'
        content = trace_spans.c.content
        if op in (Op.LIKE, Op.ILIKE):
            return self.strings.compare(content, op, f"{prefix}%{value}%")
        encodings = {_compact(value), _compact(_compact(value))}
        matches = or_(*(self.strings.compare(content, Op.LIKE, f"{prefix}{_like_literal(e)}}}%") for e in encodings))
        return not_(matches) if op is Op.NE else matches

    def _assessment(self, kind: str, name: str, op: Op, value: Any) -> ColumnElement[bool]:
        conditions = [
            trace_assessments.c.trace_id == trace_info.c.request_id,
            trace_assessments.c.kind == kind,
            self.strings.compare(trace_assessments.c.name, Op.EQ, name),
            trace_assessments.c.valid == true(),
        ]
        if op is Op.IS_NULL:
            return not_(self._exists(*conditions))
        if op is Op.IS_NOT_NULL:
            return self._exists(*conditions)
        column = trace_assessments.c.value
        if op in (Op.LT, Op.LE, Op.GT, Op.GE):
            test = _compare_numbers(trace_assessments.c.numeric_value, op, value)
        elif op in (Op.EQ, Op.NE):
            same = or_(
                self.strings.compare(column, Op.EQ, value), self.strings.compare(column, Op.EQ, json.dumps(value))
            )
            test = same if op is Op.EQ else and_(column.is_not(None), not_(same))
        else:
            test = self.strings.compare(column, op, value)
        return self._exists(*conditions, test)

    def _order(self, key: OrderKey) -> list[UnaryExpression[Any]]:
        if key.entity in (Entity.TAG, Entity.METADATA):
            table = trace_tags if key.entity is Entity.TAG else trace_request_metadata
            value = (
                select(table.c.value)
                .where(table.c.request_id == trace_info.c.request_id, table.c.key == key.key)
                .correlate(trace_info)
                .scalar_subquery()
            )
            ordered = self.strings.ordered(value)
            # Traces without the key come last in both directions, as in MLflow.
            return [value.is_(None).asc(), ordered.asc() if key.ascending else ordered.desc()]
        if key.key == "run_id":
            value = (
                select(trace_request_metadata.c.value)
                .where(
                    trace_request_metadata.c.request_id == trace_info.c.request_id,
                    trace_request_metadata.c.key == SOURCE_RUN_METADATA,
                )
                .correlate(trace_info)
                .scalar_subquery()
            )
            return [value.is_(None).asc(), value.asc() if key.ascending else value.desc()]
        column: ColumnElement[Any]
        if key.key == "end_time_ms":
            column = trace_info.c.timestamp_ms + func.coalesce(trace_info.c.execution_time_ms, 0)
        else:
            column = trace_info.c[key.key]
        if key.key in ("request_id", "status"):
            column = self.strings.ordered(column)
        return [column.asc() if key.ascending else column.desc()]

    def statement(
        self,
        *,
        experiment_ids: Sequence[int],
        expr: Expr | None,
        order_keys: Sequence[OrderKey],
        offset: int,
        limit: int,
    ) -> Select[Any]:
        order: list[UnaryExpression[Any]] = []
        keys = list(order_keys) or [OrderKey(Entity.ATTRIBUTE, "timestamp_ms", False)]
        for key in keys:
            order.extend(self._order(key))
        # A stable tie-breaker keeps pages disjoint; in the last key's direction, so the default
        # (newest first) is one backward walk of the (experiment, timestamp, id) index.
        tie = trace_info.c.request_id
        order.append(tie.asc() if keys[-1].ascending else tie.desc())
        conditions: list[ColumnElement[bool]] = [trace_info.c.experiment_id.in_(list(experiment_ids))]
        if expr is not None:
            conditions.append(self.condition(expr))
        return select(trace_info).where(*conditions).order_by(*order).offset(offset).limit(limit)


def count_traces(connection: Connection, *, experiment_ids: Sequence[int], expr: Expr | None) -> int:
    """How many of the experiments' traces match ``expr``."""
    conditions: list[ColumnElement[bool]] = [trace_info.c.experiment_id.in_(list(experiment_ids))]
    if expr is not None:
        conditions.append(TraceQuery(connection.dialect.name).condition(expr))
    return int(connection.execute(select(func.count()).select_from(trace_info).where(*conditions)).scalar_one())


def search_trace_rows(
    connection: Connection,
    *,
    experiment_ids: Sequence[int],
    expr: Expr | None,
    order_keys: Sequence[OrderKey],
    offset: int,
    limit: int,
) -> list[Row[Any]]:
    """The ``trace_info`` rows of one result page, in order."""
    statement = TraceQuery(connection.dialect.name).statement(
        experiment_ids=experiment_ids, expr=expr, order_keys=order_keys, offset=offset, limit=limit
    )
    return list(connection.execute(statement).all())
