"""The health state machine of one operatorBox (KATALOG.md, "Health of a box").

::

    not started ──synced──▶ pending ──success──▶ healthy ◀──success── degraded
                                │                   │                   ▲
                                └───── failureThreshold consecutive failures

    any started state ──box-level `when` holds work back──▶ gated ──success──▶ healthy

Each box owns one :class:`BoxHealth`; nothing else writes it. Readers (the
``/ready`` and ``/health`` endpoints, ``dependsOn``, the Control Center) take a
frozen :class:`HealthSnapshot` and may wait for the next change without
polling: every change sets the current ``trio.Event`` and the next waiter makes a fresh one.
"""

from __future__ import annotations

import datetime
import enum
import time
from collections.abc import Callable
from typing import Any

import attrs
import trio

from orkestra_trio.katalog.durations import go_seconds


def wall_time(trio_time: float) -> str:
    """A Trio-clock instant as an RFC 3339 UTC string (health keeps Trio-clock times)."""
    seconds = time.time() - (trio.current_time() - trio_time)
    instant = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


class HealthState(enum.Enum):
    """The states of a box; the values are the words KATALOG.md and the HTTP surface use."""

    NOT_STARTED = "not started"
    PENDING = "pending"
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    GATED = "gated"

    @property
    def http_status(self) -> int:
        """200 when the box is pending or healthy, 503 otherwise (KATALOG.md)."""
        return 200 if self in (HealthState.PENDING, HealthState.HEALTHY) else 503


#: The default number of consecutive failures that makes a box degraded (KATALOG.md).
DEFAULT_FAILURE_THRESHOLD = 5


@attrs.frozen
class HealthSnapshot:
    """A box's health at one instant."""

    name: str
    state: HealthState
    started: bool
    consecutive_fails: int
    total_reconciles: int
    last_error: str | None
    last_reconcile: float | None
    #: Increases by one on every change; pass it to :meth:`BoxHealth.wait_changed`.
    version: int
    #: ``--leader-elect per-box``: the replica that holds this box's Lease (None otherwise).
    holder: str | None = None
    #: Why the box cannot see its CRs (its state then reads ``degraded``), or None.
    blind: str | None = None
    #: ``rollback``: how many of the box's CRs are rolled back now, and how many times
    #: a CR was put in rollback since the box started.
    rolled_back: int = 0
    rollback_total: int = 0
    #: Reconciles that failed since the box started (Orkestra's ``failedReconciles``).
    failed_reconciles: int = 0
    #: When the box last started (Trio clock), and how long it has run at this
    #: snapshot; None while it is not started.
    started_at: float | None = None
    uptime: float | None = None

    @property
    def healthy(self) -> bool:
        return self.state is HealthState.HEALTHY

    @property
    def pending(self) -> bool:
        return self.state is HealthState.PENDING

    @property
    def http_status(self) -> int:
        return self.state.http_status

    def to_json(self, wall_time: Callable[[float], Any] | None = None) -> dict[str, Any]:
        """The ONCOP ``/katalog/<crd>/health`` body.

        ``last_reconcile`` is kept on the Trio clock; ``wall_time`` converts it for
        display (for instance to an RFC 3339 string). Without it the raw value is used.
        """
        last: Any = self.last_reconcile
        if last is not None and wall_time is not None:
            last = wall_time(last)
        started_at: Any = self.started_at
        if started_at is not None and wall_time is not None:
            started_at = wall_time(started_at)
        body: dict[str, Any] = {
            "name": self.name,
            "state": self.state.value,
            # Orkestra's CRDHealthResponse: the HTTP status /health answers with,
            # the start as a time, the uptime as Go writes a duration ("1h0m5s").
            "status": self.http_status,
            "startedAt": started_at,
            "uptime": "" if self.uptime is None else go_seconds(int(self.uptime)),
            "healthy": self.healthy,
            "started": self.started,
            "pending": self.pending,
            "consecutiveFails": self.consecutive_fails,
            "totalReconciles": self.total_reconciles,
            "lastError": self.last_error or "",
            "lastReconcile": last,
            "rollbackActive": self.rolled_back > 0,
            "rollbackTotal": self.rollback_total,
        }
        if self.holder is not None:  # --leader-elect per-box: the replica that runs the box
            body["holder"] = self.holder
        return body


