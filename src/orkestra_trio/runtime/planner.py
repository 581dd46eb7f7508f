"""Where a box's plans are computed: in the loop, or in a process of its own once they are heavy.

A plan (:mod:`orkestra_trio.katalog.plan`) renders every template of a box
for one CR, synchronously: Trio cannot preempt it. Within the template limits
a box can still write templates that take milliseconds of CPU per plan, and
while one renders, every other box of the process waits for the loop: the fair
share of :mod:`.loopshare` decides who starts next, but cannot shorten a
step once it runs.

So each box times its plans (CPU time of the loop's thread, which a busy
machine does not inflate). Once the median of its latest :data:`WINDOW` plans
exceeds :data:`HEAVY_PLAN`, the box starts a child process
(:mod:`._planchild`) and sends it every later plan: the loop then only
pickles the observed state and unpickles the plan (tens of microseconds),
and the templates burn CPU in a process the OS schedules beside the runtime,
at a lower priority. A light box never pays for a process.

The child is the box's: started in the box's nursery, ended with it (a box
restart starts it again when needed). If it dies, the box plans in the loop
again and starts a new one, up to :data:`MAX_STARTS` times. Under a mock clock
(tests) a box always plans in the loop: a process's answer takes no virtual
time, so a mock clock would jump to the next deadline while it is awaited.
"""

from __future__ import annotations

import collections
import itertools
import logging
import pickle
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, TypeVar

import attrs
import trio
import trio.testing

from orkestra_trio.katalog.model import CrdEntry
from orkestra_trio.katalog.plan import (
    Observed,
    PlannedOutcome,
    ReconcilePlan,
    plan_outcome,
    plan_reconcile,
)

from ._planchild import FRAME, encode_frame
from .metrics import BoxMetrics

logger = logging.getLogger(__name__)

#: CPU seconds: a box whose typical plan (the median of its recent ones) costs more
#: moves its plans to a process of its own.
HEAVY_PLAN = 0.002
#: Plans in the window whose median decides; a median, not a mean, so that one plan
#: a garbage collection or a profiler lengthened cannot move a light box.
WINDOW = 15
#: Plans measured before the median can move a box (one slow first plan is no pattern).
MIN_PLANS = 5
#: Times a box starts its planning process before it plans in the loop for good.
MAX_STARTS = 3
#: Seconds a planning process gets to start (import, compile the box's templates).
START_TIMEOUT = 30.0

T = TypeVar("T")


class PlanProcessGone(Exception):
    """The planning process ended before it answered."""


def is_heavy(recent_costs: Sequence[float]) -> bool:
    """Should a box whose recent plans cost these CPU seconds plan in a process of its own?"""
    return len(recent_costs) >= MIN_PLANS and statistics.median(recent_costs) > HEAVY_PLAN


@attrs.define
class _Slot:
    done: trio.Event = attrs.field(factory=trio.Event)
    answer: tuple[str, Any] | None = None


class PlanProcess:
    """One running planning process: requests out on its stdin, answers in on its stdout."""

    def __init__(self, process: trio.Process) -> None:
        assert process.stdin is not None and process.stdout is not None
        self.process = process
        self._send = process.stdin
        self._receive = process.stdout
        self._buffer = bytearray()
        self._ids = itertools.count()
        self._pending: dict[int, _Slot] = {}
        self._send_lock = trio.Lock()
        self._gone = False

    async def start(self, crd: CrdEntry) -> None:
        """Send the CRD entry; return once the child compiled it and said ready."""
        await self._send.send_all(encode_frame(pickle.dumps(crd)))
        frame = await self._read_frame()
        if frame is None or pickle.loads(frame) != ("ready", None):
            raise PlanProcessGone("the planning process did not start")

    async def call(self, operation: str, observed: Observed) -> Any:
        """The child's answer to ``operation`` for ``observed`` (its error raised here)."""
        if self._gone:
            raise PlanProcessGone("the planning process ended")
        request_id = next(self._ids)
        slot = self._pending[request_id] = _Slot()
        frame = encode_frame(pickle.dumps((request_id, operation, observed)))
        try:
            # A frame cut by a cancellation would corrupt every later one; the
            # child reads without pause, so a shielded write is short.
            with trio.CancelScope(shield=True):
                async with self._send_lock:
                    await self._send.send_all(frame)
            await slot.done.wait()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise PlanProcessGone("the planning process ended") from None
        finally:
            del self._pending[request_id]
        assert slot.answer is not None
        status, value = slot.answer
        if status == "ok":
            return value
        raise value

    async def serve(self) -> None:
        """Hand each answer to its caller until the child's stdout closes."""
        try:
            while (frame := await self._read_frame()) is not None:
                request_id, status, value = pickle.loads(frame)
                slot = self._pending.get(request_id)
                if slot is not None:  # else its caller was cancelled: drop it
                    slot.answer = (status, value)
                    slot.done.set()
        finally:
            self._gone = True
            for slot in self._pending.values():
                slot.answer = ("error", PlanProcessGone("the planning process ended"))
                slot.done.set()

    async def _read_frame(self) -> bytes | None:
        while len(self._buffer) < FRAME.size:
            if not await self._fill():
                return None
        (size,) = FRAME.unpack_from(self._buffer)
        while len(self._buffer) < FRAME.size + size:
            if not await self._fill():
                return None
        frame = bytes(self._buffer[FRAME.size : FRAME.size + size])
        del self._buffer[: FRAME.size + size]
        return frame

    async def _fill(self) -> bool:
        try:
            data = await self._receive.receive_some(1 << 16)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return False
        self._buffer += data
        return bool(data)


