"""The search AST: comparisons combined with AND / OR, and order-by keys (pure values)."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Entity(enum.StrEnum):
    """What a key names (MLflow's identifier types)."""

    METRIC = "metric"
    PARAM = "parameter"
    TAG = "tag"
    ATTRIBUTE = "attribute"
    DATASET = "dataset"
    # Trace searches only.
    METADATA = "request_metadata"
    SPAN = "span"
    FEEDBACK = "feedback"
    EXPECTATION = "expectation"


class Op(enum.StrEnum):
    EQ = "="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    LIKE = "LIKE"
    ILIKE = "ILIKE"
    IN = "IN"
    NOT_IN = "NOT IN"
    IS_NULL = "IS NULL"
    IS_NOT_NULL = "IS NOT NULL"


Value = str | int | float | tuple[str, ...] | tuple[int, ...] | None


@dataclass(frozen=True, slots=True)
class Comparison:
    """One ``entity.key <op> value`` test; ``key`` has aliases resolved (``created`` → ``start_time``).

    ``value`` is a float for metrics, an int or float for numeric attributes, a tuple for IN / NOT IN,
    ``None`` for IS [NOT] NULL and a string otherwise.
    """

    entity: Entity
    key: str
    op: Op
    value: Value


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Expr, ...]


Expr = Comparison | And | Or


@dataclass(frozen=True, slots=True)
class OrderKey:
    entity: Entity
    key: str
    ascending: bool
