"""The reconcile pipeline: one CR, one pass, from the cache to the fewest writes that suffice.

The steps, in order (issue 5):

1. Read the CR from the box's informer cache. Gone: nothing to do.
2. Being deleted (``deletionTimestamp``) and carrying our finalizer: create
   the ``onDelete`` children (waiting for those marked ``wait: true`` to
   finish), delete the children the garbage collector cannot reach, post
   ``Deleting``/``<Kind>Deleted`` Events and remove the finalizer. Nothing
   else runs for a CR on its way out.
3. Ensure our finalizer, only when the box has ``onDelete`` children, or
   (step 6) before creating a child that cannot carry an ownerReference to
   the CR (another namespace, or cluster-scoped under a namespaced CR): such a
   child carries the owner-uid label instead, and the deletion path deletes
   it, since the garbage collector cannot.
4. ``cross:`` reads: in-memory lookups through the registry (which remembers
   them, so a change of what was read re-enqueues this CR). They run before
   the gate, not after as the issue lists them, so that a box-level ``when``
   may test what another box reports; they cost no request either way.
   Then the external calls (preReconcile, onCreate, onReconcile: see
   :mod:`.external`), whose answers the gate and the templates read too.
5. The box-level ``when``/``or`` gate: when it fails, nothing is written and
   the box's health reads ``gated``.
6. onCreate and onReconcile children, in the fixed apply order
   (:mod:`.children`: create when absent, correct drift, delete what turned off).
7. Status: observedGeneration, the Ready condition, the declared fields;
   written only when it changed (:mod:`.status`).
8. A ``<Kind>Reconciled`` Event when the reconcile changed something.
9. ``requeue.after`` when its conditions hold.

Steps 5-9 are decided by one pure function, :func:`orkestra_trio.katalog.plan.plan_reconcile`
(labels, children, status, Events, requeue from the CR and what was read for it);
this module reads what the plan needs (steps 1-4), applies the plan against its
caches, and runs the deletion path. The offline ``render`` command prints the
same plan, and ``simulate --plans`` the plans applied here.

A failure anywhere in 4-9 is reported on the CR (Ready=False with the error,
a Warning Event) on a best-effort basis and then re-raised, so that
``safe_reconcile`` records it in the box's health and requeues the key with
backoff. A failure is cheap to repeat: the status is written only when it
changes, and the Event only when the CR's error differs from its last one
(a failing CR whose error did not change writes nothing new).
"""

from __future__ import annotations

import contextlib
import datetime
import logging
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any

import attrs
import trio

from orkestra_trio.katalog import CrdEntry, OperatorBox
from orkestra_trio.katalog.admission import run_rules, uses_unique
from orkestra_trio.katalog.conditions import conditions_hold
from orkestra_trio.katalog.manifests import OWNER_NAMESPACE_ANNOTATION, OWNER_UID_LABEL
from orkestra_trio.katalog.model import OrderedDelete
from orkestra_trio.katalog.notification import conditions_only, failure_only
from orkestra_trio.katalog.plan import (
    ON_NEW_MESSAGE,
    ON_WRITES,
    Observed,
    PlannedOutcome,
    ReconcilePlan,
    earliest,
    namespace_allowed,
    plan_failure,
)
from orkestra_trio.katalog.render import (
    RenderedChild,
    RenderError,
    build_context,
    normalized,
    render_children,
    source_refs,
)
from orkestra_trio.katalog.rollback import (
    can_roll_back,
    previous_spec,
    rolled_back,
    should_roll_back,
    success_patch,
    trigger_patch,
)
from orkestra_trio.kube import (
    AlreadyExists,
    Conflict,
    KubeClient,
    KubeError,
    NotFound,
    ResourceInfo,
)

from .certificates import with_certificates
from .children import ApplyReport, apply_children, prunable_kinds, prune_orphans
from .enrich import Enrichment
from .events import BoxEvents
from .external import ExternalCalls
from .informer import Informer, ObjectKey, controller_uid, object_key
from .metrics import BoxMetrics, cross_source
from .notifier import Notifier
from .planner import Planner
from .registry import CrossTarget, KatalogRegistry
from .rollback import RollbackTracker
from .safe import DONE, Outcome, describe_exception
from .sources import CopySources
from .status import write_status

logger = logging.getLogger(__name__)

#: The finalizer a box puts on its CRs when it has onDelete work to do.
FINALIZER = "orkestra.orkspace.io/finalizer"
#: Longest the error report (status + Event) of a failed reconcile may take.
ERROR_REPORT_DEADLINE = 5.0
#: ``ttlSecondsAfterFinished`` of an onDelete Job that sets none: the cluster's TTL
#: controller removes it this long after it finished (it outlives its CR otherwise).
ON_DELETE_JOB_TTL = 600
#: Seconds between checks of a ``wait: true`` onDelete child, besides its watch events.
ON_DELETE_WAIT_RECHECK = 30.0
#: Seconds between checks of an ordered onDelete group, besides its children's watch events.
ORDERED_DELETE_POLL = 3.0
#: Share of the box's timeout kept back to report a reconcile that runs out of time.
REPORT_MARGIN = 0.1


