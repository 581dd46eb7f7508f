"""Benchmark of the embedded API server against the goals of issue 3.

Request rates are measured over loopback against a server running in a second
process (``python -m orkestra_trio apiserver``), driven by a minimal raw-socket
HTTP/1.1 keep-alive client so the client's own cost stays small. Watch fan-out
runs the server in this process (a writer commits straight into the store)
with raw-socket watchers reading the chunked streams. Memory per stored object
is measured with tracemalloc on a store holding 4 KB ConfigMaps.

Every number is the median of several runs, printed with its ratio to the goal
(ratio >= 1 meets it). Request rates also print the server process's own CPU
seconds per 1,000 requests (from /proc): on a shared, loaded machine that
figure moves far less than a rate, which the load-generating client and the
neighbours share. Run: ``python bench/apiserver_bench.py [--quick]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import selectors
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path

import trio

GOALS = {
    "get_per_s": 1500.0,
    "watch_events_per_s_1": 10_000.0,
    "watch_events_per_s_20": 10_000.0,
    "bytes_per_4kb_object": 15 * 1024.0,
}


# ------------------------------------------------------------------ raw HTTP client


class RawClient:
    """One keep-alive HTTP/1.1 connection; just enough parsing for the server's answers."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buf = b""

    @classmethod
    async def connect(cls, port: int) -> RawClient:
        return cls(await trio.open_tcp_stream("127.0.0.1", port))

    async def request(
        self, method: str, path: str, body: bytes = b"", ctype: str = "application/json"
    ) -> tuple[int, bytes]:
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n"
            "User-Agent: bench/1.0\r\n"
        )
        if body or method in ("POST", "PUT", "PATCH"):
            head += f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
        await self.stream.send_all(head.encode() + b"\r\n" + body)
        while b"\r\n\r\n" not in self.buf:
            self.buf += await self._receive()
        header, _, rest = self.buf.partition(b"\r\n\r\n")
        status = int(header[9:12])
        length = 0
        for line in header.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            rest += await self._receive()
        self.buf = rest[length:]
        return status, rest[:length]

    async def _receive(self) -> bytes:
        data = await self.stream.receive_some(1 << 16)
        if not data:
            raise ConnectionError("server closed the connection")
        return data

    async def aclose(self) -> None:
        await self.stream.aclose()


async def run_clients(
    port: int,
    connections: int,
    seconds: float,
    make_request: Callable[[int, int], tuple[str, str, bytes, str]],
    expect: int,
) -> tuple[float, int]:
    """Requests per second over ``connections`` keep-alive connections for ``seconds``, and their count."""
    done = 0
    errors = 0

    async def worker(index: int) -> None:
        nonlocal done, errors
        client = await RawClient.connect(port)
        i = 0
        try:
            while trio.current_time() < deadline:
                method, path, body, ctype = make_request(index, i)
                status, _ = await client.request(method, path, body, ctype)
                if status != expect:
                    errors += 1
                done += 1
                i += 1
        finally:
            await client.aclose()

    deadline = trio.current_time() + seconds
    started = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for index in range(connections):
            nursery.start_soon(worker, index)
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{errors} requests failed")
    return done / elapsed, done


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------ server process


# The server process: open_apiserver directly (independent of the CLI's other commands).
_SERVER_SCRIPT = """
import trio
from orkestra_trio.apiserver import open_apiserver

async def main():
    async with open_apiserver(workload_simulation=False) as server:
        print("serving the Kubernetes API on " + server.url, flush=True)
        await trio.sleep_forever()

try:
    trio.run(main)
except KeyboardInterrupt:
    pass
"""


def start_server(tmp: Path) -> tuple[subprocess.Popen[str], int]:
    del tmp
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVER_SCRIPT],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if sel.select(0.5):
            line = proc.stdout.readline()
            if line.startswith("serving the Kubernetes API on "):
                sel.close()
                return proc, int(line.strip().rpartition(":")[2])
    proc.kill()
    raise RuntimeError("server did not start")


