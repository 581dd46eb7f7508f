"""The workqueue of one operatorBox: deduplicated keys, one worker per key, delayed and backed-off retries.

Why it looks like this:

* ``add()`` is synchronous and never blocks. An informer notifies every box
  that watches an object by calling ``add`` on each box's queue; if one box's
  queue could block, a slow box would slow the informer and so every other
  box. Keys travel on an unbounded trio memory channel, and a dirty set keeps
  each key at most once in it, so the channel is bounded in practice by the
  number of distinct keys.
* A key is never handed to two workers at once. A key added again while a
  worker holds it is remembered (it stays dirty) and goes back into the
  channel when the worker calls ``done``: the newer state is reconciled once
  more, after the current reconcile, never alongside it.
* Retries wait with per-key exponential backoff (:mod:`.backoff`) and, when
  the box gives one, draw on the box's own retry budget (:mod:`.budget`): a
  storm of failing keys is spread out instead of retried all at once. There is
  no global rate limit, so one box's failures never spend another box's budget.
* Delayed adds are kept in a heap served by one timer task (:meth:`WorkQueue.run_timers`)
  that the box starts in its nursery: one task, however many keys wait.

The invariant the tests check: a key is in the channel exactly when it is dirty
and not being processed.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import trio

from .backoff import DEFAULT_BASE_DELAY, DEFAULT_MAX_DELAY, PerKeyBackoff
from .budget import TokenBucket
from .metrics import BoxMetrics, MetricsSnapshot

K = TypeVar("K", bound=Hashable)


class QueueShutDown(Exception):
    """Raised by :meth:`WorkQueue.get` once the queue is shut down: the worker should exit."""


class WorkQueue(Generic[K]):
    """A deduplicating, delay-capable work queue for one box. See the module docstring.

    ``max_depth`` > 0 bounds the number of distinct keys waiting: a new key
    beyond it is dropped and counted (the periodic resync brings it back).
    ``clock`` measures queue and work durations; it defaults to Trio's clock so
    that virtual time in tests applies.
    """

    def __init__(
        self,
        *,
        max_depth: int = 0,
        metrics: BoxMetrics | None = None,
        backoff: PerKeyBackoff[K] | None = None,
        retry_budget: TokenBucket | None = None,
        clock: Callable[[], float] = trio.current_time,
        name: str = "",
    ) -> None:
        if max_depth < 0:
            raise ValueError(f"max_depth must be >= 0 (0 = unbounded), got {max_depth}")
        self.name = name
        #: Distinct adds (``eventAware``) still owed a run of their own, per key.
        self._repeats: dict[K, int] = {}
        self.max_depth = max_depth
        self.metrics = metrics if metrics is not None else BoxMetrics()
        self.backoff: PerKeyBackoff[K] = (
            backoff if backoff is not None else PerKeyBackoff(DEFAULT_BASE_DELAY, DEFAULT_MAX_DELAY)
        )
        #: Retries of the whole queue (the box), on top of each key's backoff; None: unlimited.
        self.retry_budget = retry_budget
        self._clock = clock
        # inf: unbounded. Each key is in the channel at most once (see the invariant).
        self._send, self._receive = trio.open_memory_channel[K](float("inf"))
        # Keys sent and not yet taken. Not the channel's buffer size: a key handed
        # straight to a waiting getter is in neither the buffer nor a worker's hands yet.
        self._in_channel = 0
        # Keys that need a reconcile, with the time they were first added since their last get.
        self._dirty: dict[K, float] = {}
        # Keys held by a worker, with the time it got them.
        self._processing: dict[K, float] = {}
        self._shutting_down = False
        # Delayed adds: a heap of (due time, sequence, key); _waiting holds each key's
        # earliest due time so that stale heap entries can be skipped when popped.
        self._heap: list[tuple[float, int, K]] = []
        self._waiting: dict[K, float] = {}
        self._sequence = itertools.count()
        self._timer_scope: trio.CancelScope | None = None
        self._idle_event: trio.Event | None = None
        self._shutdown_event = trio.Event()

    # ----------------------------------------------------------------- adding

    def __contains__(self, key: object) -> bool:
        """Is ``key`` waiting (queued, or to run again once its worker is done)?"""
        return key in self._dirty

    def shed(self) -> None:
        """Count a key the box chose not to queue (``queue.behaviour``)."""
        self.metrics.queue_dropped_total += 1

    def add(self, key: K, *, beyond_limit: bool = False, distinct: bool = False) -> bool:
        """Mark ``key`` as needing a reconcile. Never blocks.

        Returns False when the key was refused (queue shut down, or ``max_depth``
        reached unless ``beyond_limit``); True when it is queued, already queued,
        or will run again after the worker holding it is done. ``distinct``: an
        add of a key already waiting is not collapsed into it but runs once more
        after it (Orkestra's ``eventAware``: one reconcile per event).
        """
        if self._shutting_down:
            return False
        if key in self._dirty:
            if distinct:
                self._repeats[key] = self._repeats.get(key, 0) + 1
            return True
        if self.max_depth and len(self._dirty) >= self.max_depth and not beyond_limit:
            self.metrics.queue_dropped_total += 1
            return False
        self._dirty[key] = self._clock()
        self.metrics.queue_adds_total += 1
        self.metrics.queue_depth = len(self._dirty)
        if key not in self._processing:
            self._send.send_nowait(key)
            self._in_channel += 1
        return True

    def add_after(self, key: K, delay: float) -> None:
        """Add ``key`` once ``delay`` seconds have passed (served by :meth:`run_timers`).

        A key already waiting keeps the earlier of its two due times.
        """
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(key)
            return
        due = trio.current_time() + delay
        current = self._waiting.get(key)
        if current is not None and current <= due:
            return
        self._waiting[key] = due
        heapq.heappush(self._heap, (due, next(self._sequence), key))
        if self._timer_scope is not None and due < self._timer_scope.deadline:
            self._timer_scope.deadline = due

    def add_rate_limited(self, key: K) -> float:
        """Retry ``key`` after its backoff delay (doubling on each call until :meth:`forget`),
        or later when the box's retry budget is spent. Returns the delay chosen.
        """
        delay = self.backoff.next_delay(key)
        if self.retry_budget is not None:
            delay = max(delay, self.retry_budget.reserve(trio.current_time()))
        self.metrics.queue_retries_total += 1
        self.add_after(key, delay)
        return delay

    def forget(self, key: K) -> None:
        """Reset ``key``'s backoff (call after it succeeded, or once its object is gone)."""
        self.backoff.forget(key)

    def num_requeues(self, key: K) -> int:
        """How many backed-off retries ``key`` had since it was last forgotten."""
        return self.backoff.failures(key)

    # ------------------------------------------------------------- processing

    async def get(self) -> K:
        """Wait for a key and take it; the caller must call :meth:`done` with it afterwards.

        Raises :class:`QueueShutDown` once the queue is shut down, even if keys
        are still queued: shutting down means "take no more work".
        """
        if self._shutting_down:
            raise QueueShutDown(self.name)
        try:
            key = await self._receive.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise QueueShutDown(self.name) from None
        return self._take(key)

    def get_nowait(self) -> K:
        """Take a key that is ready now, or raise ``trio.WouldBlock``; see :meth:`get`."""
        if self._shutting_down:
            raise QueueShutDown(self.name)
        try:
            key = self._receive.receive_nowait()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise QueueShutDown(self.name) from None
        return self._take(key)

    def _take(self, key: K) -> K:
        self._in_channel -= 1
        if self._shutting_down:
            # Woken with a key in the same batch as shutdown(); leave it queued.
            raise QueueShutDown(self.name)
        now = self._clock()
        added = self._dirty.pop(key)
        self._processing[key] = now
        self.metrics.queue_depth = len(self._dirty)
        self.metrics.queue_duration.observe(now - added)
        return key

    def done(self, key: K) -> None:
        """Release ``key``. If it was added again meanwhile, it goes back into the queue."""
        started = self._processing.pop(key)
        self.metrics.work_duration.observe(self._clock() - started)
        repeats = self._repeats.get(key, 0)
        if repeats and key not in self._dirty and not self._shutting_down:
            # A distinct add that waited behind this run: its own reconcile now.
            if repeats == 1:
                del self._repeats[key]
            else:
                self._repeats[key] = repeats - 1
            self._dirty[key] = self._clock()
            self.metrics.queue_depth = len(self._dirty)
        if key in self._dirty and not self._shutting_down:
            self._send.send_nowait(key)
            self._in_channel += 1
        elif self._idle_event is not None and self.is_idle():
            self._idle_event.set()
            self._idle_event = None

    # ----------------------------------------------------------------- timers

    async def run_timers(self) -> None:
        """Serve :meth:`add_after`: one task for all delayed keys. Run it in the box's nursery.

        Returns when the queue shuts down. Keys still waiting survive a restart
        of this task (the heap belongs to the queue, not to the task).
        """
        if self._timer_scope is not None:
            raise RuntimeError(f"run_timers of queue {self.name!r} is already running")
        try:
            while not self._shutting_down:
                deadline = self._heap[0][0] if self._heap else float("inf")
                with trio.CancelScope(deadline=deadline) as scope:
                    self._timer_scope = scope
                    await trio.sleep_forever()
                self._timer_scope = None
                self._release_due(trio.current_time())
        finally:
            self._timer_scope = None

    def _release_due(self, now: float) -> None:
        while self._heap and self._heap[0][0] <= now:
            due, _, key = heapq.heappop(self._heap)
            if self._waiting.get(key) != due:
                continue  # superseded by an earlier due time for the same key
            del self._waiting[key]
            self.add(key)

    # --------------------------------------------------------------- shutdown

    def shutdown(self) -> None:
        """Stop handing out keys and refuse new ones; wake every waiting :meth:`get`.

        Keys being processed may still be marked :meth:`done`.
        """
        if self._shutting_down:
            return
        self._shutting_down = True
        self._shutdown_event.set()
        self._send.close()  # blocked receivers get EndOfChannel
        if self._timer_scope is not None:
            self._timer_scope.cancel()
        if self._idle_event is not None:
            self._idle_event.set()
            self._idle_event = None

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    async def wait_shutdown(self) -> None:
        """Return once :meth:`shutdown` has been called."""
        await self._shutdown_event.wait()

    # ------------------------------------------------------------ inspection

    def __len__(self) -> int:
        """Distinct keys waiting to be processed (including re-adds of keys being processed)."""
        return len(self._dirty)

    @property
    def depth(self) -> int:
        return len(self._dirty)

    @property
    def processing(self) -> int:
        """Keys currently held by workers."""
        return len(self._processing)

    @property
    def pending(self) -> int:
        """Distinct keys waiting or being processed (a key re-added while processed counts once)."""
        return len(self._dirty.keys() | self._processing.keys())

    @property
    def delayed(self) -> int:
        """Keys waiting for a delayed add (retries, requeue-after)."""
        return len(self._waiting)

    def is_processing(self, key: K) -> bool:
        return key in self._processing

    def is_dirty(self, key: K) -> bool:
        return key in self._dirty

    def is_idle(self) -> bool:
        """No key waiting and none being processed (delayed adds do not count)."""
        return not self._dirty and not self._processing

    async def wait_idle(self) -> None:
        """Return once :meth:`is_idle` holds (or the queue shuts down)."""
        while not self.is_idle() and not self._shutting_down:
            if self._idle_event is None:
                self._idle_event = trio.Event()
            await self._idle_event.wait()

    def check_invariants(self) -> None:
        """Raise AssertionError if the queue's bookkeeping is inconsistent (tests and debugging).

        While the queue runs: the channel holds exactly the dirty keys that no
        worker holds, and every waiting delayed key has its heap entry.
        """
        if self._shutting_down:
            return
        buffered = self._receive.statistics().current_buffer_used
        ready = sum(1 for key in self._dirty if key not in self._processing)
        if self._in_channel != ready or buffered > ready:
            raise AssertionError(
                f"{self._in_channel} keys in the channel ({buffered} buffered), {ready} ready keys"
            )
        live = {(due, key) for due, _, key in self._heap}
        missing = [key for key, due in self._waiting.items() if (due, key) not in live]
        if missing:
            raise AssertionError(f"delayed keys without a timer entry: {missing!r}")

    def longest_running(self, now: float | None = None) -> float:
        """Seconds the oldest key still being processed has been held (0 when none is)."""
        if not self._processing:
            return 0.0
        now = self._clock() if now is None else now
        return now - min(self._processing.values())

    def snapshot_metrics(self) -> MetricsSnapshot:
        """The box metrics including the longest running processor, computed now."""
        return self.metrics.snapshot(longest_running_processor=self.longest_running())
