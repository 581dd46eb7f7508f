"""Queue pressure in one box does not delay another box (the seed's isolation promise), counted in steps.

Wall-clock latency is measured by bench/workqueue.py. Here the same property is
checked deterministically: while box "flooded" works through a backlog, we count
how many of its reconciles run between a key being added to box "healthy" and
that key's reconcile starting. The count must stay small and must not grow
with the size of the backlog.
"""

import pytest
import trio
import trio.testing

from orkestra_trio.runtime.workers import WorkerPool
from orkestra_trio.runtime.workqueue import WorkQueue


async def steps_seen_by_healthy_box(
    backlog: int, *, reconcile_yields: bool, workers: int = 4, samples: int = 50
) -> list[int]:
    steps = 0
    flooded: WorkQueue[str] = WorkQueue(name="flooded")
    healthy: WorkQueue[str] = WorkQueue(name="healthy")
    added_at: dict[str, int] = {}
    waited: list[int] = []

    async def flooded_reconcile(key: str) -> None:
        nonlocal steps
        steps += 1
        if reconcile_yields:
            await trio.lowlevel.checkpoint()  # real reconciles await the API server

    async def healthy_reconcile(key: str) -> None:
        waited.append(steps - added_at.pop(key))

    flooded_pool = WorkerPool(flooded, flooded_reconcile, workers=workers, timeout=30)
    healthy_pool = WorkerPool(healthy, healthy_reconcile, workers=2, timeout=30)
    async with trio.open_nursery() as nursery:
        await nursery.start(flooded_pool.run)
        await nursery.start(healthy_pool.run)
        for i in range(backlog):
            flooded.add(f"flood-{i}")
        for i in range(samples):
            for _ in range(7):  # let the flood make progress between samples
                await trio.lowlevel.checkpoint()
            key = f"healthy-{i}"
            added_at[key] = steps
            healthy.add(key)
        await healthy.wait_idle()
        # The flood was still going on when the last sample was reconciled.
        assert len(flooded) > 0
        flooded.shutdown()
        healthy.shutdown()
    assert len(waited) == samples
    return waited


@pytest.mark.parametrize("reconcile_yields", [True, False], ids=["yielding", "never-yielding"])
async def test_a_flooded_box_does_not_delay_its_sibling(
    autojump_clock: trio.testing.MockClock, reconcile_yields: bool
) -> None:
    # A reconcile that never yields (all its work in memory) must not let its box
    # monopolise the loop: the workers yield once per key themselves.
    small = await steps_seen_by_healthy_box(2_000, reconcile_yields=reconcile_yields)
    large = await steps_seen_by_healthy_box(20_000, reconcile_yields=reconcile_yields)
    # A healthy key waits for about one round of the flooded box's workers
    # (each takes one step per scheduling batch), however long the backlog is.
    assert max(small) <= 3 * 4
    assert max(large) <= 3 * 4
