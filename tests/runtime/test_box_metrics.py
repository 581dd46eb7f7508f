"""Per-box metrics: histogram buckets and quantiles, derived figures, the ONCOP metrics shape."""

import math

import pytest

from orkestra_trio.runtime.metrics import BoxMetrics, Histogram


def test_histogram_buckets_are_le_and_cumulative() -> None:
    h = Histogram((1.0, 2.0, 5.0))
    for v in (0.5, 1.0, 1.5, 2.0, 4.0, 100.0):
        h.observe(v)
    assert h.cumulative() == [(1.0, 2), (2.0, 4), (5.0, 5), (math.inf, 6)]
    assert h.count == 6 and h.sum == pytest.approx(109.0)


def test_histogram_quantile_interpolates_like_promql() -> None:
    h = Histogram((0.1, 0.2, 0.4))
    assert math.isnan(h.quantile(0.5))
    for _ in range(10):
        h.observe(0.15)  # all in the (0.1, 0.2] bucket
    assert h.quantile(0.5) == pytest.approx(0.15)
    assert h.quantile(1.0) == pytest.approx(0.2)
    h.observe(10.0)  # +Inf bucket: capped at the highest bound
    assert h.quantile(1.0) == 0.4
    with pytest.raises(ValueError):
        h.quantile(1.5)


def test_histogram_rejects_unsorted_bounds() -> None:
    with pytest.raises(ValueError):
        Histogram((2.0, 1.0))
    with pytest.raises(ValueError):
        Histogram((1.0, 1.0))


def test_snapshot_derives_rates_and_oncop_metrics() -> None:
    m = BoxMetrics()
    for _ in range(3):
        m.observe_reconcile("success", 0.02)
    m.observe_reconcile("error", 0.01)
    m.observe_reconcile("timeout", 30.0)
    m.workers, m.active_workers, m.queue_depth = 4, 1, 7
    snap = m.snapshot(longest_running_processor=2.5)
    assert snap.reconcile_total["success"] == 3
    assert snap.reconcile_errors_total == 2
    assert snap.error_rate_percent == pytest.approx(40.0)
    assert snap.workers_busy_percent == pytest.approx(25.0)
    assert snap.longest_running_processor == 2.5
    assert snap.reconcile_duration_count == 5
    metrics = snap.oncop_metrics()
    assert metrics["queueDepth"] == 7 and metrics["workers"] == 4
    assert metrics["errorRatePercent"] == 40.0 and metrics["workersBusyPercent"] == 25.0
    assert metrics["reconcileDurationP95Ms"] > 1000  # the 30 s timeout dominates p95
    # What every plan reads (.metrics) comes straight from the counters, the same.
    assert m.oncop_metrics() == metrics
    # The snapshot is a copy: later updates do not change it.
    m.observe_reconcile("success", 0.01)
    assert snap.reconcile_total["success"] == 3


def test_empty_snapshot_has_zero_rates() -> None:
    snap = BoxMetrics().snapshot()
    assert snap.error_rate_percent == 0.0 and snap.workers_busy_percent == 0.0
    assert snap.reconcile_duration_p95 == 0.0
