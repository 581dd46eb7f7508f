"""``/metrics``: the boxes' metrics in the Prometheus text format, read at scrape time.

Each box already keeps its numbers as plain data
(:class:`~orkestra_trio.runtime.metrics.BoxMetrics`). Instead of mirroring
them into prometheus-client counters on every reconcile (double bookkeeping
on the hot path), a custom collector takes one snapshot per box when
Prometheus scrapes and renders it.

Names follow controller-runtime and client-go's workqueue, so dashboards
written for Go operators work unchanged: ``controller_runtime_*`` carry the
label ``controller`` and ``workqueue_*`` the label ``name``, both the box's
CRD key. Ours carry ``box``: the health state as a one-hot gauge, box
restarts, ``cross:`` reads by source and result, ONCOP cache hits.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Protocol

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from orkestra_trio.runtime.health import HealthState
from orkestra_trio.runtime.metrics import RECONCILE_LABELS

from .view import BoxSample


class MetricsSource(Protocol):
    """What the collector reads (satisfied by :class:`~.view.RuntimeView`)."""

    def samples(self) -> Iterable[BoxSample]: ...

    def oncop_cache_hits(self) -> int: ...


def _buckets(cumulative: Sequence[tuple[float, int]]) -> list[tuple[str, float]]:
    # The ``le`` label as Prometheus writes it: "+Inf" for the last bucket.
    return [
        ("+Inf" if math.isinf(bound) else repr(float(bound)), float(count))
        for bound, count in cumulative
    ]


#: One number per box: (family type, name, help, the label naming the box, how to read it).
SCALARS: tuple[
    tuple[
        type[CounterMetricFamily | GaugeMetricFamily], str, str, str, Callable[[BoxSample], float]
    ],
    ...,
] = (
    (
        CounterMetricFamily,
        "controller_runtime_reconcile_errors",
        "Total number of reconciliation errors per controller (errors and timeouts).",
        "controller",
        lambda s: s.metrics.reconcile_errors_total,
    ),
    (
        GaugeMetricFamily,
        "controller_runtime_active_workers",
        "Number of currently used workers per controller.",
        "controller",
        lambda s: s.metrics.active_workers,
    ),
    (
        GaugeMetricFamily,
        "controller_runtime_max_concurrent_reconciles",
        "Maximum number of concurrent reconciles per controller.",
        "controller",
        lambda s: s.max_workers,
    ),
    (
        GaugeMetricFamily,
        "orkestra_box_baseline_workers",
        "Workers the Katalog configures (reconciler.workers): where autoscale returns to.",
        "controller",
        lambda s: s.metrics.baseline_workers,
    ),
    (
        CounterMetricFamily,
        "orkestra_watch_stalls",
        "Watch streams of the box's informers closed after staying silent for twice the "
        "bookmark interval (each one relisted).",
        "box",
        lambda s: s.watch_stalls,
    ),
    (
        GaugeMetricFamily,
        "workqueue_depth",
        "Current depth of workqueue.",
        "name",
        lambda s: s.metrics.queue_depth,
    ),
    (
        CounterMetricFamily,
        "workqueue_adds",
        "Total number of adds handled by workqueue.",
        "name",
        lambda s: s.metrics.queue_adds_total,
    ),
    (
        CounterMetricFamily,
        "workqueue_retries",
        "Total number of retries handled by workqueue.",
        "name",
        lambda s: s.metrics.queue_retries_total,
    ),
    (
        GaugeMetricFamily,
        "workqueue_longest_running_processor_seconds",
        "How many seconds has the longest running processor for workqueue been running.",
        "name",
        lambda s: s.metrics.longest_running_processor,
    ),
    (
        CounterMetricFamily,
        "orkestra_box_restarts",
        "Times the box's machinery crashed and was restarted by its supervisor.",
        "box",
        lambda s: s.metrics.restarts_total,
    ),
    (
        CounterMetricFamily,
        "orkestra_box_cpu_seconds",
        "Trio loop time used by the box's tasks (workers, timers, the informers it started).",
        "box",
        lambda s: s.metrics.cpu_seconds_total,
    ),
    (
        CounterMetricFamily,
        "orkestra_box_api_requests",
        "Requests the box's tasks sent to the Kubernetes API server, retries included.",
        "box",
        lambda s: s.metrics.api_requests_total,
    ),
    (
        CounterMetricFamily,
        "orkestra_box_fair_share_waits",
        "Times a worker of the box waited for its fair share of the loop before a reconcile.",
        "box",
        lambda s: s.metrics.fair_share_waits_total,
    ),
    (
        CounterMetricFamily,
        "orkestra_box_events_dropped",
        "Warning Events the box did not post because its Event budget was spent.",
        "box",
        lambda s: s.metrics.events_dropped_total,
    ),
    (
        CounterMetricFamily,
        "orkestra_box_notifications_sent",
        "notification messages the box sent (one per Slack channel, one per email).",
        "box",
        lambda s: s.metrics.notifications_sent_total,
    ),
    (
        CounterMetricFamily,
        "orkestra_box_notifications_failed",
        "notification sends that failed or timed out (the webhook or mail server's fault).",
        "box",
        lambda s: s.metrics.notifications_failed_total,
    ),
    (
        CounterMetricFamily,
        "orkestra_box_notifications_dropped",
        "notification alerts the box dropped because its send queue was full.",
        "box",
        lambda s: s.metrics.notifications_dropped_total,
    ),
    (
        CounterMetricFamily,
        "orkestra_box_queue_dropped",
        "Keys the box did not queue: refused at queue.maxDepth or shed by queue.behaviour.",
        "box",
        lambda s: s.metrics.queue_dropped_total,
    ),
    (
        CounterMetricFamily,
        "orkestra_box_plans_in_process",
        "Plans the box computed in its own planning process (its templates proved CPU-heavy).",
        "box",
        lambda s: s.metrics.plans_in_process_total,
    ),
)

#: One histogram per box: (name, help, label, its cumulative buckets and sum).
HISTOGRAMS: tuple[
    tuple[str, str, str, Callable[[BoxSample], tuple[Sequence[tuple[float, int]], float]]], ...
] = (
    (
        "controller_runtime_reconcile_time_seconds",
        "Length of time per reconciliation per controller.",
        "controller",
        lambda s: (s.metrics.reconcile_duration_buckets, s.metrics.reconcile_duration_sum),
    ),
    (
        "workqueue_queue_duration_seconds",
        "How long in seconds an item stays in workqueue before being requested.",
        "name",
        lambda s: (s.metrics.queue_duration_buckets, s.metrics.queue_duration_sum),
    ),
    (
        "workqueue_work_duration_seconds",
        "How long in seconds processing an item from workqueue takes.",
        "name",
        lambda s: (s.metrics.work_duration_buckets, s.metrics.work_duration_sum),
    ),
)


class BoxCollector(Collector):
    """Renders every box's snapshot as metric families (one pass per scrape)."""

    def __init__(self, source: MetricsSource) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        samples = list(self.source.samples())
        total = CounterMetricFamily(
            "controller_runtime_reconcile",
            "Total number of reconciliations per controller, by result.",
            labels=["controller", "result"],
        )
        for s in samples:
            for result in RECONCILE_LABELS:
                total.add_metric([s.name, result], s.metrics.reconcile_total.get(result, 0))
        yield total
        for family_type, name, help_text, label, read in SCALARS:
            family = family_type(name, help_text, labels=[label])
            for s in samples:
                family.add_metric([s.name], read(s))
            yield family
        for name, help_text, label, read_histogram in HISTOGRAMS:
            histogram = HistogramMetricFamily(name, help_text, labels=[label])
            for s in samples:
                buckets, total_sum = read_histogram(s)
                histogram.add_metric([s.name], _buckets(buckets), total_sum)
            yield histogram
        yield from self._ours(samples)

    def _ours(self, samples: list[BoxSample]) -> Iterator[Metric]:
        state = GaugeMetricFamily(
            "orkestra_box_health_state",
            "1 for the box's current health state, 0 for the others.",
            labels=["box", "state"],
        )
        cross = CounterMetricFamily(
            "orkestra_cross_reads",
            "cross: reads made by the box's reconciles, by source and result.",
            labels=["box", "source", "result"],
        )
        for s in samples:
            for candidate in HealthState:
                state.add_metric([s.name, candidate.value], int(candidate is s.health.state))
            for (source, result), n in sorted(s.metrics.cross_reads_total.items()):
                cross.add_metric([s.name, source, result], n)
        hits = CounterMetricFamily(
            "orkestra_oncop_cache_hits",
            "Remote cross: reads answered from the ONCOP cache without a request.",
        )
        hits.add_metric([], self.source.oncop_cache_hits())
        yield from (state, cross, hits)


def metrics_registry(source: MetricsSource) -> CollectorRegistry:
    """A registry holding only the box collector (the process-global one is left alone)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BoxCollector(source))
    return registry


def render_metrics(source: MetricsSource) -> bytes:
    """The exposition text, as ``/metrics`` serves it."""
    return generate_latest(metrics_registry(source))


def metrics_routes(source: MetricsSource) -> list[Route]:
    """``GET /metrics``."""
    registry = metrics_registry(source)

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return [Route("/metrics", metrics, methods=["GET"])]
