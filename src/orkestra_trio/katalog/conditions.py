"""Conditions: ``when`` (all must hold) and ``or`` (at least one holds).

A condition reads one value from the template context, by dot path
(``spec.replicas``) or by template (``{{ phase .cross.db }}``), and compares it
with the operand written in the Katalog. Comparisons are textual except for
the numeric operators, which compare numbers when both sides parse as numbers
and otherwise fail: a condition that cannot be evaluated must never pass by
accident, since it gates creating and deleting children.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from orkestra_trio.katalog.cron import CronError, check_cron, in_window, parse_cron
from orkestra_trio.katalog.saferegex import RegexRefused, compile_regex
from orkestra_trio.katalog.template import (
    CompiledTemplate,
    compile_template,
    format_value,
    lookup_path,
    number_from_text,
)

# Every operator a condition may use. Anything else is a load error.
OPERATORS: frozenset[str] = frozenset(
    {
        "equals",
        "notEquals",
        "contains",
        "notContains",
        "prefix",
        "suffix",
        "regex",
        "exists",
        "notExists",
        "greaterThan",
        "greaterThanOrEqual",
        "lessThan",
        "lessThanOrEqual",
        "between",
        "in",
        "notIn",
        # Orkestra's further operators (ORKESTRA-LANGUAGE.md 1.12).
        "notPrefix",
        "notSuffix",
        "notBetween",
        "typeOf",
        "typeString",
        "typeNumber",
        "typeBool",
        "typeMap",
        "typeList",
        "typeNull",
        "dayOfWeek",
        "time",
        "cron",
        "unique",
    }
)

#: Orkestra's short names, read as the operator they stand for.
ALIASES: dict[str, str] = {
    "gt": "greaterThan",
    "lt": "lessThan",
    "min": "greaterThanOrEqual",
    "max": "lessThanOrEqual",
}

#: Operators that test the clock, not a field: they take no ``field``.
CLOCK_OPERATORS: frozenset[str] = frozenset({"dayOfWeek", "time", "cron"})

#: The context key of the reconcile's clock (a UTC datetime): :func:`with_clock` sets it,
#: so clock operators follow the runtime's (Trio-driven) time. Not a Go identifier.
CLOCK = "orkestra:now"
#: A ``cron`` condition's window when it gives no ``duration`` (seconds).
DEFAULT_CRON_DURATION = 60.0

#: The context key of the CRs ``unique`` compares with (every CR of the box, this one
#: included): :func:`with_peers` sets it. Not a Go identifier, so no template reads it.
PEERS = "orkestra:peers"

#: ``valueType`` of the long form (``operator``/``value``/``valueType``).
VALUE_TYPES = ("string", "int", "float", "bool")

_TYPE_CHECKS = {
    "typeString": "string",
    "typeNumber": "number",
    "typeBool": "bool",
    "typeMap": "map",
    "typeList": "list",
    "typeNull": "null",
}
TYPE_NAMES = ("string", "number", "bool", "map", "list", "null")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def utc_now() -> datetime.datetime:
    """The clock of ``dayOfWeek``/``time``/``cron`` conditions in a context without
    :data:`CLOCK` (tests replace it)."""
    return datetime.datetime.now(datetime.UTC)


def with_clock(context: Mapping[str, Any], now: datetime.datetime) -> dict[str, Any]:
    """``context`` with the reconcile's clock, which the clock operators read."""
    return {**context, CLOCK: now}


def context_now(context: Mapping[str, Any]) -> datetime.datetime:
    """The clock of ``context`` (:data:`CLOCK`), else :func:`utc_now`."""
    now = context.get(CLOCK)
    return now if isinstance(now, datetime.datetime) else utc_now()


# Python's re backtracks; this cap keeps one evaluation cheap (saferegex
# refuses long patterns and the catastrophic shapes like (a+)+).
MAX_REGEX_INPUT = 8192


def _compiled(text: str, what: str) -> CompiledTemplate | None:
    """``text`` compiled when it holds a template action, else None."""
    return compile_template(text, name=f"{what} {text!r}") if "{{" in text else None


