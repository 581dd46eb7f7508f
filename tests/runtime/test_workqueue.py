"""WorkQueue behaviour: dedup, one holder per key, re-add during processing, delays, backoff, bounds, shutdown."""

import pytest
import trio
import trio.testing

from orkestra_trio.runtime.metrics import BoxMetrics
from orkestra_trio.runtime.workqueue import QueueShutDown, WorkQueue


async def get_nowait(q: WorkQueue[str]) -> str | None:
    """The next key if one is ready right now, else None; also checks a cancelled get takes nothing."""
    with trio.move_on_after(0):
        await q.get()
        pytest.fail("a get cancelled before it started took a key")
    try:
        return q.get_nowait()
    except trio.WouldBlock:
        return None


async def test_add_deduplicates_waiting_keys() -> None:
    q: WorkQueue[str] = WorkQueue()
    assert q.add("a") and q.add("a") and q.add("b") and q.add("a")
    assert len(q) == 2
    assert q.metrics.queue_adds_total == 2
    assert [await q.get(), await q.get()] == ["a", "b"]
    assert await get_nowait(q) is None
    q.check_invariants()


async def test_a_key_held_by_a_worker_is_not_handed_out_again() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    assert await q.get() == "a"
    q.add("a")
    q.add("a")
    assert q.is_dirty("a") and q.is_processing("a")
    # A second worker asking now must not get "a" while the first holds it.
    assert await get_nowait(q) is None
    q.check_invariants()
    q.done("a")
    # Re-added (twice) while processing: runs exactly once more.
    assert await get_nowait(q) == "a"
    q.done("a")
    assert await get_nowait(q) is None
    assert q.is_idle()


async def test_done_without_re_add_releases_the_key() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    await q.get()
    q.done("a")
    assert not q.is_processing("a") and not q.is_dirty("a")
    assert q.is_idle()
    with pytest.raises(KeyError):
        q.done("a")  # done twice is a caller bug and must not go unnoticed


async def test_blocked_getter_is_woken_by_an_add() -> None:
    q: WorkQueue[str] = WorkQueue()
    got: list[str] = []

    async def worker() -> None:
        got.append(await q.get())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(worker)
        await trio.testing.wait_all_tasks_blocked()
        q.add("x")
    assert got == ["x"]


async def test_add_after_delays_and_keeps_the_earliest_due_time(
    autojump_clock: trio.testing.MockClock,
) -> None:
    q: WorkQueue[str] = WorkQueue()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(q.run_timers)
        t0 = trio.current_time()
        q.add_after("late", 10)
        q.add_after("soon", 5)
        q.add_after("soon", 7)  # later than the waiting due time: ignored
        q.add_after("late", 3)  # earlier: wins
        assert q.delayed == 2 and len(q) == 0
        assert await q.get() == "late"
        assert trio.current_time() - t0 == pytest.approx(3)
        assert await q.get() == "soon"
        assert trio.current_time() - t0 == pytest.approx(5)
        q.done("late")
        q.done("soon")
        # Nothing else fires later (the superseded entries were skipped).
        with trio.move_on_after(100):
            await q.get()
            pytest.fail("a superseded delayed add fired")
        assert q.delayed == 0
        q.add_after("now", 0)  # no delay: a plain add
        assert len(q) == 1
        q.check_invariants()
        q.shutdown()


async def test_delayed_adds_wait_for_the_timer_task(autojump_clock: trio.testing.MockClock) -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add_after("a", 1)  # before run_timers started: kept in the heap
    async with trio.open_nursery() as nursery:
        nursery.start_soon(q.run_timers)
        with trio.fail_after(2):
            assert await q.get() == "a"
        q.shutdown()


async def test_rate_limited_retries_back_off_per_key_and_reset_on_forget(
    autojump_clock: trio.testing.MockClock,
) -> None:
    q: WorkQueue[str] = WorkQueue()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(q.run_timers)
        waits = []
        q.add("k")
        for _ in range(4):
            key = await q.get()
            t = trio.current_time()
            q.add_rate_limited(key)
            q.done(key)
            assert await q.get() == "k"
            waits.append(trio.current_time() - t)
            q.done("k")
            q.add("k")
        assert waits == pytest.approx([0.005, 0.01, 0.02, 0.04])
        assert q.num_requeues("k") == 4
        assert q.metrics.queue_retries_total == 4
        q.forget("k")
        assert q.num_requeues("k") == 0
        assert q.add_rate_limited("k") == 0.005
        assert q.add_rate_limited("other") == 0.005
        q.shutdown()


async def test_max_depth_drops_and_counts_new_keys() -> None:
    q: WorkQueue[str] = WorkQueue(max_depth=2)
    assert q.add("a") and q.add("b")
    assert not q.add("c")
    assert q.add("a")  # already queued: accepted, no new room needed
    assert q.metrics.queue_dropped_total == 1
    assert await q.get() == "a"
    assert q.add("c")  # room again
    assert len(q) == 2
    with pytest.raises(ValueError):
        WorkQueue[str](max_depth=-1)


async def test_shutdown_wakes_blocked_getters_and_refuses_work(
    autojump_clock: trio.testing.MockClock,
) -> None:
    q: WorkQueue[str] = WorkQueue()
    woken: list[str] = []

    async def getter(i: int) -> None:
        with pytest.raises(QueueShutDown):
            await q.get()
        woken.append(f"g{i}")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(q.run_timers)
        for i in range(3):
            nursery.start_soon(getter, i)
        q.add_after("x", 50)
        await trio.testing.wait_all_tasks_blocked()
        q.shutdown()
        q.shutdown()  # idempotent
    # The timer task returned too (the nursery closed), long before x was due.
    assert trio.current_time() < 50
    assert sorted(woken) == ["g0", "g1", "g2"]
    assert not q.add("y")
    with pytest.raises(QueueShutDown):
        await q.get()


async def test_shutdown_stops_handing_out_queued_keys_but_allows_done() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    q.add("b")
    assert await q.get() == "a"
    q.shutdown()
    with pytest.raises(QueueShutDown):
        await q.get()
    q.add("a")  # refused silently
    q.done("a")
    assert q.processing == 0


async def test_queue_and_work_durations_are_measured(
    autojump_clock: trio.testing.MockClock,
) -> None:
    metrics = BoxMetrics()
    q: WorkQueue[str] = WorkQueue(metrics=metrics)
    q.add("a")
    await trio.sleep(2)
    assert metrics.queue_depth == 1
    await q.get()
    assert metrics.queue_depth == 0
    await trio.sleep(3)
    assert q.longest_running() == pytest.approx(3)
    q.done("a")
    assert metrics.queue_duration.count == 1
    assert metrics.queue_duration.sum == pytest.approx(2)
    assert metrics.work_duration.sum == pytest.approx(3)
    assert q.longest_running() == 0.0
    snap = q.snapshot_metrics()
    assert snap.queue_adds_total == 1


async def test_wait_idle_returns_when_the_last_key_is_done() -> None:
    q: WorkQueue[str] = WorkQueue()
    await q.wait_idle()  # already idle
    q.add("a")
    finished = trio.Event()

    async def waiter() -> None:
        await q.wait_idle()
        finished.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter)
        await trio.testing.wait_all_tasks_blocked()
        await q.get()
        await trio.testing.wait_all_tasks_blocked()
        assert not finished.is_set()
        q.done("a")
    assert finished.is_set()


async def test_run_timers_refuses_to_run_twice() -> None:
    q: WorkQueue[str] = WorkQueue()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(q.run_timers)
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(RuntimeError):
            await q.run_timers()
        q.shutdown()
