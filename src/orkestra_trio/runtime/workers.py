"""The workers of one box: N tasks pulling keys from the box's workqueue, resizable at run time.

Each worker loops: take a key, run it through :func:`.safe.safe_reconcile`,
record the result in the box's health and metrics, schedule a retry with
backoff on failure (or the requeue the reconcile asked for on success), and
release the key. A failure of one key therefore only ever costs that key a
retry; it never stops the worker or the box.

``resize(n)`` changes the number of workers while they run (the autoscale
section of a Katalog uses it). Shrinking never interrupts a reconcile: an
idle worker is woken out of ``get`` (a cancelled ``receive`` on a Trio memory
channel takes nothing), a busy one finishes its key and then exits. Growing
first keeps workers that were about to retire, then starts new ones.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Hashable
from typing import Generic, Protocol, TypeVar

import attrs
import trio

from .health import BoxHealth
from .informer import format_key
from .metrics import BoxMetrics, MetricsSnapshot, ReconcileLabel
from .safe import FailureKind, ReconcileFn, ReconcileResult, safe_reconcile
from .workqueue import QueueShutDown, WorkQueue

K = TypeVar("K", bound=Hashable)

logger = logging.getLogger(__name__)

#: Bounds from KATALOG.md (``reconciler.workers: 1..50``); resize(0) is allowed to pause a box.
MAX_WORKERS = 50


class FairTurn(Protocol):
    """A box's turn on the loop: ``take`` waits while the box is over its share."""

    async def take(self) -> None: ...

    def done(self) -> None: ...


@attrs.define(eq=False)
class _Worker:
    ident: int
    retiring: bool = False
    busy: bool = False
    # Set while the worker waits in queue.get(), so that a shrink can wake it.
    get_scope: trio.CancelScope | None = None


def result_label(result: ReconcileResult[K]) -> ReconcileLabel:
    """The ``reconcile_total`` label of a result."""
    if result.failure is not None:
        return "timeout" if result.failure.kind is FailureKind.TIMEOUT else "error"
    if result.outcome.gated:
        return "gated"
    if result.outcome.requeue_after is not None:
        return "requeue_after"
    return "success"


