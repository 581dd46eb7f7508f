"""Two real runtime processes observing each other over ONCOP (issue 6's acceptance test).

The bundled ``katalogs/oncop-loader.yaml`` runs in one process and
``katalogs/oncop-processor.yaml`` in another, each with its own embedded API
server. The test runs copies of the two Katalogs with free ports and short
timings substituted (the bundled ones use 8081, 10 s caches and a 2 min
cooldown), plus one knob on the loader side to make its queue depth pass the
threshold deterministically: a ``gate`` box the loader ``dependsOn``
(ready: pending or healthy). While the gate CR says ``open: "false"`` its box is gated, the
loader box pauses (zero workers) and new Loader CRs pile up in its queue.

Everything is asserted through what the processes serve (ONCOP JSON) and
their API servers, with bounded waits.

A second test runs one runtime against an endpoint this test process serves,
slower than the box's reconciler.timeout (issue 11).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
import yaml

from orkestra_trio.kube import find_config, open_kube_client

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
KATALOGS = ROOT / "katalogs"
GATE_API = ("demo.example.com/v1", "Gate")

#: The test's timings (seconds): the processor's cache, staleness, autoscale interval and cooldown.
CACHE_FOR = 0.5
STALE_FOR = 1.0
INTERVAL = 0.25
COOLDOWN = 1.5
THRESHOLD = 5
OVERRIDE = 7
BASELINE = 3
EXTRA_LOADERS = 12


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def loader_katalog(tmp_path: Path) -> Path:
    """The bundled loader Katalog plus the gate box it depends on (ready: it has no CR at first)."""
    shutil.copytree(KATALOGS / "oncop-loader", tmp_path / "oncop-loader")
    doc = yaml.safe_load((KATALOGS / "oncop-loader.yaml").read_text())
    crds = doc["spec"]["crds"]
    crds["loader"]["dependsOn"] = {"gate": "ready"}
    crds["gate"] = {
        "apiTypes": {
            "group": "demo.example.com",
            "version": "v1",
            "kind": "Gate",
            "plural": "gates",
        },
        "operatorBox": {
            "when": [{"field": "spec.open", "equals": "true"}],
            "status": {"fields": [{"path": "open", "value": "{{ .spec.open }}"}]},
        },
    }
    path = tmp_path / "oncop-loader.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def processor_katalog(tmp_path: Path, loader_port: int) -> Path:
    """The bundled processor Katalog pointed at ``loader_port``, with the test's timings."""
    shutil.copytree(KATALOGS / "oncop-processor", tmp_path / "oncop-processor")
    text = (KATALOGS / "oncop-processor.yaml").read_text()
    assert "http://127.0.0.1:8081" in text
    doc = yaml.safe_load(text.replace("http://127.0.0.1:8081", f"http://127.0.0.1:{loader_port}"))
    box = doc["spec"]["crds"]["processor"]["operatorBox"]
    assert box["reconciler"]["workers"] == BASELINE
    box["requeue"] = {"after": "1s"}
    box["cross"][0]["source"].update(cacheFor=f"{CACHE_FOR}s", staleFor=f"{STALE_FOR}s")
    autoscale = box["autoscale"]
    autoscale.update(interval=f"{INTERVAL}s", cooldown=f"{COOLDOWN}s")
    condition = autoscale["conditions"][0]
    condition["override"]["workers"] = OVERRIDE
    when = condition["when"][0]
    when["greaterThan"] = str(THRESHOLD)
    when["source"]["cacheFor"] = f"{CACHE_FOR}s"
    path = tmp_path / "oncop-processor.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


class Runtime:
    """One ``python -m orkestra_trio`` process, its log in a file."""

    def __init__(self, tmp_path: Path, name: str, katalog: Path, port: int) -> None:
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.kubeconfig = tmp_path / f"{name}.kubeconfig"
        self.log = tmp_path / f"{name}.log"
        self.args = [
            sys.executable,
            "-m",
            "orkestra_trio",
            str(katalog),
            "--listen",
            f"127.0.0.1:{port}",
            "--kubeconfig-out",
            str(self.kubeconfig),
            "--grace",
            "1",
        ]
        self.env = {
            **{k: v for k, v in os.environ.items() if k != "KUBECONFIG"},
            "HOME": str(tmp_path),  # no ~/.kube/config: the embedded API server
        }
        self.cwd = tmp_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.args, stdout=log, stderr=subprocess.STDOUT, cwd=self.cwd, env=self.env
            )

    async def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        with trio.move_on_after(10):
            while process.poll() is None:
                await trio.sleep(0.05)
        if process.poll() is None:
            process.kill()
            process.wait()
        self.process = None

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


