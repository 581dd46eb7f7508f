"""Each box's share of the Trio loop: what it costs, and a fair turn when boxes compete.

Every box runs in the same Trio loop, so a box that burns loop time (a storm
of failing keys, a flood of cheap reconciles) delays every other box's next
step. Two parts:

* **Attribution.** A box's tasks run with :data:`CURRENT_SHARE` set to the
  box's :class:`BoxShare` (Trio copies the context into every task a task
  starts, so the box's workers, timers and the informers it starts inherit
  it). One Trio instrument per run (:func:`install_accounting`) times every
  task step and charges it to the share of the task's context: the box's
  ``cpu_seconds``. The kube client's ``on_request`` hook counts requests the
  same way (:meth:`LoopShare.count_request`).
* **Fair share.** Each share keeps a virtual time: loop seconds used divided
  by its ``weight``. Before a worker runs its next reconcile, the box's
  virtual time plus what its reconciles in flight are expected to cost (its
  average loop time per reconcile, each) must not run more than
  :data:`ALLOWANCE` ahead of the slowest box that competes now (ran a step
  within :data:`RECENT`); otherwise it waits until the others caught up or
  stopped competing. A box alone uses the whole loop; a box that was idle
  is lifted to the others' virtual time minus the allowance when it comes
  back, so it cannot bank an idle hour to starve the rest; a box whose
  reconciles wait on the network or hang does not compete, so it holds no
  one back; and a box held back goes ahead as soon as the loop has nothing
  else to run (the gate never leaves the loop idle). The gate sits where a worker starts a reconcile: a reconcile
  once started runs to its end (Trio cannot preempt a step), which is why
  the expected cost of those in flight counts.

Decisions (:meth:`LoopShare.wait_needed`) are pure functions of the shares
and a time; the waiting is the only effect.
"""

from __future__ import annotations

import contextvars
import time

import attrs
import trio
import trio.testing

from .metrics import BoxMetrics

#: How far (loop seconds per unit of weight) a box may run ahead of the slowest competitor.
ALLOWANCE = 0.002
#: A box that ran a step this recently (seconds) still competes for the loop: long
#: enough to cover a round trip to the API server between two steps of a reconcile.
RECENT = 0.05
#: How often a box held back looks again (seconds), unless the loop goes idle first.
POLL = 0.002

#: The share of the box whose task is running (None outside every box).
CURRENT_SHARE: contextvars.ContextVar[BoxShare | None] = contextvars.ContextVar(
    "orkestra_box_share", default=None
)


@attrs.define(eq=False)
class BoxShare:
    """One box's account: loop time used, requests sent, its virtual time and weight."""

    name: str
    weight: float = 1.0
    metrics: BoxMetrics | None = None
    cpu_seconds: float = 0.0
    requests: int = 0
    vtime: float = 0.0
    #: perf_counter of its last task step (-inf: never ran).
    last_step: float = float("-inf")
    #: Reconciles started through the gate and not yet done, and those done.
    in_flight: int = 0
    reconciles: int = 0
    #: Times a worker waited for its turn, and how long in total.
    waits: int = 0
    waited_seconds: float = 0.0
    _gate: trio.Lock | None = None

    def __attrs_post_init__(self) -> None:
        if not self.weight > 0:
            raise ValueError(f"box {self.name}: weight must be > 0, got {self.weight}")

    def charge(self, seconds: float, now: float) -> None:
        self.cpu_seconds += seconds
        self.vtime += seconds / self.weight
        self.last_step = now
        if self.metrics is not None:
            self.metrics.cpu_seconds_total = self.cpu_seconds

    def competing(self, now: float) -> bool:
        return now - self.last_step < RECENT

    @property
    def expected_vtime(self) -> float:
        """Its virtual time once the reconciles in flight will have run (at their average cost)."""
        if not self.in_flight:
            return self.vtime
        per_reconcile = self.cpu_seconds / max(1, self.reconciles)
        return self.vtime + self.in_flight * per_reconcile / self.weight


class LoopShare:
    """The shares of every box of one runtime, and the fair-share gate."""

    def __init__(self) -> None:
        self.shares: list[BoxShare] = []

    def add(self, name: str, *, weight: float = 1.0, metrics: BoxMetrics | None = None) -> BoxShare:
        share = BoxShare(name, weight=weight, metrics=metrics)
        self.shares.append(share)
        return share

    def turn(self, share: BoxShare) -> BoxTurn:
        """The gate a box's worker pool goes through before each reconcile."""
        return BoxTurn(self, share)

    def wait_needed(self, share: BoxShare, now: float) -> bool:
        """Must ``share`` wait before its next reconcile? Lifts a box back from a pause."""
        floor = min(
            (other.vtime for other in self.shares if other is not share and other.competing(now)),
            default=None,
        )
        if floor is None:
            return False  # alone: the whole loop is its
        if share.vtime < floor - ALLOWANCE:
            share.vtime = floor - ALLOWANCE
        return share.expected_vtime > floor + ALLOWANCE

    async def wait_turn(self, share: BoxShare) -> None:
        """Return when ``share`` may start its next reconcile (at once unless over its share).

        One worker of a box polls at a time; the box's other workers queue behind it.
        """
        if not self.wait_needed(share, time.perf_counter()):
            return
        if share._gate is None:
            share._gate = trio.Lock()
        started = time.perf_counter()
        async with share._gate:
            while self.wait_needed(share, time.perf_counter()):
                # Until the loop has nothing else to run (then waiting serves no one:
                # the gate never leaves the loop idle), or POLL passed and the others
                # may have caught up (loop time they used, which no event marks).
                with trio.move_on_after(POLL):
                    await trio.testing.wait_all_tasks_blocked()
                    break
        share.waits += 1
        share.waited_seconds += time.perf_counter() - started
        if share.metrics is not None:
            share.metrics.fair_share_waits_total = share.waits

    @staticmethod
    def count_request() -> None:
        """The kube client's ``on_request`` hook: one request for the box whose task sends it."""
        share = CURRENT_SHARE.get()
        if share is not None:
            share.requests += 1
            if share.metrics is not None:
                share.metrics.api_requests_total = share.requests


@attrs.frozen
class BoxTurn:
    """One box's side of the gate (the worker pool's ``turn``)."""

    loop_share: LoopShare
    share: BoxShare

    async def take(self) -> None:
        await self.loop_share.wait_turn(self.share)
        self.share.in_flight += 1

    def done(self) -> None:
        self.share.in_flight -= 1
        self.share.reconciles += 1


class LoopAccounting(trio.abc.Instrument):
    """Charges every task step's duration to the share in the task's context."""

    def __init__(self) -> None:
        self._share: BoxShare | None = None
        self._started = 0.0

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        share = task.context.get(CURRENT_SHARE)
        self._share = share
        if share is not None:
            self._started = time.perf_counter()

    def after_task_step(self, task: trio.lowlevel.Task) -> None:
        share = self._share
        if share is not None:
            now = time.perf_counter()
            share.charge(now - self._started, now)
            self._share = None


_ACCOUNTING: trio.lowlevel.RunVar[LoopAccounting] = trio.lowlevel.RunVar("orkestra_accounting")


def install_accounting() -> LoopAccounting:
    """The run's accounting instrument, added on first use (one per Trio run, however many runtimes)."""
    try:
        return _ACCOUNTING.get()
    except LookupError:
        instrument = LoopAccounting()
        trio.lowlevel.add_instrument(instrument)
        _ACCOUNTING.set(instrument)
        return instrument
