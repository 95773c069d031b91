"""What registry searches may name: registered models, model versions and logged models.

Schemas for ``runyard.domain.search_filter`` (the shared filter grammar), with MLflow's rules and
messages from ``SearchModelUtils`` / ``SearchModelVersionUtils`` / ``search_logged_model_utils``.
Registered models: ``name`` and ``tags.<key>``; versions add ``version_number``, ``run_id``,
``source_path``; logged models add ``metrics.``/``params.`` and their attributes. Numeric
timestamps are accepted on all three (a superset of MLflow, which only orders by them).
"""

from __future__ import annotations

from runyard.domain.search_ast import Comparison, Entity, Op
from runyard.domain.search_lexer import Kind, Token, unquote
from runyard.domain.search_schema import Schema, ValueTokens
from runyard.errors import InvalidParameter

NUMERIC_OPS = (Op.EQ, Op.NE, Op.LT, Op.LE, Op.GT, Op.GE)
STRING_OPS = (Op.EQ, Op.NE, Op.LIKE, Op.ILIKE, Op.IN, Op.NOT_IN)
TAG_OPS = (Op.EQ, Op.NE, Op.LIKE, Op.ILIKE)

_ENTITIES = {"attribute": Entity.ATTRIBUTE, "attributes": Entity.ATTRIBUTE, "tag": Entity.TAG, "tags": Entity.TAG}


def _is_string(token: Token) -> bool:
    return token.kind is Kind.STRING or (
        token.kind is Kind.IDENT and len(token.parts) == 1 and token.parts[0].startswith('"')
    )


def _string(token: Token) -> str:
    return token.value if token.kind is Kind.STRING else unquote(token.parts[0])


def _quoted(value: ValueTokens, what: str) -> str:
    if not isinstance(value, Token) or not _is_string(value):
        shown = value.text if isinstance(value, Token) else value
        raise InvalidParameter(f"Expected a quoted string value for {what} (e.g. 'my-value'). Got value {shown}")
    return _string(value)


def _string_or_list(value: ValueTokens, key: str, list_keys: frozenset[str]) -> str | tuple[str, ...]:
    if isinstance(value, list):
        if key not in list_keys:
            raise InvalidParameter(
                f"Only {sorted(list_keys)} attributes support comparison with a list of quoted string values."
            )
        for token in value:
            if not _is_string(token):
                raise InvalidParameter(
                    "While parsing a list in the query, expected string value, punctuation, or whitespace, "
                    f"but got different type in list: {token.text}"
                )
        return tuple(_string(token) for token in value)
    return _quoted(value, "attributes")


def _integer(key: str, value: ValueTokens) -> int:
    if isinstance(value, Token) and _is_string(value):
        text = _string(value)
    elif isinstance(value, Token) and value.kind is Kind.NUMBER:
        text = value.text
    else:
        raise InvalidParameter(f"Invalid value for numeric attribute '{key}': {value!r}")
    try:
        return int(text)
    except ValueError:
        raise InvalidParameter(f"Invalid value for numeric attribute '{key}': {text!r}") from None