@attrs.frozen
class Notify:
    """A condition's ``notify: {teams, message}``: alert those teams while it holds.

    ``where`` is the condition's ``file:line:col``: the alert's identity, which the
    throttle (``notification.teams.<team>.interval``) counts repeats by.
    """

    teams: tuple[str, ...]
    #: The message as written ("" : the team's own, else the default), and its template.
    message: str = ""
    message_template: CompiledTemplate | None = attrs.field(default=None, eq=False, repr=False)
    where: str = ""


@attrs.frozen
class Condition:
    """One condition of a ``when``/``or`` list, as loaded from the Katalog.

    ``field`` is a dot path into the template context (``spec.replicas``,
    ``cross.loader.metrics.queueDepth``) or a template (``{{ phase .cross.db }}``).
    ``value`` is the operand as written (a string; "" for exists/notExists).
    ``source`` is the ``source:`` of an autoscale condition, if any.

    ``field_template`` and ``value_template`` are the compiled forms of a
    templated field or operand. The loader compiles them once, named after
    their ``file:line:col`` so render errors point back at the Katalog; a
    Condition built by hand compiles its own on construction.
    """

    field: str
    operator: str
    value: str = ""
    negate: bool = False
    source: Any = None
    #: How equals/notEquals/in/notIn compare: as text, or as int/float/bool.
    value_type: str = "string"
    #: ``cron`` only: seconds the condition holds after each fire.
    duration: float = DEFAULT_CRON_DURATION
    #: ``notify:``: the teams alerted while the condition holds (None: no alert).
    notify: Notify | None = attrs.field(default=None, eq=False)
    field_template: CompiledTemplate | None = attrs.field(
        default=attrs.Factory(
            lambda self: _compiled(self.field, "condition field"), takes_self=True
        ),
        eq=False,
        repr=False,
    )
    value_template: CompiledTemplate | None = attrs.field(
        default=attrs.Factory(
            lambda self: _compiled(self.value, "condition value"), takes_self=True
        ),
        eq=False,
        repr=False,
    )


class ConditionError(ValueError):
    """A condition that cannot be evaluated as written (bad regex, bad between)."""


def field_value(condition: Condition, context: Mapping[str, Any]) -> Any:
    """The value the condition tests: a path lookup, or a template's rendered text."""
    if condition.field_template is not None:
        return condition.field_template.render(context)
    return lookup_path(context, condition.field)


def _operand(condition: Condition, context: Mapping[str, Any]) -> str:
    if condition.value_template is not None:
        return condition.value_template.render(context)
    return condition.value


