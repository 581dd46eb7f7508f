"""The box health state machine of KATALOG.md and its change notifications."""

import pytest
import trio
import trio.testing

from orkestra_trio.runtime.health import BoxHealth, HealthState


async def test_not_started_then_pending_then_healthy(
    autojump_clock: trio.testing.MockClock,
) -> None:
    h = BoxHealth("website")
    snap = h.snapshot()
    assert snap.state is HealthState.NOT_STARTED and not snap.started
    assert snap.http_status == 503
    h.mark_started()
    assert h.snapshot().state is HealthState.NOT_STARTED and h.snapshot().started
    h.mark_synced()
    snap = h.snapshot()
    assert snap.state is HealthState.PENDING and snap.pending and snap.http_status == 200
    await trio.sleep(7)
    h.record_success()
    snap = h.snapshot()
    assert snap.state is HealthState.HEALTHY and snap.healthy and snap.http_status == 200
    assert snap.total_reconciles == 1
    assert snap.last_reconcile == pytest.approx(trio.current_time())


def test_degraded_after_threshold_consecutive_failures_and_back_on_success() -> None:
    h = BoxHealth("db", failure_threshold=3, clock=lambda: 42.0)
    h.mark_synced()
    h.record_success()
    h.record_failure("ValueError: one")
    h.record_failure("ValueError: two")
    # Below the threshold the box keeps its state.
    assert h.state is HealthState.HEALTHY and h.consecutive_fails == 2
    h.record_failure("ValueError: three")
    snap = h.snapshot()
    assert snap.state is HealthState.DEGRADED and snap.http_status == 503
    assert snap.consecutive_fails == 3 and snap.last_error == "ValueError: three"
    h.record_failure("ValueError: four")
    assert h.state is HealthState.DEGRADED
    h.record_success()
    snap = h.snapshot()
    assert snap.state is HealthState.HEALTHY and snap.consecutive_fails == 0
    assert snap.total_reconciles == 6
    # The last error stays visible after recovery.
    assert snap.last_error == "ValueError: four"


def test_a_pending_box_that_only_fails_becomes_degraded() -> None:
    h = BoxHealth("db", failure_threshold=2, clock=lambda: 0.0)
    h.mark_synced()
    h.record_failure("x")
    assert h.state is HealthState.PENDING
    h.record_failure("x")
    assert h.state is HealthState.DEGRADED


def test_gated_is_not_a_failure_and_clears_on_success() -> None:
    h = BoxHealth("app", failure_threshold=2, clock=lambda: 0.0)
    h.mark_synced()
    h.record_failure("x")
    h.record_gated()
    snap = h.snapshot()
    assert snap.state is HealthState.GATED and snap.http_status == 503
    assert snap.consecutive_fails == 1  # the streak is neither reset nor extended
    h.record_success()
    assert h.state is HealthState.HEALTHY


def test_crash_and_stop_go_back_to_not_started() -> None:
    h = BoxHealth("app", clock=lambda: 0.0)
    h.mark_synced()
    h.record_success()
    h.record_crash("box crashed: RuntimeError: bug")
    snap = h.snapshot()
    assert snap.state is HealthState.NOT_STARTED and not snap.started
    assert snap.last_error == "box crashed: RuntimeError: bug"
    assert snap.total_reconciles == 1
    h.mark_synced()
    assert h.state is HealthState.PENDING
    h.mark_stopped()
    assert h.state is HealthState.NOT_STARTED


def test_http_status_mapping() -> None:
    codes = {state: state.http_status for state in HealthState}
    assert codes == {
        HealthState.NOT_STARTED: 503,
        HealthState.PENDING: 200,
        HealthState.HEALTHY: 200,
        HealthState.DEGRADED: 503,
        HealthState.GATED: 503,
    }


def test_json_body_uses_the_oncop_field_names() -> None:
    h = BoxHealth("website", clock=lambda: 12.5)
    h.mark_synced()
    h.record_failure("boom")
    body = h.snapshot().to_json(wall_time=lambda t: f"t={t}")
    assert body == {
        "name": "website",
        "state": "pending",
        "status": 200,
        "startedAt": "t=12.5",
        "uptime": "0s",
        "healthy": False,
        "started": True,
        "pending": True,
        "consecutiveFails": 1,
        "totalReconciles": 1,
        "lastError": "boom",
        "lastReconcile": "t=12.5",
        "rollbackActive": False,
        "rollbackTotal": 0,
    }
    assert BoxHealth("x").snapshot().to_json()["lastReconcile"] is None


def test_uptime_counts_from_the_last_start_in_go_duration_form() -> None:
    now = [100.0]
    h = BoxHealth("website", clock=lambda: now[0])
    assert h.snapshot().to_json()["uptime"] == "" and h.snapshot().started_at is None
    h.mark_synced()
    now[0] = 100.0 + 3600 + 5.7
    body = h.snapshot().to_json()
    assert (body["startedAt"], body["uptime"]) == (100.0, "1h0m5s")
    h.record_crash("boom")  # a restart starts the count again
    assert h.snapshot().to_json()["uptime"] == ""
    h.mark_synced()
    now[0] += 61
    assert h.snapshot().to_json()["uptime"] == "1m1s"


def test_threshold_must_be_positive() -> None:
    with pytest.raises(ValueError):
        BoxHealth("x", failure_threshold=0)


async def test_waiters_are_woken_by_changes() -> None:
    h = BoxHealth("website", failure_threshold=1)
    seen: list[HealthState] = []

    async def watch_ready() -> None:
        snap = await h.wait_until(lambda s: s.state is HealthState.HEALTHY)
        seen.append(snap.state)

    async def watch_next_change(version: int) -> None:
        snap = await h.wait_changed(version)
        seen.append(snap.state)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch_ready)
        nursery.start_soon(watch_next_change, h.version)
        await trio.testing.wait_all_tasks_blocked()
        assert seen == []
        h.mark_synced()
        await trio.testing.wait_all_tasks_blocked()
        assert seen == [HealthState.PENDING]
        h.record_failure("x")
        await trio.testing.wait_all_tasks_blocked()
        assert seen == [HealthState.PENDING]
        h.record_success()
    assert seen == [HealthState.PENDING, HealthState.HEALTHY]


def test_idempotent_marks_do_not_notify() -> None:
    h = BoxHealth("x", clock=lambda: 0.0)
    h.mark_started()
    v = h.version
    h.mark_started()
    h.mark_synced()
    h.mark_synced()
    assert h.version == v + 1