def stop_server(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    proc.wait(timeout=10)
    if proc.stdout:
        proc.stdout.close()


def configmap(name: str, size: int = 64) -> bytes:
    return json.dumps({"metadata": {"name": name}, "data": {"payload": "x" * size}}).encode()


async def request_rates(
    port: int, pid: int, seconds: float, runs: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Median requests/s per verb, and median server CPU seconds per 1,000 of them.

    CPU is the server process's own (from /proc), so the load-generating client
    and the other processes on a shared machine do not count in it.
    """
    cm = "/api/v1/namespaces/default/configmaps"
    setup = await RawClient.connect(port)
    await setup.request("POST", cm, configmap("target"))
    await setup.request(
        "POST", "/api/v1/namespaces", json.dumps({"metadata": {"name": "big"}}).encode()
    )
    for i in range(1000):
        await setup.request(
            "POST", "/api/v1/namespaces/big/configmaps", configmap(f"item-{i:04d}", 200)
        )
    await setup.aclose()
    rates: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}

    async def measure(
        name: str,
        connections: int,
        make_request: Callable[[int, int], tuple[str, str, bytes, str]],
        expect: int,
    ) -> None:
        before = server_cpu_seconds(pid)
        rate, count = await run_clients(port, connections, seconds, make_request, expect)
        used = server_cpu_seconds(pid) - before
        rates.setdefault(name, []).append(rate)
        cpu.setdefault(name, []).append(used / max(count, 1) * 1000)

    for run in range(runs):
        await measure("get_per_s", 8, lambda c, i: ("GET", f"{cm}/target", b"", ""), 200)
        await measure(
            "list_1000_per_s",
            2,
            lambda c, i: ("GET", "/api/v1/namespaces/big/configmaps", b"", ""),
            200,
        )
        await measure(
            "create_per_s",
            8,
            lambda c, i, r=run: ("POST", cm, configmap(f"c-{r}-{c}-{i}"), "application/json"),
            201,
        )
        await measure(
            "merge_patch_per_s",
            8,
            lambda c, i: (
                "PATCH",
                f"{cm}/target",
                json.dumps({"data": {f"k{c}": str(i)}}).encode(),
                "application/merge-patch+json",
            ),
            200,
        )
    return (
        {k: statistics.median(v) for k, v in rates.items()},
        {k: statistics.median(v) for k, v in cpu.items()},
    )


# ------------------------------------------------------------------ watch fan-out


async def watch_fanout(watchers: int, events: int) -> float:
    """Events delivered per second (summed over watchers) while a writer commits ``events``."""
    from orkestra_trio.apiserver import open_apiserver

    async with open_apiserver(workload_simulation=False, watch_buffer=events + 10) as server:
        store = server.store
        kind = store.kinds.resolve("", "v1", "configmaps")
        assert kind is not None
        start_rv = store.revision
        received = [0] * watchers
        all_done = trio.Event()
        ready = trio.Event()
        connected = 0

        async def reader(index: int) -> None:
            nonlocal connected
            stream = await trio.open_tcp_stream("127.0.0.1", server.port)
            path = f"/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={start_rv}"
            await stream.send_all(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            connected += 1
            if connected == watchers:
                ready.set()
            count = 0
            try:
                while count < events:
                    data = await stream.receive_some(1 << 18)
                    if not data:
                        break
                    count += data.count(b'{"type":')
                    received[index] = count
            finally:
                await stream.aclose()
            if all(r >= events for r in received):
                all_done.set()

        async with trio.open_nursery() as nursery:
            for i in range(watchers):
                nursery.start_soon(reader, i)
            await ready.wait()
            with trio.fail_after(30):
                while store.hub.count() < watchers:
                    await trio.sleep(0.001)
            payload = "x" * 64
            started = time.perf_counter()
            for i in range(events):
                store.create(
                    kind, "default", {"metadata": {"name": f"w{i}"}, "data": {"p": payload}}
                )
                if i % 50 == 49:
                    await trio.sleep(0)
            with trio.fail_after(60):
                await all_done.wait()
            elapsed = time.perf_counter() - started
            nursery.cancel_scope.cancel()
        return sum(received) / elapsed


# ------------------------------------------------------------------ memory


def memory_per_object(count: int) -> float:
    from orkestra_trio.apiserver.store import Store

    store = Store(history_size=1000)
    store.bootstrap()
    kind = store.kinds.resolve("", "v1", "configmaps")
    assert kind is not None
    bodies = [
        {"metadata": {"name": f"m{i}", "labels": {"app": "bench"}}, "data": {"payload": "y" * 4000}}
        for i in range(count)
    ]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for body in bodies:
        store.create(kind, "default", body, manager="bench")
    # Worst case: every object has been read, so its JSON bytes are cached too.
    store.list(kind, "default")
    for _key, stored in store.iter_objects(("", "configmaps"), "default"):
        stored.raw()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    # The request bodies themselves belong to the caller; the store keeps its own dicts.
    return (after - before) / count


# ------------------------------------------------------------------ main


def report(
    name: str,
    value: float,
    goal: float | None,
    *,
    lower_is_better: bool = False,
    cpu_per_1000: float | None = None,
) -> None:
    cpu = "" if cpu_per_1000 is None else f"   server CPU {cpu_per_1000:6.3f} s/1,000"
    if goal is None:
        print(f"{name:28s} {value:12.1f}{' ' * 40}{cpu}")
        return
    ratio = goal / value if lower_is_better else value / goal
    print(
        f"{name:28s} {value:12.1f}   goal {goal:10.0f}   ratio {ratio:5.2f} "
        f"{'OK   ' if ratio >= 1 else 'BELOW'}{cpu}"
    )


def median_of(runs: int, fn: Callable[[], Awaitable[float]]) -> float:
    return statistics.median(trio.run(fn) for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    args = parser.parse_args()
    runs = 3
    seconds = 1.0 if args.quick else 2.0
    events = 2000 if args.quick else 5000

    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_server(Path(tmp))
        load = os.getloadavg()
        try:
            rates, cpu = trio.run(request_rates, port, proc.pid, seconds, runs)
        finally:
            stop_server(proc)
    print(f"load average before the request runs: {load[0]:.2f} (on {os.cpu_count()} cores)")
    report(
        "GET one object /s", rates["get_per_s"], GOALS["get_per_s"], cpu_per_1000=cpu["get_per_s"]
    )
    for name, key in (
        ("list of 1,000 /s", "list_1000_per_s"),
        ("create /s", "create_per_s"),
        ("merge-patch /s", "merge_patch_per_s"),
    ):
        report(name, rates[key], None, cpu_per_1000=cpu[key])
    one = median_of(runs, lambda: watch_fanout(1, events))
    report("watch events/s, 1 watcher", one, GOALS["watch_events_per_s_1"])
    twenty = median_of(runs, lambda: watch_fanout(20, events // 4))
    report("watch events/s, 20 watchers", twenty, GOALS["watch_events_per_s_20"])
    mem = statistics.median(memory_per_object(2000) for _ in range(runs))
    report("bytes per 4 KB object", mem, GOALS["bytes_per_4kb_object"], lower_is_better=True)


if __name__ == "__main__":
    main()
