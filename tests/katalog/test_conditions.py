"""Condition operators, negate, when/or combination, field paths and templates."""

from __future__ import annotations

from typing import Any

import pytest

from orkestra_trio.katalog.conditions import (
    OPERATORS,
    Condition,
    check_condition,
    condition_holds,
    conditions_hold,
)
from orkestra_trio.katalog.template import TemplateRenderError

CTX: dict[str, Any] = {
    "spec": {
        "replicas": 3,
        "ratio": 0.75,
        "mode": "fast",
        "name": "web-frontend",
        "empty": "",
        "none": None,
        "count": "12",
        "flag": True,
        "sites": ["a", "b"],
    },
    "cross": {"db": {"status": {"phase": "Ready"}}, "loader": {"metrics": {"queueDepth": 75}}},
}


def holds(field: str, operator: str, value: str = "", negate: bool = False) -> bool:
    return condition_holds(Condition(field, operator, value, negate), CTX)


@pytest.mark.parametrize(
    ("field", "operator", "value", "expected"),
    [
        ("spec.mode", "equals", "fast", True),
        ("spec.mode", "equals", "slow", False),
        ("spec.replicas", "equals", "3", True),
        ("spec.flag", "equals", "true", True),
        ("spec.missing", "equals", "", True),
        ("spec.mode", "notEquals", "slow", True),
        ("spec.mode", "notEquals", "fast", False),
        ("spec.name", "contains", "front", True),
        ("spec.name", "contains", "back", False),
        ("spec.missing", "contains", "", True),
        ("spec.name", "notContains", "back", True),
        ("spec.name", "notContains", "web", False),
        ("spec.name", "prefix", "web-", True),
        ("spec.name", "prefix", "front", False),
        ("spec.name", "suffix", "-frontend", True),
        ("spec.name", "suffix", "web", False),
        ("spec.name", "regex", "^web-[a-z]+$", True),
        ("spec.name", "regex", "end$", True),
        ("spec.name", "regex", "^front", False),
        ("spec.mode", "exists", "", True),
        ("spec.empty", "exists", "", False),
        ("spec.none", "exists", "", False),
        ("spec.missing", "exists", "", False),
        ("spec.replicas", "exists", "", True),
        ("spec.missing", "notExists", "", True),
        ("spec.empty", "notExists", "", True),
        ("spec.mode", "notExists", "", False),
        ("spec.replicas", "greaterThan", "2", True),
        ("spec.replicas", "greaterThan", "3", False),
        ("spec.ratio", "greaterThan", "0.5", True),
        ("spec.count", "greaterThan", "9", True),  # numeric, not "12" < "9" as text
        ("spec.mode", "greaterThan", "1", False),  # not a number: fails
        ("spec.missing", "greaterThan", "-100", False),  # missing: fails
        ("spec.flag", "greaterThan", "0", False),  # booleans are not numbers
        ("spec.replicas", "greaterThan", "abc", False),
        ("spec.replicas", "greaterThanOrEqual", "3", True),
        ("spec.replicas", "greaterThanOrEqual", "3.5", False),
        ("spec.replicas", "lessThan", "4", True),
        ("spec.replicas", "lessThan", "3", False),
        ("spec.replicas", "lessThanOrEqual", "3", True),
        ("spec.replicas", "lessThanOrEqual", "2.9", False),
        ("spec.replicas", "between", "1,3", True),
        ("spec.replicas", "between", "3, 10", True),
        ("spec.replicas", "between", "4,10", False),
        ("spec.ratio", "between", "0.5,1", True),
        ("spec.replicas", "between", "1", False),
        ("spec.missing", "between", "0,10", False),
        ("spec.mode", "in", "slow, fast ,medium", True),
        ("spec.mode", "in", "slow,medium", False),
        ("spec.replicas", "in", "1,2,3", True),
        ("spec.mode", "notIn", "slow,medium", True),
        ("spec.mode", "notIn", "fast", False),
        ("cross.loader.metrics.queueDepth", "greaterThan", "60", True),
        ("spec.sites.1", "equals", "b", True),
        ("spec.name", "notPrefix", "web-", False),
        ("spec.name", "notPrefix", "api-", True),
        ("spec.name", "notSuffix", "-frontend", False),
        ("spec.name", "notSuffix", "-backend", True),
        ("spec.replicas", "notBetween", "1,3", False),
        ("spec.replicas", "notBetween", "4,10", True),
        ("spec.missing", "notBetween", "4,10", False),  # missing: numeric operators fail
        ("spec.sites", "typeOf", "list", True),
        ("spec.sites", "typeOf", "map", False),
        ("spec.mode", "typeString", "true", True),
        ("spec.replicas", "typeNumber", "true", True),
        ("spec.flag", "typeBool", "true", True),
        ("spec", "typeMap", "true", True),
        ("spec.sites", "typeList", "true", True),
        ("spec.none", "typeNull", "true", True),
        ("spec.mode", "typeNull", "true", False),
        ("spec.mode", "dayOfWeek", "in:mon,tue,wed,thu,fri,sat,sun", True),
        ("spec.mode", "time", "00:00,", True),
        ("spec.mode", "cron", "* * * * *", True),  # every minute, for 60s: always
        ("spec.mode", "unique", "true", True),  # no other CR in the context (test_admission.py)
    ],
)
def test_operators(field: str, operator: str, value: str, expected: bool) -> None:
    assert holds(field, operator, value) is expected
    assert holds(field, operator, value, negate=True) is (not expected)