class BoxHealth:
    """The mutable health of one box. All transitions are synchronous and cheap.

    ``last_error`` keeps the most recent failure's text even after the box
    recovers, so that a healthy box still shows what last went wrong.
    """

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = DEFAULT_FAILURE_THRESHOLD,
        clock: Callable[[], float] = trio.current_time,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError(f"failure_threshold must be >= 1, got {failure_threshold}")
        self.name = name
        self.failure_threshold = failure_threshold
        self._clock = clock
        self.state = HealthState.NOT_STARTED
        self.started = False
        self.consecutive_fails = 0
        self.total_reconciles = 0
        self.last_error: str | None = None
        self.last_reconcile: float | None = None
        self.holder: str | None = None
        self.version = 0
        #: Why the box cannot see its CRs right now (its CR watch stalled or
        #: fails), or None. While set the box reads as ``degraded``: its view
        #: of the world is stale, whatever its reconciles say.
        self.blind: str | None = None
        self.rolled_back = 0
        self.rollback_total = 0
        self.failed_reconciles = 0
        self.started_at: float | None = None
        # Created by the first waiter, set and dropped on the next change: a box
        # nobody watches pays nothing per reconcile.
        self._changed: trio.Event | None = None

    # ------------------------------------------------------------ transitions

    def mark_started(self) -> None:
        """The box's machinery runs (its state stays ``not started`` until its informer syncs)."""
        if not self.started:
            self._start()
            self._notify()

    def mark_synced(self) -> None:
        """The box's informer has listed its objects: ``not started`` becomes ``pending``."""
        changed = not self.started
        self._start()
        if self.state is HealthState.NOT_STARTED:
            self.state = HealthState.PENDING
            changed = True
        if changed:
            self._notify()

    def mark_stopped(self) -> None:
        """The box's machinery stopped or crashed: back to ``not started`` until it syncs again.

        Counters and the last error are kept: they describe the box's history.
        """
        if self.started or self.state is not HealthState.NOT_STARTED:
            self.started = False
            self.started_at = None
            self.state = HealthState.NOT_STARTED
            self._notify()

    def record_crash(self, error: str) -> None:
        """The box's own machinery crashed (its supervisor restarts it): ``not started``, with the error."""
        self.started = False
        self.started_at = None
        self.state = HealthState.NOT_STARTED
        self.last_error = error
        self._notify()

    def set_holder(self, identity: str | None) -> None:
        """Which replica runs this box (``--leader-elect per-box``), as the Leases say."""
        if self.holder != identity:
            self.holder = identity
            self._notify()

    def record_blocked(self, error: str) -> None:
        """Something the box needs is refused: an informer keeps failing (RBAC, a missing
        CRD), or the cluster forbids its Events.

        The state is left as it is; ``last_error`` says why, so that a box
        waiting forever (or unable to post Events) is never a silent one.
        """
        if self.last_error != error:
            self.last_error = error
            self._notify()

    def record_blind(self, reason: str) -> None:
        """The box's CR watch stalled or fails: degraded (not ready) until it sees again."""
        if self.blind != reason:
            self.blind = reason
            self.last_error = reason
            self._notify()

    def record_sighted(self) -> None:
        """The box's CR watch delivers again: its own state shows again."""
        if self.blind is not None:
            self.blind = None
            self._notify()

    def record_success(self) -> None:
        self._start()  # a reconcile ran, so the box runs
        self.total_reconciles += 1
        self.consecutive_fails = 0
        self.last_reconcile = self._clock()
        self.state = HealthState.HEALTHY
        self._notify()

    def record_failure(self, error: str) -> None:
        """One failed reconcile. The state only turns ``degraded`` at the threshold."""
        self._start()  # a reconcile ran, so the box runs
        self.total_reconciles += 1
        self.failed_reconciles += 1
        self.consecutive_fails += 1
        self.last_error = error
        self.last_reconcile = self._clock()
        if self.consecutive_fails >= self.failure_threshold:
            self.state = HealthState.DEGRADED
        self._notify()

    def record_gated(self) -> None:
        """The box-level ``when`` held a reconcile back. Not a failure: the fail streak is kept."""
        self._start()  # a reconcile ran, so the box runs
        self.total_reconciles += 1
        self.last_reconcile = self._clock()
        self.state = HealthState.GATED
        self._notify()

    def record_rollbacks(self, rolled_back: int, total: int) -> None:
        """``rollback``: ``rolled_back`` CRs are rolled back now, ``total`` ever were."""
        if (rolled_back, total) != (self.rolled_back, self.rollback_total):
            self.rolled_back, self.rollback_total = rolled_back, total
            self._notify()

    # ---------------------------------------------------------------- reading

    def _start(self) -> None:
        if not self.started:
            self.started = True
            self.started_at = self._clock()

    def snapshot(self) -> HealthSnapshot:
        state = self.state
        started_at = self.started_at
        if self.blind is not None and state is not HealthState.NOT_STARTED:
            state = HealthState.DEGRADED
        return HealthSnapshot(
            name=self.name,
            state=state,
            started=self.started,
            consecutive_fails=self.consecutive_fails,
            total_reconciles=self.total_reconciles,
            last_error=self.last_error,
            last_reconcile=self.last_reconcile,
            version=self.version,
            holder=self.holder,
            blind=self.blind,
            rolled_back=self.rolled_back,
            rollback_total=self.rollback_total,
            failed_reconciles=self.failed_reconciles,
            started_at=started_at,
            uptime=None if started_at is None else self._clock() - started_at,
        )

    async def wait_changed(self, seen_version: int) -> HealthSnapshot:
        """Wait until the health differs from version ``seen_version``; return the new snapshot."""
        while self.version == seen_version:
            if self._changed is None:
                self._changed = trio.Event()
            await self._changed.wait()
        return self.snapshot()

    async def wait_until(self, predicate: Callable[[HealthSnapshot], bool]) -> HealthSnapshot:
        """Wait until ``predicate(snapshot)`` holds; return that snapshot."""
        snap = self.snapshot()
        while not predicate(snap):
            snap = await self.wait_changed(snap.version)
        return snap

    def _notify(self) -> None:
        self.version += 1
        if self._changed is not None:
            self._changed.set()
            self._changed = None
