"""Log lines: box and CR key in every line, text and JSON, one line per health change."""

from __future__ import annotations

import io
import json
import logging
from types import SimpleNamespace

import pytest
import trio

from orkestra_trio.runtime.health import BoxHealth, HealthSnapshot
from orkestra_trio.web.logs import (
    JsonFormatter,
    TextFormatter,
    format_key,
    formatter,
    health_change_line,
    log_health_changes,
    setup_logging,
)
from orkestra_trio.web.view import RuntimeView


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord(
        "orkestra_trio.runtime.workers", logging.WARNING, __file__, 1, message, args, None
    )
    rec.__dict__.update(extra)
    return rec


def test_text_lines_carry_box_and_key():
    line = TextFormatter().format(
        record("reconcile failed: %s", "boom", box="app", key=("default", "shop"))
    )
    assert " WARNING box=app key=default/shop reconcile failed: boom" in line
    assert line.endswith("boom") and "\n" not in line


def test_json_lines_carry_box_key_and_event():
    entry = json.loads(
        JsonFormatter().format(record("health %s", "degraded", box="app", key=None, event="health"))
    )
    assert entry["box"] == "app" and entry["key"] == "-"
    assert entry["event"] == "health" and entry["message"] == "health degraded"
    assert entry["level"] == "warning" and entry["time"].endswith("Z")


def test_lines_without_a_box_still_have_the_fields():
    assert "box=- key=- hello" in TextFormatter().format(record("hello"))
    entry = json.loads(JsonFormatter().format(record("hello")))
    assert (entry["box"], entry["key"]) == ("-", "-")


def test_keys_are_written_like_kubectl():
    assert format_key(("team-a", "shop")) == "team-a/shop"
    assert format_key(("", "cluster-thing")) == "cluster-thing"
    assert format_key(None) == "-"


def test_an_unknown_log_format_names_the_choices():
    with pytest.raises(ValueError, match="text, json"):
        formatter("yaml")


def test_setup_logging_routes_everything_through_one_formatted_handler():
    out = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging("json", stream=out)
        logging.getLogger("orkestra_trio.runtime.supervisor").warning(
            "box %s: restart %d", "app", 2, extra={"box": "app", "key": None, "event": "restart"}
        )
        entry = json.loads(out.getvalue().strip())
        assert entry["box"] == "app" and entry["event"] == "restart"
        assert entry["message"] == "box app: restart 2"
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])


def snap(health: BoxHealth) -> HealthSnapshot:
    return health.snapshot()


def test_health_change_lines():
    health = BoxHealth("app", failure_threshold=2, clock=lambda: 0.0)
    before = snap(health)
    health.mark_synced()
    assert health_change_line(before, snap(health)) == "box started: pending"
    before = snap(health)
    health.record_success()
    assert health_change_line(before, snap(health)) == "health pending -> healthy"
    before = snap(health)
    health.record_failure("boom")
    assert health_change_line(before, snap(health)) is None  # still healthy: no line
    health.record_failure("boom again")
    line = health_change_line(before, snap(health))
    assert line == "health healthy -> degraded after 2 failures in a row: boom again"
    before = snap(health)
    health.record_crash("box crashed: RuntimeError: informer gone")
    assert health_change_line(before, snap(health)) == (
        "health degraded -> not started (box crashed: RuntimeError: informer gone)"
    )
    health.mark_synced()
    before = snap(health)
    health.mark_stopped()
    assert health_change_line(before, snap(health)) == "health pending -> not started (stopped)"


class Boxes:
    """A health source over plain BoxHealth objects."""

    def __init__(self, *healths: BoxHealth) -> None:
        self.healths = healths

    stopping = False

    def health_versions(self) -> tuple[int, ...]:
        return tuple(h.version for h in self.healths)

    def health_snapshots(self):
        return [h.snapshot() for h in self.healths]

    async def wait_health_changed(self, seen: tuple[int, ...]) -> None:
        async with trio.open_nursery() as nursery:

            async def watch(health: BoxHealth, version: int) -> None:
                await health.wait_changed(version)
                nursery.cancel_scope.cancel()

            for health, version in zip(self.healths, seen, strict=True):
                nursery.start_soon(watch, health, version)


async def test_one_line_per_health_change_with_the_box(autojump_clock):
    app = BoxHealth("app", failure_threshold=1)
    db = BoxHealth("db", failure_threshold=1)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(TextFormatter())
    health_logger = logging.getLogger("orkestra_trio.health")
    health_logger.addHandler(handler)
    health_logger.setLevel(logging.INFO)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(log_health_changes, Boxes(app, db))
            await trio.sleep(1)
            app.mark_synced()
            db.mark_synced()
            await trio.sleep(1)
            app.record_success()
            app.record_success()  # no state change: no line
            await trio.sleep(1)
            db.record_failure("boom")
            await trio.sleep(1)
            nursery.cancel_scope.cancel()
    finally:
        health_logger.removeHandler(handler)
    lines = [line.split(" ", 2)[2] for line in out.getvalue().splitlines()]
    assert lines == [
        "box=app key=- box started: pending",
        "box=db key=- box started: pending",
        "box=app key=- health pending -> healthy",
        "box=db key=- health pending -> degraded after 1 failures in a row: boom",
    ]


async def test_a_runtime_without_boxes_waits_for_a_change_that_never_comes(autojump_clock):
    # Serve-only CRDs make no box: the wait must block (it once returned at once,
    # and log_health_changes spun at 100 % CPU).
    view = RuntimeView(SimpleNamespace(boxes={}))
    with trio.move_on_after(60) as waited:
        await view.wait_health_changed(view.health_versions())
    assert waited.cancelled_caught


def test_a_blind_box_says_why_not_how_many_failures():
    from orkestra_trio.runtime.health import BoxHealth
    from orkestra_trio.web.logs import health_change_line

    health = BoxHealth("app", clock=lambda: 0.0)
    health.mark_synced()
    health.record_success()
    before = health.snapshot()
    health.record_blind("cannot see its CRs: watch stalled")
    line = health_change_line(before, health.snapshot())
    assert line == "health healthy -> degraded: cannot see its CRs: watch stalled"
    health.record_sighted()
    assert health.snapshot().state.value == "healthy"
