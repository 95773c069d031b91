"""What a search may name: the identifiers, operators and value types of run and experiment searches.

The rules and the error messages follow MLflow's ``SearchUtils`` / ``SearchExperimentsUtils`` so an
MLflow client sees the same validation against runyard as against MLflow; where MLflow fails late
(an operator it parses but cannot run) runyard reports it while parsing, with the same wording.
"""

from __future__ import annotations

from collections.abc import Sequence

from runyard.domain.search_ast import Comparison, Entity, Op, Value
from runyard.domain.search_lexer import Kind, Token, unquote
from runyard.domain.validation import parse_experiment_id
from runyard.errors import InvalidParameter

NUMERIC_OPS = (Op.EQ, Op.NE, Op.LT, Op.LE, Op.GT, Op.GE)
STRING_KV_OPS = (Op.EQ, Op.NE, Op.LIKE, Op.ILIKE, Op.IS_NULL, Op.IS_NOT_NULL)
STRING_ATTRIBUTE_OPS = (Op.EQ, Op.NE, Op.LIKE, Op.ILIKE, Op.IN, Op.NOT_IN)
NULL_OPS = (Op.IS_NULL, Op.IS_NOT_NULL)

ValueTokens = Token | list[Token] | None

# The entities a run search names (traces add their own: metadata, spans, assessments).
RUN_ENTITIES = (Entity.METRIC, Entity.PARAM, Entity.TAG, Entity.ATTRIBUTE, Entity.DATASET)


def _ops_text(ops: Sequence[Op]) -> str:
    return "[" + ", ".join(f"'{op.value}'" for op in ops) + "]"


def _check_op(op: Op, allowed: Sequence[Op]) -> None:
    if op not in allowed:
        raise InvalidParameter(f"Invalid comparator '{op.value}' not one of '{_ops_text(allowed)}'")


def _is_string(token: Token) -> bool:
    # A double-quoted lone identifier is a string value in MLflow's grammar.
    return token.kind is Kind.STRING or (
        token.kind is Kind.IDENT and len(token.parts) == 1 and token.parts[0].startswith('"')
    )


def _string(token: Token) -> str:
    return token.value if token.kind is Kind.STRING else unquote(token.parts[0])


def _number(token: Token) -> int | float:
    text = token.value
    if any(c in text for c in ".eE"):
        return float(text)
    return int(text)


def _string_list(tokens: list[Token]) -> tuple[str, ...]:
    for token in tokens:
        if not _is_string(token):
            raise InvalidParameter(
                "While parsing a list in the query, expected a non-empty list of quoted string values, "
                f"but got {token.text}"
            )
    return tuple(_string(token) for token in tokens)


def _split(parts: tuple[str, ...]) -> tuple[str | None, str]:
    """``(entity text or None, key)``: the first dotted part names the entity, the rest is the key."""
    if len(parts) == 1:
        return None, unquote(parts[0])
    return unquote(parts[0]), ".".join(unquote(part) for part in parts[1:])


class Schema:
    """The searchable fields of one kind of object; turns parsed pieces into validated comparisons."""

    def comparison(self, parts: tuple[str, ...], op: Op, value: ValueTokens) -> Comparison:
        raise NotImplementedError

    def order_identifier(self, parts: tuple[str, ...]) -> tuple[Entity, str]:
        raise NotImplementedError


