"""CPU of a Website CR's two reconcile passes without I/O: plans, drift checks, .metrics.

What ``bench/vs_kopf.py`` measures as operator CPU per CR also holds the HTTP
client, the watches and the loop's own upkeep, and on a shared machine it moves
with the wall time (a slower run spends more in the loop's idle upkeep). This
measures only the in-process work of the passes, as the pipeline does it, with
the thread's CPU clock:

* pass 1, the CR new and without children: the plan (without its outcome where
  the runtime plans it so), then the outcome over the children as the server
  would answer their creates;
* pass 2, the Deployment available: the plan with its outcome, and the drift
  test of every child against the cached one.

Each pass reads ``.metrics`` as the box hands it to the plan. Run it against
two checkouts to compare (``PYTHONPATH=<checkout>/src python bench/plan_cost.py``);
the median of ``--runs`` rounds of ``--crs`` CRs, in microseconds per CR.
"""

from __future__ import annotations

import argparse
import copy
import inspect
import statistics
import time
from pathlib import Path
from typing import Any

import attrs

from orkestra_trio.katalog import load_katalogs
from orkestra_trio.katalog.plan import Observed, plan_outcome, plan_reconcile
from orkestra_trio.runtime.children import comparable, contains
from orkestra_trio.runtime.metrics import BoxMetrics

KATALOG = Path(__file__).resolve().parents[1] / "katalogs" / "website.yaml"
NOW = "2026-12-04T09:00:00Z"
#: Does this checkout plan a new CR's first pass without its outcome?
DEFERS_OUTCOME = "outcome" in inspect.signature(plan_reconcile).parameters


def metrics_for_plan(metrics: BoxMetrics) -> dict[str, Any]:
    """``.metrics`` as the box computes it for each plan (box.metrics_json)."""
    direct = getattr(metrics, "oncop_metrics", None)
    if direct is not None:
        return dict(direct())
    return dict(metrics.snapshot().oncop_metrics())


def website(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "demo.example.com/v1",
        "kind": "Website",
        "metadata": {
            "name": f"bench-{i:05d}",
            "namespace": "default",
            "uid": f"uid-{i}",
            "generation": 1,
            "resourceVersion": str(10 + i),
            "finalizers": ["orkestra.orkspace.io/finalizer"],
        },
        "spec": {"replicas": 1, "image": "nginx:1.27"},
    }


def as_served(manifest: dict[str, Any], i: int, ready: bool) -> dict[str, Any]:
    """The server's answer to creating ``manifest`` (and, ``ready``, once it is available)."""
    served = copy.deepcopy(manifest)
    meta = served.setdefault("metadata", {})
    meta.update(uid=f"child-{i}-{served['kind']}", resourceVersion=str(5000 + i))
    if ready and served["kind"] == "Deployment":
        served["status"] = {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1}
    return served


def two_passes(crd: Any, metrics: BoxMetrics, i: int) -> float:
    """Thread CPU seconds of CR ``i``'s two passes (the server's answers made outside)."""
    cr = website(i)
    cpu = 0.0
    started = time.thread_time()
    observed = Observed(cr, metrics=metrics_for_plan(metrics), now=NOW)
    if DEFERS_OUTCOME:
        plan = plan_reconcile(crd, observed, outcome=False)  # type: ignore[call-arg]
    else:
        plan = plan_reconcile(crd, observed)
    cpu += time.thread_time() - started
    assert plan.children is not None
    created = [as_served(c.manifest, i, False) for c in plan.children if c.manifest is not None]
    started = time.thread_time()
    outcome = plan_outcome(crd, attrs.evolve(observed, children=created))
    cpu += time.thread_time() - started
    assert outcome.status is not None
    cached = [as_served(c.manifest, i, True) for c in plan.children if c.manifest is not None]
    cr = {**cr, "status": outcome.status}
    started = time.thread_time()
    observed = Observed(cr, children=cached, metrics=metrics_for_plan(metrics), now=NOW)
    plan = plan_reconcile(crd, observed)
    assert plan.children is not None and plan.status is not None
    by_name = {(c["kind"], c["metadata"]["name"]): c for c in cached}
    for child in plan.children:
        if child.present and child.manifest is not None:
            found = by_name[(child.kind, child.name)]
            assert contains(found, comparable(child.manifest))
    cpu += time.thread_time() - started
    return cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crs", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    crd = load_katalogs([KATALOG]).crds["website"]
    metrics = BoxMetrics()
    for _ in range(50):
        metrics.observe_reconcile("success", 0.004)
    for i in range(200):  # warm-up: allocator, caches, the first-call costs
        two_passes(crd, metrics, i)
    per_cr = []
    for _ in range(args.runs):
        total = sum(two_passes(crd, metrics, i) for i in range(args.crs))
        per_cr.append(total / args.crs * 1e6)
    rounds = ", ".join(f"{v:.0f}" for v in per_cr)
    print(
        f"two passes of a Website CR: {statistics.median(per_cr):.0f} us CPU per CR "
        f"(median of {args.runs} x {args.crs}; rounds {rounds}; "
        f"first pass without outcome: {DEFERS_OUTCOME})"
    )


if __name__ == "__main__":
    main()
