"""One operatorBox at run time: its queue, workers, health, metrics and supervisor.

Everything a box owns is its own (the seeds' isolation list): its workqueue,
its worker pool, its reconcile pipeline, its health state machine and its
metrics. What it shares it only *reads*, through the registry: the
informers (one per kind, shared between boxes, each notifying this box
through its non-blocking ``queue.add``) and other boxes' caches for
``cross:`` reads.

How keys get into the queue:

* a CR of the box's kind is added, deleted, or changed in a way that matters
  (spec/generation, deletion, finalizers, labels, annotations; not our own
  status writes, which would otherwise loop);
* a child changes: its controller ownerReference names the CR to reconcile
  (or, for a child in another namespace or cluster-scoped, which cannot carry
  one, its owner-uid label and owner-namespace annotation);
* an object this CR read through ``cross:`` changes (the registry);
* ``resync``: every CR, periodically;
* failures (with backoff) and ``requeue.after`` (the worker pool).

The box's nursery runs under a :class:`~.supervisor.Supervisor`: if the box's
own machinery breaks, it is restarted with backoff and its siblings never
notice. ``dependsOn`` holds the workers back until the boxes depended on are
started (informer synced) or healthy, and pauses them again (zero workers)
while that stops being true.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import trio

from orkestra_trio.katalog import RESOURCE_GROUPS, CrdEntry, Text
from orkestra_trio.katalog.copies import source_scopes
from orkestra_trio.katalog.manifests import (
    BOX_LABEL,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    box_label_value,
)
from orkestra_trio.katalog.model import AutoscaleOverride, CrossSource, EventWatch, Watch
from orkestra_trio.katalog.plan import ReconcilePlan
from orkestra_trio.katalog.shedding import BEYOND, DROP, admit
from orkestra_trio.kube import KubeClient, KubeError, NotFound

from .adoption import adopt_children
from .autoscale import Autoscaler
from .budget import EVENT_BURST, EVENT_RATE, RETRY_BURST, RETRY_RATE, TokenBucket
from .enrich import Enrichment, open_enrichment
from .events import BoxEvents
from .health import BoxHealth, HealthSnapshot, HealthState, wall_time
from .informer import Change, Informer, ObjectKey, label_owner_key, object_key, owner_uid
from .loopshare import CURRENT_SHARE
from .metrics import BoxMetrics
from .notifier import Notifier
from .pipeline import ReconcilePipeline
from .planner import Planner
from .registry import KatalogRegistry
from .remote import SourceReader
from .safe import ReconcileFn
from .sources import CopySources
from .supervisor import Supervisor
from .watches import (
    event_summary,
    event_targets,
    fired_sentinels,
    gate_passes,
    watch_matches,
    watch_targets,
)
from .workers import WorkerPool
from .workqueue import WorkQueue

#: Where ``observe.events`` reads Events (Orkestra watches events.k8s.io).
EVENTS_V1 = ("events.k8s.io/v1", "Event")

logger = logging.getLogger(__name__)

#: Seconds between looks at the informers' errors (shown in the box's health).
SYNC_ERROR_CHECK = 1.0

#: Children are listed and watched by these labels: managed by orkestra, and made by
#: this box (:data:`BOX_LABEL`), so that each box caches its own children only.
CHILD_SELECTOR = f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}"


def box_child_selector(crd: CrdEntry) -> str:
    """The label selector of the box's child informers."""
    types = crd.api_types
    return f"{CHILD_SELECTOR},{BOX_LABEL}={box_label_value(types.api_version, types.kind)}"


def child_kinds(crd: CrdEntry) -> list[tuple[str, str]]:
    """(apiVersion, kind) of every child kind the box may create, known at load time.

    A ``custom`` entry whose apiVersion or kind is a template is only known
    per CR: the pipeline reads those children from the server instead.
    """
    box = crd.operator_box
    assert box is not None
    kinds: list[tuple[str, str]] = []
    for resources in (box.on_create, box.on_reconcile, box.on_delete):
        for group, entries in resources.items():
            if group != "custom":
                info = RESOURCE_GROUPS[group]
                pair = (info.api_version, info.kind)
                if pair not in kinds:
                    kinds.append(pair)
                continue
            for entry in entries:
                api_version, kind = entry.fields.get("apiVersion"), entry.fields.get("kind")
                if _literal(api_version) and _literal(kind):
                    pair = (str(api_version), str(kind))
                    if pair not in kinds:
                        kinds.append(pair)
    # A remote reconciler's managedResources: watched like declared children.
    for pair in box.remote.managed if box.remote is not None else ():
        if pair not in kinds:
            kinds.append(pair)
    return kinds


