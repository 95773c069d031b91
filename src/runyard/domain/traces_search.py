"""What a trace search may name: MLflow's trace filter grammar on runyard's search parser.

``attributes.status = 'OK' AND tags.env = 'prod' AND span.type = 'LLM' AND feedback.quality = 'good'``.
The identifiers are MLflow's ``SearchTraceUtils`` ones, with its aliases (``trace.`` / ``attributes.``
for attributes, ``metadata.`` for request metadata, ``timestamp`` for ``timestamp_ms``) and its
search keys that stand for something else (``name`` is the ``mlflow.traceName`` tag, ``text`` a
match on span contents, ``run_id`` the source-run metadata or a link to the run).
"""

from __future__ import annotations

from runyard.domain.search_ast import Comparison, Entity, Op
from runyard.domain.search_lexer import Kind, Token
from runyard.domain.search_schema import NULL_OPS, NUMERIC_OPS, RunSchema, Schema, ValueTokens, _split
from runyard.domain.traces import TRACE_NAME_TAG
from runyard.errors import InvalidParameter

ENTITY_ALIASES = {
    "attribute": Entity.ATTRIBUTE,
    "attributes": Entity.ATTRIBUTE,
    "trace": Entity.ATTRIBUTE,
    "tag": Entity.TAG,
    "tags": Entity.TAG,
    "request_metadata": Entity.METADATA,
    "metadata": Entity.METADATA,
    "span": Entity.SPAN,
    "feedback": Entity.FEEDBACK,
    "expectation": Entity.EXPECTATION,
}
VALID_IDENTIFIERS = sorted(ENTITY_ALIASES)
ATTRIBUTE_ALIASES = {"timestamp": "timestamp_ms", "execution_time": "execution_time_ms", "end_time": "end_time_ms"}
NUMERIC_ATTRIBUTES = frozenset({"timestamp_ms", "execution_time_ms", "end_time_ms"})
STRING_ATTRIBUTES = frozenset({"request_id", "status", "client_request_id", "run_id"})
SEARCH_ATTRIBUTES = NUMERIC_ATTRIBUTES | STRING_ATTRIBUTES | {"name", "text"} | set(ATTRIBUTE_ALIASES)
ORDER_ATTRIBUTES = (
    NUMERIC_ATTRIBUTES | {"experiment_id", "status", "request_id", "name", "run_id"} | set(ATTRIBUTE_ALIASES)
)
SPAN_COLUMNS = frozenset({"name", "type", "status"})
SPAN_CONTENT = "content"

STRING_ATTRIBUTE_OPS = (Op.EQ, Op.NE, Op.IN, Op.NOT_IN, Op.LIKE, Op.ILIKE)
KEY_VALUE_OPS = (Op.EQ, Op.NE, Op.LIKE, Op.ILIKE, Op.IS_NULL, Op.IS_NOT_NULL)
ASSESSMENT_OPS = (Op.EQ, Op.NE, Op.LT, Op.LE, Op.GT, Op.GE, Op.LIKE, Op.ILIKE, Op.IS_NULL, Op.IS_NOT_NULL)
LIST_ATTRIBUTES = frozenset({"name", "status", "request_id", "run_id", "client_request_id"})


def _check(op: Op, allowed: tuple[Op, ...], what: str) -> None:
    if op not in allowed:
        names = ", ".join(f"'{o.value}'" for o in allowed)
        raise InvalidParameter(f"Invalid comparator '{op.value}' for {what}. Valid comparators are [{names}]")


