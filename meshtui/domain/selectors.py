"""Kubernetes label selectors: the structured form (matchLabels/matchExpressions) and the query-string form.

Both the domain (which webhook injects a pod) and the simulator (which objects a list returns) evaluate
selectors, so the rules live here once, exactly as the API server applies them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum, auto
from typing import Any

Labels = Mapping[str, str]


class SelectorError(ValueError):
    """Raised when a selector is malformed; for the query-string form the message is the API server's."""


class Operator(StrEnum):
    """A requirement's operator; the structured form's names, and the query string's symbols where it differs."""

    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"
    EQUALS = "="
    DOUBLE_EQUALS = "=="
    NOT_EQUALS = "!="
    GREATER_THAN = "Gt"
    LESS_THAN = "Lt"


_STRUCTURED_OPERATORS = frozenset({Operator.IN, Operator.NOT_IN, Operator.EXISTS, Operator.DOES_NOT_EXIST})
_INT64 = re.compile(r"[+-]?[0-9]+")


def _as_int64(text: str) -> int | None:
    """The value as Go's strconv.ParseInt(text, 10, 64) reads it, or None when it cannot."""
    if not _INT64.fullmatch(text):
        return None
    value = int(text)
    return value if -(2**63) <= value < 2**63 else None


@dataclass(frozen=True, slots=True)
class Requirement:
    """One term of a selector: key, operator and values."""

    key: str
    operator: Operator
    values: frozenset[str] = frozenset()

    def matches(self, labels: Labels) -> bool:
        """True when the labels satisfy this term; NotIn, != and DoesNotExist match a missing key."""
        op = self.operator
        if op in (Operator.IN, Operator.EQUALS, Operator.DOUBLE_EQUALS):
            return self.key in labels and labels[self.key] in self.values
        if op in (Operator.NOT_IN, Operator.NOT_EQUALS):
            return self.key not in labels or labels[self.key] not in self.values
        if op is Operator.EXISTS:
            return self.key in labels
        if op is Operator.DOES_NOT_EXIST:
            return self.key not in labels
        # Gt and Lt compare integers; a missing or non-integer label, or a non-integer bound, matches nothing.
        if self.key not in labels or len(self.values) != 1:
            return False
        have, bound = _as_int64(labels[self.key]), _as_int64(next(iter(self.values)))
        if have is None or bound is None:
            return False
        return have > bound if op is Operator.GREATER_THAN else have < bound

    def describe(self) -> str:
        """Render the term the way the API server prints it (`key in (a,b)`, `!key`, `key=v`)."""
        vals = ",".join(sorted(self.values))
        return {
            Operator.IN: f"{self.key} in ({vals})",
            Operator.NOT_IN: f"{self.key} notin ({vals})",
            Operator.EXISTS: self.key,
            Operator.DOES_NOT_EXIST: f"!{self.key}",
            Operator.EQUALS: f"{self.key}={vals}",
            Operator.DOUBLE_EQUALS: f"{self.key}=={vals}",
            Operator.NOT_EQUALS: f"{self.key}!={vals}",
            Operator.GREATER_THAN: f"{self.key}>{vals}",
            Operator.LESS_THAN: f"{self.key}<{vals}",
        }[self.operator]


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A parsed selector; an empty one matches everything."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Labels) -> bool:
        """True when every requirement holds for the labels."""
        return all(r.matches(labels) for r in self.requirements)

    @property
    def is_empty(self) -> bool:
        """True for the selector that selects everything."""
        return not self.requirements

    def describe(self) -> str:
        """Render as a kubectl-style string; the empty selector renders as `(everything)`."""
        return ",".join(r.describe() for r in self.requirements) or "(everything)"

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> LabelSelector:
        """Parse the structured form; `None` and `{}` both give the empty selector (webhook semantics)."""
        if not raw:
            return cls()
        if not isinstance(raw, Mapping):
            raise SelectorError("a label selector must be an object")
        reqs: list[Requirement] = []
        match_labels = raw.get("matchLabels") or {}
        if not isinstance(match_labels, Mapping):
            raise SelectorError("matchLabels must be an object")
        for key, value in match_labels.items():
            reqs.append(Requirement(str(key), Operator.IN, frozenset({str(value)})))
        exprs = raw.get("matchExpressions") or []
        if not isinstance(exprs, list):
            raise SelectorError("matchExpressions must be a list")
        for expr in exprs:
            if not isinstance(expr, Mapping) or "key" not in expr or "operator" not in expr:
                raise SelectorError("a matchExpression needs key and operator")
            name = str(expr["operator"])
            if name not in _STRUCTURED_OPERATORS:
                raise SelectorError(f"unknown selector operator {name!r}")
            op = Operator(name)
            values = expr.get("values") or []
            if op in (Operator.IN, Operator.NOT_IN) and not values:
                raise SelectorError(f"operator {op} needs a non-empty values list")
            if op in (Operator.EXISTS, Operator.DOES_NOT_EXIST) and values:
                raise SelectorError(f"operator {op} takes no values")
            reqs.append(Requirement(str(expr["key"]), op, frozenset(str(v) for v in values)))
        return cls(tuple(reqs))

    @classmethod
    def parse(cls, text: str | None) -> LabelSelector:
        """Parse the query-string form exactly as the API server does (labels.Parse), or raise SelectorError.

        The error's message is the one the API server answers with in its 400.
        """
        if not text:
            return cls()
        return cls(tuple(sorted(_Parser(text).selector(), key=lambda r: r.key)))