def _literal(value: Any) -> bool:
    if isinstance(value, Text):
        return not value.is_template and bool(value.source)
    return isinstance(value, str) and bool(value)


def meaningful_cr_change(change: Change) -> bool:
    """Does this change of a CR call for a reconcile? Our own status writes do not."""
    if change.type != "MODIFIED" or change.old is None or change.new is None:
        return True
    old = change.old.get("metadata") or {}
    new = change.new.get("metadata") or {}
    if old.get("resourceVersion") == new.get("resourceVersion"):
        return False
    return any(
        old.get(field) != new.get(field)
        for field in (
            "generation",
            "deletionTimestamp",
            "finalizers",
            "labels",
            "annotations",
            "uid",
        )
    )


class BoxSetupError(Exception):
    """The box cannot start (its CRD is not served); its supervisor retries with backoff."""


def crd_missing_message(crd: CrdEntry, server: str) -> str:
    """One line: the cluster lacks the box's CRD, and the ways to get it there."""
    types = crd.api_types
    install = f"kubectl apply -f {crd.crd_file}" if crd.crd_file is not None else "kubectl apply"
    cluster = f"the cluster {server}" if server else "the cluster"
    return (
        f"{cluster} does not serve {types.kind} in {types.api_version}: "
        f"install its CRD ({types.plural}.{types.group}) with {install}, or run with "
        "--install-crds (or --embedded, for the embedded API server)"
    )


