"""Tokens of the search filter and order-by grammar (the lexical half of ``search_filter``).

The lexemes are the ones MLflow's filters use: dotted identifiers whose parts may be quoted with
backticks or double quotes (``metrics.`my metric```, ``tags."a b"``, ``tags.mlflow.runName``),
single- or double-quoted strings, numbers (``-1``, ``.5``, ``1e3``), the comparison operators,
parentheses, commas and keywords, which are case-insensitive.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from runyard.errors import InvalidParameter


class Kind(enum.Enum):
    IDENT = "identifier"  # one or more dotted parts; a lone double-quoted part may also be a value
    STRING = "string"
    NUMBER = "number"
    OPERATOR = "operator"
    KEYWORD = "keyword"
    LPAREN = "'('"
    RPAREN = "')'"
    COMMA = "','"
    END = "end of input"


KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "ILIKE"})

# A quoted part keeps its quote character first so the parser can tell `x` / "x" from x.
_PART = r"(?:[A-Za-z_][\w]*|`[^`]*`|\"(?:[^\"\\]|\\.)*\")"
_LATER_PART = r"(?:\w+|`[^`]*`|\"(?:[^\"\\]|\\.)*\")"
_TOKEN = re.compile(
    rf"""
    (?P<ws>\s+)
  | (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?![\w.])
  | (?P<ident>{_PART}(?:\.{_LATER_PART})*)
  | (?P<string>'(?:''|\\'|[^'])*')
  | (?P<operator>>=|<=|!=|<>|==|=|<|>)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
    """,
    re.VERBOSE,
)
_PART_SPLIT = re.compile(_LATER_PART)


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    text: str  # the source text of the token
    position: int  # 0-based offset in the input
    parts: tuple[str, ...] = ()  # IDENT: the dotted parts, quotes kept
    value: str = ""  # STRING: the unquoted value; KEYWORD: upper-cased; NUMBER: the literal

    def describe(self) -> str:
        return "the end of the input" if self.kind is Kind.END else f"'{self.text}'"


def unquote(part: str) -> str:
    """A dotted part without its backticks or double quotes (and with ``\\"`` unescaped)."""
    if len(part) >= 2 and part[0] == part[-1] == "`":
        return part[1:-1]
    if len(part) >= 2 and part[0] == part[-1] == '"':
        return part[1:-1].replace('\\"', '"')
    return part


def is_quoted(part: str) -> bool:
    return part[:1] in ('"', "`")


def _split_parts(text: str) -> tuple[str, ...]:
    parts: list[str] = []
    index = 0
    while index < len(text):
        match = _PART_SPLIT.match(text, index)
        assert match is not None  # the token regex already accepted this text
        parts.append(match.group())
        index = match.end() + 1  # skip the dot
    return tuple(parts)


def _unescape_string(text: str) -> str:
    # SQL's doubled quote and a backslash-escaped quote both stand for one quote character; any other
    # backslash is kept, so LIKE patterns can escape their wildcards (``'a\\_b'``).
    return text[1:-1].replace("''", "'").replace("\\'", "'")


def tokenize(source: str, what: str = "filter string") -> list[Token]:
    """Split ``source`` into tokens, ending with an ``END`` token.

    Raises:
        InvalidParameter: on a character that starts no token (an unterminated quote, ``;``, …).
    """
    tokens: list[Token] = []
    index = 0
    while index < len(source):
        match = _TOKEN.match(source, index)
        if match is None:
            char = source[index]
            if char in "'\"`":
                hint = " (unterminated quote?)"
            else:
                hint = " (quote a key that contains special characters with backticks, e.g. metrics.`my-key`)"
            raise InvalidParameter(
                f"Invalid {what} '{source}': unexpected character '{char}' at position {index}{hint}."
            )
        group = match.lastgroup
        text = match.group()
        if group == "ident":
            if "." not in text and not is_quoted(text) and text.upper() in KEYWORDS:
                tokens.append(Token(Kind.KEYWORD, text, index, value=text.upper()))
            else:
                tokens.append(Token(Kind.IDENT, text, index, parts=_split_parts(text)))
        elif group == "string":
            tokens.append(Token(Kind.STRING, text, index, value=_unescape_string(text)))
        elif group == "number":
            tokens.append(Token(Kind.NUMBER, text, index, value=text))
        elif group == "operator":
            tokens.append(Token(Kind.OPERATOR, text, index, value=text))
        elif group != "ws":
            kind = {"lparen": Kind.LPAREN, "rparen": Kind.RPAREN, "comma": Kind.COMMA}[str(group)]
            tokens.append(Token(kind, text, index))
        index = match.end()
    tokens.append(Token(Kind.END, "", len(source)))
    return tokens
