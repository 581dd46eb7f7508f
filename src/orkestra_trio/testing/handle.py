"""``run_katalog(katalog, cluster)``: run a Katalog's boxes against a test cluster and drive them.

::

    async with open_test_cluster() as cluster, run_katalog("website.yaml", cluster) as kat:
        await kat.apply(website_cr)
        await kat.wait_steady()
        assert kat.children("website", "blog")            # what the box created
        assert kat.ready("website", "blog")               # Ready=True, observedGeneration current
        kat.inject("website", BoxFault.raises())          # a box-level fault...
        await kat.advance(30)                             # ...for 30 s of (virtual) time
        assert kat.health("website").state.value == "degraded"
        kat.lift("website")

The runtime is the real one (registry, informers, boxes, pipeline) in the
test's Trio loop, reaching the cluster in-process; each box's reconcile
function is wrapped by :class:`~.faults.InstrumentedReconcile` so that
box-level faults can be injected and every reconcile is logged
(``kat.log``). Reads (``children``, ``status``, ``events``, ``cr``) look at
the server's store directly: they cost no request, so they neither change
request counts nor give the runtime a chance to run between two reads.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial
from typing import Any

import trio

from orkestra_trio.katalog import CrdEntry
from orkestra_trio.kube import open_kube_client
from orkestra_trio.runtime.box import Box, child_kinds
from orkestra_trio.runtime.crdinstall import apply_cr_files, apply_setup_files, install_crds
from orkestra_trio.runtime.health import HealthSnapshot
from orkestra_trio.runtime.informer import ObjectKey
from orkestra_trio.runtime.registry import RemoteCrossReader
from orkestra_trio.runtime.runtime import (
    DEFAULT_GRACE,
    KatalogsArg,
    Runtime,
    as_katalog_set,
    start_boxes,
)
from orkestra_trio.runtime.safe import ReconcileFn

from .cluster import TestCluster
from .faults import (
    INJECTED,
    ApiFault,
    BoxFault,
    InjectedFault,
    InstrumentedReconcile,
    ReconcileLog,
    ScheduledFault,
)

#: Write verbs a box's API fault applies to (reads come from informer caches, not requests).
API_FAULT_VERBS = ("create", "update", "patch", "delete")


class NotSteady(AssertionError):
    """:meth:`KatalogHandle.wait_steady` ran out of (virtual) time; the message says what was busy."""


class _InstrumentedBox(Box):
    """A Box whose workers call an :class:`InstrumentedReconcile` around the pipeline.

    Uses the box's ``wrap_reconcile`` seam: the wrap happens when the box
    builds its worker pool, before any worker starts, so no reconcile escapes
    the log.
    """

    def __init__(self, crd: CrdEntry, *, log: ReconcileLog, **kwargs: Any) -> None:
        self.instrument: InstrumentedReconcile[ObjectKey] | None = None
        self._log = log
        self._pending_fault: BoxFault | None = None
        super().__init__(crd, wrap_reconcile=self._wrap, **kwargs)

    def _wrap(self, inner: ReconcileFn[ObjectKey]) -> ReconcileFn[ObjectKey]:
        self.instrument = InstrumentedReconcile(self.name, inner, self._log)
        self.instrument.fault = self._pending_fault
        return self.instrument

    def set_fault(self, fault: BoxFault | None) -> None:
        self._pending_fault = fault
        if self.instrument is not None:
            self.instrument.fault = fault


class KatalogHandle:
    """A Katalog running against a :class:`TestCluster`. Made by :func:`run_katalog`."""

    def __init__(
        self,
        runtime: Runtime,
        cluster: TestCluster,
        log: ReconcileLog,
        remote: RemoteCrossReader | None = None,
    ) -> None:
        self.runtime = runtime
        #: The remote cross reader given to run_katalog (None: remote reads answer "not found").
        self.remote = remote
        self.cluster = cluster
        self.kube = cluster.kube
        self.log = log
        self._plurals: dict[tuple[str, str], str] = {}

    # ------------------------------------------------------------------ boxes

    @property
    def boxes(self) -> list[str]:
        return list(self.runtime.boxes)

    def box(self, name: str) -> Box:
        return self.runtime.box(name)

    def health(self, box: str) -> HealthSnapshot:
        return self.runtime.box(box).health.snapshot()

    def _crd(self, box: str) -> CrdEntry:
        return self.runtime.box(box).crd

    # ------------------------------------------------------------------- CRs

    def manifest(
        self, box: str, name: str, spec: Mapping[str, Any] | None = None, **metadata: Any
    ) -> dict[str, Any]:
        """A CR of ``box``'s kind named ``name`` with ``spec`` (namespace ``default`` if namespaced)."""
        crd = self._crd(box)
        meta: dict[str, Any] = {"name": name, **metadata}
        if crd.namespaced:
            meta.setdefault("namespace", "default")
        types = crd.api_types
        return {
            "apiVersion": types.api_version,
            "kind": types.kind,
            "metadata": meta,
            "spec": dict(spec or {}),
        }

    async def apply(self, cr: Mapping[str, Any]) -> dict[str, Any]:
        """Create ``cr`` or update the fields it states (server-side apply, forced)."""
        return await self.kube.apply(cr, force=True)

    async def delete(self, box: str, name: str, namespace: str = "default") -> None:
        """Delete a CR of ``box``; a missing CR is fine."""
        crd = self._crd(box)
        types = crd.api_types
        try:
            await self.kube.delete(
                (types.api_version, types.kind),
                name,
                namespace=namespace if crd.namespaced else None,
            )
        except Exception as exc:
            if getattr(exc, "code", 0) != 404:
                raise

    def cr(self, box: str, name: str, namespace: str = "default") -> dict[str, Any] | None:
        """The CR as the server stores it now (None when absent)."""
        crd = self._crd(box)
        types = crd.api_types
        for obj in self.cluster.objects(types.plural, namespace if crd.namespaced else ""):
            if obj["metadata"]["name"] == name and obj.get("kind") == types.kind:
                return obj
        return None

    def crs(self, box: str) -> list[dict[str, Any]]:
        """Every CR of ``box``'s kind the server stores."""
        types = self._crd(box).api_types
        return [obj for obj in self.cluster.objects(types.plural) if obj.get("kind") == types.kind]

    def status(self, box: str, name: str, namespace: str = "default") -> dict[str, Any]:
        """The CR's ``status`` ({} when absent or not written yet)."""
        obj = self.cr(box, name, namespace)
        return dict((obj or {}).get("status") or {})

    def ready(self, box: str, name: str, namespace: str = "default") -> bool:
        """Ready=True and observedGeneration equals the CR's generation."""
        obj = self.cr(box, name, namespace)
        if obj is None:
            return False
        status = obj.get("status") or {}
        generation = obj["metadata"].get("generation")
        if status.get("observedGeneration") != generation:
            return False
        return any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in status.get("conditions") or ()
        )

    def children(self, box: str, name: str, namespace: str = "default") -> list[dict[str, Any]]:
        """Objects whose controller ownerReference is this CR (what the box made for it)."""
        obj = self.cr(box, name, namespace)
        if obj is None:
            return []
        uid = obj["metadata"].get("uid")
        store = self.cluster.server.store
        found: list[dict[str, Any]] = []
        for resource, ns, child_name in store.dependents(str(uid)):
            stored = store.find(resource, ns, child_name)
            if stored is not None:
                found.append(stored.obj)
        return sorted(found, key=lambda o: (str(o.get("kind")), str(o["metadata"]["name"])))

    def child(
        self, box: str, name: str, kind: str, child_name: str, namespace: str = "default"
    ) -> dict[str, Any] | None:
        """One child of the CR by kind and name."""
        for obj in self.children(box, name, namespace):
            if obj.get("kind") == kind and obj["metadata"]["name"] == child_name:
                return obj
        return None

    def events(self, box: str, name: str, namespace: str = "default") -> list[dict[str, Any]]:
        """core/v1 Events about this CR, oldest first."""
        kind = self._crd(box).api_types.kind
        found = [
            event
            for event in self.cluster.objects("events", namespace)
            if (event.get("involvedObject") or {}).get("kind") == kind
            and (event.get("involvedObject") or {}).get("name") == name
        ]
        return sorted(found, key=lambda e: str(e.get("lastTimestamp") or ""))

    # ------------------------------------------------------------------- time

    async def advance(self, seconds: float) -> None:
        """Let ``seconds`` of (virtual, under MockClock) time pass with everything running."""
        await trio.sleep(seconds)

    async def wait_steady(
        self,
        boxes: Iterable[str] | None = None,
        *,
        within: float = 60.0,
        settle: float = 0.5,
    ) -> float:
        """Wait until the given boxes (default all) have no queued and no running work.

        Steady means: no key queued or being reconciled, and nothing new (queue
        adds, informer events) for ``settle`` seconds. Keys waiting for a
        delayed retry do not count. ``settle`` exceeds the test cluster's
        workload delay (0.2 s: Deployments report ready replicas that much
        after a change), so the status those reports cause is included. Returns the (virtual) seconds it took;
        raises :class:`NotSteady` after ``within`` seconds.
        """
        names = list(self.runtime.boxes) if boxes is None else list(boxes)
        selected = [self.runtime.box(name) for name in names]
        started = trio.current_time()
        moved: list[str] = []
        with trio.move_on_after(within):
            while True:
                for box in selected:
                    await _wait_idle(box)
                before = self._activity(selected)
                await trio.sleep(settle)
                after = self._activity(selected)
                moved = [
                    f"{what} +{count - before.get(what, 0)}"
                    for what, count in after.items()
                    if count != before.get(what, 0)
                ]
                if not moved and all(_idle(box) for box in selected):
                    return trio.current_time() - started
        busy = [
            f"{box.name} (queued {box.queue.depth}, running {box.queue.processing})"
            for box in selected
            if not _idle(box)
        ]
        # Say what kept moving in the last window: the queue adds of which box, the
        # events of which informer (a test that fails here is then diagnosable).
        arriving = f"work kept arriving ({'; '.join(moved)})" if moved else "work kept arriving"
        raise NotSteady(f"not steady after {within:g}s: {', '.join(busy) or arriving}")

    def _activity(self, boxes: list[Box]) -> dict[str, int]:
        """What counts as new work, by source: each box's queue adds, each informer's events."""
        activity = {f"queue adds of {box.name}": box.metrics.queue_adds_total for box in boxes}
        for informer in self.runtime.registry.informers:
            what = f"events of {informer.describe()}"
            activity[what] = activity.get(what, 0) + informer.events_seen
        return activity

    # ----------------------------------------------------------------- faults

    def inject(self, box: str, fault: BoxFault) -> None:
        """Make every reconcile of ``box`` misbehave (replaces a previous box fault)."""
        self._instrumented(box).set_fault(fault)

    def lift(self, box: str) -> None:
        """Remove ``box``'s box-level fault (API faults: :meth:`lift_api_faults`)."""
        self._instrumented(box).set_fault(None)

    def fault(self, box: str) -> BoxFault | None:
        instrumented = self._instrumented(box)
        return instrumented.instrument.fault if instrumented.instrument else None

    async def resources_of(self, box: str) -> list[str]:
        """The resource plurals ``box`` writes: its CRs' and its children's kinds (known at load)."""
        crd = self._crd(box)
        plurals = [crd.api_types.plural]
        for api_version, kind in child_kinds(crd):
            key = (api_version, kind)
            if key not in self._plurals:
                info = await self.kube.resource(key)
                self._plurals[key] = info.plural
            plurals.append(self._plurals[key])
        return plurals

    async def inject_api_fault(
        self,
        box: str,
        *,
        status: int = 500,
        retry_after: int | None = None,
        children: bool = True,
        count: int = 10**9,
    ) -> list[str]:
        """Answer ``box``'s write requests with ``status`` (500, 409, 429...) until lifted.

        The fault is aimed by resource: the box's CR plural and, with
        ``children``, the plurals of its children kinds. A kind that another
        box also writes is hit for that box too; give the boxes of an
        isolation test distinct children kinds. Returns the plurals aimed at.
        """
        plurals = await self.resources_of(box)
        if not children:
            plurals = plurals[:1]
        for plural in plurals:
            for verb in API_FAULT_VERBS:
                self.cluster.faults.fail_next(
                    count,
                    verb=verb,
                    resource=plural,
                    status=status,
                    retry_after=retry_after,
                    message=f"injected API fault ({status}) on {plural}",
                )
        return plurals

    def lift_api_faults(self) -> None:
        """Remove every API fault of the cluster (the server's ``faults.clear()``)."""
        self.cluster.faults.clear()

    async def play(self, schedule: Iterable[ScheduledFault], *, until: float | None = None) -> None:
        """Play a fault schedule: inject and lift each fault at its times, advancing time.

        Times are relative to the call. API faults are lifted together (the
        server has one ``clear``); the ones still due are injected again at
        once. Returns at ``until`` seconds (default: when the last fault ends),
        with every fault lifted.
        """
        faults = sorted(schedule, key=lambda f: f.at)
        start = trio.current_time()
        moments: list[tuple[float, int, ScheduledFault]] = []
        for fault in faults:
            moments.append((fault.at, 1, fault))
            moments.append((fault.until, 0, fault))  # ends sort before starts at the same time
        moments.sort(key=lambda m: (m[0], m[1]))
        active_api: list[ScheduledFault] = []
        for when, starting, fault in moments:
            await trio.sleep_until(start + when)
            if isinstance(fault.fault, BoxFault):
                if starting:
                    self.inject(fault.box, fault.fault)
                elif self.fault(fault.box) == fault.fault:
                    self.lift(fault.box)
                continue
            if starting:
                active_api.append(fault)
            else:
                active_api.remove(fault)
                self.lift_api_faults()
            for api in active_api if not starting else [fault]:
                assert isinstance(api.fault, ApiFault)
                await self.inject_api_fault(
                    api.box,
                    status=api.fault.status,
                    retry_after=api.fault.retry_after,
                    children=api.fault.children,
                )
        end = max((f.until for f in faults), default=0.0) if until is None else until
        await trio.sleep_until(start + end)

    def crash(self, box: str, message: str = "crash") -> None:
        """Crash ``box``'s own machinery once, as a bug in it would: a task of its
        worker pool's nursery raises, the box's nursery fails, and its supervisor
        restarts it after a backoff. Nothing of it may reach another box."""
        pool = self.runtime.box(box).pool
        nursery = pool._nursery if pool is not None else None
        if nursery is None:
            raise RuntimeError(f"box {box} is not running: nothing to crash")
        nursery.start_soon(_crash, f"{INJECTED} crash of box {box}: {message}")

    def flood(self, box: str, keys: int, *, prefix: str = "flood-") -> int:
        """Add ``keys`` keys of CRs that do not exist to ``box``'s queue; returns how many it took."""
        queue = self.runtime.box(box).queue
        namespace = "default" if self._crd(box).namespaced else ""
        return sum(1 for i in range(keys) if queue.add((namespace, f"{prefix}{i}")))

    def _instrumented(self, box: str) -> _InstrumentedBox:
        found = self.runtime.box(box)
        assert isinstance(found, _InstrumentedBox)
        return found