def matches(selector: Mapping[str, Any] | None, labels: Labels) -> bool:
    """Evaluate a structured selector against labels (None and {} match everything)."""
    return LabelSelector.from_dict(selector).matches(labels)


# -- the query-string grammar of k8s.io/apimachinery/pkg/labels/selector.go ---------------------------------
#
#   <selector>    ::= <requirement> | <requirement> "," <selector>
#   <requirement> ::= ["!"] KEY [ ("in" | "notin") "(" VALUES ")" | ("=" | "==" | "!=" | ">" | "<") VALUE ]
#
# Whitespace (space, tab, CR, LF) separates tokens and is otherwise ignored; `in` and `notin` are keywords
# only where an operator is expected (`in in (in)` is valid); a value may be empty (`a=`, `a in ()`,
# `a in (x,,y)`); keys and values are then validated as label keys and values are.


class _Token(Enum):
    ERROR = auto()
    END = auto()
    CLOSED_PAR = auto()
    COMMA = auto()
    NOT = auto()
    DOUBLE_EQUALS = auto()
    EQUALS = auto()
    GREATER_THAN = auto()
    IDENTIFIER = auto()
    IN = auto()
    LESS_THAN = auto()
    NOT_EQUALS = auto()
    NOT_IN = auto()
    OPEN_PAR = auto()


_LITERALS = {
    ")": _Token.CLOSED_PAR,
    ",": _Token.COMMA,
    "!": _Token.NOT,
    "==": _Token.DOUBLE_EQUALS,
    "=": _Token.EQUALS,
    ">": _Token.GREATER_THAN,
    "in": _Token.IN,
    "<": _Token.LESS_THAN,
    "!=": _Token.NOT_EQUALS,
    "notin": _Token.NOT_IN,
    "(": _Token.OPEN_PAR,
}
_OPERATORS = {
    _Token.IN: Operator.IN,
    _Token.NOT_IN: Operator.NOT_IN,
    _Token.EQUALS: Operator.EQUALS,
    _Token.DOUBLE_EQUALS: Operator.DOUBLE_EQUALS,
    _Token.NOT_EQUALS: Operator.NOT_EQUALS,
    _Token.GREATER_THAN: Operator.GREATER_THAN,
    _Token.LESS_THAN: Operator.LESS_THAN,
}
_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")
# Go's lexer reads a NUL byte as the end of the input.
_NUL = "\0"


def _lex(text: str) -> list[tuple[_Token, str]]:
    """Tokens (type, literal) of a selector, ending with END, as labels.Lexer scans them."""
    out: list[tuple[_Token, str]] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in _WHITESPACE:
            i += 1
        if i >= n or text[i] == _NUL:
            out.append((_Token.END, ""))
            return out
        if text[i] in _SPECIAL:
            # The longest run of special symbols that is still a token ("!=", "=="), as scanSpecialSymbol.
            j, last = i, (_Token.ERROR, "")
            while j < n and text[j] in _SPECIAL:
                tok = _LITERALS.get(text[i : j + 1])
                if tok is None:
                    break
                last = (tok, text[i : j + 1])
                j += 1
            out.append(last)
            i = j
            continue
        j = i
        while j < n and text[j] not in _SPECIAL and text[j] not in _WHITESPACE and text[j] != _NUL:
            j += 1
        word = text[i:j]
        out.append((_LITERALS.get(word, _Token.IDENTIFIER), word))
        # A NUL inside a word ends the word and is consumed with it.
        i = j + 1 if j < n and text[j] == _NUL else j


