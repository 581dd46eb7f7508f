"""Benchmark of the runtime's lowest layer: workqueue throughput and box isolation under a flood.

Three numbers, each the median of several runs on the real clock:

* adds/s: ``WorkQueue.add`` of distinct keys, and of an already-queued key (dedup);
* keys/s: keys processed through one box (WorkQueue + WorkerPool + safe_reconcile
  + health + metrics) with N workers and a trivial reconcile;
* isolation: the enqueue-to-reconcile latency of a healthy box while another box
  in the same Trio loop works through a backlog of 100,000 keys, as a ratio to
  the same latency with no flood.

Run: ``python bench/workqueue.py`` (``--quick`` for a short smoke run).
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable

import trio

from orkestra_trio.runtime import BoxHealth, WorkerPool, WorkQueue


def median_of(runs: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(runs))


# ------------------------------------------------------------------- adds/s


def adds_per_second(n: int) -> float:
    async def main() -> float:
        q: WorkQueue[str] = WorkQueue()
        keys = [f"default/cr-{i}" for i in range(n)]
        start = time.perf_counter()
        for key in keys:
            q.add(key)
        return n / (time.perf_counter() - start)

    return trio.run(main)


def dedup_adds_per_second(n: int) -> float:
    async def main() -> float:
        q: WorkQueue[str] = WorkQueue()
        q.add("default/cr")
        start = time.perf_counter()
        for _ in range(n):
            q.add("default/cr")
        return n / (time.perf_counter() - start)

    return trio.run(main)


# ------------------------------------------------------------------- keys/s


async def trivial_reconcile(key: str) -> None:
    return None


def keys_per_second(n: int, workers: int) -> float:
    async def main() -> float:
        q: WorkQueue[str] = WorkQueue()
        pool = WorkerPool(q, trivial_reconcile, workers=workers, timeout=30, health=BoxHealth("b"))
        for i in range(n):
            q.add(f"default/cr-{i}")
        async with trio.open_nursery() as nursery:
            start = time.perf_counter()
            await nursery.start(pool.run)
            await q.wait_idle()
            elapsed = time.perf_counter() - start
            q.shutdown()
        return n / elapsed

    return trio.run(main)


# ---------------------------------------------------------------- isolation


def healthy_box_latency(
    flood: int, samples: int, workers: int
) -> tuple[float, float, float, float]:
    """Latency of a healthy box while another box of the same loop drains a backlog.

    The flooded box first gets ``flood`` keys in one synchronous burst (timed:
    that burst is the one moment the loop is not shared), then works through
    them with a reconcile that yields once per key like real async work. The
    healthy box meanwhile gets one key every millisecond. Returns the healthy
    box's median and p99 enqueue-to-reconcile latency, the burst time and the
    flooded box's drain time (seconds).
    """

    async def main() -> tuple[float, float, float, float]:
        flooded: WorkQueue[str] = WorkQueue(name="flooded")
        healthy: WorkQueue[str] = WorkQueue(name="healthy")
        added_at: dict[str, float] = {}
        latencies: list[float] = []

        async def flooded_reconcile(key: str) -> None:
            await trio.lowlevel.checkpoint()

        async def healthy_reconcile(key: str) -> None:
            latencies.append(time.perf_counter() - added_at.pop(key))
            await trio.lowlevel.checkpoint()

        flooded_pool = WorkerPool(flooded, flooded_reconcile, workers=workers, timeout=30)
        healthy_pool = WorkerPool(healthy, healthy_reconcile, workers=workers, timeout=30)
        async with trio.open_nursery() as nursery:
            await nursery.start(flooded_pool.run)
            await nursery.start(healthy_pool.run)
            start = time.perf_counter()
            for i in range(flood):
                flooded.add(f"default/flood-{i}")
            burst = time.perf_counter() - start
            for i in range(samples):
                key = f"default/healthy-{i}"
                added_at[key] = time.perf_counter()
                healthy.add(key)
                await trio.sleep(0.001)
            still_flooded = len(flooded)
            await healthy.wait_idle()
            await flooded.wait_idle()
            drain = time.perf_counter() - start
            flooded.shutdown()
            healthy.shutdown()
        if flood and not still_flooded:
            print("    (warning: the flood drained before sampling ended)")
        latencies.sort()
        p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
        return statistics.median(latencies), p99, burst, drain

    return trio.run(main)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (median reported)")
    parser.add_argument("--quick", action="store_true", help="small sizes, 1 run: a smoke test")
    args = parser.parse_args()
    runs = 1 if args.quick else args.runs
    n_adds = 20_000 if args.quick else 200_000
    n_keys = 5_000 if args.quick else 50_000
    flood = 20_000 if args.quick else 100_000
    samples = 200 if args.quick else 1000

    print(f"workqueue benchmark, median of {runs} run(s)")
    print(
        f"  add, distinct keys:    {median_of(runs, lambda: adds_per_second(n_adds)):>12,.0f} adds/s"
    )
    print(
        f"  add, deduplicated:     {median_of(runs, lambda: dedup_adds_per_second(n_adds)):>12,.0f} adds/s"
    )
    for workers in (1, 4, 16, 50):
        rate = median_of(runs, functools.partial(keys_per_second, n_keys, workers))
        print(f"  processed, {workers:>2} workers:  {rate:>12,.0f} keys/s (trivial reconcile)")

    workers = 4
    quiet = [healthy_box_latency(0, samples, workers) for _ in range(runs)]
    loud = [healthy_box_latency(flood, samples, workers) for _ in range(runs)]
    q_med = statistics.median(r[0] for r in quiet)
    q_p99 = statistics.median(r[1] for r in quiet)
    l_med = statistics.median(r[0] for r in loud)
    l_p99 = statistics.median(r[1] for r in loud)
    burst = statistics.median(r[2] for r in loud)
    drain = statistics.median(r[3] for r in loud)
    print(f"  isolation ({workers} workers per box, healthy box fed 1 key/ms for {samples} ms):")
    print(f"    no flood:  median {q_med * 1e6:6.0f} us   p99 {q_p99 * 1e6:6.0f} us")
    print(
        f"    flooded:   median {l_med * 1e6:6.0f} us   p99 {l_p99 * 1e6:6.0f} us"
        f"   (other box: {flood:,} keys added in {burst * 1e3:.0f} ms, drained in {drain:.2f} s)"
    )
    print(f"    ratio flooded/no flood: median {l_med / q_med:.2f}x   p99 {l_p99 / q_p99:.2f}x")


if __name__ == "__main__":
    main()
