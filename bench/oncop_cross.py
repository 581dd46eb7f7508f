"""Benchmark of cross-operator observation: read costs, the ONCOP server, change-to-status latency.

Figures (issue 6, "Speed"):

* same-process cross read: ``registry.read_cross`` of the seeds' App reading
  its ManagedDatabase (goal: a dictionary lookup, under 5 µs), next to the
  bare informer lookup it wraps;
* remote cross read with a warm cache: ``RemoteReader.read_with_key`` of an
  answer already cached (no request);
* ONCOP server requests/s for ``/katalog/<crd>/cr/<ns>/<name>``: a runtime in
  its own process (``python -m orkestra_trio``), loaded from this process by
  ``--clients`` concurrent keep-alive httpx clients (the client costs CPU on
  the same 2 cores, so this is a lower bound);
* time from an observed change to the observer's status, same process: the
  ManagedDatabase's status changing (seen in the informer) to the App's
  status following it (one reconcile of the App);
* the same across processes: a Loader's spec changed in the loader runtime
  (its own process) to the Processor runtime (this process, ONCOP over
  loopback, ``cacheFor`` 1 s) rewriting its Deployment from the new answer.
  Expect about half of ``cacheFor`` plus the loader's reconcile: remote
  objects are polled, not watched.

Run: ``python bench/oncop_cross.py`` (about 30 s).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import trio
import yaml

from orkestra_trio.katalog.model import CrossEntry, CrossSource, Selector
from orkestra_trio.katalog.render import build_context
from orkestra_trio.kube import find_config, open_kube_client
from orkestra_trio.oncop.reader import open_remote_reader
from orkestra_trio.runtime.informer import Change
from orkestra_trio.runtime.runtime import open_runtime

ROOT = Path(__file__).parents[1]
CROSS_KATALOG = ROOT / "katalogs" / "cross-same-binary.yaml"
GOAL_SAME_PROCESS_US = 5.0
STATEFULSET = ("apps/v1", "StatefulSet")
LOADER = ("demo.example.com/v1", "Loader")
DEPLOY = ("apps/v1", "Deployment")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def timed_reads(read: Any, n: int) -> float:
    """Median µs per call of ``await read()`` over 5 batches of ``n``."""
    batches = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(n):
            await read()
        batches.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(batches)


async def same_process(n: int) -> None:
    async with open_runtime(CROSS_KATALOG, embedded=True, workload_simulation=False) as rt:
        await rt.wait_ready()
        await rt.wait_idle()
        app = rt.box("app")
        entry = app.model.cross[0]
        assert app.cr_informer is not None
        cr = app.cr_informer.get("default", "shop")
        assert cr is not None
        context = build_context(cr)
        db_informer = await rt.registry.cr_informer(entry.crd)

        async def read() -> None:
            await rt.registry.read_cross(
                entry, name="shop-db", namespace="default", context=context
            )

        async def lookup() -> None:
            db_informer.get("default", "shop-db")

        cross_us = await timed_reads(read, n)
        lookup_us = await timed_reads(lookup, n)
        verdict = "ok" if cross_us < GOAL_SAME_PROCESS_US else "over goal"
        print(
            f"same-process cross read: {cross_us:.2f} µs (goal < {GOAL_SAME_PROCESS_US:g} µs, "
            f"{verdict}); bare informer lookup in the same loop: {lookup_us:.2f} µs"
        )

        # Change -> observer status: the database's StatefulSet becomes ready; time from
        # the database's status change (its informer) to the App's status following it.
        marks: dict[str, float] = {}

        def on_db(change: Change) -> None:
            phase = ((change.new or {}).get("status") or {}).get("phase")
            if phase == "Ready" and "db" not in marks:
                marks["db"] = time.perf_counter()

        def on_app(change: Change) -> None:
            database = ((change.new or {}).get("status") or {}).get("database")
            if database == "Ready" and "app" not in marks:
                marks["app"] = time.perf_counter()

        db_informer.subscribe(on_db)
        app.cr_informer.subscribe(on_app)
        async with open_kube_client(rt.server_url) as kube:
            await kube.patch_status(
                STATEFULSET,
                "shop-db",
                {"status": {"replicas": 1, "readyReplicas": 1}},
                namespace="default",
            )
            with trio.fail_after(10):
                while "app" not in marks:
                    await trio.sleep(0.001)
        print(
            "same-process change -> observer status: "
            f"{(marks['app'] - marks['db']) * 1000:.1f} ms (database status seen -> App status "
            "seen, one App reconcile with its status write)"
        )


class Process:
    def __init__(self, args: list[str], cwd: Path, log: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
        env["HOME"] = str(cwd)
        with log.open("ab") as out:
            self.popen = subprocess.Popen(args, cwd=cwd, env=env, stdout=out, stderr=out)

    async def stop(self) -> None:
        self.popen.send_signal(signal.SIGTERM)
        with trio.move_on_after(10):
            while self.popen.poll() is None:
                await trio.sleep(0.05)
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()


async def wait_http(http: httpx.AsyncClient, url: str) -> None:
    with trio.fail_after(30):
        while True:
            try:
                if (await http.get(url)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await trio.sleep(0.05)


async def remote(tmp: Path, n: int, seconds: float, clients: int, samples: int) -> None:
    shutil.copytree(ROOT / "katalogs" / "oncop-loader", tmp / "oncop-loader")
    shutil.copytree(ROOT / "katalogs" / "oncop-processor", tmp / "oncop-processor")
    port = free_port()
    loader_katalog = tmp / "oncop-loader.yaml"
    loader_katalog.write_text((ROOT / "katalogs" / "oncop-loader.yaml").read_text())
    kubeconfig = tmp / "loader.kubeconfig"
    loader = Process(
        [
            sys.executable,
            "-m",
            "orkestra_trio",
            str(loader_katalog),
            "--listen",
            f"127.0.0.1:{port}",
            "--kubeconfig-out",
            str(kubeconfig),
        ],
        tmp,
        tmp / "loader.log",
    )
    base = f"http://127.0.0.1:{port}"
    cr_path = "/katalog/loader/cr/default/ingest-loader"
    try:
        async with httpx.AsyncClient(timeout=5, trust_env=False) as http:
            await wait_http(http, base + cr_path)

            # The ONCOP server under load.
            count = 0
            deadline = time.perf_counter() + seconds

            async def client() -> None:
                nonlocal count
                async with httpx.AsyncClient(timeout=5, trust_env=False) as own:
                    while time.perf_counter() < deadline:
                        response = await own.get(base + cr_path)
                        assert response.status_code == 200
                        count += 1

            start = time.perf_counter()
            async with trio.open_nursery() as nursery:
                for _ in range(clients):
                    nursery.start_soon(client)
            rate = count / (time.perf_counter() - start)
            print(
                f"ONCOP server {cr_path}: {rate:.0f} requests/s "
                f"(server in its own process, {clients} keep-alive httpx clients in this one, same 2 cores)"
            )

        # A warm remote read.
        async with open_remote_reader() as reader:
            entry = CrossEntry(
                crd="loader",
                as_="loader",
                selector=Selector(),
                source=CrossSource(host=base, cache_for=3600.0, stale_for=3600.0),
            )
            context = {"metadata": {"name": "ingest", "namespace": "default"}}
            answer, _ = await reader.read_with_key(
                entry, name="ingest-loader", namespace="default", context=context
            )
            assert answer["found"] == "true", answer

            async def warm() -> None:
                await reader.read_with_key(
                    entry, name="ingest-loader", namespace="default", context=context
                )

            warm_us = await timed_reads(warm, n)
            print(f"remote cross read, warm cache: {warm_us:.2f} µs (no request)")

        # Across processes: Loader spec change -> the Processor's Deployment env.
        doc = yaml.safe_load(
            (ROOT / "katalogs" / "oncop-processor.yaml")
            .read_text()
            .replace("http://127.0.0.1:8081", base)
        )
        box = doc["spec"]["crds"]["processor"]["operatorBox"]
        box["cross"][0]["source"]["cacheFor"] = "1s"
        box["requeue"] = {"after": "1h"}
        del box["autoscale"]
        processor_katalog = tmp / "oncop-processor.yaml"
        processor_katalog.write_text(yaml.safe_dump(doc, sort_keys=False))
        config = find_config(str(kubeconfig))
        assert config is not None
        async with (
            open_remote_reader() as reader,
            open_runtime(processor_katalog, embedded=True, remote=reader) as rt,
            open_kube_client(config) as loader_kube,
        ):
            reader.on_change = rt.registry.remote_changed
            processor = rt.box("processor")
            await rt.wait_ready()
            deploy_informer = next(
                inf for key, inf in processor.child_informers.items() if key == DEPLOY
            )

            def env_source() -> str | None:
                deployment = deploy_informer.get("default", "ingest")
                if deployment is None:
                    return None
                container = deployment["spec"]["template"]["spec"]["containers"][0]
                for var in container.get("env") or ():
                    if var["name"] == "LOADER_SOURCE":
                        return str(var.get("value"))
                return None

            with trio.fail_after(30):
                while env_source() != "s3://example-bucket/incoming":
                    await trio.sleep(0.01)
            latencies = []
            for index in range(samples):
                source = f"s3://bench/{index}"
                start = time.perf_counter()
                await loader_kube.merge_patch(
                    LOADER, "ingest-loader", {"spec": {"source": source}}, namespace="default"
                )
                with trio.fail_after(10):
                    while env_source() != source:
                        await trio.sleep(0.005)
                latencies.append(time.perf_counter() - start)
                await trio.sleep(0.3)  # spread the changes over the refresh period
            print(
                "across processes, Loader spec change -> Processor Deployment rewritten "
                f"(cacheFor 1s): median {statistics.median(latencies) * 1000:.0f} ms, "
                f"min {min(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms "
                f"over {samples}"
            )
    finally:
        await loader.stop()


async def main(args: argparse.Namespace) -> None:
    await same_process(args.reads)
    with tempfile.TemporaryDirectory() as tmp:
        await remote(Path(tmp), args.reads, args.seconds, args.clients, args.samples)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reads", type=int, default=20000, help="reads per timed batch")
    parser.add_argument("--seconds", type=float, default=5.0, help="ONCOP server load duration")
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients")
    parser.add_argument("--samples", type=int, default=8, help="cross-process change samples")
    trio.run(main, parser.parse_args())