class _Parser:
    """labels.Parser: a recursive-descent parser over the tokens, with the API server's error messages."""

    def __init__(self, text: str) -> None:
        self.items = _lex(text)
        self.pos = 0

    def look(self, values: bool = True) -> tuple[_Token, str]:
        """The next token; where values are expected, the keywords `in`/`notin` are plain identifiers."""
        tok, lit = self.items[self.pos]
        if values and tok in (_Token.IN, _Token.NOT_IN):
            tok = _Token.IDENTIFIER
        return tok, lit

    def take(self, values: bool = True) -> tuple[_Token, str]:
        out = self.look(values)
        self.pos = min(self.pos + 1, len(self.items) - 1)
        return out

    def selector(self) -> list[Requirement]:
        found: list[Requirement] = []
        while True:
            tok, lit = self.look()
            if tok is _Token.END:
                return found
            if tok not in (_Token.IDENTIFIER, _Token.NOT):
                raise SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")
            try:
                found.append(self.requirement())
            except SelectorError as exc:
                raise SelectorError(f"unable to parse requirement: {exc}") from None
            tok, lit = self.take()
            if tok is _Token.END:
                return found
            if tok is not _Token.COMMA:
                raise SelectorError(f"found '{lit}', expected: ',' or 'end of string'")
            tok, lit = self.look()
            if tok not in (_Token.IDENTIFIER, _Token.NOT):
                raise SelectorError(f"found '{lit}', expected: identifier after ','")

    def requirement(self) -> Requirement:
        tok, key = self.take()
        negated = tok is _Token.NOT
        if negated:
            tok, key = self.take()
        if tok is not _Token.IDENTIFIER:
            raise SelectorError(f"found '{key}', expected: identifier")
        key_error = label_key_error(key)
        if key_error:
            raise SelectorError(f'<nil>: Invalid value: "{key}": {key_error}')
        if negated:
            return Requirement(key, Operator.DOES_NOT_EXIST)
        if self.look()[0] in (_Token.END, _Token.COMMA):
            return Requirement(key, Operator.EXISTS)
        tok, lit = self.take(values=False)
        op = _OPERATORS.get(tok)
        if op is None:
            raise SelectorError(f"found '{lit}', expected: in, notin, =, ==, !=, gt, lt")
        values = self.value_set() if op in (Operator.IN, Operator.NOT_IN) else [self.exact_value()]
        problems = []
        if op in (Operator.GREATER_THAN, Operator.LESS_THAN):
            problems += [
                f"values[{i}]: Invalid value: \"{v}\": for 'Gt', 'Lt' operators, the value must be an integer"
                for i, v in enumerate(values)
                if _as_int64(v) is None
            ]
        for i, v in enumerate(values):
            value_error = label_value_error(v)
            if value_error:
                problems.append(f'values[{i}][{key}]: Invalid value: "{v}": {value_error}')
        if problems:
            raise SelectorError(problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]")
        return Requirement(key, op, frozenset(values))

    def value_set(self) -> list[str]:
        """`(a,b)`; an empty list and empty items are the empty value: `()`, `(,a)`, `(a,,b)`, `(a,)`."""
        tok, lit = self.take()
        if tok is not _Token.OPEN_PAR:
            raise SelectorError(f"found '{lit}' expected: '('")
        tok, lit = self.look()
        if tok is _Token.CLOSED_PAR:
            self.take()
            return [""]
        if tok not in (_Token.IDENTIFIER, _Token.COMMA):
            raise SelectorError(f"found '{lit}', expected: ',', ')' or identifier")
        found: set[str] = set()
        while True:
            tok, lit = self.take()
            if tok is _Token.IDENTIFIER:
                found.add(lit)
                tok2, lit2 = self.look()
                if tok2 is _Token.COMMA:
                    continue
                if tok2 is _Token.CLOSED_PAR:
                    break
                raise SelectorError(f"found '{lit2}', expected: ',' or ')'")
            if tok is _Token.COMMA:
                if not found:
                    found.add("")  # "(,"
                tok2, _ = self.look()
                if tok2 is _Token.CLOSED_PAR:
                    found.add("")  # ",)"
                    break
                if tok2 is _Token.COMMA:
                    self.take()
                    found.add("")  # ",,"
                continue
            raise SelectorError(f"found '{lit}', expected: ',', or identifier")
        self.take()  # the closing parenthesis
        return sorted(found)

    def exact_value(self) -> str:
        tok, _ = self.look()
        if tok in (_Token.END, _Token.COMMA):
            return ""
        tok, lit = self.take()
        if tok is _Token.IDENTIFIER:
            return lit
        raise SelectorError(f"found '{lit}', expected: identifier")


# -- label keys and values, as k8s.io/apimachinery/pkg/util/validation checks them --------------------------

_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_QUALIFIED_NAME_ERROR = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
    "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
DNS1123_SUBDOMAIN_ERROR = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


def label_key_error(key: str) -> str | None:
    """Why a label key is invalid (validation.IsQualifiedName's joined messages), or None when it is valid."""
    parts = key.split("/")
    if len(parts) > 2:
        return (
            "a valid label key " + _QUALIFIED_NAME_ERROR + " with an optional DNS subdomain prefix and '/' "
            "(e.g. 'example.com/MyName')"
        )
    errs: list[str] = []
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            if len(prefix) > 253:
                errs.append("prefix part must be no more than 253 characters")
            if not DNS1123_SUBDOMAIN.fullmatch(prefix):
                errs.append("prefix part " + DNS1123_SUBDOMAIN_ERROR)
    if not name:
        errs.append("name part must be non-empty")
    elif len(name.encode()) > 63:
        errs.append("name part must be no more than 63 bytes")
    if not _QUALIFIED_NAME.fullmatch(name):
        errs.append("name part " + _QUALIFIED_NAME_ERROR)
    return "; ".join(errs) or None


def label_value_error(value: str) -> str | None:
    """Why a label value is invalid (validation.IsValidLabelValue's joined messages), or None when it is valid."""
    errs = []
    if len(value.encode()) > 63:
        errs.append("must be no more than 63 bytes")
    if not _LABEL_VALUE.fullmatch(value):
        errs.append(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
            "must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
            "regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        )
    return "; ".join(errs) or None
