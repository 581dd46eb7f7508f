"""Helpers for the ONCOP tests: a Katalog loaded from text, a loopback server, a fake view."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping
from typing import Any

import trio

from loopback_http import serving
from orkestra_trio.katalog import load_katalog
from orkestra_trio.katalog.model import CrdEntry


def crd_entries(tmp_path, body: str) -> dict[str, CrdEntry]:
    """Load a Katalog whose ``spec.crds`` mapping is ``body``."""
    path = tmp_path / "served.yaml"
    head = "apiVersion: orkestra.orkspace.io/v1\nkind: Katalog\nmetadata:\n  name: served\nspec:\n  crds:\n"
    path.write_text(head + textwrap.indent(textwrap.dedent(body), " " * 4))
    return dict(load_katalog(path).crds)


class FakeBox:
    """An in-test BoxView: plain dicts, and an Event to announce new Kubernetes Events."""

    def __init__(
        self,
        crd: CrdEntry,
        *,
        crs: Iterable[Mapping[str, Any]] = (),
        children: Mapping[str, list[Mapping[str, Any]]] | None = None,
        health: Mapping[str, Any] | None = None,
        metrics: Mapping[str, Any] | None = None,
    ) -> None:
        self.crd = crd
        self.crs = {(cr["metadata"].get("namespace", ""), cr["metadata"]["name"]): cr for cr in crs}
        self.children = dict(children or {})
        self.health = dict(health or {"state": "healthy", "healthy": True, "started": True})
        self.metrics = dict(metrics or {"queueDepth": 3, "workers": 2})
        self.events: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.events_changed = trio.Event()

    def health_json(self) -> Mapping[str, Any]:
        return self.health

    def metrics_json(self) -> Mapping[str, Any]:
        return self.metrics

    def list_crs(self) -> Iterable[Mapping[str, Any]]:
        return list(self.crs.values())

    def get_cr(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self.crs.get((namespace, name))

    def children_of(self, cr: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        return self.children.get(cr["metadata"]["name"], [])

    def events_of(self, namespace: str, name: str) -> Iterable[Mapping[str, Any]]:
        return list(self.events.get((namespace, name), []))

    async def wait_events(self, namespace: str, name: str) -> None:
        await self.events_changed.wait()

    def add_event(self, namespace: str, name: str, event: dict[str, Any]) -> None:
        self.events.setdefault((namespace, name), []).append(event)
        self.events_changed.set()
        self.events_changed = trio.Event()


class FakeView:
    """An in-test KatalogView over FakeBoxes."""

    def __init__(self, *boxes: FakeBox, name: str = "served") -> None:
        self.katalog_name = name
        self.katalog_infos = [{"name": name, "version": "1.2.0", "author": "team-a"}]
        self.boxes = list(boxes)

    def box_views(self) -> Iterable[FakeBox]:
        return list(self.boxes)


__all__ = ["FakeBox", "FakeView", "crd_entries", "serving"]