class TraceSchema(Schema):
    """MLflow's search-traces fields."""

    def _identifier(self, parts: tuple[str, ...], attributes: frozenset[str] | set[str]) -> tuple[Entity, str]:
        entity_text, key = _split(parts)
        if entity_text is None:
            entity = Entity.ATTRIBUTE
        elif entity_text in ENTITY_ALIASES:
            entity = ENTITY_ALIASES[entity_text]
        else:
            raise InvalidParameter(f"Invalid entity type '{entity_text}'. Valid values are {VALID_IDENTIFIERS}")
        if entity is Entity.ATTRIBUTE and key not in attributes:
            raise InvalidParameter(f"Invalid attribute key '{key}' specified. Valid keys are '{sorted(attributes)}'")
        if (
            entity is Entity.SPAN
            and key not in SPAN_COLUMNS
            and key != SPAN_CONTENT
            and not key.startswith("attributes.")
        ):
            raise InvalidParameter(
                f"Invalid span attribute '{key}'. Supported attributes: {sorted(SPAN_COLUMNS)}, "
                f"'{SPAN_CONTENT}' or 'attributes.<name>'."
            )
        return entity, ATTRIBUTE_ALIASES.get(key, key) if entity is Entity.ATTRIBUTE else key

    def comparison(self, parts: tuple[str, ...], op: Op, value: ValueTokens) -> Comparison:
        entity, key = self._identifier(parts, SEARCH_ATTRIBUTES)
        if entity is Entity.ATTRIBUTE:
            return self._attribute(key, op, value)
        if entity in (Entity.TAG, Entity.METADATA):
            _check(op, KEY_VALUE_OPS, f"{entity.value} '{key}'")
            if op in NULL_OPS:
                return Comparison(entity, key, op, None)
            return Comparison(entity, key, op, RunSchema._quoted(value, f"{entity.value} (e.g. 'my-value')"))
        if entity is Entity.SPAN:
            if key == SPAN_CONTENT:
                _check(op, (Op.LIKE, Op.ILIKE), "span content")
            elif key.startswith("attributes."):
                _check(op, (Op.EQ, Op.NE, Op.LIKE, Op.ILIKE), f"span attribute '{key}'")
            else:
                _check(op, STRING_ATTRIBUTE_OPS, f"span {key}")
            return Comparison(entity, key, op, self._strings(value, allow_list=True))
        _check(op, ASSESSMENT_OPS, f"{entity.value} '{key}'")
        if op in NULL_OPS:
            return Comparison(entity, key, op, None)
        if op in (Op.LT, Op.LE, Op.GT, Op.GE):
            return Comparison(entity, key, op, self._number(value, f"{entity.value} '{key}'"))
        assert isinstance(value, Token)
        if value.kind is Kind.NUMBER:
            return Comparison(entity, key, op, value.text)
        return Comparison(entity, key, op, RunSchema._quoted(value, f"{entity.value} (e.g. 'yes')"))

    def _attribute(self, key: str, op: Op, value: ValueTokens) -> Comparison:
        if key in NUMERIC_ATTRIBUTES:
            _check(op, NUMERIC_OPS, f"numeric attribute '{key}'")
            return Comparison(Entity.ATTRIBUTE, key, op, int(self._number(value, f"numeric attribute: {key}")))
        if key == "text":
            _check(op, (Op.LIKE, Op.ILIKE), "attribute 'text'")
            return Comparison(Entity.SPAN, SPAN_CONTENT, op, self._strings(value, allow_list=False))
        _check(op, STRING_ATTRIBUTE_OPS, f"attribute '{key}'")
        if isinstance(value, list) and key not in LIST_ATTRIBUTES:
            raise InvalidParameter(f"Only {sorted(LIST_ATTRIBUTES)} attributes support IN and NOT IN.")
        strings = self._strings(value, allow_list=True)
        if key == "name":
            return Comparison(Entity.TAG, TRACE_NAME_TAG, op, strings)
        return Comparison(Entity.ATTRIBUTE, key, op, strings)

    @staticmethod
    def _strings(value: ValueTokens, *, allow_list: bool) -> str | tuple[str, ...]:
        if isinstance(value, list):
            if not allow_list:
                raise InvalidParameter("A list of values is only allowed after IN or NOT IN.")
            return tuple(RunSchema._quoted(token, "a list item") for token in value)
        return RunSchema._quoted(value, "attributes")

    @staticmethod
    def _number(value: ValueTokens, what: str) -> float:
        assert isinstance(value, Token)
        if value.kind is Kind.NUMBER:
            return float(value.text)
        if value.kind is Kind.STRING:
            try:
                return float(value.value)
            except ValueError:
                pass
        raise InvalidParameter(f"Expected numeric value type for {what}. Found {value.text}")

    def order_identifier(self, parts: tuple[str, ...]) -> tuple[Entity, str]:
        entity, key = self._identifier(parts, ORDER_ATTRIBUTES)
        if entity not in (Entity.ATTRIBUTE, Entity.TAG, Entity.METADATA):
            raise InvalidParameter(
                f"Invalid order_by entity '{entity.value}'. Valid values are ['attribute', 'tag', 'request_metadata']"
            )
        if entity is Entity.ATTRIBUTE and key == "name":
            return Entity.TAG, TRACE_NAME_TAG
        return entity, key


TRACES = TraceSchema()