class RunSchema(Schema):
    """MLflow's search-runs fields: metrics, params, tags, run attributes and datasets."""

    ENTITY_ALIASES = {
        "metric": Entity.METRIC,
        "metrics": Entity.METRIC,
        "parameter": Entity.PARAM,
        "parameters": Entity.PARAM,
        "param": Entity.PARAM,
        "params": Entity.PARAM,
        "tag": Entity.TAG,
        "tags": Entity.TAG,
        "attribute": Entity.ATTRIBUTE,
        "attributes": Entity.ATTRIBUTE,
        "attr": Entity.ATTRIBUTE,
        "run": Entity.ATTRIBUTE,
        "dataset": Entity.DATASET,
        "datasets": Entity.DATASET,
    }
    NUMERIC_ATTRIBUTES = frozenset({"start_time", "end_time", "created", "Created"})
    STRING_ATTRIBUTES = frozenset({"run_id", "run_name", "user_id", "status", "artifact_uri"})
    NAME_ALIASES = frozenset({"run name", "Run name", "Run Name"})
    SEARCH_ATTRIBUTES = NUMERIC_ATTRIBUTES | STRING_ATTRIBUTES | NAME_ALIASES
    ORDER_ATTRIBUTES = NUMERIC_ATTRIBUTES | STRING_ATTRIBUTES
    LIST_ATTRIBUTES = ("run_id",)
    DATASET_KEYS = ("context", "digest", "name")

    def _identifier(self, parts: tuple[str, ...], attributes: frozenset[str]) -> tuple[Entity, str]:
        entity_text, key = _split(parts)
        if entity_text is None:
            entity = Entity.ATTRIBUTE
        elif entity_text in self.ENTITY_ALIASES:
            entity = self.ENTITY_ALIASES[entity_text]
        else:
            valid = [e.value for e in RUN_ENTITIES]
            raise InvalidParameter(f"Invalid entity type '{entity_text}'. Valid values are {valid}")
        if entity is Entity.ATTRIBUTE and key not in attributes:
            raise InvalidParameter(f"Invalid attribute key '{key}' specified. Valid keys are '{sorted(attributes)}'")
        if entity is Entity.DATASET and key not in self.DATASET_KEYS:
            raise InvalidParameter(f"Invalid dataset key '{key}' specified. Valid keys are '{list(self.DATASET_KEYS)}'")
        return entity, key

    @staticmethod
    def _canonical(key: str) -> str:
        if key in ("created", "Created"):
            return "start_time"
        if key in RunSchema.NAME_ALIASES:
            return "run_name"
        return key

    def comparison(self, parts: tuple[str, ...], op: Op, value: ValueTokens) -> Comparison:
        entity, key = self._identifier(parts, self.SEARCH_ATTRIBUTES)
        if op in NULL_OPS and entity not in (Entity.TAG, Entity.PARAM):
            raise InvalidParameter(
                f"IS NULL / IS NOT NULL is only supported for tags and params, not for '{entity.value}' '{key}'"
            )
        if entity is Entity.METRIC:
            _check_op(op, NUMERIC_OPS)
            return Comparison(entity, key, op, float(self._numeric(value, "Expected numeric value type for metric.")))
        if entity in (Entity.PARAM, Entity.TAG):
            _check_op(op, STRING_KV_OPS)
            if op in NULL_OPS:
                return Comparison(entity, key, op, None)
            return Comparison(entity, key, op, self._quoted(value, f"{entity.value} (e.g. 'my-value')"))
        if entity is Entity.DATASET:
            _check_op(op, STRING_ATTRIBUTE_OPS)
            return Comparison(entity, key, op, self._string_or_list(value, "dataset attributes", key, None))
        key = self._canonical(key)
        if key in self.NUMERIC_ATTRIBUTES:
            _check_op(op, NUMERIC_OPS)
            found = f"Expected numeric value type for numeric attribute: {key}."
            return Comparison(entity, key, op, self._numeric(value, found))
        _check_op(op, STRING_ATTRIBUTE_OPS)
        return Comparison(entity, key, op, self._string_or_list(value, "attributes", key, self.LIST_ATTRIBUTES))

    @staticmethod
    def _numeric(value: ValueTokens, message: str) -> int | float:
        assert isinstance(value, Token)
        if value.kind is not Kind.NUMBER:
            raise InvalidParameter(f"{message} Found {value.text}")
        return _number(value)

    @staticmethod
    def _quoted(value: ValueTokens, what: str) -> str:
        assert isinstance(value, Token)
        if not _is_string(value):
            raise InvalidParameter(f"Expected a quoted string value for {what}. Got value {value.text}")
        return _string(value)

    def _string_or_list(
        self, value: ValueTokens, what: str, key: str, list_keys: tuple[str, ...] | None
    ) -> str | tuple[str, ...]:
        if isinstance(value, list):
            if list_keys is not None and key not in list_keys:
                raise InvalidParameter(
                    f"Only {list(list_keys)} attributes support comparison with a list of quoted string values."
                )
            return _string_list(value)
        assert isinstance(value, Token)
        if not _is_string(value):
            raise InvalidParameter(f"Expected a quoted string value for {what}. Got value {value.text}")
        return _string(value)

    def order_identifier(self, parts: tuple[str, ...]) -> tuple[Entity, str]:
        entity, key = self._identifier(parts, self.ORDER_ATTRIBUTES)
        if entity is Entity.DATASET:
            raise InvalidParameter(
                "Invalid order_by entity type 'dataset'. Valid values are ['metric', 'parameter', 'tag', 'attribute']"
            )
        return entity, self._canonical(key) if entity is Entity.ATTRIBUTE else key


