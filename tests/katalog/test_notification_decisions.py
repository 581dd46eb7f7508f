"""The ``notification`` block and ``notify:``: how they load, which alerts a CR raises,
and how often each is repeated (katalog/notification.py, pure)."""

from __future__ import annotations

import pytest

from orkestra_trio.katalog import KatalogError, load_katalog
from orkestra_trio.katalog.notification import (
    DEFAULT_INTERVAL,
    FAILURE,
    Notice,
    Notification,
    Team,
    Throttle,
    condition_notices,
    conditions_only,
    everything,
    failure_notices,
    failure_only,
)

HEAD = "apiVersion: orkestra.orkspace.io/v1\nkind: Katalog\nmetadata: {name: shop}\n"
CRD = (
    "spec:\n  crds:\n    web:\n"
    "      apiTypes: {group: d.example.com, version: v1, kind: Web, plural: webs}\n"
    "      operatorBox:\n"
    "        onReconcile: {configMaps: [{data: {a: b}}]}\n"
    "        status:\n"
    "          fields:\n"
    "            - path: big\n"
    "              value: 'yes'\n"
    "              when:\n"
)
NOTIFY = (
    "                - field: spec.replicas\n"
    "                  greaterThan: '10'\n"
    "                  notify: {teams: [ops], message: '{{ .Name }}: {{ .spec.replicas }}'}\n"
)
BLOCK = """\
notification:
  defaults: {interval: 5m, slackWebhookUrl: $SLACK_URL}
  teams:
    ops:
      slack: ["#ops", "#ops-2"]
      interval: 1m
    dba:
      email: [dba@example.com]
      message: "{{ .KatalogName }}/{{ .CRDName }}: {{ .Error }}"
    web:
      slack: {webhook: "https://hooks.example.com/x", channels: ["#web"]}
"""


def load(tmp_path, text):
    path = tmp_path / "k.yaml"
    path.write_text(text)
    return load_katalog(path)


def issues(tmp_path, text) -> list[str]:
    with pytest.raises(KatalogError) as caught:
        load(tmp_path, text)
    return [str(issue) for issue in caught.value.issues]


def cr(replicas: int, name: str = "a") -> dict:
    return {
        "apiVersion": "d.example.com/v1",
        "kind": "Web",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"replicas": replicas},
    }


def test_the_notification_block_loads_with_orkestras_defaults(tmp_path):
    crd = load(tmp_path, HEAD + BLOCK + CRD + NOTIFY).crds["web"]
    notification = crd.notification
    assert notification is not None and notification.active
    assert notification.katalog == "shop" and notification.interval == 300.0
    assert notification.webhook_env == "SLACK_URL"
    ops, dba, web = notification.teams
    assert ops.slack == ("#ops", "#ops-2") and notification.interval_of(ops) == 60.0
    assert notification.webhook_of(ops) == ("", "SLACK_URL")
    assert notification.interval_of(dba) == 300.0 and notification.webhook_of(dba) == ("", "")
    assert notification.webhook_of(web) == ("https://hooks.example.com/x", "")
    [condition] = crd.notify
    assert condition.notify is not None and condition.notify.teams == ("ops",)
    assert condition.notify.where.startswith(str(tmp_path / "k.yaml") + ":")
    # Without defaults: Orkestra's 15m.
    bare = HEAD + "notification: {teams: {ops: {email: [o@example.com]}}}\n" + CRD + NOTIFY
    assert load(tmp_path, bare).crds["web"].notification.interval == DEFAULT_INTERVAL


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        (HEAD + CRD + NOTIFY, ".notify.teams[0]", "the Katalog has no notification block"),
        (
            HEAD + BLOCK + CRD + NOTIFY.replace("[ops]", "[opz]"),
            ".notify.teams[0]",
            "unknown team 'opz' in notify",
        ),
        (
            HEAD + BLOCK.replace("$SLACK_URL", "hooks.example.com") + CRD + NOTIFY,
            "notification.defaults.slackWebhookUrl",
            "expected an http:// or https:// URL or $VARIABLE",
        ),
        (
            HEAD + BLOCK.replace("dba@example.com", "dba at example") + CRD + NOTIFY,
            "notification.teams.dba.email[0]",
            "expected an email address",
        ),
        (
            HEAD + BLOCK.replace("interval: 1m", "interval: 0s") + CRD + NOTIFY,
            "notification.teams.ops.interval",
            "interval must be longer than 0s",
        ),
        (
            HEAD + BLOCK.replace("interval: 1m", "pager: 1") + CRD + NOTIFY,
            "notification.teams.ops.pager",
            "unknown key 'pager'",
        ),
        (
            HEAD + "notification: {teams: {ops: {slack: ['#ops']}}}\n" + CRD + NOTIFY,
            "notification.teams.ops.slack",
            "Slack needs a webhook",
        ),
        (
            HEAD + "notification: {teams: {ops: {interval: 1m}}}\n" + CRD + NOTIFY,
            "notification.teams.ops",
            "has nowhere to send",
        ),
    ],
)
def test_a_bad_notification_shape_is_one_line_naming_file_line_and_field(
    tmp_path, text, field, message
):
    [issue] = issues(tmp_path, text)
    assert "\n" not in issue
    assert issue.startswith(str(tmp_path / "k.yaml") + ":")
    assert field in issue and message in issue