class WorkerPool(Generic[K]):
    """N workers for one box. Run :meth:`run` in the box's nursery; it also serves the queue's timers."""

    def __init__(
        self,
        queue: WorkQueue[K],
        reconcile_fn: ReconcileFn[K],
        *,
        workers: int,
        timeout: float | None,
        health: BoxHealth | None = None,
        metrics: BoxMetrics | None = None,
        clock: Callable[[], float] = trio.current_time,
        name: str = "",
        turn: FairTurn | None = None,
    ) -> None:
        self._check_size(workers)
        #: The box's fair share of the loop (:mod:`.loopshare`): taken before each reconcile.
        self.turn = turn
        self.name = name or queue.name
        self.queue = queue
        self.reconcile_fn = reconcile_fn
        self.timeout = timeout
        self.health = health if health is not None else BoxHealth(self.name)
        self.metrics = metrics if metrics is not None else queue.metrics
        self._clock = clock
        self._target = workers
        self._workers: dict[int, _Worker] = {}
        self._ids = itertools.count()
        self._nursery: trio.Nursery | None = None
        self._changed = trio.Event()

    @staticmethod
    def _check_size(n: int) -> None:
        if not 0 <= n <= MAX_WORKERS:
            raise ValueError(f"workers must be within 0..{MAX_WORKERS}, got {n}")

    # ---------------------------------------------------------------- running

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the workers and the queue's timer task until the queue shuts down.

        After a shutdown, returns once every in-flight reconcile has finished.
        Cancelling it stops everything at once; a key interrupted that way is
        queued again so that a restarted pool picks it up.
        """
        if self._nursery is not None:
            raise RuntimeError(f"worker pool {self.name!r} is already running")
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            try:
                nursery.start_soon(self.queue.run_timers)
                self._spawn_to_target()
                task_status.started()
                await self._wait_all_exited()
                # All workers left: the queue shut down (or the pool was resized
                # to zero and then shut down); stop the timer task too.
                nursery.cancel_scope.cancel()
            finally:
                self._nursery = None

    async def _wait_all_exited(self) -> None:
        await self.queue.wait_shutdown()
        while self._workers:
            await self._changed.wait()

    def _notify(self) -> None:
        event, self._changed = self._changed, trio.Event()
        event.set()

    # --------------------------------------------------------------- resizing

    @property
    def size(self) -> int:
        """The number of workers asked for (those retiring are not counted)."""
        return self._target

    @property
    def alive(self) -> int:
        """Workers currently running, including those finishing their last key."""
        return len(self._workers)

    @property
    def busy(self) -> int:
        return sum(1 for w in self._workers.values() if w.busy)

    def resize(self, n: int) -> None:
        """Run ``n`` workers from now on, without losing or duplicating a key in flight."""
        self._check_size(n)
        self._target = n
        if self._nursery is None:
            return  # run() will start ``n``
        active = [w for w in self._workers.values() if not w.retiring]
        if len(active) > n:
            # Retire idle workers first (they exit at once), then the newest busy ones.
            surplus = len(active) - n
            order = sorted(active, key=lambda w: (w.busy, -w.ident))
            for worker in order[:surplus]:
                worker.retiring = True
                if worker.get_scope is not None:
                    worker.get_scope.cancel()
            self.metrics.workers = n
        else:
            self._spawn_to_target()
        self._notify()

    def _spawn_to_target(self) -> None:
        assert self._nursery is not None
        active = sum(1 for w in self._workers.values() if not w.retiring)
        # Keep workers that were about to retire before starting new tasks.
        for worker in self._workers.values():
            if active >= self._target:
                break
            if worker.retiring:
                worker.retiring = False
                active += 1
        while active < self._target and not self.queue.shutting_down:
            worker = _Worker(next(self._ids))
            self._workers[worker.ident] = worker
            self._nursery.start_soon(self._work, worker, name=f"{self.name}-worker-{worker.ident}")
            active += 1
        self.metrics.workers = active

    # ---------------------------------------------------------------- working

    async def _work(self, worker: _Worker) -> None:
        try:
            while not worker.retiring:
                # Fast path under load: a key is ready, no cancel scope needed.
                # Then yield once before reconciling (see _process).
                yield_first = True
                try:
                    key = self.queue.get_nowait()
                except QueueShutDown:
                    return
                except trio.WouldBlock:
                    yield_first = False
                    with trio.CancelScope() as scope:
                        worker.get_scope = scope
                        try:
                            key = await self.queue.get()
                        except QueueShutDown:
                            return
                        finally:
                            worker.get_scope = None
                    if scope.cancelled_caught:
                        continue  # woken by resize(); the loop condition decides
                worker.busy = True
                self.metrics.active_workers += 1
                try:
                    await self._process(key, yield_first=yield_first)
                finally:
                    worker.busy = False
                    self.metrics.active_workers -= 1
        finally:
            del self._workers[worker.ident]
            self.metrics.workers = sum(1 for w in self._workers.values() if not w.retiring)
            self._notify()

    async def _process(self, key: K, *, yield_first: bool) -> None:
        completed = False
        turn_taken = False
        try:
            if yield_first:
                # Yield once per key even when keys are always ready and the
                # reconcile never blocks: a busy box must not starve the others.
                # Inside the try: a cancellation here must still release the key.
                await trio.lowlevel.checkpoint()
            if self.turn is not None:
                await self.turn.take()
                turn_taken = True
            result = await safe_reconcile(
                self.reconcile_fn,
                key,
                timeout=self.timeout,
                clock=self._clock,
                with_traceback=logger.isEnabledFor(logging.DEBUG),
            )
            self._record(result)
            completed = True
        finally:
            if turn_taken:
                assert self.turn is not None
                self.turn.done()
            self.queue.done(key)
            if not completed:
                # Cancelled from outside (the box is stopping or restarting): the
                # key was not reconciled, so keep it for whoever runs next.
                self.queue.add(key)

    def _record(self, result: ReconcileResult[K]) -> None:
        key = result.key
        self.metrics.observe_reconcile(result_label(result), result.duration)
        if result.failure is not None:
            self.health.record_failure(result.failure.error)
            delay = self.queue.add_rate_limited(key)
            logger.warning(
                "box %s: reconcile of %s failed (%s), retry in %.3gs: %s",
                self.name,
                format_key(key),
                result.failure.kind.value,
                delay,
                result.failure.error,
                extra={"box": self.name, "key": key, "event": "reconcile_error"},
            )
            if result.failure.traceback:
                logger.debug(
                    "box %s: %s",
                    self.name,
                    result.failure.traceback,
                    extra={"box": self.name, "key": key},
                )
            return
        if result.outcome.gated:
            self.health.record_gated()
        else:
            self.health.record_success()
        self.queue.forget(key)
        if result.outcome.requeue_after is not None:
            self.queue.add_after(key, result.outcome.requeue_after)

    # ------------------------------------------------------------- inspection

    def snapshot_metrics(self) -> MetricsSnapshot:
        return self.metrics.snapshot(longest_running_processor=self.queue.longest_running())