class ExperimentSchema(Schema):
    """MLflow's search-experiments fields: four attributes and the experiment's tags."""

    ENTITY_ALIASES = {
        "attribute": Entity.ATTRIBUTE,
        "attributes": Entity.ATTRIBUTE,
        "tag": Entity.TAG,
        "tags": Entity.TAG,
    }
    ATTRIBUTES = frozenset({"name", "experiment_id", "creation_time", "last_update_time"})
    NUMERIC_ATTRIBUTES = frozenset({"creation_time", "last_update_time"})

    def _identifier(self, parts: tuple[str, ...]) -> tuple[Entity, str]:
        entity_text, key = _split(parts)
        if entity_text is None:
            entity = Entity.ATTRIBUTE
        elif entity_text in self.ENTITY_ALIASES:
            entity = self.ENTITY_ALIASES[entity_text]
        else:
            raise InvalidParameter(
                f"Invalid entity type '{entity_text}'. Valid entity types are {tuple(self.ENTITY_ALIASES)}"
            )
        if entity is Entity.ATTRIBUTE and key not in self.ATTRIBUTES:
            raise InvalidParameter(
                f"Invalid attribute key '{key}' specified. Valid keys are '{sorted(self.ATTRIBUTES)}'"
            )
        return entity, key

    def comparison(self, parts: tuple[str, ...], op: Op, value: ValueTokens) -> Comparison:
        entity, key = self._identifier(parts)
        if entity is Entity.TAG:
            _check_op(op, STRING_KV_OPS)
            if op in NULL_OPS:
                return Comparison(entity, key, op, None)
            return Comparison(entity, key, op, RunSchema._quoted(value, "tag (e.g. 'my-value')"))
        if op in NULL_OPS:
            raise InvalidParameter(f"IS NULL / IS NOT NULL is only supported for tags, not for attribute '{key}'")
        if key in self.NUMERIC_ATTRIBUTES:
            return Comparison(entity, key, op, self._integer(key, op, value))
        if key == "experiment_id":
            if op not in (Op.EQ, Op.NE, Op.IN, Op.NOT_IN):
                raise InvalidParameter(f"Invalid comparator for experiment_id: {op.value}")
            if isinstance(value, list):
                return Comparison(entity, key, op, tuple(parse_experiment_id(_id_text(t)) for t in value))
            assert isinstance(value, Token)
            return Comparison(entity, key, op, parse_experiment_id(_id_text(value)))
        if op in (Op.IN, Op.NOT_IN):
            raise InvalidParameter(
                "Only ['experiment_id'] attributes support comparison with a list of quoted string values."
            )
        if op not in (Op.EQ, Op.NE, Op.LIKE, Op.ILIKE):
            raise InvalidParameter(f"Invalid comparator for string attribute: {op.value}")
        return Comparison(entity, key, op, RunSchema._quoted(value, "attributes"))

    @staticmethod
    def _integer(key: str, op: Op, value: ValueTokens) -> int:
        if op not in NUMERIC_OPS:
            raise InvalidParameter(f"Invalid comparator for numeric attribute: {op.value}")
        assert isinstance(value, Token)
        if value.kind is not Kind.NUMBER:
            raise InvalidParameter(f"Expected numeric value type for numeric attribute: {key}. Found {value.text}")
        number = _number(value)
        if isinstance(number, float):
            raise InvalidParameter(f"Invalid value for numeric attribute '{key}': '{value.text}'")
        return number

    def order_identifier(self, parts: tuple[str, ...]) -> tuple[Entity, str]:
        entity, key = self._identifier(parts)
        if entity is not Entity.ATTRIBUTE:
            raise InvalidParameter(f"Invalid order_by entity: {entity.value}")
        return entity, key


def _id_text(token: Token) -> str:
    return _string(token) if _is_string(token) else token.text


RUNS = RunSchema()
EXPERIMENTS = ExperimentSchema()

__all__ = ["EXPERIMENTS", "RUNS", "ExperimentSchema", "RunSchema", "Schema", "Value"]
