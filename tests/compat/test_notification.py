"""Orkestra's ``notification`` block and a condition's ``notify:`` (ORKESTRA-LANGUAGE 1.2, 1.12).

A Katalog runs on the embedded API server; the teams' Slack webhooks are a
real HTTP server on a loopback port and their email a tiny SMTP server on
another. The test checks what reaches them: the rendered text, which team
gets which alert, the ``interval`` between repeats (Trio's MockClock moves
at wall speed and is jumped past an interval), and that a webhook that never
answers slows no reconcile.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from loopback_http import serving
from loopback_smtp import Relay
from orkestra_trio.runtime.notifier import SEND_TIMEOUT
from orkestra_trio.testing import open_test_cluster, run_katalog

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: shop-alerts}
notification:
  enabled: true
  standalone: true
  defaults: {interval: 10m, slackWebhookUrl: $SHOP_SLACK_URL}
  teams:
    platform:
      slack: ["#platform"]
      message: "{{ .KatalogName }}/{{ .CRDName }} {{ .Namespace }}/{{ .Name }}: {{ .Error }}"
    oncall:
      slack: ["#oncall"]
      slackWebhookUrl: HOOKS/oncall
      interval: 1m
    mail:
      email: [ops@example.com, dba@example.com]
    dead:
      slack: ["#dead"]
      slackWebhookUrl: HOOKS/hang
spec:
  crds:
    shop:
      apiTypes: {group: alerts.example.com, version: v1, kind: Shop, plural: shops}
      operatorBox:
        onReconcile:
          configMaps:
            - name: "{{ .spec.name }}"
              data: {replicas: "{{ .spec.replicas }}"}
        status:
          fields:
            - path: scale
              value: big
              when:
                - field: spec.replicas
                  greaterThan: "10"
                  notify:
                    teams: [oncall]
                    message: "{{ .Name }} wants {{ .spec.replicas }} replicas"
"""


