"""Property test: random add / get / done / fail / requeue-after / time sequences keep the queue's invariants.

The queue is checked against a small model that states the contract plainly:
a FIFO of ready keys, a dirty set, a processing set, delayed keys with their
due times, and per-key failure counts. An async ``@given(st.data())`` test
under the autojump clock (the pattern ARCHITECTURE.md recommends): every
example runs in its own Trio run with virtual time.
"""

import heapq
import itertools
from collections import Counter

import attrs
import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orkestra_trio.runtime.backoff import exponential_delay
from orkestra_trio.runtime.workqueue import WorkQueue

KEYS = ["a", "b", "c", "d"]


@attrs.define
class Model:
    ready: list[str] = attrs.Factory(list)
    dirty: set[str] = attrs.Factory(set)
    processing: set[str] = attrs.Factory(set)
    waiting: dict[str, float] = attrs.Factory(dict)
    heap: list[tuple[float, int, str]] = attrs.Factory(list)
    failures: Counter[str] = attrs.Factory(Counter)
    seq: "itertools.count[int]" = attrs.Factory(itertools.count)

    def add(self, key: str) -> None:
        if key in self.dirty:
            return
        self.dirty.add(key)
        if key not in self.processing:
            self.ready.append(key)

    def get(self) -> str:
        key = self.ready.pop(0)
        self.dirty.remove(key)
        self.processing.add(key)
        return key

    def done(self, key: str) -> None:
        self.processing.remove(key)
        if key in self.dirty:
            self.ready.append(key)

    def add_after(self, key: str, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        due = trio.current_time() + delay
        if key in self.waiting and self.waiting[key] <= due:
            return
        self.waiting[key] = due
        heapq.heappush(self.heap, (due, next(self.seq), key))

    def release(self, now: float) -> None:
        while self.heap and self.heap[0][0] <= now:
            due, _, key = heapq.heappop(self.heap)
            if self.waiting.get(key) == due:
                del self.waiting[key]
                self.add(key)


def check(q: WorkQueue[str], m: Model) -> None:
    q.check_invariants()
    assert len(q) == len(m.dirty)
    assert q.processing == len(m.processing)
    assert q.delayed == len(m.waiting)
    for key in KEYS:
        assert q.is_dirty(key) == (key in m.dirty), key
        assert q.is_processing(key) == (key in m.processing), key
        assert q.num_requeues(key) == m.failures[key], key
    assert q.is_idle() == (not m.dirty and not m.processing)


OPERATIONS = ["add", "get", "done", "fail", "requeue_after", "advance"]


@settings(
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_random_operation_sequences_keep_the_queue_invariants(
    autojump_clock: trio.testing.MockClock, data: st.DataObject
) -> None:
    q: WorkQueue[str] = WorkQueue()
    m = Model()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(q.run_timers)
        steps = data.draw(st.integers(min_value=1, max_value=60), label="steps")
        for _ in range(steps):
            op = data.draw(st.sampled_from(OPERATIONS), label="op")
            if op == "add":
                key = data.draw(st.sampled_from(KEYS), label="key")
                assert q.add(key)
                m.add(key)
            elif op == "get":
                if m.ready:
                    expected = m.get()
                    # FIFO, and never a key some worker already holds.
                    assert await q.get() == expected
                else:
                    try:
                        q.get_nowait()
                    except trio.WouldBlock:
                        pass
                    else:
                        raise AssertionError("a key was handed out while none was ready")
            elif op in ("done", "fail", "requeue_after") and m.processing:
                key = data.draw(st.sampled_from(sorted(m.processing)), label="held key")
                if op == "fail":
                    delay = q.add_rate_limited(key)
                    assert delay == exponential_delay(m.failures[key], base=0.005, cap=1000.0)
                    m.failures[key] += 1
                    m.add_after(key, delay)
                elif op == "requeue_after":
                    after = data.draw(st.sampled_from([0.0, 0.005, 0.01, 1.0]), label="after")
                    q.forget(key)
                    m.failures[key] = 0
                    q.add_after(key, after)
                    m.add_after(key, after)
                else:
                    q.forget(key)
                    m.failures[key] = 0
                q.done(key)
                m.done(key)
            elif op == "advance":
                dt = data.draw(st.sampled_from([0.001, 0.005, 0.01, 0.03, 0.5]), label="dt")
                await trio.sleep(dt)
                # Let the timer task finish a wake-up that fell on the same instant.
                await trio.lowlevel.checkpoint()
                m.release(trio.current_time())
            check(q, m)
        q.shutdown()