async def _crash(message: str) -> None:
    await trio.lowlevel.checkpoint()
    raise InjectedFault(message)


async def _wait_idle(box: Box) -> None:
    if box.paused:
        # A paused box (dependsOn) keeps its queue: only running work counts.
        while box.queue.processing:  # noqa: ASYNC110 (no event for "processing reached 0")
            await trio.sleep(0.005)
    else:
        await box.queue.wait_idle()


def _idle(box: Box) -> bool:
    if box.paused:
        return box.queue.processing == 0
    return box.queue.is_idle()


@asynccontextmanager
async def run_katalog(
    katalog: KatalogsArg,
    cluster: TestCluster,
    *,
    install: bool = True,
    grace: float = DEFAULT_GRACE,
    remote: RemoteCrossReader | None = None,
) -> AsyncIterator[KatalogHandle]:
    """Run ``katalog`` (a path, several, a Katalog or a KatalogSet) against ``cluster``.

    With ``install`` (default) the Katalog's CRDs (``crdFile`` or generated)
    and ``crFiles`` are installed first. Returns once every box has synced its
    informers. Leaving the block stops the boxes the way the runtime does.
    ``remote`` answers ``cross:`` entries with a ``source:`` (e.g. a
    :class:`~.remote.FakeRemoteSource`); without one they read "not found".
    """
    katalog_set = as_katalog_set(katalog)
    log = ReconcileLog()
    async with AsyncExitStack() as stack:
        # The runtime's own client, field manager "orkestra", through the cluster's transport.
        kube = await stack.enter_async_context(
            open_kube_client(cluster.url, transport=cluster.transport)
        )
        if install:
            await apply_setup_files(kube, katalog_set)
            await install_crds(kube, katalog_set)
            await apply_cr_files(kube, katalog_set)
        runtime = await start_boxes(
            stack,
            kube,
            katalog_set,
            apiserver=cluster.server,
            kubeconfig_path=None,
            server_url=cluster.url,
            remote=remote,
            box_factory=partial(_InstrumentedBox, log=log),
        )
        try:
            await runtime.wait_ready()
            yield KatalogHandle(runtime, cluster, log, remote)
        finally:
            await runtime.aclose(grace)
