"""Box-level faults and the reconcile log: the seam between a test and a box's reconcile function.

The API server's own fault injection (``cluster.faults``) makes *requests*
fail. Some failures a test needs are not requests: a reconcile that raises,
that hangs past its timeout, that is merely slow, whose templates fail. Those
are injected here, by wrapping the function a box's worker pool calls for
each key (``WorkerPool.reconcile_fn``, the reconcile pipeline). The wrapper
is the outermost layer under ``safe_reconcile``, so an injected failure takes
exactly the path a real one takes: the box's cancel scope and deadline, its
health, its metrics, its per-key backoff.

Two faults need no wrapper, because they reach the real template engine
through the CR itself: a Katalog whose template reads a CR field (ranges
over ``spec.load``, say) fails at render when the CR sets that field to a
value the template cannot take, and is as CPU-heavy as the render limits
allow with the list :func:`heaviest_legal_list` finds.

The same wrapper records every reconcile (box, key, start, end, how it
ended) in a :class:`ReconcileLog` shared by all boxes of a test, which is
how the property tests see enqueue-to-reconcile latency and check that no
key is ever reconciled by two workers at once.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

import attrs
import trio

from orkestra_trio.katalog.render import RenderError
from orkestra_trio.katalog.template import TemplateRenderError
from orkestra_trio.runtime.safe import Outcome, ReconcileFn

K = TypeVar("K", bound=Hashable)

#: Every injected failure's message starts with this, so tests can tell them from real ones.
INJECTED = "injected"


class InjectedFault(Exception):
    """What a reconcile raises under :meth:`BoxFault.raises`."""


class FaultKind(enum.Enum):
    RAISE = "raise"
    HANG = "hang"
    SLOW = "slow"
    TEMPLATE = "template"


@attrs.frozen
class BoxFault:
    """A fault of one box's reconcile. Build with the class methods; see the module docstring."""

    kind: FaultKind
    #: SLOW: how long each reconcile is held up before it runs.
    seconds: float = 0.0
    message: str = ""

    @classmethod
    def raises(cls, message: str = "reconcile raised") -> BoxFault:
        """Every reconcile raises :class:`InjectedFault` (a bug in the operator)."""
        return cls(FaultKind.RAISE, message=message)

    @classmethod
    def hangs(cls) -> BoxFault:
        """Every reconcile waits forever: the box's ``reconciler.timeout`` must cut it."""
        return cls(FaultKind.HANG)

    @classmethod
    def slow(cls, seconds: float) -> BoxFault:
        """Every reconcile waits ``seconds`` first, then runs normally."""
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0, got {seconds}")
        return cls(FaultKind.SLOW, seconds=seconds)

    @classmethod
    def template_error(cls, message: str = "template failed") -> BoxFault:
        """Every reconcile fails as a template error does (a :class:`RenderError`)."""
        return cls(FaultKind.TEMPLATE, message=message)

    @property
    def fails(self) -> bool:
        """Does this fault make reconciles fail (so that health must show it)?"""
        return self.kind is not FaultKind.SLOW

    def describe(self) -> str:
        if self.kind is FaultKind.SLOW:
            return f"slow({self.seconds:g}s)"
        return str(self.kind.value)


def heaviest_legal_list(render: Callable[[list[int]], object], *, most: int = 1 << 20) -> int:
    """The length of the longest list ``[0, 1, ...]`` that ``render`` renders within the limits.

    ``render(items)`` renders a template with ``items`` in the field it loops
    over. With that many items a render costs as much CPU as the template
    limits let that template cost; one more and the render fails at the
    limits (a :class:`TemplateRenderError`). The cost must grow with the list.
    """

    def legal(length: int) -> bool:
        try:
            render(list(range(length)))
        except TemplateRenderError:
            return False
        return True

    if not legal(0):
        raise ValueError("the template fails without any item: nothing to find")
    good, bad = 0, 1
    while legal(bad):  # double until the limits refuse, then bisect between
        good, bad = bad, bad * 2
        if bad > most:
            raise ValueError(f"the template renders {most} items within the limits")
    while bad - good > 1:
        middle = (good + bad) // 2
        good, bad = (middle, bad) if legal(middle) else (good, middle)
    return good


@attrs.frozen
class ApiFault:
    """A box's write requests answered with ``status`` (500, 409, 429...) by the API server."""

    status: int = 500
    retry_after: int | None = None
    #: Also its children kinds' writes, not only its CRs' (status, finalizers).
    children: bool = True

    @property
    def fails(self) -> bool:
        return True

    def describe(self) -> str:
        return f"api {self.status}"