async def eventually(
    probe: Callable[[], Awaitable[Any]], *, timeout: float, what: str, procs: list[Runtime]
) -> Any:
    """Poll ``probe`` until truthy; on timeout fail with the last value and the logs."""
    last: Any = None
    with trio.move_on_after(timeout):
        while True:
            try:
                last = await probe()
            except httpx.HTTPError as exc:
                last = exc
            else:
                if last:
                    return last
            await trio.sleep(0.05)
    logs = "\n".join(f"--- {p.name} ---\n{p.tail()}" for p in procs)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})\n{logs}")


@pytest.fixture
def runtimes(tmp_path: Path) -> Iterator[list[Runtime]]:
    procs: list[Runtime] = []
    yield procs
    for proc in procs:
        if proc.process is not None and proc.process.poll() is None:
            proc.process.kill()
            proc.process.wait()


async def test_processor_follows_a_loader_in_another_process(
    tmp_path: Path, runtimes: list[Runtime]
) -> None:
    started = time.monotonic()
    loader_port, processor_port = free_port(), free_port()
    loader = Runtime(tmp_path, "loader", loader_katalog(tmp_path), loader_port)
    processor = Runtime(
        tmp_path, "processor", processor_katalog(tmp_path, loader_port), processor_port
    )
    runtimes += [loader, processor]
    loader.start()
    processor.start()

    async with httpx.AsyncClient(timeout=5.0, trust_env=False) as http:

        async def get(runtime: Runtime, path: str) -> Any:
            response = await http.get(runtime.url + path)
            return response.json() if response.status_code == 200 else None

        async def processor_status() -> dict[str, Any]:
            body = await get(processor, "/katalog/processor/cr/default/ingest")
            return dict((body or {}).get("status") or {})

        async def processor_workers() -> tuple[int, int]:
            metrics = (await get(processor, "/katalog/processor") or {}).get("metrics") or {}
            return int(metrics.get("workers", -1)), int(metrics.get("baselineWorkers", -1))

        def wait(probe: Callable[[], Awaitable[Any]], what: str, timeout: float = 15.0) -> Any:
            return eventually(probe, timeout=timeout, what=what, procs=runtimes)

        # 1. The processor's status shows the loader's phase and queue depth.
        async def sees_loader_ready() -> bool:
            status = await processor_status()
            return status.get("loaderPhase") == "Ready" and status.get("loaderQueueDepth") == 0

        await wait(sees_loader_ready, "the processor to show the loader Ready with depth 0")
        assert (await processor_status())["phase"] == "Processing"
        assert await processor_workers() == (BASELINE, BASELINE)
        ready_after = time.monotonic() - started

        # 2. Close the gate: the loader pauses and new Loaders pile up in its queue.
        config = find_config(str(loader.kubeconfig))
        assert config is not None
        async with open_kube_client(config) as kube:
            await kube.create(
                {
                    "apiVersion": "demo.example.com/v1",
                    "kind": "Gate",
                    "metadata": {"name": "gate", "namespace": "default"},
                    "spec": {"open": "false"},
                },
                namespace="default",
            )

            async def loader_paused() -> bool:
                body = await get(loader, "/katalog/loader")
                return body is not None and body["metrics"]["workers"] == 0

            await wait(loader_paused, "the loader box to pause behind its gate")
            for index in range(EXTRA_LOADERS):
                await kube.create(
                    {
                        "apiVersion": "demo.example.com/v1",
                        "kind": "Loader",
                        "metadata": {"name": f"bulk-{index}", "namespace": "default"},
                        "spec": {"source": f"s3://bulk/{index}"},
                    },
                    namespace="default",
                )

            async def processor_scaled_up() -> bool:
                status = await processor_status()
                depth = status.get("loaderQueueDepth")
                return bool(
                    isinstance(depth, int)
                    and depth > THRESHOLD
                    and await processor_workers() == (OVERRIDE, BASELINE)
                )

            await wait(processor_scaled_up, "the processor's workers to go to the override")
            scaled_up_at = time.monotonic()

            # 3. Open the gate: the loader drains, the processor returns to its baseline
            #    once the cooldown has passed with the condition false.
            await kube.merge_patch(
                GATE_API, "gate", {"spec": {"open": "true"}}, namespace="default"
            )

            async def processor_back() -> bool:
                return await processor_workers() == (BASELINE, BASELINE)

            await wait(processor_back, "the processor's workers to return to the baseline")
            held_for = time.monotonic() - scaled_up_at
            assert held_for >= COOLDOWN - 0.1, held_for
            depth = (await get(loader, "/katalog/loader"))["metrics"]["queueDepth"]
            assert depth <= THRESHOLD

        # 4. Stop the loader: the processor keeps running, healthy, and shows the loss
        #    within cacheFor + staleness (plus a refresh and a reconcile).
        await loader.stop()
        stopped_at = time.monotonic()

        async def sees_loss() -> bool:
            return (await processor_status()).get("phase") == "WaitingForLoader"

        # cacheFor + staleFor, plus slack for one refresh and one reconcile on a busy machine.
        within = CACHE_FOR + STALE_FOR + 3.0
        await wait(sees_loss, "the processor to show the loader's loss", timeout=within)
        loss_after = time.monotonic() - stopped_at
        health = await http.get(processor.url + "/katalog/processor/health")
        assert health.status_code == 200 and health.json()["state"] == "healthy"
        assert processor.process is not None and processor.process.poll() is None
        events = await get(processor, "/katalog/processor/cr/default/ingest/events")
        assert any(e["reason"] == "CrossReadFailed" for e in events["events"]), events

        # 5. Restart the loader: the processor sees it Ready again.
        loader.start()
        await wait(sees_loader_ready, "the processor to see the restarted loader", timeout=20.0)

    await processor.stop()
    await loader.stop()
    total = time.monotonic() - started
    print(
        f"\nfirst Ready seen after {ready_after:.2f}s; override held {held_for:.2f}s "
        f"(cooldown {COOLDOWN}s); loss shown {loss_after:.2f}s after the stop "
        f"(cacheFor {CACHE_FOR}s + staleFor {STALE_FOR}s); whole test {total:.2f}s"
    )