def test_every_operator_is_covered() -> None:
    mark = next(m for m in test_operators.pytestmark if m.name == "parametrize")  # type: ignore[attr-defined]
    assert {case[1] for case in mark.args[1]} == OPERATORS


def test_field_as_template() -> None:
    assert holds("{{ phase .cross.db }}", "equals", "Ready")
    assert not holds("{{ phase .cross.missing }}", "equals", "Ready")
    assert holds("{{ phase .cross.missing }}", "notExists")
    assert holds("{{ len .spec.sites }}", "greaterThanOrEqual", "2")
    assert holds("{{ .spec.mode }}-{{ .spec.replicas }}", "equals", "fast-3")


def test_value_as_template() -> None:
    assert holds("spec.replicas", "lessThan", "{{ add .spec.replicas 1 }}")


def test_template_errors_propagate() -> None:
    with pytest.raises(TemplateRenderError, match="division by zero"):
        holds("{{ div 1 0 }}", "equals", "x")


def test_when_and_or() -> None:
    yes = Condition("spec.mode", "equals", "fast")
    no = Condition("spec.mode", "equals", "slow")
    assert conditions_hold([], [], CTX)
    assert conditions_hold([yes], [], CTX)
    assert not conditions_hold([yes, no], [], CTX)
    assert conditions_hold([yes], [no, yes], CTX)
    assert not conditions_hold([yes], [no, no], CTX)
    assert conditions_hold([], [no, yes], CTX)
    assert not conditions_hold([no], [yes], CTX)


def test_regex_guards() -> None:
    assert check_condition(Condition("spec.name", "regex", "(a+)+$")) is not None
    assert check_condition(Condition("spec.name", "regex", "(x|y*)*")) is not None
    assert check_condition(Condition("spec.name", "regex", "(ab)+c*")) is None
    assert check_condition(Condition("spec.name", "regex", "a" * 300)) is not None
    assert check_condition(Condition("spec.name", "regex", "([a-z")) is not None
    # Refused patterns and over-long inputs fail closed at evaluation time.
    assert not holds("spec.name", "regex", "(w+)+")
    long_ctx = {"s": "a" * 10_000}
    assert not condition_holds(Condition("s", "regex", "a"), long_ctx)


def test_check_condition() -> None:
    assert check_condition(Condition("f", "between", "1,5")) is None
    assert check_condition(Condition("f", "between", "1-5")) is not None
    assert check_condition(Condition("f", "between", "a,b")) is not None
    assert check_condition(Condition("f", "bogus", "x")) is not None
    assert check_condition(Condition("f", "equals", "x")) is None
