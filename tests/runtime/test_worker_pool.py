"""The worker pool: one worker per key, retries with backoff, requeue-after, health, resize, shutdown."""

import itertools
import random
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing

from orkestra_trio.runtime.health import BoxHealth, HealthState
from orkestra_trio.runtime.safe import Outcome, ReconcileFn
from orkestra_trio.runtime.workers import WorkerPool
from orkestra_trio.runtime.workqueue import WorkQueue


@asynccontextmanager
async def running_pool(
    reconcile: ReconcileFn[str],
    *,
    workers: int,
    timeout: float,
    health: BoxHealth | None = None,
) -> AsyncIterator[tuple[WorkQueue[str], WorkerPool[str]]]:
    """A fresh queue and a running pool over it; shut down (in-flight work finished) on exit."""
    q: WorkQueue[str] = WorkQueue()
    pool = WorkerPool(q, reconcile, workers=workers, timeout=timeout, health=health)
    async with trio.open_nursery() as nursery:
        await nursery.start(pool.run)
        yield q, pool
        q.shutdown()


class Recorder:
    """A reconcile that asserts no key is ever reconciled by two workers at once."""

    def __init__(self, duration: float | None = None, seed: int = 0) -> None:
        self.in_flight: set[str] = set()
        self.overlaps: list[str] = []
        self.starts: dict[str, list[float]] = {}
        self.counts: Counter[str] = Counter()
        self.duration = duration
        self.rng = random.Random(seed)
        self.max_concurrency = 0

    async def __call__(self, key: str) -> None:
        if key in self.in_flight:
            self.overlaps.append(key)
        self.in_flight.add(key)
        self.max_concurrency = max(self.max_concurrency, len(self.in_flight))
        self.starts.setdefault(key, []).append(trio.current_time())
        try:
            delay = self.duration if self.duration is not None else self.rng.uniform(0, 0.05)
            await trio.sleep(delay)
            self.counts[key] += 1
        finally:
            self.in_flight.discard(key)


async def test_never_two_workers_on_one_key_and_re_adds_are_not_lost(
    autojump_clock: trio.testing.MockClock,
) -> None:
    rec = Recorder(seed=1)
    keys = [f"ns/cr-{i}" for i in range(10)]
    last_add: dict[str, float] = {}
    rng = random.Random(2)
    async with running_pool(rec, workers=16, timeout=10) as (q, _pool):
        for _ in range(3000):
            key = rng.choice(keys)
            q.add(key)
            last_add[key] = trio.current_time()
            q.check_invariants()
            if rng.random() < 0.3:
                await trio.sleep(rng.uniform(0, 0.01))
        with trio.fail_after(60):
            await q.wait_idle()
    assert rec.overlaps == []
    assert rec.max_concurrency > 1  # the workers really ran in parallel
    for key, added in last_add.items():
        # The newest state of every key was reconciled after its last add.
        assert rec.starts[key][-1] >= added


async def test_a_re_add_during_processing_runs_exactly_once_more(
    autojump_clock: trio.testing.MockClock,
) -> None:
    rec = Recorder(duration=1.0)
    async with running_pool(rec, workers=4, timeout=10) as (q, _pool):
        q.add("a")
        await trio.sleep(0.5)  # "a" is being reconciled
        for _ in range(5):
            q.add("a")
        await q.wait_idle()
    assert rec.counts["a"] == 2
    assert rec.starts["a"][1] - rec.starts["a"][0] == pytest.approx(1.0)


