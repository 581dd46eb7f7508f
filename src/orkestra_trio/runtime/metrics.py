"""Per-box metrics as plain data: counters, gauges and histograms, nothing rendered yet.

Each operatorBox owns one :class:`BoxMetrics`; nothing here is shared between
boxes (the isolation rules forbid shared mutable state). The workqueue and the
worker pool update it on their hot paths, so every update is a few integer
operations. Rendering (Prometheus text, the ONCOP JSON, the Control Center)
is a later layer that reads a :class:`MetricsSnapshot`.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import attrs

from orkestra_trio.katalog.model import CrossEntry

#: Buckets (seconds) for how long one reconcile takes: milliseconds up to the default timeouts.
RECONCILE_BUCKETS: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
)
#: Buckets (seconds) for time spent waiting in the queue and holding a key: microseconds to minutes.
QUEUE_BUCKETS: tuple[float, ...] = tuple(10.0**e for e in range(-6, 3))

#: How a reconcile ended, as counted in ``reconcile_total``.
ReconcileLabel = Literal["success", "requeue_after", "gated", "error", "timeout"]
RECONCILE_LABELS: tuple[ReconcileLabel, ...] = (
    "success",
    "requeue_after",
    "gated",
    "error",
    "timeout",
)


@attrs.define
class Histogram:
    """A cumulative-bucket histogram in the Prometheus sense (``le`` buckets, count, sum)."""

    bounds: tuple[float, ...]
    counts: list[int] = attrs.field(init=False)
    count: int = attrs.field(default=0, init=False)
    sum: float = attrs.field(default=0.0, init=False)

    def __attrs_post_init__(self) -> None:
        if list(self.bounds) != sorted(self.bounds) or len(set(self.bounds)) != len(self.bounds):
            raise ValueError(f"histogram bounds must be strictly increasing: {self.bounds}")
        # One slot per bound plus the +Inf slot; slots are per-bucket, cumulated on read.
        self.counts = [0] * (len(self.bounds) + 1)

    def observe(self, value: float) -> None:
        # bisect_left puts a value equal to a bound in that bound's bucket (le = "<=").
        self.counts[bisect_left(self.bounds, value)] += 1
        self.count += 1
        self.sum += value

    def cumulative(self) -> list[tuple[float, int]]:
        """``(le, count of observations <= le)`` pairs, ending with ``(inf, count)``."""
        out: list[tuple[float, int]] = []
        running = 0
        for bound, n in zip((*self.bounds, math.inf), self.counts, strict=True):
            running += n
            out.append((bound, running))
        return out

    def quantile(self, q: float) -> float:
        """Estimate the ``q`` quantile by linear interpolation inside its bucket (as PromQL does).

        Returns NaN when empty; a quantile falling in the +Inf bucket returns the highest bound.
        """
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantile must be within [0, 1], got {q}")
        if self.count == 0:
            return math.nan
        rank = q * self.count
        lower = 0.0
        below = 0
        for i, n in enumerate(self.counts):
            if below + n >= rank and n > 0:
                if i == len(self.bounds):
                    return self.bounds[-1] if self.bounds else math.nan
                upper = self.bounds[i]
                return lower + (upper - lower) * (rank - below) / n
            below += n
            if i < len(self.bounds):
                lower = self.bounds[i]
        return self.bounds[-1] if self.bounds else math.nan


#: Where a ``cross:`` read went: the local registry, an ONCOP host, or a raw endpoint.
CrossSourceLabel = Literal["same-process", "oncop", "endpoint"]
#: How a ``cross:`` read ended (an answer carrying ``error`` is an error, stale or not).
CrossResultLabel = Literal["found", "not_found", "stale", "error"]


def cross_result(answer: Mapping[str, Any]) -> CrossResultLabel:
    """Classify one ``.cross.<as>`` answer (ONCOP.md's outcomes table)."""
    if answer.get("error"):
        return "stale" if answer.get("stale") == "true" else "error"
    return "found" if answer.get("found") == "true" else "not_found"


def cross_source(entry: CrossEntry) -> CrossSourceLabel:
    """Where a ``cross:`` entry reads from, as the metrics label it."""
    if entry.source is None:
        return "same-process"
    return "oncop" if entry.source.host is not None else "endpoint"


@attrs.frozen
class CrossRead:
    """The last read of one ``cross:`` entry of a box, for the Control Center's graph."""

    observed: str
    source: CrossSourceLabel
    result: CrossResultLabel
    error: str
    #: Trio clock time of the read.
    at: float


def _reconcile_totals() -> dict[ReconcileLabel, int]:
    return dict.fromkeys(RECONCILE_LABELS, 0)


@attrs.define
class BoxMetrics:
    """Every number one box keeps about itself. Mutated in place by its queue and workers."""

    reconcile_total: dict[ReconcileLabel, int] = attrs.field(factory=_reconcile_totals)
    reconcile_errors_total: int = 0
    reconcile_duration: Histogram = attrs.field(factory=lambda: Histogram(RECONCILE_BUCKETS))
    queue_adds_total: int = 0
    queue_dropped_total: int = 0
    queue_retries_total: int = 0
    queue_depth: int = 0
    queue_duration: Histogram = attrs.field(factory=lambda: Histogram(QUEUE_BUCKETS))
    work_duration: Histogram = attrs.field(factory=lambda: Histogram(QUEUE_BUCKETS))
    #: Workers alive in the pool (follows resize) and, among them, those holding a key.
    workers: int = 0
    active_workers: int = 0
    #: The configured worker count (``reconciler.workers``) autoscale returns to.
    baseline_workers: int = 0
    #: Times the box's own machinery crashed and was restarted by its supervisor.
    restarts_total: int = 0
    #: Loop time its tasks used, API requests they sent, and times a worker waited
    #: for its fair share of the loop (:mod:`.loopshare`).
    cpu_seconds_total: float = 0.0
    api_requests_total: int = 0
    fair_share_waits_total: int = 0
    #: Warning Events not posted because the box's Event budget was spent.
    events_dropped_total: int = 0
    #: ``notification``: messages sent (one per Slack channel or email), sends that
    #: failed, and alerts dropped because the box's send queue was full.
    notifications_sent_total: int = 0
    notifications_failed_total: int = 0
    notifications_dropped_total: int = 0
    #: Plans computed in the box's own planning process (:mod:`.planner`), and
    #: whether that process runs now.
    plans_in_process_total: int = 0
    planning_process: bool = False
    #: ``cross:`` reads made by this box's reconciles, by (source, result).
    cross_reads_total: dict[tuple[CrossSourceLabel, CrossResultLabel], int] = attrs.field(
        factory=dict
    )
    #: The last read of each ``cross:`` entry, by its ``as`` name.
    cross_last: dict[str, CrossRead] = attrs.field(factory=dict)

    def observe_cross(
        self,
        as_: str,
        observed: str,
        source: CrossSourceLabel,
        answer: Mapping[str, Any],
        at: float,
    ) -> None:
        """Count one ``cross:`` read and remember it as the entry's last one."""
        result = cross_result(answer)
        key = (source, result)
        self.cross_reads_total[key] = self.cross_reads_total.get(key, 0) + 1
        self.cross_last[as_] = CrossRead(
            observed, source, result, str(answer.get("error") or ""), at
        )

    def observe_reconcile(self, label: ReconcileLabel, duration: float) -> None:
        self.reconcile_total[label] += 1
        if label in ("error", "timeout"):
            self.reconcile_errors_total += 1
        self.reconcile_duration.observe(duration)

    def error_rate_percent(self) -> float:
        """Failed reconciles (errors and timeouts) per 100 since the box started."""
        return _percent(self.reconcile_errors_total, sum(self.reconcile_total.values()))

    def oncop_metrics(self) -> dict[str, Any]:
        """What :meth:`MetricsSnapshot.oncop_metrics` says, without the whole snapshot.

        Every plan's context reads it (``.metrics``): the snapshot's histogram copies
        would be most of a light reconcile's bookkeeping.
        """
        total = sum(self.reconcile_total.values())
        p95 = self.reconcile_duration.quantile(0.95)
        return oncop_metrics(
            queue_depth=self.queue_depth,
            workers=self.workers,
            baseline_workers=self.baseline_workers,
            workers_busy_percent=_percent(self.active_workers, self.workers),
            error_rate_percent=_percent(self.reconcile_errors_total, total),
            reconcile_duration_p95=0.0 if math.isnan(p95) else p95,
        )

    def snapshot(self, *, longest_running_processor: float = 0.0) -> MetricsSnapshot:
        """A frozen copy with the derived figures; ``longest_running_processor`` comes from the queue."""
        total = sum(self.reconcile_total.values())
        p95 = self.reconcile_duration.quantile(0.95)
        return MetricsSnapshot(
            reconcile_total=dict(self.reconcile_total),
            reconcile_errors_total=self.reconcile_errors_total,
            reconcile_duration_count=self.reconcile_duration.count,
            reconcile_duration_sum=self.reconcile_duration.sum,
            reconcile_duration_buckets=tuple(self.reconcile_duration.cumulative()),
            reconcile_duration_p95=0.0 if math.isnan(p95) else p95,
            queue_adds_total=self.queue_adds_total,
            queue_dropped_total=self.queue_dropped_total,
            queue_retries_total=self.queue_retries_total,
            queue_depth=self.queue_depth,
            queue_duration_buckets=tuple(self.queue_duration.cumulative()),
            queue_duration_sum=self.queue_duration.sum,
            work_duration_buckets=tuple(self.work_duration.cumulative()),
            work_duration_sum=self.work_duration.sum,
            longest_running_processor=longest_running_processor,
            workers=self.workers,
            active_workers=self.active_workers,
            baseline_workers=self.baseline_workers,
            restarts_total=self.restarts_total,
            cpu_seconds_total=self.cpu_seconds_total,
            api_requests_total=self.api_requests_total,
            fair_share_waits_total=self.fair_share_waits_total,
            events_dropped_total=self.events_dropped_total,
            notifications_sent_total=self.notifications_sent_total,
            notifications_failed_total=self.notifications_failed_total,
            notifications_dropped_total=self.notifications_dropped_total,
            plans_in_process_total=self.plans_in_process_total,
            planning_process=self.planning_process,
            cross_reads_total=dict(self.cross_reads_total),
            cross_last=dict(self.cross_last),
            error_rate_percent=_percent(self.reconcile_errors_total, total),
            workers_busy_percent=_percent(self.active_workers, self.workers),
        )


def _percent(part: int, whole: int) -> float:
    return 0.0 if whole == 0 else 100.0 * part / whole


@attrs.frozen
class MetricsSnapshot:
    """One box's metrics at one instant, safe to hand to another task or box."""

    reconcile_total: dict[ReconcileLabel, int]
    reconcile_errors_total: int
    reconcile_duration_count: int
    reconcile_duration_sum: float
    reconcile_duration_buckets: Sequence[tuple[float, int]]
    reconcile_duration_p95: float
    queue_adds_total: int
    queue_dropped_total: int
    queue_retries_total: int
    queue_depth: int
    queue_duration_buckets: Sequence[tuple[float, int]]
    queue_duration_sum: float
    work_duration_buckets: Sequence[tuple[float, int]]
    work_duration_sum: float
    longest_running_processor: float
    workers: int
    active_workers: int
    restarts_total: int
    error_rate_percent: float
    workers_busy_percent: float
    cross_reads_total: dict[tuple[CrossSourceLabel, CrossResultLabel], int] = attrs.field(
        factory=dict
    )
    cross_last: dict[str, CrossRead] = attrs.field(factory=dict)
    baseline_workers: int = 0
    cpu_seconds_total: float = 0.0
    api_requests_total: int = 0
    fair_share_waits_total: int = 0
    events_dropped_total: int = 0
    notifications_sent_total: int = 0
    notifications_failed_total: int = 0
    notifications_dropped_total: int = 0
    plans_in_process_total: int = 0
    planning_process: bool = False

    def oncop_metrics(self) -> dict[str, Any]:
        """The ``metrics`` object that ONCOP serves for a box (field names from ONCOP.md)."""
        return oncop_metrics(
            queue_depth=self.queue_depth,
            workers=self.workers,
            baseline_workers=self.baseline_workers,
            workers_busy_percent=self.workers_busy_percent,
            error_rate_percent=self.error_rate_percent,
            reconcile_duration_p95=self.reconcile_duration_p95,
        )


def oncop_metrics(
    *,
    queue_depth: int,
    workers: int,
    baseline_workers: int,
    workers_busy_percent: float,
    error_rate_percent: float,
    reconcile_duration_p95: float,
) -> dict[str, Any]:
    """ONCOP's ``metrics`` object of a box from its figures (field names from ONCOP.md)."""
    return {
        "queueDepth": queue_depth,
        "workers": workers,
        "baselineWorkers": baseline_workers,
        "workersBusyPercent": round(workers_busy_percent, 1),
        # Orkestra's metrics carry the idle share too (autoscale conditions read it).
        "workersIdlePercent": round(100.0 - workers_busy_percent, 1) if workers else 0.0,
        "errorRatePercent": round(error_rate_percent, 1),
        "reconcileDurationP95Ms": round(reconcile_duration_p95 * 1000.0, 3),
    }
