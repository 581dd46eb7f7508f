"""Semantic versions and the range syntax Katalogs write them in.

One reading shared by the template functions (``semverCompare``...) and the
loader (``lifecycle.compatibility``, accepted pattern versions). Ranges are
sprig's: ``>= 1.2, < 2``, ``^1.4``, ``~1.4.2``, ``1.x``, alternatives joined
by ``||``. Pure: a bad version or range raises :class:`ValueError`, which
each caller turns into its own kind of error.
"""

from __future__ import annotations

import re
from typing import Any

#: (major, minor, patch, pre-release) — ``v1.2`` reads as (1, 2, 0, "").
Version = tuple[int, int, int, str]

_SEMVER = re.compile(
    r"v?(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?(?:\.(0|[1-9]\d*))?"
    r"(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?"
)
_TERM = re.compile(r"(>=|<=|!=|>|<|=|~|\^)?\s*(.+)")


def is_valid(value: str) -> bool:
    return _SEMVER.fullmatch(value.strip()) is not None


def parse(value: str) -> Version:
    """The version written in ``value``; ValueError when it is not one."""
    found = _SEMVER.fullmatch(value.strip())
    if found is None:
        raise ValueError(f"invalid semantic version {value!r}")
    major, minor, patch, pre = found.groups()
    return int(major), int(minor or 0), int(patch or 0), pre or ""


def sort_key(version: Version) -> tuple[Any, ...]:
    major, minor, patch, pre = version
    # A pre-release sorts before its release; identifiers compare numerically when numeric.
    parts = (
        tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split(".")) if pre else ()
    )
    return (major, minor, patch, 0 if pre else 1, parts)


def satisfies(constraint: str, version: Version) -> bool:
    """Does ``version`` lie in the range ``constraint``? ValueError on a bad range."""
    key = sort_key(version)
    for alternative in constraint.split("||"):
        terms = alternative.replace(",", " ").split()
        ok = bool(terms)
        for term in terms:
            found = _TERM.fullmatch(term)
            if found is None:
                raise ValueError(f"bad version range {term!r}")
            op, raw = found.group(1) or "=", found.group(2)
            given = [p for p in raw.lstrip("v").split(".") if p not in ("x", "X", "*")]
            wildcard = len(given) < 3
            bound = parse(".".join(given) or "0")
            other = sort_key(bound)
            if op == "^":
                upper = (bound[0] + 1, 0, 0) if bound[0] else (0, bound[1] + 1, 0)
                ok &= other <= key < sort_key((*upper, ""))
            elif op == "~" or (op == "=" and wildcard):
                # ~1.4 / ~1.4.2 / 1.4.x: the minor version; ~1 / 1.x: the major version.
                upper = (bound[0], bound[1] + 1, 0) if len(given) >= 2 else (bound[0] + 1, 0, 0)
                ok &= other <= key < sort_key((*upper, ""))
            else:
                ok &= {
                    "=": key == other,
                    "!=": key != other,
                    ">": key > other,
                    "<": key < other,
                    ">=": key >= other,
                    "<=": key <= other,
                }[op]
        if ok:
            return True
    return False


def check_range(constraint: str) -> None:
    """ValueError when ``constraint`` is not a range (checked at load, used later)."""
    satisfies(constraint, (0, 0, 0, ""))