def _notification(**team: object) -> Notification:
    return Notification(
        katalog="shop",
        interval=300.0,
        webhook="https://hooks.example.com/default",
        teams=(Team("ops", slack=("#ops",), interval=60.0), Team("dba", email=("d@example.com",))),
    )


def test_notify_conditions_that_hold_raise_their_teams_alerts(tmp_path):
    crd = load(tmp_path, HEAD + BLOCK + CRD + NOTIFY).crds["web"]
    assert crd.notification is not None
    assert condition_notices(crd.notification, "web", crd.notify, cr(3)) == ()
    [notice] = condition_notices(crd.notification, "web", crd.notify, cr(12))
    assert (notice.team, notice.text) == ("ops", "a: 12")
    assert notice.source == crd.notify[0].notify.where
    # A team's message when notify gives none; the default when neither does.
    plain = HEAD + BLOCK.replace("interval: 1m", "message: 'ops: {{ .Namespace }}/{{ .Name }}'")
    crd = load(
        tmp_path, plain + CRD + NOTIFY.replace(", message: '{{ .Name }}: {{ .spec.replicas }}'", "")
    ).crds["web"]
    [notice] = condition_notices(crd.notification, "web", crd.notify, cr(12))
    assert notice.text == "ops: default/a"
    crd = load(
        tmp_path,
        HEAD + BLOCK + CRD + NOTIFY.replace(", message: '{{ .Name }}: {{ .spec.replicas }}'", ""),
    ).crds["web"]
    [notice] = condition_notices(crd.notification, "web", crd.notify, cr(12))
    assert notice.text == "[orkestra] default/a: condition triggered"
    # enabled: false silences every team.
    off = HEAD + BLOCK.replace("notification:\n", "notification:\n  enabled: false\n")
    crd = load(tmp_path, off + CRD + NOTIFY).crds["web"]
    assert condition_notices(crd.notification, "web", crd.notify, cr(12)) == ()
    assert failure_notices(crd.notification, "web", cr(12), "boom") == ()


def test_a_failed_reconcile_alerts_every_team_with_the_error(tmp_path):
    crd = load(tmp_path, HEAD + BLOCK + CRD + NOTIFY).crds["web"]
    notices = failure_notices(crd.notification, "web", cr(1), "quota exceeded")
    assert [n.team for n in notices] == ["ops", "dba", "web"]
    assert {n.source for n in notices} == {FAILURE}
    assert notices[0].text == "[orkestra] shop/web default/a: reconcile failed: quota exceeded"
    assert notices[1].text == "shop/web: quota exceeded"


def test_the_throttle_repeats_an_alert_per_cr_and_team_after_the_interval():
    throttle = Throttle(_notification())
    ops = Notice("k.yaml:9:3", "ops", "big")
    dba = Notice("k.yaml:9:3", "dba", "big")
    a, b = ("default", "a"), ("default", "b")

    def sent(cr, notices, now, settles=conditions_only):
        return [(d.team, d.text) for d in throttle.decide(cr, notices, now, settles=settles)]

    assert sent(a, [ops, dba], 0) == [("ops", "big"), ("dba", "big")]
    assert sent(a, [ops, dba], 59) == []  # ops: 1m, dba: the default 5m
    assert sent(b, [ops], 59) == [("ops", "big")]  # another CR: its own alert
    assert sent(a, [ops, dba], 60) == [("ops", "big")]
    assert sent(a, [ops, dba], 300) == [("ops", "big"), ("dba", "big")]
    # The condition stops holding: the next start goes out at once.
    assert sent(a, [], 301) == []
    assert sent(a, [ops], 302) == [("ops", "big")]
    # A failure is an alert of its own; a plan's decision does not end it...
    failed = Notice(FAILURE, "ops", "boom")
    assert sent(a, [failed], 303, failure_only) == [("ops", "boom")]
    assert sent(a, [ops], 304) == []
    assert sent(a, [failed], 305, failure_only) == []
    # ... a successful reconcile does, and leaves the conditions' alerts be.
    assert sent(a, [], 306, failure_only) == []
    assert sent(a, [failed], 307, failure_only) == [("ops", "boom")]
    assert sent(a, [ops], 308, everything) == []
    throttle.forget(a)
    assert sent(a, [ops], 309) == [("ops", "big")]


def test_a_delivery_carries_the_teams_own_targets():
    throttle = Throttle(_notification())
    [ops, dba] = throttle.decide(
        "cr", [Notice("s", "ops", "x"), Notice("s", "dba", "x")], 0, settles=conditions_only
    )
    assert (ops.webhook, ops.channels, ops.email) == (
        "https://hooks.example.com/default",
        ("#ops",),
        (),
    )
    # Email only: the default webhook is not the team's.
    assert (dba.webhook, dba.webhook_env, dba.email) == ("", "", ("d@example.com",))
