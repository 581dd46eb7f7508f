"""The ``cron`` + ``duration`` condition: loaded with file:line errors, evaluated on the plan's
clock, and the plan reconciles again at the next window edge (ORKESTRA-LANGUAGE.md 1.12)."""

from __future__ import annotations

import datetime

import pytest

from orkestra_trio.katalog import KatalogError, load_katalog
from orkestra_trio.katalog.conditions import condition_holds, with_clock
from orkestra_trio.katalog.plan import Observed, plan_reconcile

UTC = datetime.UTC
HEAD = (
    "apiVersion: orkestra.orkspace.io/v1\nkind: Katalog\nmetadata: {name: t}\n"
    "spec:\n  crds:\n    web:\n      apiTypes: {group: d.example.com, version: v1, "
    "kind: Web, plural: webs}\n      operatorBox:\n"
)
# Weekdays 09:00-09:30 UTC (a cron window), plus a per-entry one every 10 minutes for 2m.
KATALOG = HEAD + (
    "        onReconcile:\n"
    "          configMaps:\n"
    "            - name: '{{ .metadata.name }}-office'\n"
    "              data: {open: 'yes'}\n"
    "              when: [{cron: '0 9 * * mon-fri', duration: 30m}]\n"
    "            - name: '{{ .metadata.name }}-tick'\n"
    "              data: {tick: 'yes'}\n"
    "              when: [{cron: '*/10 * * * *'}]\n"
)
CR = {
    "apiVersion": "d.example.com/v1",
    "kind": "Web",
    "metadata": {"name": "w", "namespace": "default", "uid": "u1", "generation": 1},
    "spec": {},
}


def load(tmp_path, text: str):
    path = tmp_path / "k.yaml"
    path.write_text(text)
    return load_katalog(path).crds["web"]


def plan_at(crd, moment: str):
    return plan_reconcile(crd, Observed(CR, now=moment))


def present(plan) -> set[str]:
    return {child.name for child in plan.children if child.present}


def test_the_window_follows_the_plans_clock_and_requeues_at_its_edges(tmp_path):
    crd = load(tmp_path, KATALOG)
    [office, tick] = crd.operator_box.on_reconcile["configMaps"]
    assert office.when[0].duration == 1800.0 and tick.when[0].duration == 60.0

    # Friday 2026-12-04 09:11:30: in the office window, not in a tick (09:10 + 60s is past).
    plan = plan_at(crd, "2026-12-04T09:11:30Z")
    assert present(plan) == {"w-office"}
    assert plan.requeue_after == 510.0  # the next tick, 09:20:00
    # 09:20:30: both windows; the tick closes first (09:21:00).
    plan = plan_at(crd, "2026-12-04T09:20:30Z")
    assert present(plan) == {"w-office", "w-tick"}
    assert plan.requeue_after == 30.0
    # 09:30:00: the office window closed exactly at its end; a tick fires.
    plan = plan_at(crd, "2026-12-04T09:30:00Z")
    assert present(plan) == {"w-tick"}
    # Saturday: no office window at 09:05.
    assert present(plan_at(crd, "2026-12-05T09:05:00Z")) == set()


def test_time_and_day_of_week_windows_requeue_at_their_edges_too(tmp_path):
    crd = load(
        tmp_path,
        HEAD + "        when:\n          - {time: {after: '09:00', before: '17:30'}}\n"
        "          - {dayOfWeek: weekday}\n",
    )
    # Friday 08:59:30: gated, and the gated plan asks to look again when it opens (09:00).
    plan = plan_at(crd, "2026-12-04T08:59:30Z")
    assert plan.gated and plan.requeue_after == 30.0
    # Friday 12:00: open; the next edges are 17:30 (time) and midnight (dayOfWeek).
    assert plan_at(crd, "2026-12-04T12:00:00Z").requeue_after == 5.5 * 3600
    # Saturday 10:00: gated by the day; the next edge is 17:30 (time), before midnight.
    assert plan_at(crd, "2026-12-05T10:00:00Z").requeue_after == 7.5 * 3600


def test_negate_and_the_clock_in_the_context(tmp_path):
    crd = load(tmp_path, HEAD + "        when: [{cron: '@daily', duration: 1h, negate: true}]\n")
    [condition] = crd.operator_box.when
    midnight = datetime.datetime(2026, 12, 4, 0, 30, tzinfo=UTC)
    assert condition_holds(condition, with_clock({}, midnight)) is False
    assert condition_holds(condition, with_clock({}, midnight.replace(hour=1))) is True


@pytest.mark.parametrize(
    ("line", "column_key", "words"),
    [
        ("{cron: '0 25 * * *'}", "cron", "hour field"),
        ("{cron: '0 9 * *'}", "cron", "5 fields"),
        ("{cron: '0 0 31 feb *'}", "cron", "never fires"),
        ("{cron: '@hourly', duration: soon}", "duration", "invalid duration"),
        ("{cron: '@hourly', duration: 0s}", "duration", "longer than 0s"),
        ("{field: spec.x, equals: a, duration: 5m}", "duration", "belongs to the cron operator"),
    ],
)
def test_bad_cron_conditions_are_one_line_errors_at_the_field(tmp_path, line, column_key, words):
    path = tmp_path / "k.yaml"
    path.write_text(HEAD + "        when:\n          - " + line + "\n")
    with pytest.raises(KatalogError) as caught:
        load_katalog(path)
    [message] = [m for m in str(caught.value).splitlines() if words in m]
    # One line: the file, the condition's line, the field.
    assert message.startswith(f"{path}:10:"), message
    assert f"when[0].{column_key}:" in message, message
