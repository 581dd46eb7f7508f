"""The runtime: isolated operatorBoxes, each with its own queue, workers, health and failure domain.

This package's lowest layer (importable on its own, no Kubernetes involved):
:mod:`.workqueue` (deduplicating queue with backoff), :mod:`.backoff`,
:mod:`.health` (the box health state machine), :mod:`.safe` (the per-reconcile
panic domain), :mod:`.workers` (the resizable worker pool), :mod:`.supervisor`
(restart of a crashed box) and :mod:`.metrics` (per-box numbers as plain data).
"""

from .backoff import JitteredBackoff, PerKeyBackoff, exponential_delay
from .health import BoxHealth, HealthSnapshot, HealthState
from .metrics import BoxMetrics, Histogram, MetricsSnapshot
from .safe import (
    DONE,
    Failure,
    FailureKind,
    Outcome,
    ReconcileFn,
    ReconcileResult,
    describe_exception,
    safe_reconcile,
)
from .supervisor import Supervisor
from .workers import WorkerPool
from .workqueue import QueueShutDown, WorkQueue

__all__ = [
    "DONE",
    "BoxHealth",
    "BoxMetrics",
    "Failure",
    "FailureKind",
    "HealthSnapshot",
    "HealthState",
    "Histogram",
    "JitteredBackoff",
    "MetricsSnapshot",
    "Outcome",
    "PerKeyBackoff",
    "QueueShutDown",
    "ReconcileFn",
    "ReconcileResult",
    "Supervisor",
    "WorkQueue",
    "WorkerPool",
    "describe_exception",
    "exponential_delay",
    "safe_reconcile",
]