class Planner:
    """A box's plans: computed in the loop until they prove heavy, then in its process."""

    def __init__(self, crd: CrdEntry, *, name: str, metrics: BoxMetrics | None = None) -> None:
        self.crd = crd
        self.name = name
        self.metrics = metrics
        #: CPU seconds of the latest plans computed in the loop, and plans timed.
        self.recent_costs: collections.deque[float] = collections.deque(maxlen=WINDOW)
        self.plans_timed = 0
        self._process: PlanProcess | None = None
        self._wanted = trio.Event()

    @property
    def in_process(self) -> bool:
        return self._process is not None

    async def reconcile(self, observed: Observed, *, outcome: bool = True) -> ReconcilePlan:
        """The plan; ``outcome=False``: without status and requeue (see :func:`plan_reconcile`)."""
        if outcome:
            plan: ReconcilePlan = await self._plan("reconcile", plan_reconcile, observed)
        else:
            plan = await self._plan(
                "reconcile_children", partial(plan_reconcile, outcome=False), observed
            )
        return plan

    async def outcome(self, observed: Observed) -> PlannedOutcome:
        outcome: PlannedOutcome = await self._plan("outcome", plan_outcome, observed)
        return outcome

    async def _plan(
        self, operation: str, plan: Callable[[CrdEntry, Observed], T], observed: Observed
    ) -> T:
        process = self._process
        if process is not None:
            try:
                result: T = await process.call(operation, observed)
            except PlanProcessGone:
                pass  # plan this one in the loop; run() starts a new process
            else:
                if self.metrics is not None:
                    self.metrics.plans_in_process_total += 1
                return result
        started = time.thread_time()
        try:
            return plan(self.crd, observed)
        finally:
            self._timed(time.thread_time() - started)

    def _timed(self, cost: float) -> None:
        self.plans_timed += 1
        self.recent_costs.append(cost)
        if not self._wanted.is_set() and is_heavy(self.recent_costs):
            self._wanted.set()

    async def run(self) -> None:
        """The box's planning process, once its plans prove heavy (run in the box's nursery)."""
        if isinstance(trio.lowlevel.current_clock(), trio.testing.MockClock):
            return  # see the module docstring
        await self._wanted.wait()
        for start in range(1, MAX_STARTS + 1):
            try:
                await self._serve_one_process()
            except (PlanProcessGone, OSError) as exc:
                logger.warning(
                    "box %s: its planning process failed (%s); planning in the loop",
                    self.name,
                    exc,
                    extra={"box": self.name, "event": "planning_process_failed"},
                )
            if start < MAX_STARTS:
                await trio.sleep(start)
        logger.warning(
            "box %s: its planning process failed %d times; it plans in the loop from now on",
            self.name,
            MAX_STARTS,
            extra={"box": self.name, "event": "planning_in_loop"},
        )

    async def _serve_one_process(self) -> None:
        process = await trio.lowlevel.open_process(
            [sys.executable, "-m", "orkestra_trio.runtime._planchild"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        child = PlanProcess(process)
        try:
            with trio.fail_after(START_TIMEOUT):
                await child.start(self.crd)
            logger.info(
                "box %s: its plans take %.1f ms of CPU (median): planning in a process of its own",
                self.name,
                statistics.median(self.recent_costs) * 1000,
                extra={"box": self.name, "event": "planning_process"},
            )
            self._process = child
            if self.metrics is not None:
                self.metrics.planning_process = True
            await child.serve()
            raise PlanProcessGone(f"it exited with code {process.poll()}")
        except trio.TooSlowError:
            raise PlanProcessGone(f"it did not start within {START_TIMEOUT:g}s") from None
        finally:
            self._process = None
            if self.metrics is not None:
                self.metrics.planning_process = False
            with trio.CancelScope(shield=True):
                await _end(process)


async def _end(process: trio.Process) -> None:
    """Close the child's pipes (it exits at EOF on stdin) and wait; killed if it lingers."""
    for pipe in (process.stdin, process.stdout):
        if pipe is not None:
            await pipe.aclose()
    with trio.move_on_after(2):
        await process.wait()
        return
    process.kill()
    await process.wait()