class Box:
    """The running operatorBox of one CRD. Created by the runtime; run with :meth:`run`."""

    def __init__(
        self,
        crd: CrdEntry,
        *,
        kube: KubeClient,
        registry: KatalogRegistry,
        wrap_reconcile: Callable[[ReconcileFn[ObjectKey]], ReconcileFn[ObjectKey]] | None = None,
    ) -> None:
        if crd.operator_box is None:
            raise ValueError(f"CRD {crd.key!r} has no operatorBox")
        self.name = crd.key
        # A seam for tests (orkestra_trio.testing): wraps the pipeline the workers call,
        # to inject faults and record every reconcile. None in production.
        self._wrap_reconcile = wrap_reconcile
        self.crd = crd
        self.model = crd.operator_box
        self.kube = kube
        self.registry = registry
        settings = self.model.reconciler
        self.workers = settings.workers
        self.metrics = BoxMetrics(baseline_workers=settings.workers)
        self.health = BoxHealth(self.name, failure_threshold=settings.queue.failure_threshold)
        self.queue: WorkQueue[ObjectKey] = WorkQueue(
            max_depth=settings.queue.max_depth,
            metrics=self.metrics,
            retry_budget=TokenBucket(RETRY_RATE, RETRY_BURST),
            name=self.name,
        )
        #: This box's share of the Trio loop: its tasks run with it as CURRENT_SHARE.
        self.share = registry.loop_share.add(
            self.name, weight=settings.weight, metrics=self.metrics
        )
        self.events = BoxEvents(
            kube,
            crd.api_types.kind,
            budget=TokenBucket(EVENT_RATE, EVENT_BURST),
            metrics=self.metrics,
        )
        self.events.on_forbidden = self.health.record_blocked
        #: ``notification``: sends the alerts of this box's reconciles (None: nothing to send).
        notification = crd.notification
        self.notifier: Notifier | None = None
        if notification is not None and notification.active:
            self.notifier = Notifier(self.name, notification, self.metrics)
        self.supervisor = Supervisor(
            self.name,
            self._run_once,
            health=self.health,
            metrics=self.metrics,
            # Waiting for a CRD or for the cluster: one line per retry, no traceback.
            expected=(BoxSetupError, KubeError),
        )
        #: (box, "started" | "ready" | "healthy") this box waits for; filled in by the runtime.
        self.dependencies: list[tuple[Box, str]] = []
        self.pipeline: ReconcilePipeline | None = None
        #: Told each reconcile plan the box applies, across restarts (``simulate --plans``).
        self.on_plan: Callable[[ObjectKey, ReconcilePlan], None] | None = None
        self.pool: WorkerPool[ObjectKey] | None = None
        self.cr_informer: Informer | None = None
        self.enrichment: Enrichment | None = None
        self.child_informers: dict[tuple[str, str], Informer] = {}
        #: The objects its ``fromSecret``/``fromConfigMap`` entries copy, cached by informers of
        #: their own.
        self.sources = CopySources(source_scopes(self.model))
        #: Children of an earlier version labelled yet (once per box, not per restart).
        self._adopted = False
        self.paused = False
        # Cancels the box while it is still starting (waiting for dependencies or
        # informers): a stop must not wait for a start that may never come.
        self._start_scope = trio.CancelScope()
        self._working = False
        autoscale = self.model.autoscale
        #: Seconds between resyncs of every CR (None: none), and an Event set when
        #: autoscale changes it; autoscale may only change it when it says resync.
        self.resync_period: float | None = settings.resync
        self._resync_changed = trio.Event()
        self._resync_can_change = autoscale is not None and any(
            condition.override.resync is not None for condition in autoscale.conditions
        )
        remote = registry.remote
        #: Moves ``workers`` with the Katalog's ``autoscale`` conditions (None without any).
        self.autoscaler: Autoscaler | None = None
        if autoscale is not None and autoscale.conditions:
            self.autoscaler = Autoscaler(
                autoscale,
                baseline=settings.workers,
                metrics=self.metrics_json,
                apply=self.resize,
                settle=self._autoscale_settings,
                reader=remote if isinstance(remote, SourceReader) else None,
                cross=self.model.cross,
                local_metrics=self._observed_metrics,
                name=self.name,
            )

    # ---------------------------------------------------------------- running

    async def run(self) -> None:
        """Run the box (restarted by its supervisor after a crash) until :meth:`stop`."""
        if self.queue.shutting_down:
            self.health.mark_stopped()
            return
        # Every task of the box (workers, timers, informers it starts) inherits
        # this: the loop time they use and the requests they send are the box's.
        CURRENT_SHARE.set(self.share)
        # Runnable again after a cancellation (a leader that lost its lease and
        # won it back): a cancel scope can be entered only once.
        self._start_scope = trio.CancelScope()
        try:
            with self._start_scope:
                await self.supervisor.run()
        finally:
            self.health.mark_stopped()

    def stop(self) -> None:
        """Take no more work; in-flight reconciles finish, then :meth:`run` returns."""
        self.queue.shutdown()
        if not self._working:
            self._start_scope.cancel()

    async def _run_once(self) -> None:
        if self.pipeline is None:
            await self._setup()
        assert self.pool is not None and self.cr_informer is not None
        assert self.pipeline is not None
        # Waiting for dependsOn at start is a pause like any later one: keys
        # wait in the queue, and "ready"/"idle" do not wait for this box (a
        # healthy dependency may need CRs nobody has created yet).
        self.paused = not self.dependencies_met()
        self.health.mark_started()
        try:
            await self._wait_dependencies()
        finally:
            self.paused = False
        # A box restarted while paused (a crash while blind or waiting) would
        # otherwise keep the pool at zero workers forever.
        if self.pool.size != self.workers:
            self.pool.resize(self.workers)
        for informer in self._own_informers():
            await self._wait_synced(informer)
        if not self._adopted:
            await self._adopt_children()
        for key in self.cr_informer.keys():  # noqa: SIM118 (a list copy)
            self.queue.add(key)
        self.health.mark_synced()
        async with trio.open_nursery() as nursery:
            if self.resync_period or self._resync_can_change:
                nursery.start_soon(self._resync)
            if self.dependencies:
                nursery.start_soon(self._follow_dependencies)
            if self.autoscaler is not None:
                nursery.start_soon(self.autoscaler.run)
            nursery.start_soon(self._follow_informer_errors)
            nursery.start_soon(self.pipeline.planner.run)
            if self.notifier is not None:
                nursery.start_soon(self.notifier.run)
            self._working = True
            try:
                await self.pool.run()
            finally:
                self._working = False
            nursery.cancel_scope.cancel()

    async def _adopt_children(self) -> None:
        """Once per box: label the children an earlier version made (:mod:`.adoption`)."""
        assert self.cr_informer is not None
        types = self.crd.api_types
        uids = {
            str(uid) for obj in self.cr_informer.objects() if (uid := obj["metadata"].get("uid"))
        }
        await adopt_children(
            self.kube,
            list(self.child_informers),
            cr_uids=uids,
            box_label=box_label_value(types.api_version, types.kind),
            box=self.name,
            namespace=self.registry.namespace,
        )
        self._adopted = True

    async def _wait_synced(self, informer: Informer) -> None:
        """Wait for the informer's first list; meanwhile its errors show in the box's health."""
        while not informer.synced.is_set():
            with trio.move_on_after(SYNC_ERROR_CHECK):
                await informer.synced.wait()
            if informer.error and not informer.synced.is_set():
                await self._blocked(informer.error)

    async def _blocked(self, error: str) -> None:
        """Health says why the box cannot see what it needs; a new reason is also an Event."""
        if self.health.last_error == error:
            return
        self.health.record_blocked(error)
        logger.warning("box %s: %s", self.name, error)
        await self.events.box_blocked(self.name, error)

    async def _follow_informer_errors(self) -> None:
        """A synced informer that starts failing (a watch refused) shows in health too.

        The CR informer matters most: while its watch is stalled or failing the
        box cannot see new or changed CRs, so it reads as degraded (and
        ``/ready`` says no) and its workers pause until the watch delivers
        again (or a relist replaced the cache): no reconcile from a stale cache.
        """
        assert self.cr_informer is not None
        cr_informer = self.cr_informer
        informers = self._own_informers()
        while True:
            await trio.sleep(SYNC_ERROR_CHECK)
            if cr_informer.error:
                self.health.record_blind(f"cannot see its CRs: {cr_informer.error}")
            else:
                self.health.record_sighted()
            self._update_pause()
            for informer in informers:
                if informer.error:
                    await self._blocked(informer.error)

    @property
    def watch_stalls(self) -> int:
        """Watch streams of this box's informers closed for silence (each relisted)."""
        return sum(informer.stalls for informer in self._own_informers())

    async def _setup(self) -> None:
        """Informers and subscriptions, once per box (a restart keeps them)."""
        types = self.crd.api_types
        try:
            cr_info = await self.kube.resource((types.api_version, types.kind))
        except NotFound:
            raise BoxSetupError(crd_missing_message(self.crd, self.kube.server)) from None
        cr_informer = await self.registry.cr_informer(self.name)
        watched_informers = []
        for watch in self.model.watches:
            try:
                watched = await self.registry.informer(
                    (watch.api_version, watch.kind),
                    namespace=watch.namespace or None,
                    field_selector=f"metadata.name={watch.name}" if watch.name else "",
                )
            except NotFound:
                raise BoxSetupError(
                    f"box {self.name}: observe.watch of {watch.kind} in {watch.api_version} "
                    f"({watch.location}): the cluster does not serve that kind"
                ) from None
            watched_informers.append((watch, watched))
        for namespace, name in self._token_secrets():
            await self.registry.watch_secret(namespace, name)
        event_informers = []
        for event_watch in self.model.event_watches:
            # Notify-only: the box keeps the newest Event per CR, not the whole stream.
            informer = await self.registry.informer(
                EVENTS_V1,
                field_selector=event_watch.field_selector,
                namespace=self.crd.namespace or None,
                cached=False,
            )
            event_informers.append((event_watch, informer))
        for api_version, kind in child_kinds(self.crd):
            try:
                informer = await self.registry.informer(
                    (api_version, kind),
                    label_selector=box_child_selector(self.crd),
                    namespace=self.crd.namespace or None,
                )
            except NotFound:
                # A custom child whose CRD the cluster lacks: the box still runs,
                # and each reconcile that needs that child fails with a clear
                # error (the pipeline's lookup) until the CRD is installed.
                logger.warning(
                    "box %s: the cluster does not serve %s %s (a child kind); "
                    "reconciles that create it fail until its CRD is installed",
                    self.name,
                    api_version,
                    kind,
                    extra={"box": self.name, "event": "missing_kind"},
                )
                continue
            self.child_informers[(api_version, kind)] = informer
        self.cr_informer = cr_informer
        # fromSecret, fromConfigMap: informers for the objects the box copies (not its children).
        await self.sources.start(self.registry, self._on_source_change)
        # enrich: the pods and Warning Events of its CRs, from informers of its own.
        self.enrichment = await open_enrichment(
            self.registry, self.crd, (kind for _, kind in self.child_informers)
        )
        self.pipeline = ReconcilePipeline(
            name=self.name,
            crd=self.crd,
            kube=self.kube,
            registry=self.registry,
            cr_info=cr_info,
            cr_informer=cr_informer,
            child_informers=self.child_informers,
            events=self.events,
            health=self._health_json,
            metrics=self.metrics_json,
            timeout=self.model.reconciler.timeout,
            box_metrics=self.metrics,
            planner=Planner(self.crd, name=self.name, metrics=self.metrics),
            sources=self.sources,
        )
        self.pipeline.on_plan = self._plan_applied
        self.pipeline.notifier = self.notifier
        self.pipeline.enrichment = self.enrichment
        if self.pipeline.rollback is not None:  # rollback: its counts show in the box's health
            self.pipeline.rollback.on_change = self.health.record_rollbacks
        reconcile: ReconcileFn[ObjectKey] = self.pipeline
        if self._wrap_reconcile is not None:
            reconcile = self._wrap_reconcile(self.pipeline)
        self.pool = WorkerPool(
            self.queue,
            reconcile,
            workers=self.workers,
            timeout=self.model.reconciler.timeout,
            health=self.health,
            metrics=self.metrics,
            name=self.name,
            turn=self.registry.loop_share.turn(self.share),
        )
        cr_informer.subscribe(self._on_cr_change)
        if self.enrichment is not None:
            self.enrichment.start(self._on_enriched_change)
        for informer in self.child_informers.values():
            informer.subscribe(self._on_child_change)
        for watch, watched in watched_informers:
            watched.subscribe(partial(self._on_watched_change, watch))
        for event_watch, informer in event_informers:
            informer.subscribe(partial(self._on_event, event_watch, informer))

    async def _resync(self) -> None:
        """Every CR to the queue each ``resync_period`` (none while it is None); a new
        period (autoscale) starts counting when it is set."""
        assert self.cr_informer is not None
        while True:
            changed = self._resync_changed
            period = self.resync_period
            with trio.move_on_after(period if period else math.inf) as timer:
                await changed.wait()
            if timer.cancelled_caught:
                for key in self.cr_informer.keys():  # noqa: SIM118 (a list copy)
                    self.queue.add(key)

    def _autoscale_settings(self, override: AutoscaleOverride | None) -> None:
        """Autoscale's queue depth and resync period in force (None: the Katalog's)."""
        settings = self.model.reconciler
        depth = override.queue_depth if override is not None else None
        self.queue.max_depth = settings.queue.max_depth if depth is None else depth
        resync = override.resync if override is not None else None
        period = settings.resync if resync is None else resync
        if period != self.resync_period:
            self.resync_period = period
            self._resync_changed.set()
            self._resync_changed = trio.Event()

    def resize(self, workers: int) -> None:
        """Run ``workers`` workers from now on (autoscale); while paused, from the resume on."""
        self.workers = workers
        if self.pool is not None and not self.paused:
            self.pool.resize(workers)

    # ----------------------------------------------------------- dependencies

    def dependencies_met(self) -> bool:
        return all(dependency_holds(box.health.snapshot(), cond) for box, cond in self.dependencies)

    async def _wait_dependencies(self) -> None:
        for box, condition in self.dependencies:
            if not dependency_holds(box.health.snapshot(), condition):
                logger.info(
                    "box %s waits for box %s to be %s",
                    self.name,
                    box.name,
                    condition,
                    extra={"box": self.name, "event": "dependency"},
                )
                await box.health.wait_until(partial(dependency_holds, condition=condition))

    async def _follow_dependencies(self) -> None:
        """Pause the workers while a dependency stops holding; resume when it holds again."""
        assert self.pool is not None
        while True:
            await self._wait_changed_dependency()
            if self.queue.shutting_down:
                return
            self._update_pause()

    def _hold_reason(self) -> str | None:
        """Why the workers must not run now (None: they may)."""
        if not self.dependencies_met():
            return "a dependency no longer holds"
        if self.health.blind is not None:
            # Reconciling from a cache the watch no longer updates would write
            # from stale objects (a storm of 409s after an outage).
            return self.health.blind
        return None

    def _update_pause(self) -> None:
        """Pause the workers while a dependency fails or the CRs cannot be seen; resume after."""
        assert self.pool is not None
        reason = self._hold_reason()
        if reason is not None and not self.paused:
            logger.warning(
                "box %s pauses: %s",
                self.name,
                reason,
                extra={"box": self.name, "event": "dependency"},
            )
            self.paused = True
            self.pool.resize(0)
        elif reason is None and self.paused:
            logger.info(
                "box %s resumes", self.name, extra={"box": self.name, "event": "dependency"}
            )
            self.paused = False
            self.pool.resize(self.workers)
        elif reason is None and self.pool.size != self.workers:
            # Not paused but without its workers (restarted in the middle of a pause).
            self.pool.resize(self.workers)

    async def _wait_changed_dependency(self) -> None:
        async with trio.open_nursery() as nursery:

            async def watch(box: Box) -> None:
                await box.health.wait_changed(box.health.version)
                nursery.cancel_scope.cancel()

            for box, _ in self.dependencies:
                nursery.start_soon(watch, box)

    # ---------------------------------------------------------- notifications

    def _on_cr_change(self, change: Change) -> None:
        if change.type != "MODIFIED":
            # Gone, or new under this name: its failures are history. A CR
            # re-created under the name of a deleted one starts from the base
            # delay, not from the backoff its predecessor built up.
            self.queue.forget(change.key)
        if self.model.sentinels and self.pipeline is not None:
            fired = fired_sentinels(self.model.sentinels, change)
            if fired:
                self.pipeline.note_sentinels(change.key, fired)
        if meaningful_cr_change(change) and gate_passes(self.model.enqueue_gate, change):
            self._enqueue_cr(change.key, change.new)

    def _enqueue_cr(self, key: ObjectKey, cr: Mapping[str, Any] | None) -> None:
        """Queue a CR's key, unless ``queue.behaviour`` sheds it (katalog/shedding.py)."""
        if key not in self.queue:
            decision = admit(
                self.model.reconciler.queue, cr, depth=self.queue.depth, limit=self.queue.max_depth
            )
            if decision == DROP:
                self.queue.shed()
                return
            if decision == BEYOND:
                self.queue.add(key, beyond_limit=True)
                return
        self.queue.add(key, distinct=self.model.event_aware)

    def _token_secrets(self) -> set[tuple[str, str]]:
        """The Secrets named by ``auth.secretRef`` of this box's remote sources."""
        sources = [entry.source for entry in self.model.cross]
        if self.model.autoscale is not None:
            for condition in self.model.autoscale.conditions:
                for cond in (*condition.when, *condition.or_):
                    if isinstance(cond.source, CrossSource):
                        sources.append(cond.source)
        return {
            (source.token_secret[0], source.token_secret[1])
            for source in sources
            if source is not None and source.token_secret is not None
        }

    def _on_event(self, watch: EventWatch, informer: Informer, change: Change) -> None:
        """A matching Event: remember it for its CR and reconcile that CR. Events of the
        first list are history, as in Orkestra: they neither enqueue nor show."""
        if change.new is None or not informer.synced.is_set():
            return
        if self.cr_informer is None or self.pipeline is None:
            return
        summary = event_summary(change.new)
        for key in event_targets(
            watch,
            change.new,
            types=self.crd.api_types,
            namespaced=self.crd.namespaced,
            all_keys=self.cr_informer.keys(),
        ):
            if self.cr_informer.get(*key) is not None:  # as observe.watch: CRs that exist
                self.pipeline.note_event(watch.name, key, summary)
                self.queue.add(key)

    def _on_watched_change(self, watch: Watch, change: Change) -> None:
        if self.cr_informer is None or not watch_matches(watch, change):
            return
        if not gate_passes(watch.enqueue_gate, change):
            return
        for key in watch_targets(
            watch,
            change,
            types=self.crd.api_types,
            namespaced=self.crd.namespaced,
            all_keys=self.cr_informer.keys(),
        ):
            if self.cr_informer.get(*key) is not None:
                self.queue.add(key)

    def _own_informers(self) -> list[Informer]:
        """The informers whose sync, errors and stalls are this box's: its CRs, its
        children, the Secrets it copies and what it enriches with."""
        enriched = self.enrichment.caches if self.enrichment is not None else ()
        informers = [self.cr_informer, *self.child_informers.values(), *self.sources.caches]
        return [informer for informer in (*informers, *enriched) if informer is not None]

    def _on_enriched_change(self, key: ObjectKey) -> None:
        """An object a CR's enrichment read changed (a pod, a Warning...): that CR reconciles."""
        if self.cr_informer is not None and self.cr_informer.get(*key) is not None:
            self.queue.add(key)

    def _on_source_change(self, key: ObjectKey) -> None:
        """A Secret a CR copies changed: that CR copies it again."""
        if self.cr_informer is not None and self.cr_informer.get(*key) is not None:
            self.queue.add(key)

    def _on_child_change(self, change: Change) -> None:
        obj = change.current
        types = self.crd.api_types
        owner_key = label_owner_key(obj)
        if owner_key is not None and self.cr_informer is not None:
            # No ownerReference possible (another namespace, or cluster-scoped):
            # the owner-uid label names the CR; only ours if that CR is of our kind.
            namespace, name = owner_key
            key = (namespace if self.crd.namespaced else "", name)
            cr = self.cr_informer.get(*key)
            if cr is not None and (cr.get("metadata") or {}).get("uid") == owner_uid(obj):
                self.queue.add(key)
            return
        for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
            if (
                isinstance(ref, Mapping)
                and ref.get("controller")
                and ref.get("kind") == types.kind
                and ref.get("apiVersion") == types.api_version
            ):
                namespace = object_key(obj)[0] if self.crd.namespaced else ""
                self.queue.add((namespace, str(ref.get("name") or "")))

    # ------------------------------------------------------------- reading

    def _plan_applied(self, key: ObjectKey, plan: ReconcilePlan) -> None:
        if self.on_plan is not None:
            self.on_plan(key, plan)

    def _health_json(self) -> Mapping[str, Any]:
        """``.health`` in templates: the ONCOP health with the rest of Orkestra's fields
        (its template context's names and its CRDHealthResponse's, both spellings)."""
        snapshot = self.health.snapshot()
        error_rate = round(self.metrics.error_rate_percent(), 1)
        unhealthy_dependencies = not self.dependencies_met()
        return {
            **snapshot.to_json(wall_time),
            "degraded": snapshot.state is HealthState.DEGRADED,
            "failedReconciles": snapshot.failed_reconciles,
            "errorRatePercent": error_rate,
            "errorRate": error_rate,
            "hasUnhealthyDeps": unhealthy_dependencies,
            "hasUnhealthyDependencies": unhealthy_dependencies,
            "queueDepth": self.queue.depth,
            "resourceCount": self.resource_count,
        }

    def metrics_json(self) -> Mapping[str, Any]:
        autoscale_active = self.autoscaler is not None and self.autoscaler.active is not None
        return {**self.metrics.oncop_metrics(), "autoscaleActive": autoscale_active}

    def _observed_metrics(self, crd: str) -> Mapping[str, Any] | None:
        """Another box's ONCOP metrics, for autoscale conditions on a same-process ``cross:``."""
        try:
            return self.registry.box(crd).metrics_json()
        except KeyError:
            return None

    @property
    def resource_count(self) -> int:
        return len(self.cr_informer) if self.cr_informer is not None else 0


def dependency_holds(snapshot: HealthSnapshot, condition: str) -> bool:
    """Does a box in ``snapshot`` satisfy ``dependsOn: {box: condition}`` (KATALOG.md)?"""
    if condition == "healthy":
        # Only a succeeded reconcile: a pending box (no CR reconciled yet) has
        # proved nothing. Waiting for "not failing" is what "ready" says.
        return snapshot.state is HealthState.HEALTHY
    if condition == "ready":
        return snapshot.state in (HealthState.HEALTHY, HealthState.PENDING)
    return snapshot.state is not HealthState.NOT_STARTED
