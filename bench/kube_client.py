"""Benchmark of the Kubernetes client: what it costs us, and how fast it reaches the embedded server.

Measures, each as the median of several runs:

1. client-side cost per GET: the full verb path (mapper, URL, httpx request,
   auth hook, JSON decode) against a transport that answers at once with a
   canned body, so nothing but the client is measured;
2. client-side cost per decoded watch event: a canned watch stream of N
   events pushed through list+watch (line splitting, JSON decode, channel
   hand-off to the consumer);
3. round trips per second against the embedded API server in the same
   process: sequential GETs over the loopback socket and over the in-process
   streaming transport, and watch events per second on both paths.

Run: python bench/kube_client.py [--runs 5] [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import trio

from orkestra_trio.apiserver import open_apiserver
from orkestra_trio.kube import Synced, open_asgi_transport, open_kube_client

CM = ("v1", "ConfigMap")

OBJECT = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {
        "name": "bench",
        "namespace": "default",
        "uid": "0f6c3c1e-8a47-4a57-9a0e-5d1f7c8b2a11",
        "resourceVersion": "12345",
        "creationTimestamp": "2026-01-01T00:00:00Z",
        "labels": {"app": "bench", "tier": "backend"},
    },
    "data": {f"key{i}": "x" * 40 for i in range(20)},
}
OBJECT_BYTES = json.dumps(OBJECT).encode()


class CannedTransport(httpx.AsyncBaseTransport):
    """Answers every request with the same object: measures the client alone."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"content-type": "application/json"}, content=OBJECT_BYTES
        )


class _Lines(httpx.AsyncByteStream):
    def __init__(self, body: bytes, chunk: int = 16384):
        self._body = body
        self._chunk = chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for i in range(0, len(self._body), self._chunk):
            yield self._body[i : i + self._chunk]
        await trio.sleep_forever()  # a watch stays open


class CannedWatchTransport(httpx.AsyncBaseTransport):
    """An empty list, then one watch stream carrying ``n`` MODIFIED events."""

    def __init__(self, n: int):
        lines = []
        for i in range(n):
            obj = dict(OBJECT, metadata=dict(OBJECT["metadata"], resourceVersion=str(i + 1)))  # type: ignore[call-overload]
            lines.append(json.dumps({"type": "MODIFIED", "object": obj}).encode())
        self._body = b"\n".join(lines) + b"\n"

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.params.get("watch") == "true":
            return httpx.Response(200, stream=_Lines(self._body))
        return httpx.Response(
            200, json={"kind": "ConfigMapList", "metadata": {"resourceVersion": "0"}, "items": []}
        )


async def client_get_cost(n: int) -> float:
    async with open_kube_client("http://bench.invalid", transport=CannedTransport()) as kube:
        await kube.get(CM, "bench")
        start = time.perf_counter()
        for _ in range(n):
            await kube.get(CM, "bench")
        return (time.perf_counter() - start) / n


async def client_event_cost(n: int) -> float:
    transport = CannedWatchTransport(n)
    async with (
        open_kube_client("http://bench.invalid", transport=transport) as kube,
        kube.list_watch(CM) as events,
    ):
        assert isinstance(await events.next(), Synced)
        start = time.perf_counter()
        for _ in range(n):
            await events.next()
        return (time.perf_counter() - start) / n


async def server_rates(n_gets: int, n_events: int) -> dict[str, float]:
    """GET round trips/s and watch events/s: socket vs in-process transport."""
    out: dict[str, float] = {}
    async with open_apiserver(port=0, workload_simulation=False) as server:
        async with open_kube_client(server.url) as kube:
            await kube.create({**OBJECT, "metadata": {"name": "bench"}})
        async with open_asgi_transport(server.app) as transport:
            for label, kw in (("socket", {}), ("in-process", {"transport": transport})):
                async with open_kube_client(server.url, **kw) as kube:  # type: ignore[arg-type]
                    await kube.get(CM, "bench")
                    start = time.perf_counter()
                    for _ in range(n_gets):
                        await kube.get(CM, "bench")
                    out[f"GET/s {label}"] = n_gets / (time.perf_counter() - start)
                    out[f"watch events/s {label}"] = await _watch_rate(kube, n_events)
                    out[f"patch+event/s {label}"] = await _live_rate(kube, n_events // 4)
    return out


async def _watch_rate(kube: Any, n: int) -> float:
    """Decoded watch events/s: N changes made first, then replayed from the revision before."""
    before = (await kube.get(CM, "bench"))["metadata"]["resourceVersion"]
    for i in range(n):
        await kube.merge_patch(CM, "bench", {"data": {"key0": str(i)}})
    start = time.perf_counter()
    async with kube.list_watch(CM, resource_version=before) as events:
        for _ in range(n):
            await events.next()
        replay = n / (time.perf_counter() - start)
    return replay


async def _live_rate(kube: Any, n: int) -> float:
    """Patch → event round trips/s while a watch is live (bounded by the write path)."""
    async with kube.list_watch(CM) as events:
        assert isinstance(await events.next(), Synced)
        received = 0
        start = time.perf_counter()

        async def writer() -> None:
            for i in range(n):
                await kube.merge_patch(CM, "bench", {"data": {"key0": str(i)}})

        async with trio.open_nursery() as nursery:
            nursery.start_soon(writer)
            while received < n:
                await events.next()
                received += 1
        return n / (time.perf_counter() - start)


def median_of(runs: int, fn: Callable[[], Awaitable[Any]]) -> Any:
    results = [trio.run(fn) for _ in range(runs)]
    if isinstance(results[0], dict):
        return {k: statistics.median(r[k] for r in results) for k in results[0]}
    return statistics.median(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    args = parser.parse_args()
    n_get, n_ev, n_srv, n_srv_ev = (200, 500, 100, 100) if args.quick else (3000, 20000, 1500, 900)

    get_cost = median_of(args.runs, lambda: client_get_cost(n_get))
    event_cost = median_of(args.runs, lambda: client_event_cost(n_ev))
    rates = median_of(args.runs, lambda: server_rates(n_srv, n_srv_ev))

    print(f"kube client benchmark (median of {args.runs} runs)")
    print(f"  client-side cost per GET:           {get_cost * 1e6:8.1f} µs")
    print(f"  client-side cost per watch event:   {event_cost * 1e6:8.1f} µs")
    for key, value in rates.items():
        print(f"  {key:<36s}{value:8.0f}")
    sock, inproc = rates["GET/s socket"], rates["GET/s in-process"]
    print(f"  GET ratio in-process / socket:      {inproc / sock:8.2f}x")
    ev_sock, ev_in = rates["watch events/s socket"], rates["watch events/s in-process"]
    print(f"  watch ratio in-process / socket:    {ev_in / ev_sock:8.2f}x")
    print(f"  client share of a socket GET:       {get_cost * sock * 100:8.1f} %")


if __name__ == "__main__":
    main()
