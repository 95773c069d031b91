"""SQL helpers the trace stores share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, String, any_, literal


def among(column: Any, ids: Sequence[str], dialect: str) -> ColumnElement[bool]:
    """``column IN ids``; on PostgreSQL as ``= ANY(array)``: one parameter rather than one per id."""
    if dialect == "postgresql":
        result: ColumnElement[bool] = column == any_(literal(list(ids), ARRAY(String())))
        return result
    expanded: ColumnElement[bool] = column.in_(list(ids))
    return expanded