async def test_failures_retry_with_growing_backoff_then_reset_and_drive_health(
    autojump_clock: trio.testing.MockClock,
) -> None:
    health = BoxHealth("box", failure_threshold=3)
    health.mark_synced()
    attempts: list[float] = []
    fail = {"n": 4}

    async def reconcile(key: str) -> None:
        attempts.append(trio.current_time())
        if fail["n"]:
            fail["n"] -= 1
            raise RuntimeError(f"attempt {len(attempts)} failed")

    async with running_pool(reconcile, workers=2, timeout=10, health=health) as (q, pool):
        q.add("a")
        await health.wait_until(lambda s: s.state is HealthState.DEGRADED)
        assert health.last_error == "RuntimeError: attempt 3 failed"
        await health.wait_until(lambda s: s.healthy)
        gaps = [b - a for a, b in itertools.pairwise(attempts)]
        assert gaps == pytest.approx([0.005, 0.01, 0.02, 0.04])
        assert q.num_requeues("a") == 0  # forgotten after the success
        # A new failure starts again from the base delay.
        fail["n"] = 1
        q.add("a")
        await q.wait_idle()
        await trio.sleep(1)
        assert attempts[-1] - attempts[-2] == pytest.approx(0.005)
    snap = pool.snapshot_metrics()
    assert snap.reconcile_total["error"] == 5 and snap.reconcile_total["success"] == 2
    assert snap.queue_retries_total == 5


async def test_requeue_after_and_gated_outcomes(autojump_clock: trio.testing.MockClock) -> None:
    health = BoxHealth("box")
    runs: list[float] = []

    async def reconcile(key: str) -> Outcome:
        runs.append(trio.current_time())
        if key == "gated":
            return Outcome(gated=True)
        return Outcome(requeue_after=60.0) if len(runs) < 3 else Outcome()

    async with running_pool(reconcile, workers=1, timeout=10, health=health) as (q, pool):
        t0 = trio.current_time()
        q.add("poll")
        await trio.sleep(500)
        assert [t - t0 for t in runs] == pytest.approx([0, 60, 120])
        assert health.state is HealthState.HEALTHY
        q.add("gated")
        await q.wait_idle()
        assert health.state is HealthState.GATED
    snap = pool.snapshot_metrics()
    assert snap.reconcile_total["requeue_after"] == 2
    assert snap.reconcile_total["gated"] == 1


async def test_a_hanging_reconcile_times_out_while_other_keys_proceed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    health = BoxHealth("box", failure_threshold=100)
    done: list[str] = []

    async def reconcile(key: str) -> None:
        if key == "hang":
            await trio.sleep_forever()
        await trio.sleep(0.1)
        done.append(key)

    async with running_pool(reconcile, workers=2, timeout=5, health=health) as (q, pool):
        q.add("hang")
        for i in range(20):
            q.add(f"k{i}")
        await trio.sleep(4)
        # The other worker got through every other key before the timeout fired.
        assert len(done) == 20
        await trio.sleep(2)
        assert health.last_error == "reconcile timed out after 5s"
    assert pool.metrics.reconcile_total["timeout"] >= 1


async def test_resize_keeps_every_key_processed_exactly_once_per_batch(
    autojump_clock: trio.testing.MockClock,
) -> None:
    rec = Recorder(seed=3)
    sizes = [1, 10, 3, 0, 7, 2, 50, 4]
    async with running_pool(rec, workers=5, timeout=10) as (q, pool):
        for batch in range(4):
            keys = [f"b{batch}-{i}" for i in range(200)]
            for key in keys:
                q.add(key)
            for size in sizes:
                await trio.sleep(0.02)
                pool.resize(size)
                assert pool.size == size
            with trio.fail_after(100):
                await q.wait_idle()
            assert all(rec.counts[key] == 1 for key in keys), batch
            await trio.testing.wait_all_tasks_blocked()
            # Retired workers really exited; exactly the asked-for number remain.
            assert pool.alive == sizes[-1] == pool.metrics.workers
            pool.resize(5)
    assert rec.overlaps == []
    assert sum(rec.counts.values()) == 800
    assert pool.alive == 0


async def test_resize_to_zero_pauses_and_growing_resumes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    rec = Recorder(duration=1)
    async with running_pool(rec, workers=0, timeout=10) as (q, pool):
        q.add("a")
        await trio.sleep(10)
        assert rec.counts["a"] == 0 and pool.alive == 0
        pool.resize(2)
        await q.wait_idle()
        assert rec.counts["a"] == 1
        with pytest.raises(ValueError):
            pool.resize(51)
        with pytest.raises(ValueError):
            pool.resize(-1)