class Webhooks:
    """The teams' Slack side: records each POST; /hang never answers."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, Any]] = []
        self.hanging = 0

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/platform", self.post, methods=["POST"]),
                Route("/oncall", self.post, methods=["POST"]),
                Route("/hang", self.hang, methods=["POST"]),
            ]
        )

    async def post(self, request: Request) -> Response:
        self.posts.append((request.url.path, await request.json()))
        return JSONResponse({"ok": True})

    async def hang(self, request: Request) -> Response:
        self.hanging += 1
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    def to(self, path: str) -> list[Any]:
        return [body for where, body in self.posts if where == path]


async def _until(check, what: str, within: float = 15.0) -> None:
    with trio.move_on_after(within):
        while not check():
            await trio.sleep(0.02)
        return
    raise AssertionError(f"not within {within}s: {what}")


async def test_notification_teams_and_notify_conditions_alert_through_slack_and_email(
    mock_clock, tmp_path: Path, monkeypatch
):
    mock_clock.rate = 1.0  # wall speed: the loopback servers answer in real time
    hooks, mailbox = Webhooks(), Relay()
    async with serving(hooks.app()) as url, trio.open_nursery() as nursery:
        smtp_port = await mailbox.serve(nursery)
        monkeypatch.setenv("SHOP_SLACK_URL", f"{url}/platform")
        monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("SMTP_PORT", str(smtp_port))
        monkeypatch.setenv("SMTP_FROM", "orkestra@example.com")
        path = tmp_path / "katalog.yaml"
        path.write_text(KATALOG.replace("HOOKS", url))
        async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
            notifier = kat.box("shop").notifier
            assert notifier is not None
            metrics = kat.box("shop").metrics

            # A CR whose notify condition does not hold alerts nobody.
            await kat.apply(kat.manifest("shop", "calm", {"name": "calm", "replicas": 1}))
            await kat.wait_steady()
            assert notifier.queued_total == 0 and hooks.posts == []

            # It holds: its team (oncall, only) gets the condition's message in its channel.
            await kat.apply(kat.manifest("shop", "big", {"name": "big", "replicas": 20}))
            await _until(lambda: hooks.to("/oncall"), "oncall's alert")
            assert hooks.to("/oncall") == [{"text": "big wants 20 replicas", "channel": "#oncall"}]
            await kat.wait_steady()
            assert notifier.queued_total == 1 and hooks.to("/platform") == []

            # While it holds, a reconcile within oncall's interval (1m) sends nothing again...
            await kat.apply(kat.manifest("shop", "big", {"name": "big", "replicas": 21}))
            await kat.wait_steady()
            assert kat.status("shop", "big")["scale"] == "big"
            assert notifier.queued_total == 1
            # ... and one past it does.
            mock_clock.jump(61)
            await kat.apply(kat.manifest("shop", "big", {"name": "big", "replicas": 22}))
            await _until(lambda: len(hooks.to("/oncall")) == 2, "oncall's repeat")
            assert hooks.to("/oncall")[-1]["text"] == "big wants 22 replicas"
            # Once it stops holding, its next start is a new alert: sent at once.
            await kat.apply(kat.manifest("shop", "big", {"name": "big", "replicas": 2}))
            await kat.wait_steady()
            await kat.apply(kat.manifest("shop", "big", {"name": "big", "replicas": 30}))
            await _until(lambda: len(hooks.to("/oncall")) == 3, "oncall's new alert")
            assert hooks.to("/oncall")[-1]["text"] == "big wants 30 replicas"

            # A failed reconcile alerts every team: platform's message template, the
            # default text for oncall, an email to mail's two recipients, and dead's
            # webhook, which never answers.
            await kat.apply(kat.manifest("shop", "broken", {"name": "BAD_NAME", "replicas": 1}))
            await _until(lambda: hooks.to("/platform"), "platform's alert")
            [platform] = hooks.to("/platform")
            assert platform["channel"] == "#platform"
            assert platform["text"].startswith("shop-alerts/shop default/broken: ")
            assert "BAD_NAME" in platform["text"] and "\n" not in platform["text"]
            await _until(lambda: len(hooks.to("/oncall")) == 4, "oncall's failure alert")
            assert hooks.to("/oncall")[-1]["text"].startswith(
                "[orkestra] shop-alerts/shop default/broken: reconcile failed: "
            )
            await _until(lambda: mailbox.messages, "the email")
            [(recipients, message)] = mailbox.messages
            assert recipients == ["ops@example.com", "dba@example.com"]
            assert b"From: orkestra@example.com" in message
            assert b"BAD_NAME" in message
            await _until(lambda: hooks.hanging == 1, "dead's webhook called")

            # The hanging webhook holds one send, never a reconcile: a new CR is
            # reconciled and ready meanwhile.
            await kat.apply(kat.manifest("shop", "other", {"name": "other", "replicas": 1}))
            await _until(lambda: kat.ready("shop", "other"), "other ready")
            assert kat.child("shop", "other", "ConfigMap", "other") is not None
            # The failing CR is retried and fails again; platform hears of it once per 10m.
            retries = len(kat.log.of("shop", ("default", "broken")))
            await _until(
                lambda: len(kat.log.of("shop", ("default", "broken"))) > retries, "a retry"
            )
            await kat.wait_steady()
            assert len(hooks.to("/platform")) == 1
            failed = metrics.notifications_failed_total
            # Past the send timeout the dead webhook counts as failed; the box runs on.
            mock_clock.jump(SEND_TIMEOUT + 1)
            await _until(
                lambda: metrics.notifications_failed_total > failed, "the dead send timed out"
            )
            assert kat.health("shop").state.value not in ("failed", "stopped")
            assert metrics.notifications_sent_total >= 6
            assert metrics.notifications_dropped_total == 0
        nursery.cancel_scope.cancel()


def test_companion_mode_loads_with_a_warning_and_alerts_as_standalone(tmp_path: Path):
    # Orkestra's standalone: false hands the alerts to its gateway process; this
    # runtime is its own gateway, so the Katalog loads unchanged, says so once,
    # and its boxes get the very notification settings standalone: true gives.
    from orkestra_trio.katalog import load_katalogs

    def load(standalone: str):
        path = tmp_path / f"{standalone}.yaml"
        text = KATALOG.replace("HOOKS", "http://127.0.0.1:9/hooks")  # never called
        path.write_text(text.replace("standalone: true", f"standalone: {standalone}"))
        return path, load_katalogs([path])

    _, alone = load("true")
    path, companion = load("false")
    assert alone.warnings == ()
    [warning] = companion.warnings
    assert (warning.file, warning.line, warning.path) == (str(path), 6, "notification.standalone")
    assert "sends the alerts itself" in warning.message
    assert companion.crds.keys() == alone.crds.keys()
    for key, entry in alone.crds.items():
        assert companion.crds[key].notification == entry.notification
        assert companion.crds[key].notify == entry.notify
