"""The Events a box posts on its CRs, aggregated, and never a reason for a reconcile to fail.

KATALOG.md's reasons: Normal ``<Kind>Reconciled``, Warning
``<Kind>ReconcileError``, Normal ``Deleting`` and Normal ``<Kind>Deleted``.
Repeats are aggregated by the ``kube`` layer's :class:`EventRecorder` (a
repeat bumps ``count`` instead of creating another Event).

To keep the steady state free of writes, ``Reconciled`` is only posted by a
reconcile that changed something (created, updated or deleted a child);
an unchanged cycle has nothing new to say. Posting is best effort with a
short deadline: a failing Events API is logged, not turned into a reconcile
failure.

Each box's Warning Events draw on the box's own budget (:mod:`.budget`):
past it, a Warning is dropped and counted, so a failing box cannot turn its
storm into a storm of writes. Normal Events are never dropped: each one
reports a write that already happened (a child created, updated or deleted,
a deletion step), so at most they double what a box writes, and a user who
creates a thousand CRs expects a thousand ``Reconciled`` Events, as kube's
own controllers post them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import trio

from orkestra_trio.katalog.plan import PlannedEvent
from orkestra_trio.kube import EventRecorder, Forbidden, KubeClient, KubeError

from .budget import TokenBucket
from .metrics import BoxMetrics

logger = logging.getLogger(__name__)

#: The downward-API variables ``manifests`` gives the pod: where box-level Events go.
POD_ENV = ("ORKESTRA_POD_NAME", "ORKESTRA_POD_NAMESPACE", "ORKESTRA_POD_UID")


def runtime_pod(env: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """The pod this runtime runs in, as an Event's involved object (None outside one)."""
    import os

    env = os.environ if env is None else env
    name, namespace, uid = (env.get(key, "") for key in POD_ENV)
    if not (name and namespace):
        return None
    metadata = {"name": name, "namespace": namespace, **({"uid": uid} if uid else {})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata}


#: Longest an Event post may hold a reconcile.
EVENT_DEADLINE = 5.0
#: Kubernetes caps an Event message; keep ours well inside.
MAX_MESSAGE = 1024


class BoxEvents:
    """Events of one box (one CR kind)."""

    def __init__(
        self,
        kube: KubeClient,
        kind: str,
        *,
        component: str = "orkestra",
        budget: TokenBucket | None = None,
        metrics: BoxMetrics | None = None,
    ) -> None:
        self.kind = kind
        self.recorder = EventRecorder(kube, component)
        #: None: unlimited (the box gives it one).
        self.budget = budget
        self.posted = 0
        self.failed = 0
        #: Warning Events not posted because the box's budget was spent (also in ``metrics``).
        self.dropped = 0
        self.metrics = metrics
        #: Told when the cluster refuses an Event (RBAC): the box's health shows it,
        #: since no Event can.
        self.on_forbidden: Callable[[str], None] | None = None

    async def reconciled(self, cr: Mapping[str, Any], message: str) -> None:
        await self._post(cr, "Normal", f"{self.kind}Reconciled", message)

    async def planned(self, cr: Mapping[str, Any], event: PlannedEvent, summary: str) -> None:
        """An Event of a reconcile plan; ``summary`` (what the apply wrote) when it has no message."""
        await self._post(cr, event.type, event.reason, event.message or summary)

    async def reconcile_error(self, cr: Mapping[str, Any], message: str) -> None:
        await self._post(cr, "Warning", f"{self.kind}ReconcileError", message)

    async def deleting(self, cr: Mapping[str, Any], message: str) -> None:
        await self._post(cr, "Normal", "Deleting", message)

    async def deleted(self, cr: Mapping[str, Any], message: str) -> None:
        await self._post(cr, "Normal", f"{self.kind}Deleted", message)

    async def deletion_timed_out(self, cr: Mapping[str, Any], message: str) -> None:
        """An ordered onDelete group outlived its timeout (the finalizer stays)."""
        await self._post(cr, "Warning", "OrderedDeletionTimeout", message)

    async def box_blocked(self, box: str, message: str) -> None:
        """The box cannot list or watch what it needs (RBAC, a missing CRD): on the runtime's pod.

        There is no CR to tell, so ``kubectl describe pod`` says it; outside a
        pod (no ``ORKESTRA_POD_*``) the box's health and log say it alone.
        """
        pod = runtime_pod()
        if pod is not None:
            await self._post(pod, "Warning", "BoxBlocked", f"box {box}: {message}")

    async def cross_read_failed(self, cr: Mapping[str, Any], as_: str, message: str) -> None:
        """A remote ``cross:`` read failed (the reconcile goes on with a not-found/stale answer)."""
        await self._post(cr, "Warning", "CrossReadFailed", f"cross {as_}: {message}")

    async def external_call_failed(self, cr: Mapping[str, Any], name: str, message: str) -> None:
        """An external call with ``continueOnError`` failed (the reconcile goes on)."""
        await self._post(cr, "Warning", "ExternalCallFailed", f"external call {name}: {message}")

    async def _post(self, cr: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        if (
            type_ == "Warning"
            and self.budget is not None
            and not self.budget.try_take(trio.current_time())
        ):
            self.dropped += 1
            if self.metrics is not None:
                self.metrics.events_dropped_total = self.dropped
            return
        if len(message) > MAX_MESSAGE:
            message = message[: MAX_MESSAGE - 3] + "..."
        with trio.move_on_after(EVENT_DEADLINE) as scope:
            try:
                await self.recorder.record(cr, reason=reason, message=message, type=type_)
            except KubeError as exc:
                self.failed += 1
                logger.warning("could not post event %s on %s: %s", reason, _name(cr), exc)
                if isinstance(exc, Forbidden) and self.on_forbidden is not None:
                    self.on_forbidden(str(exc))
                return
        if scope.cancelled_caught:
            self.failed += 1
            logger.warning("posting event %s on %s timed out", reason, _name(cr))
            return
        self.posted += 1


def _name(cr: Mapping[str, Any]) -> str:
    metadata = cr.get("metadata") or {}
    namespace = metadata.get("namespace")
    return f"{namespace}/{metadata.get('name')}" if namespace else str(metadata.get("name"))
