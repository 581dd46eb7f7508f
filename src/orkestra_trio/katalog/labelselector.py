"""Kubernetes label selectors, parsed and matched the way kube-apiserver does.

The language of ``labelSelector`` query parameters (``a=b,c!=d,e in (f,g),!h``)
and of ``metav1.LabelSelector`` objects (matchLabels/matchExpressions). Clients
rely on the exact semantics: ``!=`` and ``notin`` also match objects that lack
the label; an empty selector matches everything. Pure, so that the Katalog
loader can check a Katalog's selectors, the runtime can match them, and the
embedded API server can answer with them; the API server re-exports it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs


class SelectorError(ValueError):
    """A selector the server refuses (answered as 400 BadRequest)."""


# --------------------------------------------------------------------------
# label selectors

# Label keys: optional DNS-subdomain prefix and "/", then a name of at most 63
# characters; values: empty or at most 63 characters of the same alphabet.
_NAME_RE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
_PREFIX_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

# Operators, in the spelling String() writes them.
EQUALS = "="
DOUBLE_EQUALS = "=="
NOT_EQUALS = "!="
IN = "in"
NOT_IN = "notin"
EXISTS = "exists"
DOES_NOT_EXIST = "!"
GREATER_THAN = "gt"
LESS_THAN = "lt"


def _check_key(key: str) -> None:
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _PREFIX_RE.match(prefix)):
        raise SelectorError(
            f'unable to parse requirement: key: Invalid value: "{key}": prefix part must be '
            "a lowercase RFC 1123 subdomain"
        )
    if not name or len(name) > 63 or not _NAME_RE.match(name):
        raise SelectorError(
            f'unable to parse requirement: key: Invalid value: "{key}": name part must consist '
            "of alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character"
        )


def _check_value(value: str) -> None:
    if len(value) > 63 or not _NAME_RE.match(value):
        raise SelectorError(
            f'unable to parse requirement: values[0]: Invalid value: "{value}": a valid label '
            "must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
            "and must start and end with an alphanumeric character"
        )


@attrs.frozen
class Requirement:
    """One comma-separated clause of a label selector."""

    key: str
    operator: str  # one of the operator constants above ("==" is normalised to "=")
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op == EXISTS:
            return self.key in labels
        if op == DOES_NOT_EXIST:
            return self.key not in labels
        if op in (EQUALS, IN):
            return self.key in labels and labels[self.key] in self.values
        if op in (NOT_EQUALS, NOT_IN):
            # Objects without the label match "!=" and "notin", as on a real server.
            return self.key not in labels or labels[self.key] not in self.values
        # gt / lt: the label must exist and parse as an integer.
        if self.key not in labels:
            return False
        try:
            have = int(labels[self.key])
        except ValueError:
            return False
        want = int(self.values[0])
        return have > want if op == GREATER_THAN else have < want

    def format(self) -> str:
        op = self.operator
        if op == EXISTS:
            return self.key
        if op == DOES_NOT_EXIST:
            return f"!{self.key}"
        if op in (IN, NOT_IN):
            return f"{self.key} {op} ({','.join(sorted(self.values))})"
        if op == GREATER_THAN:
            return f"{self.key}>{self.values[0]}"
        if op == LESS_THAN:
            return f"{self.key}<{self.values[0]}"
        return f"{self.key}{op}{self.values[0]}"


@attrs.frozen
class LabelSelector:
    """A conjunction of requirements; no requirement matches every object."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        have = labels or {}
        return all(r.matches(have) for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements

    def format(self) -> str:
        """The canonical text (requirements sorted by key, as the Go String() does)."""
        return ",".join(r.format() for r in sorted(self.requirements, key=lambda r: r.key))

    def __str__(self) -> str:
        return self.format()


# Tokens of the label selector language.
_TOKEN_RE = re.compile(
    r"\s*(?:(?P<op>==|!=|=|\(|\)|,|!|>|<)|(?P<word>[^\s=!(),<>]+))",
)


def _tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN_RE.match(text, pos)
        if not m or m.end() == pos:
            raise SelectorError(f"unable to parse requirement: unexpected character at {pos}")
        tokens.append(m.group("op") or m.group("word"))
        pos = m.end()
    return tokens


_OPERATOR_TOKENS = {"=", "==", "!=", "(", ")", ",", "!", ">", "<"}


def parse_label_selector(text: str) -> LabelSelector:
    """Parse ``labelSelector`` text; raises SelectorError like the real server."""
    tokens = _tokenize(text or "")
    pos = 0
    reqs: list[Requirement] = []

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str | None:
        nonlocal pos
        tok = peek()
        pos += 1
        return tok

    def word(what: str) -> str:
        tok = take()
        if tok is None or tok in _OPERATOR_TOKENS:
            raise SelectorError(f"found '{tok or 'EOS'}', expected: {what}")
        return tok

    while peek() is not None:
        negated = False
        if peek() == "!":
            take()
            negated = True
        key = word("identifier")
        _check_key(key)
        if negated:
            reqs.append(Requirement(key, DOES_NOT_EXIST))
        else:
            op = peek()
            if op is None or op == ",":
                reqs.append(Requirement(key, EXISTS))
            elif op in ("=", "==", "!="):
                take()
                # An empty value is allowed ("key=" selects label value "").
                nxt = peek()
                value = "" if nxt is None or nxt == "," else word("value")
                _check_value(value)
                reqs.append(Requirement(key, NOT_EQUALS if op == "!=" else EQUALS, (value,)))
            elif op in (">", "<"):
                take()
                value = word("integer value")
                if not re.fullmatch(r"-?\d+", value):
                    raise SelectorError(
                        f"unable to parse requirement: for 'Gt', 'Lt' operators, the value "
                        f"must be an integer: {value}"
                    )
                reqs.append(Requirement(key, GREATER_THAN if op == ">" else LESS_THAN, (value,)))
            elif op in (IN, NOT_IN):
                take()
                paren = take()
                if paren != "(":
                    raise SelectorError(f"found '{paren or 'EOS'}', expected: '('")
                values: list[str] = []
                while True:
                    tok = peek()
                    if tok == ")":
                        # "key in ()" and "key in (a,)" (a trailing empty value) are legal.
                        if not values or tokens[pos - 1] == ",":
                            values.append("")
                        take()
                        break
                    if tok == ",":
                        if not values or tokens[pos - 1] in ("(", ","):
                            values.append("")
                        take()
                        continue
                    if tok is None or tok in _OPERATOR_TOKENS or tokens[pos - 1] not in ("(", ","):
                        # Values are separated by commas: "(a b)" is refused.
                        raise SelectorError(f"found '{tok or 'EOS'}', expected: ',', or ')'")
                    take()
                    _check_value(tok)
                    values.append(tok)
                # "key in ()" means the empty value, as in the Go parser.
                reqs.append(Requirement(key, op, tuple(sorted(set(values)))))
            else:
                raise SelectorError(f"found '{op}', expected: in, notin, =, ==, !=, gt, lt")
        nxt = take()
        if nxt is not None and nxt != ",":
            raise SelectorError(f"found '{nxt}', expected: ',' or 'end of string'")
        if nxt == "," and peek() is None:
            raise SelectorError("found 'EOS', expected: identifier")
    return LabelSelector(tuple(reqs))


def label_selector_from_match(selector: Mapping[str, Any] | None) -> LabelSelector:
    """The selector of a ``metav1.LabelSelector`` object (matchLabels/matchExpressions).

    An empty or absent object selects everything, as in Deployment specs.
    """
    if not selector:
        return LabelSelector()
    reqs: list[Requirement] = []
    for key, value in (selector.get("matchLabels") or {}).items():
        reqs.append(Requirement(str(key), EQUALS, (str(value),)))
    ops = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}
    for expr in selector.get("matchExpressions") or ():
        op = ops.get(str(expr.get("operator")))
        if op is None:
            raise SelectorError(f'"{expr.get("operator")}" is not a valid label selector operator')
        reqs.append(Requirement(str(expr.get("key")), op, tuple(expr.get("values") or ())))
    return LabelSelector(tuple(reqs))
