"""The exposition read back with prometheus_client's own parser, from plain box metrics."""

from __future__ import annotations

import math

from prometheus_client.parser import text_string_to_metric_families

from orkestra_trio.runtime.health import BoxHealth
from orkestra_trio.runtime.metrics import BoxMetrics, cross_result
from orkestra_trio.web.metrics import render_metrics
from orkestra_trio.web.view import BoxSample


class Source:
    def __init__(self, samples: list[BoxSample], hits: int = 0) -> None:
        self._samples = samples
        self.hits = hits

    def samples(self) -> list[BoxSample]:
        return self._samples

    def oncop_cache_hits(self) -> int:
        return self.hits


def sample(name: str, metrics: BoxMetrics, health: BoxHealth, workers: int = 4) -> BoxSample:
    return BoxSample(
        name=name,
        kind=name.title(),
        health=health.snapshot(),
        metrics=metrics.snapshot(longest_running_processor=1.5),
        max_workers=workers,
        resource_count=3,
        paused=False,
    )


def families(source: Source) -> dict:
    text = render_metrics(source).decode()
    return {family.name: family for family in text_string_to_metric_families(text)}


def values(family, suffix: str = "") -> dict[tuple, float]:
    return {
        tuple(sorted(s.labels.items())): s.value
        for s in family.samples
        if s.name == family.name + suffix
    }


def test_counts_histograms_and_labels_come_from_the_snapshot():
    metrics = BoxMetrics()
    metrics.observe_reconcile("success", 0.004)
    metrics.observe_reconcile("success", 0.03)
    metrics.observe_reconcile("error", 2.0)
    metrics.queue_adds_total = 7
    metrics.queue_retries_total = 1
    metrics.queue_dropped_total = 3
    metrics.queue_depth = 2
    metrics.workers, metrics.active_workers = 4, 1
    metrics.queue_duration.observe(0.002)
    metrics.work_duration.observe(0.5)
    health = BoxHealth("loader", failure_threshold=1, clock=lambda: 0.0)
    health.mark_synced()
    health.record_failure("boom")
    fam = families(Source([sample("loader", metrics, health)], hits=12))

    total = values(fam["controller_runtime_reconcile"], "_total")
    assert total[(("controller", "loader"), ("result", "success"))] == 2
    assert total[(("controller", "loader"), ("result", "error"))] == 1
    assert total[(("controller", "loader"), ("result", "timeout"))] == 0
    assert values(fam["controller_runtime_reconcile_errors"], "_total") == {
        (("controller", "loader"),): 1
    }
    buckets = values(fam["controller_runtime_reconcile_time_seconds"], "_bucket")
    assert buckets[(("controller", "loader"), ("le", "0.005"))] == 1
    assert buckets[(("controller", "loader"), ("le", "0.05"))] == 2
    assert buckets[(("controller", "loader"), ("le", "+Inf"))] == 3
    assert math.isclose(
        values(fam["controller_runtime_reconcile_time_seconds"], "_sum")[
            (("controller", "loader"),)
        ],
        2.034,
    )
    assert values(fam["controller_runtime_active_workers"]) == {(("controller", "loader"),): 1}
    assert values(fam["controller_runtime_max_concurrent_reconciles"]) == {
        (("controller", "loader"),): 4
    }
    assert values(fam["workqueue_depth"]) == {(("name", "loader"),): 2}
    assert values(fam["workqueue_adds"], "_total") == {(("name", "loader"),): 7}
    assert values(fam["workqueue_retries"], "_total") == {(("name", "loader"),): 1}
    assert values(fam["orkestra_box_queue_dropped"], "_total") == {(("box", "loader"),): 3}
    assert values(fam["workqueue_longest_running_processor_seconds"]) == {
        (("name", "loader"),): 1.5
    }
    assert values(fam["workqueue_queue_duration_seconds"], "_count") == {(("name", "loader"),): 1}
    assert values(fam["workqueue_work_duration_seconds"], "_count") == {(("name", "loader"),): 1}
    state = values(fam["orkestra_box_health_state"])
    assert state[(("box", "loader"), ("state", "degraded"))] == 1
    assert sum(state.values()) == 1
    assert values(fam["orkestra_oncop_cache_hits"], "_total") == {(): 12}


def test_cross_reads_by_source_and_result():
    metrics = BoxMetrics()
    found = {"found": "true", "spec": {}, "status": {}}
    missing = {"found": "false", "spec": {}, "status": {}}
    metrics.observe_cross("db", "database", "same-process", found, at=1.0)
    metrics.observe_cross("db", "database", "same-process", missing, at=2.0)
    metrics.observe_cross(
        "loader", "loader", "oncop", {**found, "error": "timeout", "stale": "true"}, at=3.0
    )
    metrics.observe_cross("loader", "loader", "oncop", {**missing, "error": "refused"}, at=4.0)
    health = BoxHealth("app", clock=lambda: 0.0)
    fam = families(Source([sample("app", metrics, health)]))
    assert values(fam["orkestra_cross_reads"], "_total") == {
        (("box", "app"), ("result", "found"), ("source", "same-process")): 1,
        (("box", "app"), ("result", "not_found"), ("source", "same-process")): 1,
        (("box", "app"), ("result", "stale"), ("source", "oncop")): 1,
        (("box", "app"), ("result", "error"), ("source", "oncop")): 1,
    }
    last = metrics.snapshot().cross_last
    assert last["db"].result == "not_found" and last["db"].at == 2.0
    assert last["loader"].result == "error" and last["loader"].error == "refused"


def test_cross_result_follows_the_outcomes_table():
    assert cross_result({"found": "true"}) == "found"
    assert cross_result({"found": "false"}) == "not_found"
    assert cross_result({"found": "true", "error": "x", "stale": "true"}) == "stale"
    assert cross_result({"found": "false", "error": "x"}) == "error"
