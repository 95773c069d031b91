"""Parse search filters and ``order_by`` clauses for runs and experiments into a small AST.

The grammar is MLflow's (``metrics.acc > 0.9 AND params.model = 'cnn'``), validated with MLflow's
rules and messages, extended with ``OR`` and parentheses (``AND`` binds tighter than ``OR``)::

    filter     := or_expr END
    or_expr    := and_expr ("OR" and_expr)*
    and_expr   := primary ("AND" primary)*
    primary    := "(" or_expr ")" | comparison
    comparison := identifier ( op value | ["NOT"] "IN" list | "IS" ["NOT"] "NULL" )
    op         := = | != | < | <= | > | >= | LIKE | ILIKE
    list       := "(" value ("," value)* ")"

What an identifier may be, which operators and value types it takes, is decided by a ``Schema``
(``RUNS`` or ``EXPERIMENTS``). Nothing here knows SQL: ``runyard.stores.metadata.search`` turns the
AST into queries.
"""

from __future__ import annotations

from collections.abc import Sequence

from runyard.domain.search_ast import And, Comparison, Entity, Expr, Op, Or, OrderKey
from runyard.domain.search_lexer import Kind, Token, tokenize
from runyard.domain.search_schema import EXPERIMENTS, RUNS, Schema, ValueTokens
from runyard.errors import InvalidParameter

__all__ = [
    "EXPERIMENTS",
    "RUNS",
    "And",
    "Comparison",
    "Entity",
    "Expr",
    "Op",
    "Or",
    "OrderKey",
    "Schema",
    "parse_filter",
    "parse_order_by",
]

# Deeper nesting than this is almost certainly machine-made abuse; refusing it keeps recursion bounded.
MAX_NESTING = 50
# Each comparison becomes a clause (often a subquery) of one SQL expression, and databases cap an
# expression's depth (SQLite at 1000, hit by ~1000 ORs); past these limits the filter is refused here,
# as the client's error it is, rather than failing in the database.
MAX_COMPARISONS = 200
MAX_LIST_VALUES = 1000


def parse_filter(filter_string: str | None, schema: Schema) -> Expr | None:
    """The AST of ``filter_string`` (``None`` for an empty filter).

    Raises:
        InvalidParameter: with a message naming the offending clause.
    """
    if filter_string is None or not filter_string.strip():
        return None
    return _Parser(filter_string, schema).parse()


def parse_order_by(clauses: Sequence[str], schema: Schema) -> list[OrderKey]:
    """Parse ``["metrics.acc DESC", "start_time"]``; the same field twice is an error (as in MLflow)."""
    keys: list[OrderKey] = []
    for clause in clauses:
        key = _parse_order_clause(clause, schema)
        if any((k.entity, k.key) == (key.entity, key.key) for k in keys):
            raise InvalidParameter(f"`order_by` contains duplicate fields: {list(clauses)}")
        keys.append(key)
    return keys


def _parse_order_clause(clause: str, schema: Schema) -> OrderKey:
    unparsable = InvalidParameter(f"Invalid order_by clause '{clause}'. Could not be parsed.")
    tokens = tokenize(clause, "order_by clause")
    if tokens[0].kind is not Kind.IDENT:
        raise unparsable
    ascending = True
    rest = tokens[1:-1]
    if len(rest) > 1:
        raise unparsable
    if rest:
        direction = rest[0].text.lower()
        if rest[0].kind is not Kind.IDENT or direction not in ("asc", "desc"):
            raise InvalidParameter(f"Invalid ordering key in order_by clause '{clause}'.")
        ascending = direction == "asc"
    entity, key = schema.order_identifier(tokens[0].parts)
    return OrderKey(entity, key, ascending)


