"""Orkestra's further condition forms: aliases, long form, notPrefix/notSuffix/notBetween,
type checks, dayOfWeek and time (ORKESTRA-LANGUAGE.md 1.12)."""

from __future__ import annotations

import datetime

import pytest

from orkestra_trio.katalog import conditions, load_katalog
from orkestra_trio.katalog.conditions import condition_holds

CTX = {
    "spec": {"replicas": 3, "name": "web-frontend", "tags": ["a"], "meta": {}, "flag": True},
    "metadata": {"labels": {"env": "prod"}},
}

CONDITIONS = """\
- {field: spec.replicas, gt: "2"}
- {field: spec.replicas, lt: "4"}
- {field: spec.replicas, min: "3"}
- {field: spec.replicas, max: "3"}
- {field: spec.name, notPrefix: api}
- {field: spec.name, notSuffix: backend}
- {field: spec.replicas, notBetween: "5,9"}
- {field: spec.replicas, operator: equals, value: "3.0", valueType: float}
- {field: spec.replicas, operator: gt, value: 1}
- {field: spec.flag, operator: equals, value: "TRUE", valueType: bool}
- {field: spec.replicas, operator: in, value: "1,3", valueType: int}
- {field: spec.name, typeString: true}
- {field: spec.replicas, typeNumber: true}
- {field: spec.tags, typeList: true}
- {field: spec.meta, typeMap: true}
- {field: spec.flag, typeBool: true}
- {field: spec.missing, typeNull: true}
- {field: spec.name, typeNumber: false}
- {field: spec.tags, typeOf: list}
- {field: '{{ .metadata.labels.env }}', in: "prod,staging", notify: {teams: [ops]}}
"""


def load_when(tmp_path, body: str):
    text = (
        "apiVersion: orkestra.orkspace.io/v1\nkind: Katalog\nmetadata: {name: t}\n"
        # The teams a condition's notify: may name.
        "notification: {teams: {ops: {email: [ops@example.com]}}}\n"
        "spec:\n  crds:\n    web:\n      apiTypes: {group: d.example.com, version: v1, "
        "kind: Web, plural: webs}\n      operatorBox:\n        when:\n"
        + "".join(f"          {line}\n" for line in body.splitlines())
    )
    path = tmp_path / "k.yaml"
    path.write_text(text)
    return load_katalog(path).crds["web"].operator_box.when


def test_every_orkestra_form_loads_and_holds(tmp_path):
    loaded = load_when(tmp_path, CONDITIONS)
    assert len(loaded) == len(CONDITIONS.splitlines())
    for line, condition in zip(CONDITIONS.splitlines(), loaded, strict=True):
        assert condition_holds(condition, CTX), line


@pytest.mark.parametrize(
    "line",
    [
        "{field: spec.replicas, gt: '3'}",
        "{field: spec.name, notPrefix: web}",
        "{field: spec.replicas, notBetween: '1,5'}",
        "{field: spec.replicas, operator: equals, value: '3.5', valueType: float}",
        "{field: spec.name, typeNumber: true}",
        "{field: spec.missing, typeOf: string}",
    ],
)
def test_failing_forms_fail(tmp_path, line):
    [condition] = load_when(tmp_path, "- " + line)
    assert not condition_holds(condition, CTX)


# Wednesday 2026-12-02 10:30 UTC; Saturday 2026-12-05 23:30 UTC.
WEDNESDAY = datetime.datetime(2026, 12, 2, 10, 30, tzinfo=datetime.UTC)
SATURDAY_NIGHT = datetime.datetime(2026, 12, 5, 23, 30, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    ("line", "wednesday", "saturday_night"),
    [
        ("{dayOfWeek: weekday}", True, False),
        ("{dayOfWeek: weekend}", False, True),
        ("{dayOfWeek: {weekend: true}}", False, True),
        ("{dayOfWeek: 'wed,thu'}", True, False),
        ("{dayOfWeek: {in: [sat, sun]}}", False, True),
        ("{dayOfWeek: {notIn: sat}}", True, False),
        ("{time: {after: '09:00', before: '18:00'}}", True, False),
        ("{time: {after: '22:00', before: '06:00'}}", False, True),
        ("{time: '23:00-23:59'}", False, True),
        ("{time: {after: '10:00'}}", True, True),
    ],
)
def test_clock_conditions(tmp_path, monkeypatch, line, wednesday, saturday_night):
    [condition] = load_when(tmp_path, "- " + line)
    for now, expected in ((WEDNESDAY, wednesday), (SATURDAY_NIGHT, saturday_night)):
        monkeypatch.setattr(conditions, "utc_now", lambda now=now: now)
        assert condition_holds(condition, {}) is expected, (line, now)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{field: spec.x, operator: sameAs, value: 1}", "unknown condition operator 'sameAs'"),
        ("{field: spec.x, value: 1}", "belong to the long form"),
        ("{field: spec.x, operator: equals, value: 1, valueType: decimal}", "must be one of"),
        ("{dayOfWeek: {in: [funday]}}", "unknown day 'funday'"),
        ("{dayOfWeek: sometimes}", "unknown day"),
        ("{time: {after: '25:00'}}", "HH:MM"),
        ("{field: spec.x, typeOf: object}", "typeOf takes one of"),
        ("{field: spec.x, gt: many}", "compares numbers"),
        ("{field: spec.x, notBetween: '1'}", "notBetween takes"),
        ("{equals: x}", "missing required key 'field'"),
    ],
)
def test_bad_forms_are_load_errors(tmp_path, load_issues, line, message):
    text = (
        "apiVersion: orkestra.orkspace.io/v1\nkind: Katalog\nmetadata: {name: t}\n"
        # The teams a condition's notify: may name.
        "notification: {teams: {ops: {email: [ops@example.com]}}}\n"
        "spec:\n  crds:\n    web:\n      apiTypes: {group: d.example.com, version: v1, "
        "kind: Web, plural: webs}\n      operatorBox:\n        when:\n          - " + line + "\n"
    )
    issues = load_issues(text)
    assert any(message in issue.message for issue in issues), [i.message for i in issues]
