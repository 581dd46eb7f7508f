"""The supervisor restarts a crashing box with backoff, leaves its siblings alone and stops on cancellation."""

import itertools
import random

import pytest
import trio
import trio.testing

from orkestra_trio.runtime.backoff import JitteredBackoff
from orkestra_trio.runtime.health import BoxHealth, HealthState
from orkestra_trio.runtime.metrics import BoxMetrics
from orkestra_trio.runtime.supervisor import Supervisor
from orkestra_trio.runtime.workers import WorkerPool
from orkestra_trio.runtime.workqueue import WorkQueue


async def test_a_crashing_box_is_restarted_while_its_sibling_keeps_working(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # Box "broken": its workers run, but its own machinery crashes 1 s after each start.
    broken_q: WorkQueue[str] = WorkQueue(name="broken")
    broken_health = BoxHealth("broken")
    broken_metrics = BoxMetrics()
    broken_runs: list[str] = []

    async def broken_reconcile(key: str) -> None:
        broken_runs.append(key)
        await trio.sleep(0.5)

    broken_pool = WorkerPool(
        broken_q, broken_reconcile, workers=2, timeout=10, health=broken_health
    )
    starts: list[float] = []

    async def run_broken_box() -> None:
        starts.append(trio.current_time())
        async with trio.open_nursery() as nursery:
            await nursery.start(broken_pool.run)
            broken_health.mark_synced()
            await trio.sleep(1)
            raise RuntimeError("informer handler bug")

    # Box "healthy": reconciles every key it is given, with its own latency recorded.
    healthy_q: WorkQueue[str] = WorkQueue(name="healthy")
    healthy_health = BoxHealth("healthy")
    latencies: list[float] = []
    added_at: dict[str, float] = {}

    async def healthy_reconcile(key: str) -> None:
        latencies.append(trio.current_time() - added_at[key])
        await trio.sleep(0.01)

    healthy_pool = WorkerPool(
        healthy_q, healthy_reconcile, workers=2, timeout=10, health=healthy_health
    )

    async def run_healthy_box() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(healthy_pool.run)
            healthy_health.mark_synced()

    broken_sup = Supervisor(
        "broken",
        run_broken_box,
        backoff=JitteredBackoff(base=0.1, cap=2.0, jitter=0.5),
        health=broken_health,
        metrics=broken_metrics,
        rng=random.Random(5),
    )
    healthy_sup = Supervisor("healthy", run_healthy_box)

    async with trio.open_nursery() as runtime:
        runtime.start_soon(broken_sup.run)
        runtime.start_soon(healthy_sup.run)
        for i in range(200):
            broken_q.add(f"b{i % 7}")
            key = f"h{i}"
            added_at[key] = trio.current_time()
            healthy_q.add(key)
            await trio.sleep(0.1)
        await healthy_q.wait_idle()
        assert broken_sup.restarts >= 5
        assert broken_metrics.restarts_total == broken_sup.restarts
        assert broken_sup.last_crash == "ExceptionGroup: RuntimeError: informer handler bug"
        runtime.cancel_scope.cancel()

    # The sibling reconciled every key, promptly, and never noticed anything.
    assert len(latencies) == 200 and max(latencies) < 0.05
    assert healthy_sup.restarts == 0
    assert healthy_health.state is HealthState.HEALTHY
    # The broken box kept reconciling between crashes (its keys were not lost).
    assert {f"b{i}" for i in range(7)} <= set(broken_runs)
    assert broken_health.last_error is not None
    assert broken_health.last_error.startswith("box crashed: ")
    # Restart delays grow (jittered) up to the cap: the gaps between starts are
    # 1 s of running plus the delay.
    delays = [b - a - 1 for a, b in itertools.pairwise(starts)]
    ceilings = [min(2.0, 0.1 * 2**n) for n in range(len(delays))]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert ceiling * 0.5 - 1e-9 <= delay <= ceiling + 1e-9


async def test_the_restart_delay_starts_over_after_a_stable_run(
    autojump_clock: trio.testing.MockClock,
) -> None:
    lifetimes = iter([0, 0, 0, 100, 0])
    starts: list[float] = []

    async def run_box() -> None:
        starts.append(trio.current_time())
        lifetime = next(lifetimes, None)
        if lifetime is None:
            return  # a clean stop ends the supervisor
        await trio.sleep(lifetime)
        raise ValueError("crash")

    sup = Supervisor(
        "box", run_box, backoff=JitteredBackoff(base=1, cap=8, jitter=0), stable_after=60
    )
    await sup.run()
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    # delays 1, 2, 4; then a 100 s run (stable) so the next delay is 1 again.
    assert gaps == pytest.approx([1, 2, 4, 100 + 1, 2])
    assert sup.restarts == 5


async def test_a_clean_return_is_not_restarted() -> None:
    calls: list[int] = []

    async def run_box() -> None:
        calls.append(1)

    sup = Supervisor("box", run_box)
    await sup.run()
    assert calls == [1] and sup.restarts == 0 and not sup.running


async def test_cancellation_stops_the_box_without_a_restart(
    autojump_clock: trio.testing.MockClock,
) -> None:
    health = BoxHealth("box")

    async def run_box() -> None:
        health.mark_synced()
        await trio.sleep_forever()

    sup = Supervisor("box", run_box, health=health)
    with trio.move_on_after(5):
        await sup.run()
    assert sup.restarts == 0 and not sup.running
    assert health.state is HealthState.PENDING  # no crash recorded


async def test_base_exceptions_are_not_treated_as_crashes() -> None:
    class Stop(BaseException):
        pass

    async def run_box() -> None:
        raise Stop

    sup = Supervisor("box", run_box)
    with pytest.raises(Stop):
        await sup.run()
    assert sup.restarts == 0