def _as_number(value: Any) -> float | int | None:
    """The value as a number, or None when it is not one (booleans are not)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return None if isinstance(value, float) and math.isnan(value) else value
    if isinstance(value, str):
        return number_from_text(value)
    return None


def _comma_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",")]


def check_condition(condition: Condition) -> str | None:
    """A load-time problem with the condition as written, or None if it is fine.

    For the loader: an unknown operator, an uncompilable or refused regex, a
    ``between`` operand that is not "min,max" numbers.
    """
    if condition.operator not in OPERATORS:
        return f"unknown condition operator {condition.operator!r}"
    operand = condition.value
    if condition.value_template is not None:
        return None
    if condition.operator == "regex":
        try:
            compile_regex(operand)
        except RegexRefused as exc:
            return str(exc)
    if condition.operator in ("between", "notBetween"):
        bounds = _comma_list(operand)
        if len(bounds) != 2 or any(_as_number(b) is None for b in bounds):
            return f'{condition.operator} takes "min,max" numbers, got {operand!r}'
    if condition.operator == "unique" and operand != "true":
        return f"write unique: true (got {operand!r})"
    if condition.operator == "typeOf" and operand not in TYPE_NAMES:
        return f"typeOf takes one of {', '.join(TYPE_NAMES)}, got {operand!r}"
    if condition.operator == "dayOfWeek":
        return _check_days(operand)
    if condition.operator == "time":
        return _check_window(operand)
    if condition.operator == "cron":
        return check_cron(operand)
    return None


def _check_days(operand: str) -> str | None:
    mode, _, days = operand.partition(":")
    if mode in ("weekday", "weekend") and not days:
        return None
    if mode in ("in", "notIn"):
        unknown = [d for d in _comma_list(days) if d[:3].lower() not in _DAYS or not d]
        if not unknown:
            return None
        return f"unknown day {unknown[0]!r} (use mon, tue, wed, thu, fri, sat, sun)"
    return f"dayOfWeek takes weekday, weekend, {{in: ...}} or {{notIn: ...}}, got {operand!r}"


def _minutes(text: str) -> int | None:
    hours, sep, minutes = text.strip().partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit():
        return None
    h, m = int(hours), int(minutes)
    return h * 60 + m if h < 24 and m < 60 else None


def _check_window(operand: str) -> str | None:
    after, _, before = operand.partition(",")
    for text in (after, before):
        if text and _minutes(text) is None:
            return f"time takes HH:MM (UTC), got {text!r}"
    if not after and not before:
        return "time needs after and/or before (HH:MM, UTC)"
    return None


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "map"
    if isinstance(value, list | tuple):
        return "list"
    return "other"


def _day_holds(operand: str, now: datetime.datetime) -> bool:
    day = _DAYS[now.weekday()]
    mode, _, days = operand.partition(":")
    if mode == "weekday":
        return day not in ("sat", "sun")
    if mode == "weekend":
        return day in ("sat", "sun")
    listed = {d[:3].lower() for d in _comma_list(days)}
    return (day in listed) == (mode == "in")


def _time_holds(operand: str, now: datetime.datetime) -> bool:
    minute = now.hour * 60 + now.minute
    after_text, _, before_text = operand.partition(",")
    after = _minutes(after_text) if after_text else None
    before = _minutes(before_text) if before_text else None
    if after is not None and before is not None and after > before:
        return minute >= after or minute < before  # a window across midnight
    return (after is None or minute >= after) and (before is None or minute < before)


def _typed_equal(text: str, operand: str, value_type: str) -> bool:
    if value_type in ("int", "float"):
        left, right = number_from_text(text), number_from_text(operand)
        return left is not None and right is not None and left == right
    if value_type == "bool":
        return text.strip().lower() == operand.strip().lower()
    return text == operand


_NUMERIC = frozenset(
    {
        "greaterThan",
        "greaterThanOrEqual",
        "lessThan",
        "lessThanOrEqual",
        "between",
        "notBetween",
    }
)


def _clock_holds(condition: Condition, operand: str, now: datetime.datetime) -> bool:
    if condition.operator == "dayOfWeek":
        return _day_holds(operand, now)
    if condition.operator == "time":
        return _time_holds(operand, now)
    try:
        schedule = parse_cron(operand)
    except CronError as exc:  # a templated expression that rendered wrong
        raise ConditionError(f"cron: {exc}") from None
    return in_window(schedule, condition.duration, now)[0]


def _holds(operator: str, value: Any, operand: str, value_type: str = "string") -> bool:
    if operator == "typeOf":
        return _type_name(value) == operand
    if operator in _TYPE_CHECKS:
        return (_type_name(value) == _TYPE_CHECKS[operator]) == (operand != "false")
    present = value is not None and value != ""
    if operator == "exists":
        return present
    if operator == "notExists":
        return not present
    if operator in _NUMERIC:
        number = _as_number(value)
        if number is None:
            return False
        if operator in ("between", "notBetween"):
            bounds = [_as_number(b) for b in _comma_list(operand)]
            if len(bounds) != 2 or bounds[0] is None or bounds[1] is None:
                return False
            return (bounds[0] <= number <= bounds[1]) == (operator == "between")
        limit = _as_number(operand)
        if limit is None:
            return False
        if operator == "greaterThan":
            return number > limit
        if operator == "greaterThanOrEqual":
            return number >= limit
        if operator == "lessThan":
            return number < limit
        return number <= limit
    text = format_value(value)
    if operator == "equals":
        return _typed_equal(text, operand, value_type)
    if operator == "notEquals":
        return not _typed_equal(text, operand, value_type)
    if operator == "notPrefix":
        return not text.startswith(operand)
    if operator == "notSuffix":
        return not text.endswith(operand)
    if operator == "contains":
        return operand in text
    if operator == "notContains":
        return operand not in text
    if operator == "prefix":
        return text.startswith(operand)
    if operator == "suffix":
        return text.endswith(operand)
    if operator in ("in", "notIn"):
        found = any(_typed_equal(text, item, value_type) for item in _comma_list(operand))
        return found == (operator == "in")
    if operator == "regex":
        if len(text) > MAX_REGEX_INPUT:
            return False
        try:
            pattern = compile_regex(operand)
        except RegexRefused:
            return False
        return pattern.search(text) is not None
    raise ConditionError(f"unknown condition operator {operator!r}")


def with_peers(context: Mapping[str, Any], peers: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """``context`` with the CRs ``unique`` compares with (read from the box's own cache)."""
    return {**context, PEERS: tuple(peers)}


def _identity(obj: Mapping[str, Any]) -> tuple[str, str]:
    metadata = obj.get("metadata") or {}
    return (str(metadata.get("namespace") or ""), str(metadata.get("name") or ""))


def _unique(condition: Condition, value: Any, context: Mapping[str, Any]) -> bool:
    """No other CR of the box has this field's value (an empty value collides with none).

    The CR itself is told apart by namespace and name: at admission a new CR
    has no uid yet, and an update's old version is in the peers.
    """
    if value is None or value == "" or value == {} or value == []:
        return True
    mine = _identity(context)
    text = format_value(value)
    for peer in context.get(PEERS) or ():
        if _identity(peer) == mine:
            continue
        peer_context = {**peer, "spec": peer.get("spec") or {}, "status": peer.get("status") or {}}
        other = field_value(condition, peer_context)
        if other is not None and other != "" and format_value(other) == text:
            return False
    return True


def condition_holds(condition: Condition, context: Mapping[str, Any]) -> bool:
    """Does ``condition`` hold in ``context``? ``negate`` inverts the outcome.

    A missing field is "" for the string operators and makes the numeric ones
    fail (so ``negate`` of a failed numeric comparison holds). Template render
    errors propagate as TemplateRenderError: a broken template is a reconcile
    error, not a silent "false".
    """
    if condition.operator in CLOCK_OPERATORS:
        result = _clock_holds(condition, _operand(condition, context), context_now(context))
        return not result if condition.negate else result
    value = field_value(condition, context)
    if condition.operator == "unique":
        result = _unique(condition, value, context)
        return not result if condition.negate else result
    result = _holds(condition.operator, value, _operand(condition, context), condition.value_type)
    return not result if condition.negate else result


def conditions_hold(
    when: Sequence[Condition], or_: Sequence[Condition], context: Mapping[str, Any]
) -> bool:
    """All of ``when`` hold and, when ``or_`` is not empty, at least one of ``or_``."""
    if not all(condition_holds(c, context) for c in when):
        return False
    return not or_ or any(condition_holds(c, context) for c in or_)


def next_clock_edge(
    conditions: Iterable[Condition], context: Mapping[str, Any]
) -> datetime.datetime | None:
    """The next time a clock condition among ``conditions`` may change its answer, or None.

    ``cron``: its window's end or its next fire; ``time``: the next ``after`` or
    ``before`` minute; ``dayOfWeek``: the next midnight (UTC). The runtime
    reconciles again then, so a window opens and closes without any event (a
    pure function of the clock of ``context``).
    """
    now = context_now(context)
    edges = []
    for condition in conditions:
        if condition.operator not in CLOCK_OPERATORS:
            continue
        edge = _clock_edge(condition, _operand(condition, context), now)
        if edge is not None:
            edges.append(edge)
    return min(edges, default=None)


def _clock_edge(
    condition: Condition, operand: str, now: datetime.datetime
) -> datetime.datetime | None:
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if condition.operator == "dayOfWeek":
        return midnight + datetime.timedelta(days=1)
    if condition.operator == "time":
        minutes = [_minutes(text) for text in operand.split(",") if text]
        edges = []
        for minute in (m for m in minutes if m is not None):
            edge = midnight + datetime.timedelta(minutes=minute)
            edges.append(edge if edge > now else edge + datetime.timedelta(days=1))
        return min(edges, default=None)
    try:
        schedule = parse_cron(operand)
    except CronError:
        return None  # its evaluation reports it
    return in_window(schedule, condition.duration, now)[1]