SLOW_KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {{name: slow}}
spec:
  crds:
    app:
      apiTypes: {{group: slow.example.com, version: v1, kind: App, plural: apps}}
      crFiles: [./app.yaml]
      operatorBox:
        reconciler: {{timeout: 1s}}
        cross:
          - crd: quota
            source:
              endpoint: "http://127.0.0.1:{port}/status/{{{{ .metadata.name }}}}"
              cacheFor: 60s
            as: quota
        status:
          fields:
            - path: quota
              value: "{{{{ .cross.quota.status.phase }}}}"
"""
SLOW_APP = """\
apiVersion: slow.example.com/v1
kind: App
metadata: {name: a, namespace: default}
spec: {}
"""


async def test_a_remote_slower_than_the_timeout_lands_across_processes(
    tmp_path: Path, runtimes: list[Runtime]
) -> None:
    # The case with real processes and sockets: timeout 1 s, the
    # endpoint (served by this test process) answers after 3 s.
    from hypercorn.config import Config
    from hypercorn.trio import serve

    asked: list[float] = []

    async def endpoint(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        asked.append(time.monotonic())
        await trio.sleep(3.0)
        body = b'{"name": "a", "status": {"phase": "Granted"}}'
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    config.loglevel = "WARNING"
    shutdown = trio.Event()
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(
            lambda task_status: serve(
                endpoint, config, shutdown_trigger=shutdown.wait, task_status=task_status
            )
        )
        port = int(binds[0].rsplit(":", 1)[1])
        katalog = tmp_path / "slow.yaml"
        katalog.write_text(SLOW_KATALOG.format(port=port))
        (tmp_path / "app.yaml").write_text(SLOW_APP)
        runtime = Runtime(tmp_path, "slow", katalog, free_port())
        runtimes.append(runtime)
        runtime.start()
        async with httpx.AsyncClient(timeout=5.0, trust_env=False) as http:

            async def granted_and_ready() -> bool:
                response = await http.get(runtime.url + "/katalog/app/cr/default/a")
                status = response.json().get("status") or {} if response.status_code == 200 else {}
                ready = [c for c in status.get("conditions") or () if c.get("type") == "Ready"]
                return status.get("quota") == "Granted" and ready[0]["status"] == "True"

            await eventually(granted_and_ready, timeout=30, what="the CR Ready", procs=runtimes)
        await runtime.stop()
        # One request: the fetch was not cancelled and restarted with each reconcile.
        assert len(asked) == 1
        shutdown.set()
