"""Registry search filters (the AST of ``runyard.domain.search_filter``) as SQL conditions.

String comparisons are case-sensitive on every database, as MLflow's are: MySQL compares with a
binary collation (after an ordinary comparison the index can serve), and SQLite's ``LIKE`` —
case-insensitive there — becomes the equivalent ``GLOB``. Tag, param and metric tests are
``EXISTS`` sub-queries on the child table's primary key, so a page of results never scans more
than the rows it returns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, exists, or_, select, true
from sqlalchemy.sql.elements import ColumnElement as Column_

from runyard.domain.registry import PROMPT_TAG
from runyard.domain.search_ast import And, Comparison, Entity, Expr, Op, Or
from runyard.errors import InvalidParameter
from runyard.stores.metadata.registry_tables import (
    logged_model_metrics,
    logged_model_params,
    logged_model_tags,
    logged_models,
    model_version_tags,
    model_versions,
    registered_model_tags,
    registered_models,
)

Condition = ColumnElement[bool]

_BINARY_COLLATION = "utf8mb4_bin"


def _like_to_glob(pattern: str) -> str:
    special = {"%": "*", "_": "?", "*": "[*]", "?": "[?]", "[": "[[]"}
    return "".join(special.get(ch, ch) for ch in pattern)


def compare(column: Column_[Any], op: Op, value: Any, dialect: str, *, text: bool = True) -> Condition:
    """``column <op> value`` with MLflow's semantics (case-sensitive strings, LIKE with % and _)."""
    if not text:
        numeric: dict[Op, Condition] = {
            Op.EQ: column == value,
            Op.NE: column != value,
            Op.LT: column < value,
            Op.LE: column <= value,
            Op.GT: column > value,
            Op.GE: column >= value,
        }
        return numeric[op]
    exact = column.collate(_BINARY_COLLATION) if dialect == "mysql" else column
    if op is Op.EQ:
        return and_(column == value, exact == value) if dialect == "mysql" else column == value
    if op is Op.NE:
        different: Condition = exact != value
        return different
    if op is Op.LIKE:
        if dialect == "sqlite":
            glob: Condition = column.op("GLOB", is_comparison=True)(_like_to_glob(value))
            return glob
        return exact.like(value)
    if op is Op.ILIKE:
        return column.ilike(value)
    if op is Op.IN:
        return exact.in_(list(value))
    if op is Op.NOT_IN:
        return exact.not_in(list(value))
    raise InvalidParameter(f"Invalid comparator {op.value!r} for a string value")


def _combine(expr: Expr | None, leaf: Callable[[Comparison], Condition]) -> Condition:
    if expr is None:
        return true()
    if isinstance(expr, And):
        return and_(*(_combine(operand, leaf) for operand in expr.operands))
    if isinstance(expr, Or):
        return or_(*(_combine(operand, leaf) for operand in expr.operands))
    return leaf(expr)


def _prompt_test(comparison: Comparison) -> Condition | None:
    """Models without the prompt tag count as ``is_prompt = 'false'`` (MLflow's special case)."""
    if comparison.key != PROMPT_TAG or comparison.op not in (Op.EQ, Op.NE):
        return None
    wants_prompts = (comparison.op is Op.EQ) == (str(comparison.value).lower() == "true")
    return is_prompt_model() if wants_prompts else ~is_prompt_model()


def is_prompt_model() -> Condition:
    """Registered models that are MLflow prompts (hidden from model searches unless asked for)."""
    return exists().where(
        registered_model_tags.c.model_id == registered_models.c.id,
        registered_model_tags.c.key == PROMPT_TAG,
        registered_model_tags.c.value == "true",
    )


def mentions_prompt_tag(expr: Expr | None) -> bool:
    if expr is None:
        return False
    if isinstance(expr, And | Or):
        return any(mentions_prompt_tag(operand) for operand in expr.operands)
    return expr.entity is Entity.TAG and expr.key == PROMPT_TAG


_MODEL_COLUMNS = {
    "name": (registered_models.c.name, True),
    "creation_timestamp": (registered_models.c.creation_time, False),
    "last_updated_timestamp": (registered_models.c.last_updated_time, False),
}