async def test_shutdown_lets_in_flight_reconciles_finish(
    autojump_clock: trio.testing.MockClock,
) -> None:
    rec = Recorder(duration=3)
    async with running_pool(rec, workers=2, timeout=10) as (q, pool):
        for key in "abcd":
            q.add(key)
        await trio.sleep(1)
        assert pool.busy == 2
        q.shutdown()
        # run() returns once the two in-flight keys are done; the others are never taken.
    assert trio.current_time() == pytest.approx(3)
    assert rec.counts == Counter({"a": 1, "b": 1})


async def test_cancelling_the_pool_requeues_the_keys_in_flight_for_the_next_run(
    autojump_clock: trio.testing.MockClock,
) -> None:
    q: WorkQueue[str] = WorkQueue()
    slow = Recorder(duration=100)
    pool = WorkerPool(q, slow, workers=2, timeout=1000)
    q.add("a")
    q.add("b")
    q.add_after("later", 50)
    with trio.move_on_after(1):
        await pool.run()
    # Interrupted, not reconciled: queued again, none stuck as held.
    assert slow.counts == Counter()
    assert q.processing == 0 and q.is_dirty("a") and q.is_dirty("b")
    q.check_invariants()
    # A restarted pool over the same queue (what a supervisor restart does) picks
    # them up, and the delayed key survived the restart of the timer task.
    fast = Recorder(duration=0.1)
    pool = WorkerPool(q, fast, workers=2, timeout=10)
    async with trio.open_nursery() as nursery:
        await nursery.start(pool.run)
        await trio.sleep(100)
        q.shutdown()
    assert fast.counts == Counter({"a": 1, "b": 1, "later": 1})


async def test_metrics_follow_the_workers(autojump_clock: trio.testing.MockClock) -> None:
    rec = Recorder(duration=2)
    async with running_pool(rec, workers=4, timeout=10) as (q, pool):
        q.add("a")
        await trio.sleep(1)
        snap = pool.snapshot_metrics()
        assert snap.workers == 4 and snap.active_workers == 1
        assert snap.workers_busy_percent == 25.0
        assert snap.longest_running_processor == pytest.approx(1)
        await q.wait_idle()
    snap = pool.snapshot_metrics()
    assert snap.active_workers == 0 and snap.workers == 0
    assert snap.reconcile_total["success"] == 1
    assert snap.reconcile_duration_sum == pytest.approx(2)


async def test_a_pool_runs_once_at_a_time() -> None:
    async with running_pool(Recorder(duration=0), workers=1, timeout=1) as (_q, pool):
        with pytest.raises(RuntimeError):
            await pool.run()


async def test_cancelling_a_busy_pool_at_any_moment_never_strands_a_key(
    autojump_clock: trio.testing.MockClock,
) -> None:
    rng = random.Random(4)
    for _ in range(100):
        q: WorkQueue[str] = WorkQueue()
        rec = Recorder(duration=0 if rng.random() < 0.7 else 0.001)
        pool = WorkerPool(q, rec, workers=rng.randint(1, 8), timeout=10)
        for i in range(100):
            q.add(f"k{i}")
        async with trio.open_nursery() as nursery:
            nursery.start_soon(pool.run)
            # Cancel after a random number of scheduling steps, so that workers are
            # caught at every kind of checkpoint (waiting, yielding, reconciling).
            for _ in range(rng.randint(0, 400)):
                await trio.lowlevel.checkpoint()
            nursery.cancel_scope.cancel()
        # Every key was either reconciled or is queued again; none is stuck as held.
        assert q.processing == 0
        q.check_invariants()
        assert all(rec.counts[f"k{i}"] or q.is_dirty(f"k{i}") for i in range(100))
