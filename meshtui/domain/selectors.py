"""Kubernetes label selectors: the structured form (matchLabels/matchExpressions) and the query-string form.

Both the domain (which webhook injects a pod) and the simulator (which objects a list returns) evaluate
selectors, so the rules live here once, exactly as the API server applies them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Labels = Mapping[str, str]


class SelectorError(ValueError):
    """Raised when a selector is malformed (an unknown operator, a missing value list)."""


@dataclass(frozen=True, slots=True)
class Requirement:
    """One term of a selector: key, operator (In, NotIn, Exists, DoesNotExist) and values."""

    key: str
    operator: str
    values: frozenset[str] = frozenset()

    def matches(self, labels: Labels) -> bool:
        """True when the labels satisfy this term, with NotIn and DoesNotExist matching a missing key."""
        op = self.operator
        if op == "In":
            return self.key in labels and labels[self.key] in self.values
        if op == "NotIn":
            return self.key not in labels or labels[self.key] not in self.values
        if op == "Exists":
            return self.key in labels
        if op == "DoesNotExist":
            return self.key not in labels
        if op == "Gt" or op == "Lt":
            # Only node selectors use Gt/Lt; a label selector with them is invalid, so it matches nothing.
            return False
        raise SelectorError(f"unknown selector operator {op!r}")

    def describe(self) -> str:
        """Render the term the way kubectl prints a selector (`key in (a,b)`, `!key`)."""
        vals = ",".join(sorted(self.values))
        return {
            "In": f"{self.key} in ({vals})",
            "NotIn": f"{self.key} notin ({vals})",
            "Exists": self.key,
            "DoesNotExist": f"!{self.key}",
        }.get(self.operator, f"{self.key} {self.operator} ({vals})")


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
            reqs.append(Requirement(str(key), "In", frozenset({str(value)})))
        exprs = raw.get("matchExpressions") or []
        if not isinstance(exprs, list):
            raise SelectorError("matchExpressions must be a list")
        for expr in exprs:
            if not isinstance(expr, Mapping) or "key" not in expr or "operator" not in expr:
                raise SelectorError("a matchExpression needs key and operator")
            op = str(expr["operator"])
            values = expr.get("values") or []
            if op in ("In", "NotIn") and not values:
                raise SelectorError(f"operator {op} needs a non-empty values list")
            if op in ("Exists", "DoesNotExist") and values:
                raise SelectorError(f"operator {op} takes no values")
            if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
                raise SelectorError(f"unknown selector operator {op!r}")
            reqs.append(Requirement(str(expr["key"]), op, frozenset(str(v) for v in values)))
        return cls(tuple(reqs))

    @classmethod
    def parse(cls, text: str | None) -> LabelSelector:
        """Parse the query-string form: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`."""
        if not text or not text.strip():
            return cls()
        return cls(tuple(_parse_term(t) for t in _split_terms(text)))


def matches(selector: Mapping[str, Any] | None, labels: Labels) -> bool:
    """Evaluate a structured selector against labels (None and {} match everything)."""
    return LabelSelector.from_dict(selector).matches(labels)


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not inside a value list."""
    terms: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise SelectorError(f"unbalanced parenthesis in selector {text!r}")
        if ch == "," and depth == 0:
            terms.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    if depth != 0:
        raise SelectorError(f"unbalanced parenthesis in selector {text!r}")
    terms.append("".join(current).strip())
    if any(not t for t in terms):
        raise SelectorError(f"empty term in selector {text!r}")
    return terms


def _parse_term(term: str) -> Requirement:
    if term.startswith("!"):
        key = term[1:].strip()
        _check_key(key)
        return Requirement(key, "DoesNotExist")
    for word, op in ((" notin ", "NotIn"), (" in ", "In")):
        if word in f" {term} " and "(" in term:
            key, _, rest = term.partition(word.strip())
            key = key.strip()
            rest = rest.strip()
            if not (rest.startswith("(") and rest.endswith(")")):
                raise SelectorError(f"expected a value list in {term!r}")
            values = frozenset(v.strip() for v in rest[1:-1].split(",") if v.strip())
            _check_key(key)
            if not values:
                raise SelectorError(f"empty value list in {term!r}")
            return Requirement(key, op, values)
    for sep, op in (("!=", "NotIn"), ("==", "In"), ("=", "In")):
        if sep in term:
            key, _, value = term.partition(sep)
            key, value = key.strip(), value.strip()
            _check_key(key)
            return Requirement(key, op, frozenset({value}))
    _check_key(term)
    return Requirement(term, "Exists")


def _check_key(key: str) -> None:
    if not key or any(c in key for c in " ()=!,"):
        raise SelectorError(f"invalid label key {key!r}")