class _Parser:
    """Recursive descent over the token list; one instance per filter string."""

    def __init__(self, source: str, schema: Schema) -> None:
        self.source = source
        self.schema = schema
        self.tokens = tokenize(source)
        self.index = 0
        self.depth = 0
        self.comparisons = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def _at(self, kind: Kind) -> bool:
        return self.tokens[self.index].kind is kind

    def _advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind is not Kind.END:
            self.index += 1
        return token

    def _at_keyword(self, *words: str) -> bool:
        return self._at(Kind.KEYWORD) and self.current.value in words

    def _error(self, expected: str) -> InvalidParameter:
        token = self.current
        return InvalidParameter(
            f"Invalid clause(s) in filter string: expected {expected} at position {token.position}, "
            f"found {token.describe()} (filter: {self.source!r})"
        )

    def parse(self) -> Expr:
        expr = self._or_expr()
        if not self._at(Kind.END):
            raise self._error("AND, OR or the end of the filter")
        return expr

    def _or_expr(self) -> Expr:
        operands = [self._and_expr()]
        while self._at_keyword("OR"):
            self._advance()
            operands.append(self._and_expr())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def _and_expr(self) -> Expr:
        operands = [self._primary()]
        while self._at_keyword("AND"):
            self._advance()
            operands.append(self._primary())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def _primary(self) -> Expr:
        if self._at(Kind.LPAREN):
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise InvalidParameter(f"Invalid filter string: parentheses nest deeper than {MAX_NESTING} levels.")
            self._advance()
            expr = self._or_expr()
            if not self._at(Kind.RPAREN):
                raise self._error("')'")
            self._advance()
            self.depth -= 1
            return expr
        return self._comparison()

    def _comparison(self) -> Comparison:
        if not self._at(Kind.IDENT):
            raise self._error("a comparison such as metrics.<key> > 0 or params.<key> = '<value>'")
        self.comparisons += 1
        if self.comparisons > MAX_COMPARISONS:
            raise InvalidParameter(
                f"Invalid filter string: more than {MAX_COMPARISONS} comparisons; "
                "narrow the filter or use IN ('a', 'b', …) for many values of one key."
            )
        identifier = self._advance()
        op = self._operator()
        if op in (Op.IS_NULL, Op.IS_NOT_NULL):
            value: ValueTokens = None
        elif op in (Op.IN, Op.NOT_IN):
            value = self._list()
        else:
            value = self._value()
        return self.schema.comparison(identifier.parts, op, value)

    def _operator(self) -> Op:
        token = self.current
        if token.kind is Kind.OPERATOR:
            self._advance()
            if token.value in ("<>", "=="):
                # MLflow's tokenizer accepts these spellings and then rejects them as comparators.
                raise InvalidParameter(
                    f"Invalid comparator '{token.value}': use '=' for equality and '!=' for inequality."
                )
            return Op(token.value)
        if token.kind is Kind.KEYWORD:
            self._advance()
            if token.value in ("LIKE", "ILIKE", "IN"):
                return Op(token.value)
            if token.value == "NOT" and self._at_keyword("IN"):
                self._advance()
                return Op.NOT_IN
            if token.value == "IS":
                negated = self._at_keyword("NOT")
                if negated:
                    self._advance()
                if self._at_keyword("NULL"):
                    self._advance()
                    return Op.IS_NOT_NULL if negated else Op.IS_NULL
                raise self._error("NULL")
            self.index -= 1
        raise self._error("a comparison operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN, IS NULL, IS NOT NULL)")

    def _value(self) -> Token:
        token = self.current
        if token.kind in (Kind.STRING, Kind.NUMBER):
            return self._advance()
        if token.kind is Kind.IDENT:
            if len(token.parts) == 1 and token.parts[0].startswith('"'):
                return self._advance()  # MLflow accepts "double-quoted" values
            raise InvalidParameter(
                "Parameter value is either not quoted or unidentified quote types used for string value "
                f"{token.text}. Use either single or double quotes."
            )
        if token.kind is Kind.LPAREN:
            raise InvalidParameter(
                f"Invalid clause(s) in filter string: a list of values at position {token.position} "
                "is only allowed after IN or NOT IN."
            )
        raise self._error("a value (a quoted string or a number)")

    def _list(self) -> list[Token]:
        if not self._at(Kind.LPAREN):
            raise self._error("a parenthesised list of quoted strings, e.g. ('a', 'b')")
        self._advance()
        items: list[Token] = []
        if self._at(Kind.RPAREN):
            raise InvalidParameter(
                "While parsing a list in the query, expected a non-empty list of string values, but got empty list"
            )
        while True:
            if len(items) == MAX_LIST_VALUES:
                raise InvalidParameter(f"Invalid filter string: a value list holds more than {MAX_LIST_VALUES} values.")
            items.append(self._value())
            if self._at(Kind.COMMA):
                self._advance()
                continue
            if self._at(Kind.RPAREN):
                self._advance()
                return items
            raise self._error("',' or ')' in the value list")
