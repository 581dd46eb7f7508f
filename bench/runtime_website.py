"""Benchmark of the whole runtime: N Website CRs applied at once on the embedded default.

What it measures (one run; ``--runs`` for the median of several):

* time from the first create until every CR is Ready (Ready=True and phase
  Running, i.e. the simulated Deployment became available and the status
  followed), seen in the box's own informer cache;
* reconciles per second over that period;
* API requests the runtime made per CR until Ready, per reconcile, and by
  (verb, resource) — the embedded server counts every request;
* the steady state: every CR re-enqueued once more, the requests that pass
  made (goal 0) and its reconciles per second;
* RSS growth per cached object (CRs, Deployments, Services in the informer
  caches; the embedded server keeps its own copy in the same process, so this
  is an upper bound for the runtime alone).

Goals (issue 5): all 1,000 Ready in under 20 s on a 2-core machine, at most 4
requests per first reconcile, 0 per steady-state reconcile.

Run: ``python bench/runtime_website.py`` (``--crs 200`` for a quick run).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

import trio

from orkestra_trio.runtime.informer import Change
from orkestra_trio.runtime.runtime import open_runtime

KATALOG = Path(__file__).parents[1] / "katalogs" / "website.yaml"
GOAL_READY_SECONDS = 20.0
GOAL_FIRST_REQUESTS = 4.0


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def website(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "demo.example.com/v1",
        "kind": "Website",
        "metadata": {"name": f"bench-{i:05d}", "namespace": "default"},
        "spec": {"replicas": 1, "image": "nginx:1.27"},
    }


def is_ready(obj: Any) -> bool:
    status = obj.get("status") or {}
    if status.get("phase") != "Running":
        return False
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or ()
    )


async def measure(katalog: Path, n: int, concurrency: int) -> dict[str, Any]:
    async with open_runtime(katalog, embedded=True) as rt:
        assert rt.apiserver is not None
        await rt.wait_ready()
        await rt.wait_idle(settle=0.3)  # the sample CR of crFiles settles first
        box = rt.box("website")
        assert box.cr_informer is not None
        names = {f"bench-{i:05d}" for i in range(n)}
        ready: set[str] = set()
        all_ready = trio.Event()

        def watch(change: Change) -> None:
            name = change.key[1]
            if name in names and change.new is not None and is_ready(change.new):
                ready.add(name)
                if len(ready) == n:
                    all_ready.set()

        box.cr_informer.subscribe(watch)

        # One CR alone first: the requests of exactly one first reconcile.
        reconciles_mark = box.health.total_reconciles
        sent_mark = rt.kube.request_count
        await rt.kube.create(website(99999))
        with trio.fail_after(30):
            await box.health.wait_until(lambda s: s.total_reconciles > reconciles_mark)
        first_reconcile = rt.kube.request_count - sent_mark - 1  # minus our create
        await rt.wait_idle(settle=0.5)
        requests_before = Counter(rt.apiserver.request_count)
        reconciles_before = box.health.total_reconciles
        rss_before = rss_kib()
        cached_before = sum(len(i) for i in rt.registry.informers)

        start = time.perf_counter()
        limiter = trio.CapacityLimiter(concurrency)

        async def create(i: int) -> None:
            async with limiter:
                await rt.kube.create(website(i))

        async with trio.open_nursery() as nursery:
            for i in range(n):
                nursery.start_soon(create, i)
        created = time.perf_counter() - start
        with trio.fail_after(300):
            await all_ready.wait()
        elapsed = time.perf_counter() - start
        reconciles = box.health.total_reconciles - reconciles_before
        await rt.wait_idle(settle=0.5)
        rss_after = rss_kib()
        cached_after = sum(len(i) for i in rt.registry.informers)
        first = Counter(rt.apiserver.request_count)
        first.subtract(requests_before)
        first[("create", "websites")] -= n  # the benchmark's own creates
        first_requests = {k: v for k, v in first.items() if v}
        total_first = sum(first_requests.values())
        all_reconciles = box.health.total_reconciles - reconciles_before

        # Steady state: one more pass over every CR; nothing drifted.
        steady_before = Counter(rt.apiserver.request_count)
        reconciles_mark = box.health.total_reconciles
        steady_start = time.perf_counter()
        for key in box.cr_informer.keys():  # noqa: SIM118
            box.queue.add(key)
        await rt.wait_idle(settle=0.05)
        steady_elapsed = time.perf_counter() - steady_start - 0.05
        steady_reconciles = box.health.total_reconciles - reconciles_mark
        steady = Counter(rt.apiserver.request_count)
        steady.subtract(steady_before)
        steady_requests = sum(v for v in steady.values() if v)
        return {
            "n": n,
            "create_seconds": created,
            "ready_seconds": elapsed,
            "reconciles_until_ready": reconciles,
            "reconciles_per_second": reconciles / elapsed,
            "first_reconcile_requests": first_reconcile,
            "requests_per_cr": total_first / n,
            "requests_per_reconcile": total_first / max(1, all_reconciles),
            "requests_by_kind": {f"{v} {r}": c / n for (v, r), c in sorted(first_requests.items())},
            "steady_reconciles": steady_reconciles,
            "steady_requests": steady_requests,
            "steady_reconciles_per_second": steady_reconciles / max(steady_elapsed, 1e-9),
            "rss_per_object_kib": (rss_after - rss_before) / max(1, cached_after - cached_before),
            "cached_objects": cached_after - cached_before,
            "watches": len(rt.registry.informers),
            "cached_total": cached_after,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crs", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=64, help="parallel creates")
    parser.add_argument(
        "--katalog",
        type=Path,
        default=KATALOG,
        help="a Website Katalog variant (default: the bundled one, whose onDelete needs a finalizer)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    results = [
        trio.run(measure, args.katalog, args.crs, args.concurrency) for _ in range(args.runs)
    ]

    def med(key: str) -> float:
        return statistics.median(r[key] for r in results)

    last = results[-1]
    print(f"{args.crs} Website CRs on the embedded API server, median of {args.runs} run(s)")
    print(f"  creates sent in          {med('create_seconds'):8.2f} s")
    ready = med("ready_seconds")
    print(
        f"  all Ready after          {ready:8.2f} s   "
        f"(goal < {GOAL_READY_SECONDS:g} s: ratio {ready / GOAL_READY_SECONDS:.2f})"
    )
    print(f"  reconciles until Ready   {med('reconciles_until_ready'):8.0f}")
    print(f"  reconciles/s             {med('reconciles_per_second'):8.1f}")
    first = med("first_reconcile_requests")
    print(
        f"  requests, first reconcile {first:7.0f}   "
        f"(goal <= {GOAL_FIRST_REQUESTS:g}: ratio {first / GOAL_FIRST_REQUESTS:.2f})"
    )
    per_cr = med("requests_per_cr")
    print(f"  API requests per CR      {per_cr:8.2f}   (until Ready, all reconciles of a CR)")
    print(f"  API requests / reconcile {med('requests_per_reconcile'):8.2f}")
    for name, value in last["requests_by_kind"].items():
        print(f"      {name:28s} {value:6.2f} per CR")
    print(
        f"  steady state: {med('steady_reconciles'):.0f} reconciles, "
        f"{med('steady_requests'):.0f} requests "
        f"({med('steady_requests') / max(1, med('steady_reconciles')):.3f} per reconcile, goal 0), "
        f"{med('steady_reconciles_per_second'):.0f} reconciles/s"
    )
    print(
        f"  RSS growth per cached object {med('rss_per_object_kib'):6.1f} KiB "
        f"({last['cached_objects']} objects; includes the embedded server's copy)"
    )
    print(f"  informers (one watch each) {last['watches']}, objects cached {last['cached_total']}")


if __name__ == "__main__":
    main()
