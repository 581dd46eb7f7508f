"""Regular expressions that cannot run away: the only way Katalog code compiles one.

Python's ``re`` backtracks, so a pattern like ``(a+)+`` is exponential on a
near miss. ``regex`` conditions and the ``regex*`` template functions both
compile through :func:`compile_regex`, which refuses long patterns and those
catastrophic shapes. It sits below both (it imports nothing of ours), so the
template library does not reach up into the conditions module for it.
"""

from __future__ import annotations

import functools
import re

MAX_REGEX_PATTERN = 256


class RegexRefused(ValueError):
    """A pattern refused as written (too long, catastrophic nesting, invalid)."""


def _has_nested_quantifier(pattern: str) -> bool:
    """Does a quantified group contain a quantifier, as in ``(a+)+`` or ``(a|b*)*``?

    Those shapes make Python's backtracking matcher exponential on a near miss.
    A conservative textual scan: escapes and character classes are skipped.
    """
    group_has_quantifier: list[bool] = []
    last_group_had_quantifier = False
    index = 0
    in_class = False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            last_group_had_quantifier = False
            continue
        if in_class:
            if char == "]":
                in_class = False
            index += 1
            continue
        if char == "[":
            in_class = True
            last_group_had_quantifier = False
        elif char == "(":
            group_has_quantifier.append(False)
            last_group_had_quantifier = False
        elif char == ")":
            last_group_had_quantifier = (
                group_has_quantifier.pop() if group_has_quantifier else False
            )
            index += 1
            continue
        elif char in "*+{?":
            unbounded = char in "*+" or (char == "{" and re.match(r"\{\d*,\}", pattern[index:]))
            if last_group_had_quantifier and unbounded:
                return True
            if group_has_quantifier and char != "?":
                group_has_quantifier[-1] = True
            last_group_had_quantifier = False
        else:
            last_group_had_quantifier = False
        index += 1
    return False


@functools.lru_cache(maxsize=512)
def compile_regex(pattern: str) -> re.Pattern[str]:
    """The compiled pattern of a ``regex`` condition or template function; RegexRefused when refused."""
    if len(pattern) > MAX_REGEX_PATTERN:
        raise RegexRefused(f"regex longer than {MAX_REGEX_PATTERN} characters")
    if _has_nested_quantifier(pattern):
        raise RegexRefused(
            f"regex {pattern!r} nests a repeated group inside a repetition "
            "(catastrophic backtracking); simplify it"
        )
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise RegexRefused(f"invalid regex {pattern!r}: {exc}") from None