#: Wall time at Trio time zero, set on first use in a Trio run and shared by every box of
#: it: deadlines, cron windows and generated Secrets follow Trio's clock (MockClock moves
#: them as it moves every sleep), and two boxes never disagree on the time. Anchored per
#: pipeline, boxes that started after a MockClock jump read times tens of seconds apart.
_WALL_ANCHOR: trio.lowlevel.RunVar[datetime.datetime] = trio.lowlevel.RunVar("wall_anchor")


def wall_now() -> datetime.datetime:
    """The wall clock as the reconciles of this Trio run see it (see :data:`_WALL_ANCHOR`)."""
    try:
        anchor = _WALL_ANCHOR.get()
    except LookupError:
        anchor = datetime.datetime.now(datetime.UTC) - datetime.timedelta(
            seconds=trio.current_time()
        )
        _WALL_ANCHOR.set(anchor)
    return anchor + datetime.timedelta(seconds=trio.current_time())


class MissingChildKind(Exception):
    """A child's kind is not served (its CRD is missing): this reconcile fails, the box runs on."""


class ReconcilePipeline:
    """The reconcile function of one box: ``await pipeline(key)`` (see the module docstring)."""

    def __init__(
        self,
        *,
        name: str,
        crd: CrdEntry,
        kube: KubeClient,
        registry: KatalogRegistry,
        cr_info: ResourceInfo,
        cr_informer: Informer,
        child_informers: Mapping[tuple[str, str], Informer],
        events: BoxEvents,
        health: Callable[[], Mapping[str, Any]] = dict,
        metrics: Callable[[], Mapping[str, Any]] = dict,
        timeout: float = 30.0,
        box_metrics: BoxMetrics | None = None,
        planner: Planner | None = None,
        sources: CopySources | None = None,
    ) -> None:
        assert crd.operator_box is not None
        self.name = name
        self.crd = crd
        self.box: OperatorBox = crd.operator_box
        self.kube = kube
        self.registry = registry
        self.cr_info = cr_info
        self.cr_informer = cr_informer
        self.child_informers = dict(child_informers)
        self.events = events
        self._health = health
        self._metrics = metrics
        self.timeout = timeout
        #: Where cross reads are counted (metrics and the Control Center's graph).
        self.box_metrics = box_metrics
        #: The objects the box's ``fromSecret``/``fromConfigMap`` entries copy (None: none).
        self.sources = sources if sources is not None and sources.scopes else None
        #: Computes the plans: in the loop, or in the box's process once they are heavy.
        self.planner = planner or Planner(crd, name=name, metrics=box_metrics)
        self.writes = 0  # children and status writes, for tests and benchmarks
        self._prunable = prunable_kinds(self.box)
        #: Does the box make children (its own entries, or a remote reconciler's)?
        self._declares_children = bool(
            self.box.on_create or self.box.on_reconcile or self.box.remote is not None
        )
        #: The last remote-read error reported per (CR, cross entry), so it is posted once.
        self._cross_errors: dict[tuple[ObjectKey, str], str] = {}
        #: Told every plan this pipeline applies (``simulate --plans`` prints them).
        self.on_plan: Callable[[ObjectKey, ReconcilePlan], None] | None = None
        #: The error last reported per failing CR, so that a repeat is not posted again.
        self._errors: dict[ObjectKey, str] = {}
        #: observe.events: the newest matching Event per CR and watch name.
        self._events: dict[ObjectKey, dict[str, Mapping[str, Any]]] = {}
        #: Declared sentinels that fired in updates of a CR since its last plan.
        #: ``enrich``: the box's enrichment caches (set by the box; None without).
        self.enrichment: Enrichment | None = None
        self._fired: dict[ObjectKey, frozenset[str]] = {}
        #: The messages last posted per CR of the plan's ON_NEW_MESSAGE Events (validation
        #: warnings): a warning that holds on is posted once, not on every reconcile.
        self._told: dict[ObjectKey, frozenset[tuple[str, str]]] = {}
        #: ``unique`` compares a CR with the box's others: only then are they handed to the plan.
        self._needs_peers = uses_unique(crd)
        #: The box's external calls, and what its CRs' side-effecting calls last sent.
        self.external = ExternalCalls(self.box, time_limit=timeout)
        #: ``notification``: where the plans' alerts go (set by the box; None without any).
        self.notifier: Notifier | None = None
        #: ``rollback``: the CRs' failure streaks and rollbacks (None: the box does not roll back).
        self.rollback = RollbackTracker(self.box.rollback) if self.box.rollback else None

    def note_event(self, name: str, key: ObjectKey, event: Mapping[str, Any]) -> None:
        """The newest Event of ``observe.events.<name>`` for ``key`` (``.events.<name>``)."""
        self._events.setdefault(key, {})[name] = event

    def _events_of(self, key: ObjectKey) -> dict[str, Any]:
        return dict(self._events.get(key) or {})

    def note_sentinels(self, key: ObjectKey, fired: frozenset[str]) -> None:
        """Sentinels that fired in an update of ``key``: its next plan's templates see them."""
        self._fired[key] = self._fired.get(key, frozenset()) | fired

    async def __call__(self, key: ObjectKey) -> Outcome:
        namespace, name = key
        cr = self.cr_informer.get(namespace, name)
        if cr is None:
            self.registry.forget_reader(self.name, key)
            self.external.forget(key)
            if self.sources is not None:
                self.sources.forget(key)
            if self.enrichment is not None:
                self.enrichment.forget(key)
            for slot in [slot for slot in self._cross_errors if slot[0] == key]:
                del self._cross_errors[slot]
            self._errors.pop(key, None)
            self._told.pop(key, None)
            self._fired.pop(key, None)
            self._events.pop(key, None)
            if self.notifier is not None:
                self.notifier.forget(key)
            if self.rollback is not None:
                self.rollback.forget(key)
            return DONE
        if (cr.get("metadata") or {}).get("deletionTimestamp"):
            return await self._refreshing_on_conflict(self._delete, cr, key)
        # Stop a little before the box's deadline so that a reconcile running
        # out of time is still reported on the CR (Ready=False, a Warning Event).
        margin = min(self.timeout * REPORT_MARGIN, ERROR_REPORT_DEADLINE)
        try:
            with trio.move_on_after(self.timeout - margin) as scope:
                outcome = await self._refreshing_on_conflict(self._pass, cr, key)
                self._errors.pop(key, None)
                if self.notifier is not None:  # the failure's alert, if any, has ended
                    self.notifier.offer(key, (), settles=failure_only)
                return outcome
        except Exception as exc:
            await self._report_error(cr, exc)
            if self.rollback is not None:
                await self._count_failure(cr, key)
            raise
        assert scope.cancelled_caught
        with trio.move_on_after(margin):
            await self._report_error(cr, f"reconcile timed out after {self.timeout:g}s")
            if self.rollback is not None:  # a timeout is a failure of the spec too
                await self._count_failure(cr, key)
        # The box's own deadline fires in a moment and records the timeout
        # (health, metrics, retry with backoff), exactly as for a hung reconcile.
        await trio.sleep_forever()
        raise AssertionError("unreachable")  # pragma: no cover

    async def _refreshing_on_conflict(
        self,
        step: Callable[[Mapping[str, Any], ObjectKey], Awaitable[Outcome]],
        cr: Mapping[str, Any],
        key: ObjectKey,
    ) -> Outcome:
        """Run ``step``; on a 409 (our cached CR was stale) read the CR afresh and run it once more.

        A cache that lags behind the server (right after a reconnect, or a
        write racing ours) is not a failure of the reconcile: only a second
        conflict, on the object just read, counts as one.
        """
        try:
            return await step(cr, key)
        except AlreadyExists:
            raise  # a child, not the CR: the child informer catches up by itself
        except Conflict:
            logger.info(
                "box %s: %s changed on the server meanwhile; reconciling it afresh",
                self.name,
                key,
                extra={"box": self.name, "key": key},
            )
            try:
                fresh = await self.kube.get(self.cr_info, key[1], namespace=key[0] or None)
            except NotFound:
                return DONE  # deleted meanwhile: its DELETED event follows
            return await step(fresh, key)

    # ------------------------------------------------------------ the pass

    async def _pass(self, cr: Mapping[str, Any], key: ObjectKey) -> Outcome:
        """Our finalizers on the CR (``removeFinalizers`` off it), then one reconcile pass."""
        if not namespace_allowed(self.crd, key[0]):
            return Outcome(gated=True)  # not ours to touch: no finalizer either
        present = list((cr.get("metadata") or {}).get("finalizers") or ())
        stripped = self._stripped_finalizers()
        kept = [name for name in present if name not in stripped]
        missing = [name for name in self._held_finalizers() if name not in kept]
        if missing or len(kept) != len(present):
            cr = await self._set_finalizers(cr, [*kept, *missing])
        return await self._reconcile(cr, key)

    async def _reconcile(self, cr: Mapping[str, Any], key: ObjectKey) -> Outcome:
        """Read what the plan needs, plan (pure, in katalog/plan.py), apply the plan."""
        cross, reads = await self._read_cross(cr)
        asking = cr
        if self.rollback is not None and rolled_back(cr):
            # Rolled back: the calls are made as the known-good spec made them (the failing
            # spec's may be what hangs), and the plan ignores a remote reconciler's answer.
            previous = previous_spec(cr)
            asking = cr if previous is None else {**cr, "spec": previous}
        admitted = self._admitted(asking)
        external, called = await self._call_external(asking, key, cross, admitted)
        self.registry.record_reads(self.name, key, reads | called)
        remote = None
        if asking is cr:
            remote = await self._reconcile_remotely(cr, cross, external, admitted)
        uid = str((cr.get("metadata") or {}).get("uid") or "")
        owned = self._owned_children(uid)
        enriched: dict[str, Any] = {}
        if self.enrichment is not None:
            # The children as templates see them: with enrich's underscore keys.
            enriched, owned, owner_reads = await self.enrichment.read(cr, owned)
            for target in owner_reads:  # the owner's changes reconcile the CR, as cross: reads
                self.registry.add_read(self.name, key, target)
        sources = {}
        if self.sources is not None:
            # The objects it copies, from the box's caches; recorded so a change re-enqueues it.
            refs = source_refs(self.box, build_context(normalized(self.crd, cr)))
            sources = self.sources.read(key, refs)
        observed = Observed(
            cr,
            cross=cross,
            external=external,
            sources=sources,
            remote=remote,
            children=owned,
            metrics=self._metrics(),
            health=self._health(),
            peers=tuple(self.cr_informer.objects()) if self._needs_peers else (),
            now=self._timestamp(),
            sentinels=self._fired.pop(key, frozenset()),
            events=self._events_of(key),
            enrichment=enriched,
        )
        try:
            # A CR without children yet gets them created by this pass, which then plans
            # the status over them as written: planning it now too would be wasted.
            plan = await self.planner.reconcile(
                observed, outcome=bool(owned) or not self._declares_children
            )
            if self.on_plan is not None:
                self.on_plan(key, plan)
            return await self._apply(cr, plan, observed)
        except BaseException:
            # A failed (or cancelled) reconcile is retried: its retry must see the
            # sentinels this one was given, with any that fired meanwhile.
            if observed.sentinels:
                self.note_sentinels(key, observed.sentinels)
            raise

    async def _apply(
        self, cr: Mapping[str, Any], plan: ReconcilePlan, observed: Observed
    ) -> Outcome:
        """Apply ``plan``: the writes its parts need against what the caches hold, in order."""
        if self.notifier is not None:
            self.notifier.offer(object_key(cr), plan.notices, settles=conditions_only)
        if plan.gated:
            return Outcome(gated=True, requeue_after=plan.requeue_after)
        await self._post_new_messages(cr, plan)
        if plan.cr_patch is not None:
            # The mutation rules' patch: the rest of the plan was made for the CR as patched.
            cr = await self._patch_cr(cr, plan.cr_patch)
            observed = attrs.evolve(observed, cr=cr)
        if plan.labels is None:
            raise _failure(plan)
        await self._ensure_labels(cr, plan.labels)
        if plan.children is None:
            raise _failure(plan)
        if plan.needs_finalizer and FINALIZER not in _finalizers(cr):
            # Children the garbage collector cannot reach (no ownerReference
            # possible) are deleted on the deletion path: hold the CR until then.
            # Before they exist, so that none can be left behind.
            cr = await self._set_finalizers(cr, [*_finalizers(cr), FINALIZER])
        uid = str((cr.get("metadata") or {}).get("uid") or "")
        children = with_certificates(plan.children)
        report = await apply_children(self.kube, children, owner_uid=uid, lookup=self._lookup_child)
        owned = list(observed.children)
        if self._prunable and not plan.rolled_back:  # rolled back: only the known-good apply
            await prune_orphans(self.kube, owned, children, self._prunable, report)
        self.writes += report.writes
        outcome = PlannedOutcome(plan.status, plan.requeue_after, plan.error)
        if report.writes or plan.cr_patch is not None or plan.outcome_later:
            # The status sees the children as the server answered our writes, and the
            # CR as patched (its new generation: observedGeneration must not lag one behind).
            outcome = await self.planner.outcome(
                attrs.evolve(observed, children=_overlay(owned, report))
            )
            # That outcome knows nothing of the generated Secrets' next renewal.
            requeue = earliest(outcome.requeue_after, plan.renew_after)
            outcome = attrs.evolve(outcome, requeue_after=requeue)
        if outcome.status is None:
            raise _failure(outcome)
        if await self._write_status(cr, outcome.status):
            self.writes += 1
        if report.writes:
            for event in plan.events:
                if event.when == ON_WRITES:
                    await self.events.planned(cr, event, report.summary())
        if outcome.error is not None:
            raise _failure(outcome)
        if self.rollback is not None:
            await self._settle_rollback(cr, plan.rolled_back)
        if outcome.requeue_after is None:
            return DONE
        return Outcome(requeue_after=outcome.requeue_after)

    # ------------------------------------------------------------ rollback

    async def _settle_rollback(self, cr: Mapping[str, Any], rolled_back: bool) -> None:
        """After a reconcile that succeeded: a rolled-back one keeps the CR rolled back; an
        ordinary one ends its failure streak and records its spec as the known-good one
        (one annotation write, only when the spec differs from the one recorded)."""
        assert self.rollback is not None
        key = object_key(cr)
        if rolled_back:
            self.rollback.rolled_back(key)
            return
        self.rollback.succeeded(key)
        metadata = cr.get("metadata") or {}
        stamp = (str(metadata.get("uid") or ""), int(metadata.get("generation") or 0))
        if self.rollback.is_recorded(key, stamp):
            return  # this generation's spec was recorded: no need to decode the annotation
        patch = success_patch(cr)
        if patch is not None:
            await self._annotate(cr, patch)
        self.rollback.recorded(key, stamp)

    async def _count_failure(self, cr: Mapping[str, Any], key: ObjectKey) -> None:
        """A failed reconcile of a box that rolls back: at the trigger's count, the CR is put in
        rollback (its next reconcile, which the annotation's watch event brings, applies it)."""
        assert self.rollback is not None
        if rolled_back(cr):
            return  # a rolled-back reconcile failing: there is nothing further back to go
        now = trio.current_time()
        failures = self.rollback.failed(key, now)
        if not (should_roll_back(self.rollback.rollback, failures, now) and can_roll_back(cr)):
            return
        with trio.move_on_after(ERROR_REPORT_DEADLINE):
            try:
                await self._annotate(cr, trigger_patch(cr))
            except KubeError as exc:
                logger.warning(
                    "box %s: could not put %s in rollback: %s",
                    self.name,
                    key,
                    exc,
                    extra={"box": self.name, "key": key},
                )
                return
            self.rollback.rolled_back(key, triggered=True)
            logger.warning(
                "box %s: %s failed %d times in a row: rolled back to its last known-good spec",
                self.name,
                key,
                len(failures),
                extra={"box": self.name, "key": key},
            )

    async def _annotate(self, cr: Mapping[str, Any], patch: Mapping[str, Any]) -> None:
        """A merge patch of the CR's annotations (no resourceVersion: they are ours alone)."""
        metadata = cr.get("metadata") or {}
        with contextlib.suppress(NotFound):  # deleted meanwhile: its DELETED event follows
            await self.kube.merge_patch(
                self.cr_info,
                str(metadata.get("name")),
                patch,
                namespace=str(metadata.get("namespace") or "") or None,
            )
            self.writes += 1

    async def _post_new_messages(self, cr: Mapping[str, Any], plan: ReconcilePlan) -> None:
        """The plan's ON_NEW_MESSAGE Events whose message the CR was not told last time."""
        key = object_key(cr)
        now = frozenset(
            (event.reason, event.message) for event in plan.events if event.when == ON_NEW_MESSAGE
        )
        before = self._told.get(key, frozenset())
        if now:
            self._told[key] = now
        else:
            self._told.pop(key, None)
        for event in plan.events:
            if event.when == ON_NEW_MESSAGE and (event.reason, event.message) not in before:
                await self.events.planned(cr, event, event.message)

    async def _patch_cr(self, cr: Mapping[str, Any], patch: Mapping[str, Any]) -> Mapping[str, Any]:
        """One merge patch of the CR, guarded by its resourceVersion (a stale cache: 409, retried
        on the CR read afresh by :meth:`_refreshing_on_conflict`)."""
        metadata = cr.get("metadata") or {}
        body = dict(patch)
        if metadata.get("resourceVersion"):
            body["metadata"] = {
                **(patch.get("metadata") or {}),
                "resourceVersion": metadata["resourceVersion"],
            }
        result = await self.kube.merge_patch(
            self.cr_info,
            str(metadata.get("name")),
            body,
            namespace=str(metadata.get("namespace") or "") or None,
        )
        self.writes += 1
        return result

    async def _ensure_labels(self, cr: Mapping[str, Any], wanted: Mapping[str, str]) -> None:
        """The CRD entry's ``labels`` on the CR: one merge patch when one differs, else nothing."""
        metadata = cr.get("metadata") or {}
        present = metadata.get("labels") or {}
        missing = {key: value for key, value in wanted.items() if present.get(key) != value}
        if not missing:
            return
        await self.kube.merge_patch(
            self.cr_info,
            str(metadata.get("name")),
            {"metadata": {"labels": missing}},
            namespace=str(metadata.get("namespace") or "") or None,
        )
        self.writes += 1

    async def _read_cross(
        self, cr: Mapping[str, Any]
    ) -> tuple[dict[str, Any], frozenset[CrossTarget]]:
        if not self.box.cross:
            return {}, frozenset()
        cr = normalized(self.crd, cr)  # the selectors read the spec as the plan will
        context = build_context(cr)
        own_namespace = str((cr.get("metadata") or {}).get("namespace") or "")
        answers: dict[str, Any] = {}
        reads: set[CrossTarget] = set()
        for entry in self.box.cross:
            selector = entry.selector
            name = selector.name.render(context) if selector.name is not None else ""
            namespace = selector.namespace.render(context) if selector.namespace else ""
            answer, target = await self.registry.read_cross(
                entry,
                name=name,
                namespace=namespace or own_namespace,
                context=context,
                reader=(self.name, object_key(cr)),
            )
            answers[entry.as_] = answer
            if self.box_metrics is not None:
                self.box_metrics.observe_cross(
                    entry.as_,
                    entry.crd or f"labelSelector {entry.label_selector}",
                    cross_source(entry),
                    answer,
                    trio.current_time(),
                )
            if target is not None:
                reads.add(target)
            await self._report_cross_failure(cr, entry.as_, str(answer.get("error") or ""))
        return answers, frozenset(reads)

    def _admitted(self, cr: Mapping[str, Any]) -> bool:
        """Do the admission rules let the CR through? Orkestra validates before the template
        reconcile, so a denied CR makes no calls but preReconcile's (the plan reports the denial)."""
        if not (self.box.external or self.box.remote) or not self.crd.admission.has_rules:
            return True
        peers = tuple(self.cr_informer.objects()) if self._needs_peers else ()
        try:
            return not run_rules(self.crd.admission, cr, peers=peers).denials
        except Exception:
            return False  # the plan runs the rules again and reports why they fail

    async def _call_external(
        self, cr: Mapping[str, Any], key: ObjectKey, cross: Mapping[str, Any], admitted: bool
    ) -> tuple[dict[str, Any], frozenset[CrossTarget]]:
        """The box's external calls for this CR, in order, before planning (runtime/external.py)."""
        if not self.external.calls:
            return {}, frozenset()
        context = build_context(normalized(self.crd, cr), cross=cross)
        answers, reads = await self.external.run(
            self.registry.remote,
            key,
            context,
            announce=partial(self.registry.add_read, self.name, key),
            admitted=admitted,
        )
        for call in self.external.calls:
            if call.continue_on_error:  # the others fail the reconcile, which says why
                error = str(answers[call.name].get("error") or "")
                await self._report_cross_failure(cr, call.name, error, call=True)
        return answers, reads

    async def _reconcile_remotely(
        self,
        cr: Mapping[str, Any],
        cross: Mapping[str, Any],
        external: Mapping[str, Any],
        admitted: bool,
    ) -> dict[str, Any] | None:
        """The remote reconciler's answer (1.13), read before planning like the calls'."""
        if self.box.remote is None:
            return None
        if not admitted:
            return {"error": "not called: the admission rules deny the CR"}
        prepared = normalized(self.crd, cr)
        context = build_context(prepared, cross=cross, external=external)
        return await self.external.reconcile_remotely(self.registry.remote, cr, prepared, context)

    async def _report_cross_failure(
        self, cr: Mapping[str, Any], as_: str, error: str, *, call: bool = False
    ) -> None:
        """A Warning Event when an entry's read (``call``: an external call that may fail,
        ``continueOnError``) starts failing (or fails differently), once."""
        slot = (object_key(cr), f"external {as_}" if call else as_)
        if not error:
            self._cross_errors.pop(slot, None)
            return
        if self._cross_errors.get(slot) == error:
            return  # already said; repeating it every reconcile would be a write each time
        self._cross_errors[slot] = error
        if call:
            await self.events.external_call_failed(cr, as_, error)
        else:
            await self.events.cross_read_failed(cr, as_, error)

    def _owned_children(self, uid: str) -> list[Mapping[str, Any]]:
        owned: list[Mapping[str, Any]] = []
        for informer in self.child_informers.values():
            owned.extend(informer.owned_by(uid))
        return owned

    async def _lookup_child(
        self, api_version: str, kind: str, namespace: str, name: str
    ) -> Mapping[str, Any] | None:
        informer = self.child_informers.get((api_version, kind))
        if informer is not None:
            return informer.get(namespace, name)
        # A custom kind only known once rendered, or whose CRD was missing when
        # the box started: no informer, ask the server.
        try:
            info = await self.kube.resource((api_version, kind))
        except NotFound:
            raise MissingChildKind(
                f"{kind} {name}: the cluster does not serve kind {kind} in {api_version}; "
                "install its CRD (the box keeps running and retries)"
            ) from None
        try:
            return await self.kube.get(info, name, namespace=namespace or None)
        except NotFound:
            return None

    # ----------------------------------------------------------- deletion

    async def _delete(self, cr: Mapping[str, Any], key: ObjectKey) -> Outcome:
        """The deletion path, under our finalizer (the rule is in docs/katalog.md).

        onDelete children are created without an ownerReference (the garbage
        collector would remove them with the CR) but with the owner-uid label,
        so their changes still reach this CR. A Job gets a
        ``ttlSecondsAfterFinished`` unless it sets one, so the cluster removes
        it once finished. An entry with ``wait: true`` holds the finalizer until
        its child finished; the child is then deleted with the finalizer's removal.
        """
        finalizers = list((cr.get("metadata") or {}).get("finalizers") or ())
        self.registry.forget_reader(self.name, key)
        stripped = self._stripped_finalizers()
        if any(name in stripped for name in finalizers) and namespace_allowed(self.crd, key[0]):
            finalizers = [name for name in finalizers if name not in stripped]
            cr = await self._set_finalizers(cr, finalizers)
        if FINALIZER not in finalizers:
            return DONE  # not ours to hold up (or already released)
        uid = str((cr.get("metadata") or {}).get("uid") or "")
        context = build_context(
            cr, children=self._owned_children(uid), metrics=self._metrics(), health=self._health()
        )
        if self.box.ordered_delete is not None:
            pending = await self._delete_in_order(cr, context, self.box.ordered_delete)
            if pending is not None:
                return pending
        created: list[str] = []
        waiting: list[str] = []
        finished: list[tuple[RenderedChild, Mapping[str, Any]]] = []
        cleanup: set[tuple[str, str, str, str]] = set()
        for child in render_children(self.box, context, phase="onDelete"):
            if not child.present or child.manifest is None:
                continue
            cleanup.add((child.api_version, child.kind, child.namespace, child.name))
            cached = await self._lookup_child(
                child.api_version, child.kind, child.namespace, child.name
            )
            if cached is None:
                cached = await self._create_cleanup_child(child, cr)
                created.append(f"{child.kind} {child.name}")
            if child.wait:
                if cached is not None and child_finished(cached):
                    finished.append((child, cached))
                else:
                    waiting.append(f"{child.kind} {child.name}")
        if waiting:
            await self.events.deleting(cr, f"waiting for {', '.join(waiting)} to finish")
            # The child's watch events wake this CR up; this is the backstop.
            return Outcome(requeue_after=ON_DELETE_WAIT_RECHECK)
        await self.events.deleting(cr, "running onDelete before the resource is removed")
        removed = await self._delete_label_owned(uid, keep=cleanup)
        finalizers = [name for name in finalizers if name not in (FINALIZER, *self.box.finalizers)]
        await self._set_finalizers(cr, finalizers)
        # Only now: deleting a finished child first and then failing to remove the
        # finalizer would make the next pass create (and run) it again.
        for child, cached in finished:
            await self._delete_object(cached)
            removed.append(f"{child.kind} {child.name}")
        done = f"onDelete ran ({', '.join(created)})" if created else "nothing to clean up"
        if removed:
            done += f"; deleted {', '.join(removed)}"
        await self.events.deleted(cr, f"{done}; finalizer removed")
        return DONE

    def _held_finalizers(self) -> list[str]:
        """The finalizers this box keeps on its CRs: ours when it has deletion work, and the
        Katalog's own ``finalizers`` (removed together with ours once onDelete ran)."""
        if self.crd.remove_own_finalizers:
            return []
        if not (self.box.on_delete or self.box.ordered_delete or self.box.finalizers):
            return []
        return [FINALIZER, *self.box.finalizers]

    def _stripped_finalizers(self) -> frozenset[str]:
        """``removeFinalizers``: the names taken off the CRs (``true``: the box's own)."""
        own = (FINALIZER, *self.box.finalizers) if self.crd.remove_own_finalizers else ()
        return frozenset((*self.crd.remove_finalizers, *own))

    async def _write_status(self, cr: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
        """Patch the CR's status (True when written); never with ``ignoreStatusPatch``."""
        if self.crd.ignore_status_patch:
            return False
        return await write_status(self.kube, self.cr_info, cr, status) is not None

    def _timestamp(self) -> str:
        """:meth:`_wall_now` as status timestamps spell it (RFC 3339, seconds, UTC)."""
        return self._wall_now().strftime("%Y-%m-%dT%H:%M:%SZ")

    def _wall_now(self) -> datetime.datetime:
        """The wall clock, advanced by Trio's clock (a MockClock moves it too)."""
        return wall_now()

    async def _delete_in_order(
        self, cr: Mapping[str, Any], context: Mapping[str, Any], ordered: OrderedDelete
    ) -> Outcome | None:
        """Orkestra's ordered onDelete: each group's children deleted (foreground) and gone
        before the next group starts. None once every group is done; else when to look again.

        Past ``timeout`` (counted from the CR's deletionTimestamp) a Warning Event says which
        group holds the deletion up; the finalizer stays and the sequence keeps trying.
        """
        for group in ordered.groups:
            if not conditions_hold(group.when, group.or_, context):
                continue
            step = attrs.evolve(self.box, on_delete=group.resources)
            remaining: list[str] = []
            for child in render_children(step, context, phase="onDelete"):
                if not child.present:
                    continue
                cached = await self._lookup_child(
                    child.api_version, child.kind, child.namespace, child.name
                )
                if cached is None:
                    continue
                remaining.append(f"{child.kind} {child.name}")
                if not (cached.get("metadata") or {}).get("deletionTimestamp"):
                    with contextlib.suppress(NotFound):
                        await self.kube.delete(
                            (child.api_version, child.kind),
                            child.name,
                            namespace=child.namespace or None,
                            propagation_policy="Foreground",
                        )
                        self.writes += 1
            if remaining:
                message = (
                    f"ordered deletion, group {group.name}: waiting for {', '.join(remaining)}"
                )
                if _seconds_since_deletion(cr, self._wall_now()) > ordered.timeout:
                    await self.events.deletion_timed_out(
                        cr, f"{message} (past the {ordered.timeout:g}s timeout)"
                    )
                else:
                    await self.events.deleting(cr, message)
                return Outcome(requeue_after=ORDERED_DELETE_POLL)
        return None

    async def _create_cleanup_child(
        self, child: RenderedChild, cr: Mapping[str, Any]
    ) -> Mapping[str, Any] | None:
        """Create an onDelete child (see :meth:`_delete`); None when it already existed."""
        assert child.manifest is not None
        manifest = dict(child.manifest)
        metadata = dict(manifest.get("metadata") or {})
        metadata.pop("ownerReferences", None)
        cr_meta = cr.get("metadata") or {}
        metadata["labels"] = {
            **(metadata.get("labels") or {}),
            OWNER_UID_LABEL: str(cr_meta.get("uid") or ""),
        }
        metadata["annotations"] = {
            **(metadata.get("annotations") or {}),
            OWNER_NAMESPACE_ANNOTATION: str(cr_meta.get("namespace") or ""),
        }
        manifest["metadata"] = metadata
        if child.kind == "Job" and child.api_version == "batch/v1":
            spec = dict(manifest.get("spec") or {})
            spec.setdefault("ttlSecondsAfterFinished", ON_DELETE_JOB_TTL)
            manifest["spec"] = spec
        try:
            created = await self.kube.create(manifest, namespace=child.namespace or None)
        except AlreadyExists:
            return None  # our cache lags behind an earlier pass: the watch brings it
        self.writes += 1
        return created

    async def _delete_label_owned(
        self, uid: str, *, keep: set[tuple[str, str, str, str]]
    ) -> list[str]:
        """Delete the CR's children that no ownerReference ties to it (the GC would miss them).

        ``keep``: (apiVersion, kind, namespace, name) of the onDelete children.
        """
        removed = []
        for child in self._owned_children(uid):
            if controller_uid(child):
                continue  # the garbage collector's job, once the CR is gone
            namespace, name = object_key(child)
            ident = (str(child.get("apiVersion") or ""), str(child.get("kind") or ""))
            if (*ident, namespace, name) in keep:
                continue
            await self._delete_object(child)
            removed.append(f"{ident[1]} {name}")
        return removed

    async def _delete_object(self, obj: Mapping[str, Any]) -> None:
        namespace, name = object_key(obj)
        with contextlib.suppress(NotFound):
            await self.kube.delete(
                (str(obj.get("apiVersion") or ""), str(obj.get("kind") or "")),
                name,
                namespace=namespace or None,
                propagation_policy="Background",
                uid=str((obj.get("metadata") or {}).get("uid") or "") or None,
            )
            self.writes += 1

    async def _set_finalizers(
        self, cr: Mapping[str, Any], finalizers: list[str]
    ) -> Mapping[str, Any]:
        # Optimistic concurrency: a finalizer list changed meanwhile is a conflict (retry).
        return await self._patch_cr(cr, {"metadata": {"finalizers": finalizers or None}})

    # -------------------------------------------------------- error report

    async def _report_error(self, cr: Mapping[str, Any], exc: Exception | str) -> None:
        if isinstance(exc, str):
            message = exc
        elif isinstance(exc, RenderError | KubeError | MissingChildKind):
            message = str(exc)
        else:
            message = describe_exception(exc)
        with trio.move_on_after(ERROR_REPORT_DEADLINE):
            plan: ReconcilePlan | None = None
            try:
                plan = plan_failure(self.crd, Observed(cr, now=self._timestamp()), message)
                assert plan.status is not None
                if await self._write_status(cr, plan.status):
                    self.writes += 1
            except Exception as report_exc:  # the original failure is what matters
                logger.warning(
                    "box %s: could not write the error status of %s: %s",
                    self.name,
                    object_key(cr),
                    describe_exception(report_exc),
                    extra={"box": self.name, "key": object_key(cr)},
                )
            key = object_key(cr)
            if self.notifier is not None and plan is not None:
                self.notifier.offer(key, plan.notices, settles=failure_only)
            if self._errors.get(key) != message:
                self._errors[key] = message
                if plan is None:  # the report's plan failed: say it all the same
                    await self.events.reconcile_error(cr, message)
                for event in plan.events if plan is not None else ():
                    await self.events.planned(cr, event, message)


def child_finished(obj: Mapping[str, Any]) -> bool:
    """Has an onDelete child finished? A Job: Complete or Failed. Other kinds: once they exist."""
    if obj.get("kind") != "Job":
        return True
    for condition in (obj.get("status") or {}).get("conditions") or ():
        if condition.get("type") in ("Complete", "Failed") and condition.get("status") == "True":
            return True
    return False


def _seconds_since_deletion(cr: Mapping[str, Any], now: datetime.datetime) -> float:
    stamp = str((cr.get("metadata") or {}).get("deletionTimestamp") or "")
    try:
        since = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    return (now - since).total_seconds()


def _finalizers(cr: Mapping[str, Any]) -> list[str]:
    return list((cr.get("metadata") or {}).get("finalizers") or ())


def _overlay(owned: list[Mapping[str, Any]], report: ApplyReport) -> list[Mapping[str, Any]]:
    """The owned children with what this reconcile wrote replacing the cached versions."""

    def ident(obj: Mapping[str, Any]) -> tuple[str, str, str]:
        namespace, name = object_key(obj)
        return (str(obj.get("kind") or ""), namespace, name)

    merged = {ident(obj): obj for obj in owned}
    for obj in report.observed:
        before = merged.get(ident(obj)) or {}
        # enrich's underscore keys (``_pods``...) are the box's, not the server's: kept.
        kept = {key: value for key, value in before.items() if key.startswith("_")}
        merged[ident(obj)] = {**obj, **kept} if kept else obj
    for text in report.deleted:
        kind, _, name = text.partition(" ")
        for key in [k for k in merged if k[0] == kind and k[2] == name]:
            del merged[key]
    return list(merged.values())


def _failure(part: ReconcilePlan | PlannedOutcome) -> Exception:
    """The error that kept a part of the plan from being planned, raised where it is applied."""
    assert part.error is not None
    return part.error
