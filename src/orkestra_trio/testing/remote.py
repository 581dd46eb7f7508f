"""A scriptable stand-in for remote ``cross:`` sources (ONCOP), with faults: down, slow.

A box whose ``cross:`` entry has a ``source:`` reads another process's CRs
over HTTP. In a test under virtual time there is no other process, so
:func:`.handle.run_katalog` takes a ``remote=`` reader instead: the
registry's :class:`~orkestra_trio.runtime.registry.RemoteCrossReader` seam,
the one the ONCOP client fills in production. :class:`FakeRemoteSource`
answers from objects the test puts in it, and can be made unreachable
(``down``: every read raises, as a refused connection does) or slow
(``delay`` seconds per read), to check that a box depending on a remote
source fails alone and recovers when the source comes back.

It stands in for the transport, not for the ONCOP client's own caching and
staleness rules: those are the ONCOP layer's tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import trio

from orkestra_trio.katalog import CrossEntry


class RemoteSourceDown(ConnectionError):
    """What a read raises while the fake source is down."""


class FakeRemoteSource:
    """Remote cross answers by (crd key, namespace, name); ``down`` and ``delay`` are faults."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], Mapping[str, Any]] = {}
        self.down = False
        self.delay = 0.0
        self.reads = 0

    def put(self, crd: str, obj: Mapping[str, Any]) -> None:
        """Serve ``obj`` (a Kubernetes object) as the remote ``crd``'s CR of that name."""
        metadata = obj.get("metadata") or {}
        key = (crd, str(metadata.get("namespace") or ""), str(metadata.get("name") or ""))
        self.objects[key] = obj

    def remove(self, crd: str, name: str, namespace: str = "") -> None:
        self.objects.pop((crd, namespace, name), None)

    async def read(
        self, entry: CrossEntry, *, name: str, namespace: str, context: Mapping[str, Any]
    ) -> dict[str, Any]:
        self.reads += 1
        if self.delay:
            await trio.sleep(self.delay)
        else:
            await trio.lowlevel.checkpoint()
        if self.down:
            where = entry.source.host if entry.source is not None else entry.crd
            raise RemoteSourceDown(f"injected: remote source {where} is down")
        obj = self.objects.get((entry.crd, namespace, name)) or self.objects.get(
            (entry.crd, "", name)
        )
        if obj is None:
            return {"found": False}
        metadata = obj.get("metadata") or {}
        return {
            "found": True,
            "name": metadata.get("name", ""),
            "namespace": metadata.get("namespace", ""),
            "labels": dict(metadata.get("labels") or {}),
            "annotations": dict(metadata.get("annotations") or {}),
            "spec": dict(obj.get("spec") or {}),
            "status": dict(obj.get("status") or {}),
        }
