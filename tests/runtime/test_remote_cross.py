"""Remote ``cross:`` reads inside a runtime: the registry seam, reacting, failures, autoscale.

The remote reader is a fake with ONCOP's reader interface (``read_with_key``,
``read_source``); the real reader against a real second process is
``tests/oncop/test_two_processes.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import trio
from runtime_helpers import eventually

from orkestra_trio.katalog.model import CrossEntry, CrossSource
from orkestra_trio.kube import open_kube_client
from orkestra_trio.runtime.remote import remote_target
from orkestra_trio.runtime.runtime import open_runtime

KATALOG = Path(__file__).parents[2] / "katalogs" / "oncop-processor.yaml"
PROCESSOR = ("demo.example.com/v1", "Processor")


class FakeRemote:
    """Answers every remote read with ``answer``; counts reads."""

    def __init__(self) -> None:
        self.answer: dict[str, Any] = {
            "found": "true",
            "name": "ingest-loader",
            "namespace": "default",
            "spec": {"source": "s3://x"},
            "status": {"phase": "Ready"},
            "metrics": {"queueDepth": 3},
        }
        self.reads: list[str] = []
        self.sources: list[tuple[str, str]] = []

    async def read(
        self, entry: CrossEntry, *, name: str, namespace: str, context: Mapping[str, Any]
    ) -> dict[str, Any]:
        answer, _ = await self.read_with_key(entry, name=name, namespace=namespace, context=context)
        return answer

    async def read_with_key(
        self, entry: CrossEntry, *, name: str, namespace: str, context: Mapping[str, Any]
    ) -> tuple[dict[str, Any], str | None]:
        key = f"cr:{entry.crd}:{namespace}:{name}"
        self.reads.append(key)
        return dict(self.answer), key

    async def read_source(
        self,
        crd: str,
        source: CrossSource,
        *,
        name: str = "",
        namespace: str = "",
        context: Mapping[str, Any],
    ) -> tuple[dict[str, Any], str | None]:
        self.sources.append((crd, source.type))
        return dict(self.answer), f"{source.type}:{crd}"


KEY = "cr:loader:default:ingest-loader"


async def test_remote_answers_changes_failures_and_autoscale_in_a_runtime() -> None:
    remote = FakeRemote()
    async with (
        open_runtime(KATALOG, embedded=True, remote=remote) as rt,
        open_kube_client(rt.server_url) as kube,
    ):
        box = rt.box("processor")

        async def status() -> dict[str, Any]:
            cr = await kube.get(PROCESSOR, "ingest", namespace="default")
            return dict(cr.get("status") or {})

        async def shows(phase: str, depth: int) -> bool:
            now = await status()
            return now.get("loaderPhase") == phase and now.get("loaderQueueDepth") == depth

        await eventually(lambda: shows("Ready", 3), what="the remote answer in the status")
        # What was read is remembered under the remote key.
        assert rt.registry.readers_of(remote_target(KEY)) == {("processor", ("default", "ingest"))}

        # A changed answer re-enqueues the reader at once (its requeue.after is 20 s).
        remote.answer["status"] = {"phase": "Loading"}
        remote.answer["metrics"] = {"queueDepth": 42}
        with trio.fail_after(5):
            rt.registry.remote_changed(KEY)
            await eventually(lambda: shows("Loading", 42), what="the changed answer")
        assert (await status())["phase"] == "WaitingForLoader"

        async def shows_loss() -> bool:
            now = await status()
            return now.get("phase") == "WaitingForLoader" and not now.get("loaderPhase")

        # A failing source: not found with an error, one Warning Event, the box stays healthy.
        remote.answer = {"found": "false", "error": "cannot read http://x: ConnectError"}
        for _ in range(3):
            rt.registry.remote_changed(KEY)
            await eventually(lambda: shows_loss(), what="the failure in the status")
            with trio.fail_after(10):
                await rt.wait_idle()
        events = await kube.list(("v1", "Event"), namespace="default")
        failed = [e for e in events.items if e.get("reason") == "CrossReadFailed"]
        assert len(failed) == 1 and failed[0]["type"] == "Warning"
        assert failed[0]["count"] == 1
        assert "cross loader: cannot read" in failed[0]["message"]
        assert box.metrics.cross_reads_total[("oncop", "error")] >= 3
        assert box.health.snapshot().state.value == "healthy"

        # Autoscale reads the loader's summary over the same reader and resizes the pool.
        assert box.autoscaler is not None
        remote.answer = {"found": "true", "metrics": {"queueDepth": 61}}
        assert await box.autoscaler.evaluate() == 10
        assert ("loader", "metrics") in remote.sources
        assert box.workers == 10 and box.metrics.workers == 10
        assert box.metrics.snapshot().oncop_metrics()["baselineWorkers"] == 3
