"""A stand-in for the workload controllers: Deployments become available, Jobs complete.

The embedded server runs no kubelet and no scheduler, yet Katalogs wait on
readiness (``readyReplicas``, an ``Available`` condition, a Job's ``Complete``
condition). This simulation writes the status a healthy cluster would report
shortly after a workload changes, through the status path with a new
revision, so watchers see it like a real controller's write. Switchable
(``open_apiserver(workload_simulation=False)``) for tests that drive status
themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import trio

from orkestra_trio.apiserver.status import ApiError
from orkestra_trio.apiserver.store import ObjectRef, Store
from orkestra_trio.apiserver.strategy import now_rfc3339
from orkestra_trio.apiserver.watch import DELETED, Change

log = logging.getLogger(__name__)

DEPLOYMENTS = ("apps", "deployments")
STATEFULSETS = ("apps", "statefulsets")
REPLICASETS = ("apps", "replicasets")
JOBS = ("batch", "jobs")
_SIMULATED = frozenset({DEPLOYMENTS, STATEFULSETS, REPLICASETS, JOBS})

_COUNT_FIELDS = (
    "replicas",
    "updatedReplicas",
    "readyReplicas",
    "availableReplicas",
    "currentReplicas",
    "fullyLabeledReplicas",
)


def _condition(
    old_status: Mapping[str, Any], ctype: str, status: str, reason: str, message: str, now: str
) -> dict[str, Any]:
    """A condition, keeping the old timestamps when nothing about it changed."""
    for cond in old_status.get("conditions") or ():
        if (
            cond.get("type") == ctype
            and cond.get("status") == status
            and cond.get("reason") == reason
            and cond.get("message") == message
        ):
            return dict(cond)
    cond = {"type": ctype, "status": status, "reason": reason, "message": message}
    cond["lastTransitionTime"] = now
    if ctype in ("Available", "Progressing"):
        cond["lastUpdateTime"] = now
    return cond


def desired_status(resource: tuple[str, str], obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """The status a healthy cluster reports for this workload (None: nothing to do)."""
    meta = obj["metadata"]
    if meta.get("deletionTimestamp"):
        return None
    spec = obj.get("spec") or {}
    old = obj.get("status") or {}
    if resource == JOBS:
        return _completed_job_status(spec, old, now_rfc3339())
    status = _replicated_status(resource, meta, spec, old, now_rfc3339())
    if status == old:
        return None
    return status


def _completed_job_status(
    spec: Mapping[str, Any], old: Mapping[str, Any], now: str
) -> dict[str, Any] | None:
    """A Job that ran all its completions at once (None: done already, or suspended)."""
    if any(
        c.get("type") == "Complete" and c.get("status") == "True"
        for c in old.get("conditions") or ()
    ):
        return None
    if spec.get("suspend"):
        return None
    status = dict(old)
    status.setdefault("startTime", now)
    status["completionTime"] = now
    status["succeeded"] = spec.get("completions") or 1
    status["ready"] = 0
    status["terminating"] = 0
    status.pop("active", None)
    reason, message = "CompletionsReached", "Reached expected number of succeeded pods"
    status["conditions"] = [
        _condition(old, "SuccessCriteriaMet", "True", reason, message, now),
        _condition(old, "Complete", "True", reason, message, now),
    ]
    return status


def _replicated_status(
    resource: tuple[str, str],
    meta: Mapping[str, Any],
    spec: Mapping[str, Any],
    old: Mapping[str, Any],
    now: str,
) -> dict[str, Any]:
    """Deployments, statefulsets, replicasets: every wanted replica ready and available."""
    name = str(meta.get("name"))
    generation = meta.get("generation")
    replicas = spec.get("replicas")
    if not isinstance(replicas, int):
        replicas = 1
    status = {k: v for k, v in old.items() if k not in _COUNT_FIELDS}
    counts = {
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
    }
    if resource == STATEFULSETS:
        counts["currentReplicas"] = replicas
        status.setdefault("currentRevision", f"{name}-7d4b9c8f6")
        status.setdefault("updateRevision", status["currentRevision"])
        status.setdefault("collisionCount", 0)
    if resource == REPLICASETS:
        counts = {
            "replicas": replicas,
            "fullyLabeledReplicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
        }
    # kube omits zero counts (omitempty), except replicas itself on StatefulSets.
    for key, value in counts.items():
        if value or (key == "replicas" and resource == STATEFULSETS):
            status[key] = value
    if generation is not None:
        status["observedGeneration"] = generation
    if resource == DEPLOYMENTS:
        status["conditions"] = [
            _available(old, "Deployment", now),
            _condition(
                old,
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{name}" has successfully progressed.',
                now,
            ),
        ]
    elif resource == STATEFULSETS:
        status["availableReplicas"] = replicas
        status["conditions"] = [_available(old, "StatefulSet", now)]
    return status


def _available(old: Mapping[str, Any], kind: str, now: str) -> dict[str, Any]:
    message = f"{kind} has minimum availability."
    return _condition(old, "Available", "True", "MinimumReplicasAvailable", message, now)


class Simulation:
    def __init__(self, store: Store, delay: float) -> None:
        self.store = store
        self.delay = delay
        self.due: dict[ObjectRef, float] = {}
        self.wake = trio.Event()

    def on_change(self, change: Change) -> None:
        if change.resource not in _SIMULATED or change.type == DELETED:
            return
        ref = (change.resource, change.namespace, change.name)
        if desired_status(change.resource, change.new.obj) is None:
            self.due.pop(ref, None)
            return
        if ref not in self.due:
            self.due[ref] = trio.current_time() + self.delay
            self.wake.set()

    def run_due(self) -> None:
        now = trio.current_time()
        for ref, when in list(self.due.items()):
            if when > now:
                continue
            del self.due[ref]
            current = self.store.find(*ref)
            if current is None:
                continue
            status = desired_status(ref[0], current.obj)
            if status is None:
                continue
            new_obj = dict(current.obj)
            new_obj["status"] = status
            try:
                self.store.write_internal(self.store.kind_for(ref[0]), current, new_obj)
            except ApiError as error:
                log.warning("workload simulation could not update %s: %s", ref, error.message)


async def run_simulation(store: Store, *, delay: float = 0.2) -> None:
    """The simulation task: runs until cancelled."""
    sim = Simulation(store, delay)
    store.listeners.append(sim.on_change)
    try:
        for resource in _SIMULATED:
            for (ns, name), stored in list(store.iter_objects(resource)):
                if desired_status(resource, stored.obj) is not None:
                    sim.due[(resource, ns, name)] = trio.current_time() + delay
        while True:
            sim.run_due()
            if sim.due:
                with trio.move_on_at(min(sim.due.values())):
                    await sim.wake.wait()
            else:
                await sim.wake.wait()
            sim.wake = trio.Event()
    finally:
        store.listeners.remove(sim.on_change)
