"""One reconcile as one pure plan: what the Katalog wants for a CR, given what was observed.

:func:`plan_reconcile` takes the CR, what was read for it (its children,
``cross:`` answers, the box's metrics and health) and the clock value the
status needs, and returns a :class:`ReconcilePlan`: the CR labels to set,
whether the CR must carry the finalizer first, the children to apply, the
status to write, the Events to post and when to reconcile again. It reads
nothing and writes nothing. The runtime (``runtime/pipeline.py``) applies
the plan (deciding what is unchanged against its caches; a reconcile that
fails applies :func:`plan_failure` instead), ``render`` prints
it for a CR given in files, and ``simulate --plans`` prints the plans the
runtime applied, through :func:`plan_document` for both.

Applying children can change what the status sees (a Deployment the server
just created has a status of its own): when the apply wrote something the
runtime asks :func:`plan_outcome` again with the children as the server
answered, and takes the status and requeue from that; the first plan's are
what they would be if nothing had to be written.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import attrs

from orkestra_trio.katalog.admission import WARNING_REASON, AdmissionDenied, run_rules
from orkestra_trio.katalog.conditions import (
    Condition,
    conditions_hold,
    context_now,
    next_clock_edge,
    with_clock,
    with_peers,
)
from orkestra_trio.katalog.copies import SOURCE_OBJECTS, SourceRef
from orkestra_trio.katalog.durations import parse_duration
from orkestra_trio.katalog.manifests import OWNER_UID_LABEL
from orkestra_trio.katalog.model import CrdEntry, OperatorBox, Requeue
from orkestra_trio.katalog.notification import Notice, condition_notices, failure_notices
from orkestra_trio.katalog.remote import RemoteOutcome, remote_outcome
from orkestra_trio.katalog.render import (
    RenderedChild,
    RenderError,
    build_context,
    cr_labels,
    describe_cr,
    normalized,
    render_reconcile_children,
    render_status,
)
from orkestra_trio.katalog.rollback import (
    REASON_ROLLED_BACK,
    previous_context,
    previous_spec,
    rollback_box,
    rolled_back,
    rolled_back_message,
)
from orkestra_trio.katalog.secrets import TlsRequest

#: ``PlannedEvent.message`` of an Event whose message is the apply's summary of its writes.
WRITES_SUMMARY = ""


#: ``ReconcilePlan.gated_by``: why nothing applies.
BOX_CONDITIONS = "the box's when/or conditions do not hold: nothing is applied"
NAMESPACE_GUARD = (
    "the CRD's allowedNamespaces/restrictedNamespaces keep this namespace out: nothing is applied"
)

#: ``PlannedEvent.when``: posted when applying the plan wrote something.
ON_WRITES = "the apply wrote something"
#: ``PlannedEvent.when``: posted when the message differs from the one the CR was last told.
ON_NEW_MESSAGE = "its message is new for the CR"


@attrs.frozen
class PlannedEvent:
    """An Event the plan posts on its CR, under the condition ``when`` (the runtime knows it).

    ``message`` empty: the apply's summary of what it wrote (known once applied).
    """

    type: str
    reason: str
    message: str = WRITES_SUMMARY
    when: str = ON_WRITES


@attrs.frozen
class Observed:
    """What one reconcile of a CR starts from; the runtime reads it from its caches."""

    cr: Mapping[str, Any]
    #: Each ``cross:`` entry's answer by its ``as`` name.
    cross: Mapping[str, Any] = attrs.field(factory=dict)
    #: Each external call's answer by its name (``.external.<name>``).
    external: Mapping[str, Any] = attrs.field(factory=dict)
    #: The remote reconciler's answer (an external call's shape), None without one.
    remote: Mapping[str, Any] | None = None
    #: The CR's children as read back (objects), for ``.children`` in templates.
    children: Iterable[Mapping[str, Any]] = ()
    metrics: Mapping[str, Any] = attrs.field(factory=dict)
    health: Mapping[str, Any] = attrs.field(factory=dict)
    #: The box's CRs as its informer holds them, for ``unique`` (empty when no
    #: condition of the CRD uses it: see :func:`~orkestra_trio.katalog.admission.uses_unique`).
    peers: Sequence[Mapping[str, Any]] = ()
    #: The objects the CR's ``fromSecret``/``fromConfigMap`` entries copy, by
    #: (kind, namespace, name), as the box's caches hold them (None: not there);
    #: see :func:`~.render.source_refs`.
    sources: Mapping[SourceRef, Mapping[str, Any] | None] = attrs.field(factory=dict)
    #: The clock of this reconcile: ``lastTransitionTime`` of a Ready condition that
    #: flips and workload ``autoscale`` cooldowns (RFC 3339, seconds); None reads
    #: the wall clock.
    now: str | None = None
    #: The box's declared sentinels that fired in updates of the CR since its last
    #: reconcile (``{{ if generationChanged }}``).
    sentinels: frozenset[str] = frozenset()
    #: ``observe.events``: the newest matching Event of the CR, by watch name.
    events: Mapping[str, Any] = attrs.field(factory=dict)
    #: ``enrich``: the related objects by enrichment name (``pods``, ``warnings``), as the
    #: box's caches hold them; templates see them at the context's top level.
    enrichment: Mapping[str, Any] = attrs.field(factory=dict)

    def clock(self) -> datetime.datetime | None:
        """``now`` as a datetime (None: the wall clock)."""
        if self.now is None:
            return None
        return datetime.datetime.fromisoformat(self.now.replace("Z", "+00:00"))


@attrs.frozen
class ReconcilePlan:
    """What one reconcile does for a CR (see the module docstring).

    The parts come in the order the runtime applies them: labels, children,
    status, requeue. When one fails to render, it and the parts after it are
    None and ``error`` says why: the runtime applies the parts before it and
    then fails, so a broken status template still lets the children be applied.
    """

    #: "Website default/my-site", for messages.
    cr: str
    #: The box-level ``when``/``or`` does not hold (or the CRD's namespace guard keeps
    #: the CR out, ``gated_by`` says which): nothing below applies.
    gated: bool = False
    gated_by: str = BOX_CONDITIONS
    #: The ``mutation`` rules' merge patch of the CR (None: nothing to change); the
    #: parts below are planned for the CR as patched.
    cr_patch: Mapping[str, Any] | None = None
    #: The CRD entry's ``labels`` for the CR (set when one differs).
    labels: Mapping[str, str] | None = None
    #: A child can carry no ownerReference (another namespace, cluster-scoped):
    #: the CR must hold the runtime's finalizer before it is created.
    needs_finalizer: bool = False
    #: onCreate and onReconcile children in apply order; absent ones are deleted if owned.
    children: tuple[RenderedChild, ...] | None = None
    #: The CR's whole next status (written when it differs).
    status: Mapping[str, Any] | None = None
    #: Posted when applying the plan wrote something.
    events: tuple[PlannedEvent, ...] = ()
    #: Seconds until the CR is reconciled again (``requeue.after``, a cron window's edge, a
    #: generated Secret due); None: only on changes.
    requeue_after: float | None = None
    #: Seconds until a generated Secret (``tls``, ``rotateAfter``) is due: part of
    #: ``requeue_after``, kept apart since an outcome planned again after the apply
    #: (:func:`plan_outcome`) does not see the children's decisions.
    renew_after: float | None = None
    #: Why the first part that is None could not be planned.
    error: Exception | None = None
    #: The alerts of the ``notify:`` conditions that hold (or, planned by
    #: :func:`plan_failure`, of the failure); the runtime throttles and sends them.
    notices: tuple[Notice, ...] = ()
    #: The CR is rolled back (katalog/rollback.py): ``children`` are the known-good ones,
    #: and nothing else is pruned.
    rolled_back: bool = False
    #: Planned without its outcome (``plan_reconcile(outcome=False)``): ``status`` is None
    #: and ``requeue_after`` only the renewals; the outcome is planned after the apply.
    outcome_later: bool = False


@attrs.frozen
class PlannedOutcome:
    """The status and requeue of a plan; ``error`` when one failed (it and requeue None)."""

    status: Mapping[str, Any] | None
    requeue_after: float | None = None
    error: Exception | None = None


def namespace_allowed(crd: CrdEntry, namespace: str) -> bool:
    """Does the CRD's namespace guard (``allowedNamespaces``/``restrictedNamespaces``) let a
    CR of ``namespace`` be reconciled? Cluster-scoped CRs (no namespace) always pass."""
    if not namespace:
        return True
    if crd.allowed_namespaces and namespace not in crd.allowed_namespaces:
        return False
    return namespace not in crd.restricted_namespaces


def plan_reconcile(crd: CrdEntry, observed: Observed, *, outcome: bool = True) -> ReconcilePlan:
    """The plan of one reconcile of ``observed.cr`` by ``crd``'s box.

    Raises only when the CR cannot be read at all (its ``normalize`` or the
    box's ``when`` fails); later failures are the plan's ``error``.

    ``outcome=False`` leaves the status and requeue out (``outcome_later``): the
    runtime asks so when it expects the apply to write children, after which it
    plans the outcome (:func:`plan_outcome`) over the children as written anyway.
    """
    box = _box(crd)
    cr = normalized(crd, observed.cr)  # in memory only: normalize is never written back
    context = _context(cr, observed, box)
    name = describe_cr(context)
    namespace = str((cr.get("metadata") or {}).get("namespace") or "")
    if not namespace_allowed(crd, namespace):
        return ReconcilePlan(cr=name, gated=True, gated_by=NAMESPACE_GUARD)
    notices = _notices(crd, context)
    if not conditions_hold(box.when, box.or_, context):
        # A clock condition of the gate (cron, time, dayOfWeek) opens it without any event.
        edge = next_clock_edge((*box.when, *box.or_), context)
        wake = (edge - context_now(context)).total_seconds() if edge is not None else None
        return ReconcilePlan(cr=name, gated=True, requeue_after=wake, notices=notices)
    if box.rollback is not None and rolled_back(observed.cr):
        previous = previous_spec(observed.cr)
        if previous is not None:
            return _plan_rolled_back(crd, observed, context, previous, notices)
    events: tuple[PlannedEvent, ...] = (PlannedEvent("Normal", f"{crd.api_types.kind}Reconciled"),)
    cr_patch = None
    if crd.admission.has_rules:
        # The rules see the CR as stored (as the admission webhook does): not normalized.
        try:
            rules = run_rules(crd.admission, observed.cr, peers=observed.peers)
        except Exception as exc:
            return ReconcilePlan(cr=name, events=events, error=exc, notices=notices)
        warnings = tuple(
            PlannedEvent("Warning", WARNING_REASON, message, when=ON_NEW_MESSAGE)
            for message in rules.warnings
        )
        if rules.denials:
            return ReconcilePlan(
                cr=name, events=warnings, error=AdmissionDenied(rules.denials), notices=notices
            )
        events = (*events, *warnings)
        cr_patch = rules.patch
        if cr_patch is not None:
            context = _context(normalized(crd, rules.cr), observed, box)
    try:
        labels = cr_labels(crd, context)
    except Exception as exc:
        return ReconcilePlan(cr=name, cr_patch=cr_patch, events=events, error=exc, notices=notices)
    try:
        children = tuple(render_reconcile_children(box, context, now=observed.clock()))
        remote = _remote(box, observed, context)
        if remote is not None:
            children = (*children, *remote.children)
    except Exception as exc:
        return ReconcilePlan(
            cr=name, cr_patch=cr_patch, labels=labels, events=events, error=exc, notices=notices
        )
    renew_after = earliest(*(child.renew_in for child in children if child.present))
    plan = ReconcilePlan(
        cr=name,
        cr_patch=cr_patch,
        labels=labels,
        needs_finalizer=any(_label_owned(child) for child in children),
        children=children,
        events=events,
        requeue_after=renew_after,
        renew_after=renew_after,
        notices=notices,
        outcome_later=True,
    )
    if not outcome:
        return plan
    planned = _outcome(crd, context, observed.now, remote)
    return attrs.evolve(
        plan,
        status=planned.status,
        requeue_after=earliest(planned.requeue_after, renew_after),
        error=planned.error,
        outcome_later=False,
    )


def plan_outcome(crd: CrdEntry, observed: Observed) -> PlannedOutcome:
    """The status and requeue of a plan, for ``observed`` children (after the apply wrote some)."""
    box = _box(crd)
    if (
        box.rollback is not None
        and rolled_back(observed.cr)
        and previous_spec(observed.cr) is not None
    ):
        return PlannedOutcome(_rolled_back_status(crd, observed))
    context = _context(normalized(crd, observed.cr), observed, box)
    try:
        remote = _remote(box, observed, context)
    except Exception as exc:
        return PlannedOutcome(None, error=exc)
    return _outcome(crd, context, observed.now, remote)


def _plan_rolled_back(
    crd: CrdEntry,
    observed: Observed,
    context: dict[str, Any],
    previous: Mapping[str, Any],
    notices: tuple[Notice, ...],
) -> ReconcilePlan:
    """The plan of a rolled-back CR: the rollback children (from the known-good spec
    ``previous``), Ready=False/RolledBack; the declared status fields keep their values."""
    box = _box(crd)
    name = describe_cr(context)
    message = rolled_back_message(observed.cr)
    events = (
        PlannedEvent(
            "Warning", f"{crd.api_types.kind}{REASON_ROLLED_BACK}", message, ON_NEW_MESSAGE
        ),
    )
    try:
        labels = cr_labels(crd, context)
    except Exception as exc:
        return ReconcilePlan(cr=name, events=events, error=exc, rolled_back=True, notices=notices)
    assert box.rollback is not None
    if box.rollback.on_rollback is None:
        # rollBackOnError: the box's own entries, with .spec the known-good spec.
        known_good = normalized(crd, {**observed.cr, "spec": previous})
        context = _context(known_good, observed, box)
    try:
        children = tuple(
            render_reconcile_children(rollback_box(box), context, now=observed.clock())
        )
    except Exception as exc:
        return ReconcilePlan(
            cr=name, labels=labels, events=events, error=exc, rolled_back=True, notices=notices
        )
    return ReconcilePlan(
        cr=name,
        labels=labels,
        needs_finalizer=any(_label_owned(child) for child in children),
        children=children,
        status=_rolled_back_status(crd, observed),
        events=events,
        rolled_back=True,
        notices=notices,
    )


def _rolled_back_status(crd: CrdEntry, observed: Observed) -> dict[str, Any]:
    generation = int((observed.cr.get("metadata") or {}).get("generation") or 0)
    return render_status(
        _box(crd),
        build_context(observed.cr),
        generation=generation,
        error=rolled_back_message(observed.cr),
        now=observed.now,
        observed_generation=not crd.ignore_observed_generation,
        reason=REASON_ROLLED_BACK,
    )


def plan_failure(crd: CrdEntry, observed: Observed, message: str) -> ReconcilePlan:
    """The plan that reports a failed reconcile on the CR: Ready=False with ``message`` (the
    declared status fields keep their values) and a Warning Event, posted once per new message.

    It reads the CR alone: whatever failed may have been in what was read for it.
    """
    box = _box(crd)
    context = build_context(observed.cr)
    generation = int((context.get("metadata") or {}).get("generation") or 0)
    status = render_status(
        box,
        context,
        generation=generation,
        error=message,
        now=observed.now,
        observed_generation=not crd.ignore_observed_generation,
    )
    warning = PlannedEvent(
        "Warning", f"{crd.api_types.kind}ReconcileError", message, when=ON_NEW_MESSAGE
    )
    notices: tuple[Notice, ...] = ()
    if crd.notification is not None:
        notices = failure_notices(crd.notification, crd.key, context, message)
    return ReconcilePlan(cr=describe_cr(context), status=status, events=(warning,), notices=notices)


def plan_document(plan: ReconcilePlan) -> dict[str, Any]:
    """The plan as ``render`` and ``simulate --plans`` print it (YAML-ready)."""
    document: dict[str, Any] = {"cr": plan.cr}
    if plan.gated:
        document["gated"] = plan.gated_by
        return document
    if plan.rolled_back:
        document["rolledBack"] = "the children are the last known-good spec's (rollback)"
    if plan.cr_patch is not None:
        document["crPatch"] = plan.cr_patch
    document["labels"] = dict(plan.labels or {})
    if plan.needs_finalizer:
        document["finalizer"] = "held before the children are created (one cannot be owned)"
    document["children"] = [
        {
            "phase": child.phase,
            "apply": "every reconcile" if child.reconcile else "create when absent",
            "manifest": child.manifest,
            **({"generate": _describe_request(child.generate)} if child.generate else {}),
        }
        for child in plan.children or ()
        if child.present
    ]
    document["absent"] = [
        {
            "phase": child.phase,
            "kind": child.kind,
            "name": child.name,
            "namespace": child.namespace,
            "why": _absent_reason(child.phase),
        }
        for child in plan.children or ()
        if not child.present
    ]
    document["status"] = plan.status
    document["events"] = [
        {
            "type": event.type,
            "reason": event.reason,
            "message": event.message or "what the apply wrote",
            "when": event.when,
        }
        for event in plan.events
    ]
    document["requeueAfter"] = plan.requeue_after
    if plan.notices:
        document["notify"] = [
            {"team": notice.team, "message": notice.text, "because": notice.source}
            for notice in plan.notices
        ]
    if plan.error is not None:
        document["error"] = str(plan.error)
    return document


def _describe_request(request: TlsRequest) -> str:
    names = ", ".join(request.dns_names)
    until = request.not_after.strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"tls.crt and tls.key: a self-signed certificate for CN={request.common_name} "
        f"(DNS names {names}), valid until {until}, made when applied"
    )


def _box(crd: CrdEntry) -> OperatorBox:
    if crd.operator_box is None:
        raise ValueError(f"CRD {crd.key!r} has no operatorBox: nothing reconciles its CRs")
    return crd.operator_box


def _context(cr: Mapping[str, Any], observed: Observed, box: OperatorBox) -> dict[str, Any]:
    context = build_context(
        cr,
        cross=observed.cross,
        external=observed.external,
        children=observed.children,
        metrics=observed.metrics,
        health=observed.health,
        sentinels=observed.sentinels,
        events=observed.events,
    )
    if box.rollback is not None:  # .previous: the known-good spec (katalog/rollback.py)
        context["previous"] = previous_context(observed.cr)
    if observed.sources:
        context[SOURCE_OBJECTS] = observed.sources
    context.update(observed.enrichment)
    clock = observed.clock()
    if clock is not None:  # the clock operators (time, dayOfWeek, cron) read the plan's time
        context = with_clock(context, clock)
    return with_peers(context, observed.peers) if observed.peers else context


def _notices(crd: CrdEntry, context: Mapping[str, Any]) -> tuple[Notice, ...]:
    """The alerts of the CRD's ``notify:`` conditions that hold for this CR."""
    if crd.notification is None or not crd.notify:
        return ()
    return condition_notices(crd.notification, crd.key, crd.notify, context)


def _remote(
    box: OperatorBox, observed: Observed, context: Mapping[str, Any]
) -> RemoteOutcome | None:
    """What the remote reconciler's answer adds (None without one); raises when it failed."""
    if box.remote is None:
        return None
    return remote_outcome(box.remote, observed.remote, context)


def _outcome(
    crd: CrdEntry, context: Mapping[str, Any], now: str | None, remote: RemoteOutcome | None = None
) -> PlannedOutcome:
    box = _box(crd)
    generation = int((context.get("metadata") or {}).get("generation") or 0)
    try:
        status = render_status(
            box,
            context,
            generation=generation,
            now=now,
            observed_generation=not crd.ignore_observed_generation,
        )
    except Exception as exc:
        return PlannedOutcome(None, error=exc)
    if remote is not None:
        status = {**status, **remote.status}
    try:
        requeue = _requeue_after(box, context)
        edge = next_clock_edge(box_conditions(box), context)
    except Exception as exc:
        return PlannedOutcome(status, error=exc)
    if edge is not None:  # a cron window opens or closes then: reconcile again, event or not
        requeue = earliest(requeue, (edge - context_now(context)).total_seconds())
    if remote is not None:
        requeue = earliest(requeue, remote.requeue_after)
    return PlannedOutcome(status, requeue)


def earliest(*delays: float | None) -> float | None:
    """The shortest of the delays given (None: none given)."""
    return min((delay for delay in delays if delay is not None), default=None)


def box_conditions(box: OperatorBox) -> Iterator[Condition]:
    """Every condition a reconcile of the box may evaluate (for the clock edges)."""
    yield from (*box.when, *box.or_)
    for rule in box.requeue:
        yield from (*rule.when, *rule.or_)
    for resources in (box.on_create, box.on_reconcile):
        for entries in resources.values():
            for entry in entries:
                yield from (*entry.when, *entry.or_, *entry.block_when, *entry.block_or)
                scale = entry.autoscale
                for step in (scale.up, scale.down) if scale is not None else ():
                    if step is not None:
                        yield from (*step.when, *step.or_)
    for field in box.status.fields:
        yield from (*field.when, *field.or_)


def _requeue_after(box: OperatorBox, context: Mapping[str, Any]) -> float | None:
    if not box.requeue:  # most boxes: nothing to evaluate on each reconcile
        return None
    return earliest(*(_rule_delay(rule, context) for rule in box.requeue))


def _rule_delay(rule: Requeue, context: Mapping[str, Any]) -> float | None:
    if rule.after is None or not conditions_hold(rule.when, rule.or_, context):
        return None
    text = rule.after.render(context).strip()
    if not text:
        return None
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise RenderError(
            f"requeue.after {text!r} is not a duration: {exc}",
            where=rule.after.where,
            cr=_describe(context),
        ) from None
    return seconds if seconds > 0 else None


def _describe(context: Mapping[str, Any]) -> str:
    # How a requeue.after error has always named the CR (describe_cr differs for
    # cluster-scoped CRs: no "/").
    metadata = context.get("metadata") or {}
    return f"{context.get('kind') or 'CR'} {metadata.get('namespace') or ''}/{metadata.get('name')}"


def _label_owned(child: RenderedChild) -> bool:
    """Is this child tied to its CR by the owner-uid label only (no ownerReference possible)?"""
    if not child.present or child.manifest is None:
        return False
    metadata = child.manifest.get("metadata") or {}
    return OWNER_UID_LABEL in (metadata.get("labels") or {}) and not metadata.get("ownerReferences")


def _absent_reason(phase: str) -> str:
    if phase == "onReconcile":
        return "its when/or conditions do not hold: a reconcile deletes it if the CR owns it"
    return "its when/or conditions do not hold: it is not created"