@attrs.frozen
class ScheduledFault:
    """One fault of a schedule: ``fault`` on ``box`` from ``at`` for ``duration`` seconds."""

    at: float
    box: str
    fault: BoxFault | ApiFault
    duration: float

    @property
    def until(self) -> float:
        return self.at + self.duration

    def describe(self) -> str:
        return f"{self.fault.describe()} on {self.box} at {self.at:g}s for {self.duration:g}s"


@attrs.frozen
class ReconcileRecord:
    """One finished reconcile as the wrapper saw it."""

    box: str
    key: Any
    start: float
    end: float
    #: "ok", "error" (raised, the box records a failure) or "cancelled" (timeout or shutdown).
    result: str
    #: Order of the start among all reconciles of the log (virtual time often stands still).
    seq: int = 0


class ReconcileLog:
    """Every reconcile of every instrumented box, plus overlaps (a key held by two workers).

    Each start gets a sequence number: under a virtual clock many reconciles
    start at the same instant, and the order is what tells who waited for whom.
    """

    def __init__(self) -> None:
        self.records: list[ReconcileRecord] = []
        #: (box, key) -> (start time, seq) of each reconcile now running.
        self.running: dict[tuple[str, Any], list[tuple[float, int]]] = {}
        #: (box, key, time) of every reconcile that started while the same key was running.
        self.overlaps: list[tuple[str, Any, float]] = []
        #: Reconciles started so far; pass it to :meth:`first_start_after` as ``seq``.
        self.started_count = 0

    def started(self, box: str, key: Any) -> tuple[float, int]:
        now = trio.current_time()
        self.started_count += 1
        starts = self.running.setdefault((box, key), [])
        if starts:
            self.overlaps.append((box, key, now))
        token = (now, self.started_count)
        starts.append(token)
        return token

    def finished(self, box: str, key: Any, token: tuple[float, int], result: str) -> None:
        starts = self.running.get((box, key), [])
        if token in starts:
            starts.remove(token)
        if not starts:
            self.running.pop((box, key), None)
        start, seq = token
        self.records.append(ReconcileRecord(box, key, start, trio.current_time(), result, seq))

    def of(self, box: str, key: Any | None = None) -> list[ReconcileRecord]:
        return [r for r in self.records if r.box == box and (key is None or r.key == key)]

    def first_start_after(
        self, box: str, key: Any, since: float, *, seq: int = 0
    ) -> tuple[float, int] | None:
        """(time, seq) of the first reconcile of ``key`` started at or after ``since`` and
        after the ``seq``-th start of the log (None when there is none yet)."""
        starts = [(r.start, r.seq) for r in self.records if r.box == box and r.key == key]
        starts += self.running.get((box, key), [])
        later = [s for s in starts if s[0] >= since and s[1] > seq]
        return min(later, key=lambda s: s[1]) if later else None

    def busy(self, box: str | None = None) -> int:
        """Reconciles running now (of one box, or of all)."""
        return sum(len(s) for (b, _), s in self.running.items() if box is None or b == box)


class InstrumentedReconcile(Generic[K]):
    """Wraps one box's reconcile function: logs every call and applies the box's current fault."""

    def __init__(self, box: str, inner: ReconcileFn[K], log: ReconcileLog) -> None:
        self.box = box
        self.inner = inner
        self.log = log
        self.fault: BoxFault | None = None

    async def __call__(self, key: K) -> Outcome | None:
        token = self.log.started(self.box, key)
        result = "cancelled"
        try:
            outcome = await self._run(key)
            result = "ok"
            return outcome
        except Exception:
            result = "error"
            raise
        finally:
            self.log.finished(self.box, key, token, result)

    async def _run(self, key: K) -> Outcome | None:
        fault = self.fault
        if fault is None:
            return await self.inner(key)
        text = f"{INJECTED} fault in box {self.box}: {fault.message or fault.describe()}"
        if fault.kind is FaultKind.RAISE:
            await trio.lowlevel.checkpoint()
            raise InjectedFault(text)
        if fault.kind is FaultKind.TEMPLATE:
            await trio.lowlevel.checkpoint()
            raise RenderError(text, where="", cr=f"{self.box} {key}")
        if fault.kind is FaultKind.HANG:
            await trio.sleep_forever()
        await trio.sleep(fault.seconds)
        return await self.inner(key)
