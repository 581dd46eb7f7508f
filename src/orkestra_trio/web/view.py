"""The runtime seen from the HTTP surface: thin read-only adapters, and nothing else.

ONCOP (:mod:`orkestra_trio.oncop.server`) reads a runtime through its
``KatalogView``/``BoxView`` Protocols; the Prometheus collector and the
Control Center read the same boxes. This module is the one place that knows
how a :class:`~orkestra_trio.runtime.runtime.Runtime` is built (boxes,
informers, health, metrics), so the rest of ``web`` reads plain data:
health and metrics snapshots, cached objects, and the Katalog's ``cross:``
declarations.

Every read is an in-memory lookup. Events come from one informer per box
(started by :meth:`RuntimeView.start`, in the registry's nursery) that
watches only the Events whose ``involvedObject`` is of the box's kind, in the
namespaces the runtime watches: on a large cluster, caching every Event would
cost memory and need cluster-wide read access to Events. The informer keeps
no cache of its own; the box's :class:`EventIndex` keeps at most
:data:`MAX_EVENTS_PER_CR` Events per CR, so answering ``/events`` never
calls the API server and never grows without bound.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs
import trio

from orkestra_trio.katalog.edges import katalog_edges
from orkestra_trio.katalog.lifecycle import lifecycle_json
from orkestra_trio.katalog.model import CrdEntry
from orkestra_trio.runtime.health import HealthSnapshot, wall_time
from orkestra_trio.runtime.informer import Change, Informer
from orkestra_trio.runtime.metrics import CrossRead, MetricsSnapshot

if TYPE_CHECKING:
    from orkestra_trio.runtime.box import Box
    from orkestra_trio.runtime.runtime import Runtime

EVENT_REF = ("v1", "Event")
#: Events kept per CR (the most recently changed); older ones are dropped from memory.
MAX_EVENTS_PER_CR = 50  # what ONCOP answers at most (docs/oncop.md)


def involved_object_selector(api_version: str, kind: str) -> str:
    """The field selector of the Events about objects of one kind (core/v1 supports both fields)."""
    return f"involvedObject.kind={kind},involvedObject.apiVersion={api_version}"


@attrs.frozen
class BoxSample:
    """One box at one instant: what the metrics endpoint and the Control Center show."""

    name: str
    kind: str
    health: HealthSnapshot
    metrics: MetricsSnapshot
    #: Workers configured (``reconciler.workers``): controller-runtime's max concurrent reconciles.
    max_workers: int
    resource_count: int
    paused: bool
    #: Watch streams of the box's informers closed for silence (each relisted).
    watch_stalls: int = 0
    #: ``--leader-elect per-box``: another replica runs this box.
    elsewhere: bool = False


class RuntimeBoxView:
    """One box as ONCOP's ``BoxView`` (the Protocol in :mod:`orkestra_trio.oncop.server`)."""

    def __init__(self, box: Box, events: EventIndex, runtime: Runtime | None = None) -> None:
        self._box = box
        self._events = events
        self._runtime = runtime

    @property
    def elsewhere(self) -> str | None:
        """``--leader-elect per-box``: the replica running this box when it is not this one
        ("" while none holds it yet); None when this replica runs it."""
        if self._runtime is None or self._runtime.runs_here(self._box.name):
            return None
        return self._box.health.holder or ""

    @property
    def crd(self) -> CrdEntry:
        return self._box.crd

    def health_json(self) -> Mapping[str, Any]:
        return self._box.health.snapshot().to_json(wall_time)

    def metrics_json(self) -> Mapping[str, Any]:
        return metrics_of(self._box).oncop_metrics()

    def list_crs(self) -> Iterable[Mapping[str, Any]]:
        informer = self._box.cr_informer
        return () if informer is None else informer.objects()

    def get_cr(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        informer = self._box.cr_informer
        return None if informer is None else informer.get(namespace, name)

    def children_of(self, cr: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        uid = str((cr.get("metadata") or {}).get("uid") or "")
        children: list[Mapping[str, Any]] = []
        for informer in self._box.child_informers.values():
            children.extend(informer.owned_by(uid))
        return children

    def events_of(self, namespace: str, name: str) -> Iterable[Mapping[str, Any]]:
        return self._events.of(namespace, name)

    async def wait_events(self, namespace: str, name: str) -> None:
        await self._events.wait_changed()


class EventIndex:
    """The Events of one box's CRs: at most ``limit`` per CR, newest change last.

    Fed by an uncached Event informer scoped to the box's kind; an Event
    updated by aggregation (a repeat bumps its count) replaces itself.
    """

    def __init__(self, kind: str, *, limit: int = MAX_EVENTS_PER_CR) -> None:
        self.kind = kind
        self.limit = limit
        #: (namespace, name) of the CR -> Event name -> Event, oldest change first.
        self._by_cr: dict[tuple[str, str], dict[str, Mapping[str, Any]]] = {}
        self._changed = trio.Event()

    def attach(self, informer: Informer) -> None:
        informer.subscribe(self._on_change)

    def _on_change(self, change: Change) -> None:
        event = change.current
        involved = event.get("involvedObject") or event.get("regarding") or {}
        if involved.get("kind") != self.kind:
            return
        cr = (str(involved.get("namespace") or ""), str(involved.get("name") or ""))
        event_name = str((event.get("metadata") or {}).get("name") or "")
        events = self._by_cr.get(cr)
        if change.type == "DELETED":
            if events is not None:
                events.pop(event_name, None)
                if not events:
                    del self._by_cr[cr]
        else:
            events = self._by_cr.setdefault(cr, {})
            events.pop(event_name, None)  # re-inserted last: the most recent change
            events[event_name] = event
            while len(events) > self.limit:
                del events[next(iter(events))]
        self._changed.set()
        self._changed = trio.Event()

    async def wait_changed(self) -> None:
        await self._changed.wait()

    def of(self, namespace: str, name: str) -> list[Mapping[str, Any]]:
        return list(self._by_cr.get((namespace, name), {}).values())

    def __len__(self) -> int:
        """Events held, over every CR."""
        return sum(len(events) for events in self._by_cr.values())


class RuntimeView:
    """The whole runtime as ONCOP's ``KatalogView``, plus samples for metrics and the UI."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        #: One Event index per box, by box name.
        self.events = {
            name: EventIndex(box.crd.api_types.kind) for name, box in runtime.boxes.items()
        }
        self._views = [
            RuntimeBoxView(box, self.events[name], runtime) for name, box in runtime.boxes.items()
        ]

    async def start(self) -> None:
        """Start each box's Event informer; call once before serving ``/events``."""
        for name, box in self.runtime.boxes.items():
            types = box.crd.api_types
            informer = await self.runtime.registry.informer(
                EVENT_REF,
                field_selector=involved_object_selector(types.api_version, types.kind),
                cached=False,
            )
            self.events[name].attach(informer)

    @property
    def katalog_name(self) -> str:
        return ",".join(katalog.name for katalog in self.runtime.katalogs.katalogs)

    @property
    def katalog_infos(self) -> list[dict[str, Any]]:
        today = datetime.date.today()
        return [
            {
                "name": katalog.name,
                **katalog.info,
                **(
                    {"lifecycle": lifecycle_json(katalog.lifecycle, today)}
                    if katalog.lifecycle is not None
                    else {}
                ),
            }
            for katalog in self.runtime.katalogs.katalogs
        ]

    def box_views(self) -> Iterable[RuntimeBoxView]:
        return iter(self._views)

    @property
    def stopping(self) -> bool:
        return self.runtime.stopping

    @property
    def standby(self) -> bool:
        """Leader election on and another replica leads (the boxes do not run here)."""
        return self.runtime.standby

    def samples(self) -> Iterator[BoxSample]:
        for box in self.runtime.boxes.values():
            yield BoxSample(
                name=box.name,
                kind=box.crd.api_types.kind,
                health=box.health.snapshot(),
                metrics=metrics_of(box),
                max_workers=box.workers,
                resource_count=box.resource_count,
                paused=box.paused,
                watch_stalls=box.watch_stalls,
                elsewhere=not self.runtime.runs_here(box.name),
            )

    def health_snapshots(self) -> Iterator[HealthSnapshot]:
        return (box.health.snapshot() for box in self.runtime.boxes.values())

    def health_versions(self) -> tuple[int, ...]:
        """One number per box that changes whenever that box's health changes."""
        return tuple(box.health.version for box in self.runtime.boxes.values())

    async def wait_health_changed(self, seen: tuple[int, ...]) -> None:
        """Return once any box's health differs from the ``seen`` versions."""
        boxes = list(self.runtime.boxes.values())
        if self.health_versions() != seen:
            return
        if not boxes:
            # A runtime of CRDs without operatorBoxes (serve-only, say): no health
            # ever changes. Returning at once made log_health_changes spin at 100 %
            # CPU, and an empty nursery's exit is no checkpoint, so it was deaf to
            # cancellation too (SIGTERM did not stop the process).
            await trio.sleep_forever()
        if len(boxes) == 1:
            # The usual runtime: every reconcile changes its health; no nursery for that.
            await boxes[0].health.wait_changed(seen[0])
            return
        async with trio.open_nursery() as nursery:

            async def watch(box: Box, version: int) -> None:
                await box.health.wait_changed(version)
                nursery.cancel_scope.cancel()

            for box, version in zip(boxes, seen, strict=True):
                nursery.start_soon(watch, box, version)

    def oncop_cache_hits(self) -> int:
        """Answers served from the remote ``cross:`` cache (0 without remote sources)."""
        cache = getattr(self.runtime.registry.remote, "cache", None)
        return int(getattr(cache, "hits", 0) or 0)


def metrics_of(box: Box) -> MetricsSnapshot:
    return box.metrics.snapshot(longest_running_processor=box.queue.longest_running())


@attrs.frozen
class CrossEdge:
    """One edge of the cross graph: ``observer`` reads ``observed`` (a box here, or a remote one)."""

    observer: str
    observed: str
    as_: str
    #: "same-process", or the remote host / endpoint read over HTTP.
    where: str
    remote: bool
    last: CrossRead | None
    #: "cross" (a cross: entry) or "autoscale" (an autoscale condition's own source).
    via: str = "cross"


def cross_edges(katalogs: Iterable[CrdEntry], samples: Mapping[str, BoxSample]) -> list[CrossEdge]:
    """The cross graph from the Katalog's declarations and each box's last reads."""
    edges = []
    for edge in katalog_edges(katalogs):
        sample = samples.get(edge.observer)
        # Reconciles record their cross: reads; the autoscaler's are not recorded.
        last = (
            sample.metrics.cross_last.get(edge.as_)
            if sample is not None and edge.via == "cross"
            else None
        )
        edges.append(
            CrossEdge(
                observer=edge.observer,
                observed=edge.observed,
                as_=edge.as_,
                where=edge.where,
                remote=edge.remote,
                last=last,
                via=edge.via,
            )
        )
    return edges