def _tag_or_column_condition(
    expr: Expr | None,
    dialect: str,
    tags: Table,
    tag_owner: list[Condition],
    columns: Mapping[str, tuple[ColumnElement[Any], bool]],
) -> Condition:
    """Tag comparisons as ``EXISTS`` over ``tags`` (joined by ``tag_owner``), others against ``columns``."""

    def leaf(comparison: Comparison) -> Condition:
        if comparison.entity is Entity.TAG:
            prompt = _prompt_test(comparison)
            if prompt is not None:
                return prompt
            return exists().where(
                *tag_owner,
                tags.c.key == comparison.key,
                compare(tags.c.value, comparison.op, comparison.value, dialect),
            )
        column, is_text = columns[comparison.key]
        return compare(column, comparison.op, comparison.value, dialect, text=is_text)

    return _combine(expr, leaf)


def registered_model_condition(expr: Expr | None, dialect: str) -> Condition:
    owner = [registered_model_tags.c.model_id == registered_models.c.id]
    return _tag_or_column_condition(expr, dialect, registered_model_tags, owner, _MODEL_COLUMNS)


_VERSION_COLUMNS = {
    "name": (registered_models.c.name, True),
    "run_id": (model_versions.c.run_id, True),
    "source_path": (model_versions.c.source, True),
    "version_number": (model_versions.c.version, False),
    "creation_timestamp": (model_versions.c.creation_time, False),
    "last_updated_timestamp": (model_versions.c.last_updated_time, False),
}


def model_version_condition(expr: Expr | None, dialect: str) -> Condition:
    """Conditions over ``version_select()`` (versions joined to their model)."""
    owner = [
        model_version_tags.c.model_id == model_versions.c.model_id,
        model_version_tags.c.version == model_versions.c.version,
    ]
    return _tag_or_column_condition(expr, dialect, model_version_tags, owner, _VERSION_COLUMNS)


_LOGGED_MODEL_COLUMNS = {
    "name": (logged_models.c.name, True),
    "model_id": (logged_models.c.model_id, True),
    "model_type": (logged_models.c.model_type, True),
    "status": (logged_models.c.status, True),
    "source_run_id": (logged_models.c.source_run_id, True),
    "creation_timestamp": (logged_models.c.creation_timestamp_ms, False),
    "last_updated_timestamp": (logged_models.c.last_updated_timestamp_ms, False),
}


def logged_model_condition(
    expr: Expr | None, dialect: str, datasets: list[tuple[str, str | None]] | None = None
) -> Condition:
    """Conditions over ``logged_models``; ``datasets`` restricts metric tests to those datasets."""

    def dataset_filter() -> Condition:
        if not datasets:
            return true()
        return or_(
            *(
                and_(
                    logged_model_metrics.c.dataset_name == name,
                    logged_model_metrics.c.dataset_digest == digest if digest else true(),
                )
                for name, digest in datasets
            )
        )

    def leaf(comparison: Comparison) -> Condition:
        if comparison.entity is Entity.METRIC:
            return exists().where(
                logged_model_metrics.c.model_id == logged_models.c.model_id,
                logged_model_metrics.c.key == comparison.key,
                compare(logged_model_metrics.c.value, comparison.op, comparison.value, dialect, text=False),
                dataset_filter(),
            )
        if comparison.entity in (Entity.TAG, Entity.PARAM):
            table = logged_model_tags if comparison.entity is Entity.TAG else logged_model_params
            return exists().where(
                table.c.model_id == logged_models.c.model_id,
                table.c.key == comparison.key,
                compare(table.c.value, comparison.op, comparison.value, dialect),
            )
        column, is_text = _LOGGED_MODEL_COLUMNS[comparison.key]
        return compare(column, comparison.op, comparison.value, dialect, text=is_text)

    condition = _combine(expr, leaf)
    if datasets:
        condition = and_(
            condition,
            exists(
                select(logged_model_metrics.c.model_id).where(
                    logged_model_metrics.c.model_id == logged_models.c.model_id, dataset_filter()
                )
            ),
        )
    return condition