class _RegistrySchema(Schema):
    """Attributes and tags (``tag.`` / ``tags.``), as MLflow's registry searches."""

    string_attributes: frozenset[str] = frozenset({"name"})
    numeric_attributes: frozenset[str] = frozenset({"creation_timestamp", "last_updated_timestamp"})
    list_attributes: frozenset[str] = frozenset({"name"})
    order_attributes: frozenset[str] = frozenset()
    entities: dict[str, Entity] = _ENTITIES

    def _identifier(self, parts: tuple[str, ...], attributes: frozenset[str]) -> tuple[Entity, str]:
        if len(parts) == 1:
            entity, key = Entity.ATTRIBUTE, unquote(parts[0])
        else:
            entity_text = unquote(parts[0])
            if entity_text not in self.entities:
                raise InvalidParameter(
                    f"Invalid entity type '{entity_text}'. Valid entity types are {tuple(self.entities)}"
                )
            entity, key = self.entities[entity_text], ".".join(unquote(part) for part in parts[1:])
        if entity is Entity.ATTRIBUTE and key not in attributes:
            raise InvalidParameter(f"Invalid attribute key '{key}' specified. Valid keys are '{sorted(attributes)}'")
        return entity, key

    def comparison(self, parts: tuple[str, ...], op: Op, value: ValueTokens) -> Comparison:
        entity, key = self._identifier(parts, self.string_attributes | self.numeric_attributes)
        if entity is Entity.ATTRIBUTE:
            if key in self.numeric_attributes:
                if op not in NUMERIC_OPS:
                    raise InvalidParameter(f"Invalid comparator for attribute {key}: {op.value}")
                return Comparison(entity, key, op, _integer(key, value))
            if op not in STRING_OPS:
                raise InvalidParameter(f"Invalid comparator for attribute: {op.value}")
            return Comparison(entity, key, op, _string_or_list(value, key, self.list_attributes))
        return self._other(entity, key, op, value)

    def _other(self, entity: Entity, key: str, op: Op, value: ValueTokens) -> Comparison:
        if op not in TAG_OPS:
            raise InvalidParameter(f"Invalid comparator for tag: {op.value}")
        return Comparison(entity, key, op, _quoted(value, "tag"))

    def order_identifier(self, parts: tuple[str, ...]) -> tuple[Entity, str]:
        entity, key = self._identifier(parts, self.order_attributes)
        if entity is not Entity.ATTRIBUTE:
            raise InvalidParameter(f"Invalid order_by entity: {entity.value}")
        return entity, key


class RegisteredModelSchema(_RegistrySchema):
    # "timestamp" is MLflow's recommended spelling of last_updated_timestamp in order_by.
    order_attributes = frozenset({"name", "timestamp", "last_updated_timestamp", "creation_timestamp"})


class ModelVersionSchema(_RegistrySchema):
    string_attributes = frozenset({"name", "run_id", "source_path"})
    numeric_attributes = frozenset({"version_number", "creation_timestamp", "last_updated_timestamp"})
    list_attributes = frozenset({"name", "run_id"})
    order_attributes = frozenset({"name", "version_number", "creation_timestamp", "last_updated_timestamp"})


class LoggedModelSchema(_RegistrySchema):
    """``search_logged_models``: attributes, ``metrics.``, ``params.`` and ``tags.``."""

    string_attributes = frozenset({"name", "model_id", "model_type", "status", "source_run_id"})
    numeric_attributes = frozenset({"creation_timestamp", "last_updated_timestamp"})
    list_attributes = frozenset({"name", "model_id", "model_type", "status", "source_run_id"})
    order_attributes = frozenset({"name", "model_id", "creation_timestamp", "last_updated_timestamp"})
    entities = {
        **_ENTITIES,
        "metric": Entity.METRIC,
        "metrics": Entity.METRIC,
        "param": Entity.PARAM,
        "params": Entity.PARAM,
    }
    ALIASES = {
        "creation_time": "creation_timestamp",
        "creation_timestamp_ms": "creation_timestamp",
        "last_updated_timestamp_ms": "last_updated_timestamp",
    }

    def _identifier(self, parts: tuple[str, ...], attributes: frozenset[str]) -> tuple[Entity, str]:
        if len(parts) == 1:
            parts = (self.ALIASES.get(unquote(parts[0]), parts[0]),)
        return super()._identifier(parts, attributes)

    def _other(self, entity: Entity, key: str, op: Op, value: ValueTokens) -> Comparison:
        if entity is Entity.METRIC:
            if op not in NUMERIC_OPS:
                raise InvalidParameter(f"Invalid comparison operator for metrics.{key}: {op.value!r}.")
            if not isinstance(value, Token) or value.kind is not Kind.NUMBER:
                raise InvalidParameter(f"Expected numeric value type for metric. Found {value!r}")
            return Comparison(entity, key, op, float(value.text))
        if op not in (Op.EQ, Op.NE, Op.LIKE, Op.ILIKE):
            raise InvalidParameter(f"Invalid comparison operator for {entity.value}s.{key}: {op.value!r}.")
        return Comparison(entity, key, op, _quoted(value, entity.value))


REGISTERED_MODELS = RegisteredModelSchema()
MODEL_VERSIONS = ModelVersionSchema()
LOGGED_MODELS = LoggedModelSchema()
