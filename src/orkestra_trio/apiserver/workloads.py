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

import attrs

from orkestra_trio.apiserver.registry import rollout
from orkestra_trio.apiserver.registry.delayed import DelayedWork
from orkestra_trio.apiserver.status import ApiError
from orkestra_trio.apiserver.store import ObjectRef, Store
from orkestra_trio.apiserver.strategy import now_rfc3339
from orkestra_trio.apiserver.watch import DELETED, Change

log = logging.getLogger(__name__)

DEPLOYMENTS = ("apps", "deployments")
STATEFULSETS = ("apps", "statefulsets")
PODS = ("", "pods")
REPLICASETS = ("apps", "replicasets")
JOBS = ("batch", "jobs")
DAEMONSETS = ("apps", "daemonsets")
_SIMULATED = frozenset({DEPLOYMENTS, STATEFULSETS, REPLICASETS, JOBS, DAEMONSETS})

_COUNT_FIELDS = (
    "replicas",
    "updatedReplicas",
    "readyReplicas",
    "availableReplicas",
    "currentReplicas",
    "fullyLabeledReplicas",
    "unavailableReplicas",
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


@attrs.frozen
class Observed:
    """Replica counts seen on a workload's children (its Pods, or its ReplicaSets)."""

    replicas: int
    ready: int
    available: int
    updated: int
    # The ReplicaSet that runs a Deployment's current template.
    new_replicaset: str = ""

    @property
    def complete(self) -> bool:
        return self.replicas == self.ready == self.available == self.updated


def desired_status(
    resource: tuple[str, str], obj: Mapping[str, Any], observed: Observed | None = None
) -> dict[str, Any] | None:
    """The status a healthy cluster reports for this workload (None: nothing to do).

    ``observed``: the counts of the children that stand behind a Deployment or
    ReplicaSet (registry/replication.py creates them); without it every wanted
    replica counts as ready at once.
    """
    meta = obj["metadata"]
    if meta.get("deletionTimestamp"):
        return None
    spec = obj.get("spec") or {}
    old = obj.get("status") or {}
    if resource == JOBS:
        return _completed_job_status(spec, old, now_rfc3339())
    if resource == DAEMONSETS:
        status = _daemonset_status(meta, old)
        return None if status == old else status
    status = _replicated_status(resource, meta, spec, old, now_rfc3339(), observed)
    if status == old:
        return None
    return status


def _daemonset_status(meta: Mapping[str, Any], old: Mapping[str, Any]) -> dict[str, Any]:
    """A DaemonSet running its Pod, ready, on the one node the embedded server stands for."""
    status = dict(old)
    for key in (
        "currentNumberScheduled",
        "desiredNumberScheduled",
        "numberReady",
        "numberAvailable",
        "updatedNumberScheduled",
    ):
        status[key] = 1
    status["numberMisscheduled"] = 0
    if meta.get("generation") is not None:
        status["observedGeneration"] = meta["generation"]
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
    observed: Observed | None = None,
) -> dict[str, Any]:
    """Deployments, statefulsets, replicasets: every wanted replica ready and available."""
    name = str(meta.get("name"))
    generation = meta.get("generation")
    replicas = spec.get("replicas")
    if not isinstance(replicas, int):
        replicas = 1
    if observed is None:
        observed = Observed(replicas, replicas, replicas, replicas, name)
    status = {k: v for k, v in old.items() if k not in _COUNT_FIELDS}
    counts = {
        "replicas": observed.replicas,
        "updatedReplicas": observed.updated,
        "readyReplicas": observed.ready,
        "availableReplicas": observed.available,
    }
    if resource == STATEFULSETS:
        counts["currentReplicas"] = observed.updated
        status.setdefault("currentRevision", f"{name}-7d4b9c8f6")
        status.setdefault("updateRevision", status["currentRevision"])
        status.setdefault("collisionCount", 0)
    if resource == REPLICASETS:
        counts = {
            "replicas": observed.replicas,
            "fullyLabeledReplicas": observed.replicas,
            "readyReplicas": observed.ready,
            "availableReplicas": observed.available,
        }
    # kube omits zero counts (omitempty), except replicas itself on StatefulSets.
    for key, value in counts.items():
        if value or (key == "replicas" and resource == STATEFULSETS):
            status[key] = value
    if generation is not None:
        status["observedGeneration"] = generation
    if resource == DEPLOYMENTS:
        if replicas > observed.available:
            status["unavailableReplicas"] = replicas - observed.available
        done = observed.complete and observed.updated == replicas
        rs_name = observed.new_replicaset or name
        if observed.available >= replicas:
            available = _available(old, "Deployment", now)
        else:
            available = _condition(
                old,
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                now,
            )
        if done:
            reason, message = (
                "NewReplicaSetAvailable",
                f'ReplicaSet "{rs_name}" has successfully progressed.',
            )
        else:
            reason, message = "ReplicaSetUpdated", f'ReplicaSet "{rs_name}" is progressing.'
        status["conditions"] = [
            available,
            _condition(old, "Progressing", "True", reason, message, now),
        ]
    elif resource == STATEFULSETS:
        status["availableReplicas"] = observed.available
        if observed.available >= replicas:
            status["conditions"] = [_available(old, "StatefulSet", now)]
        else:
            status["conditions"] = [
                _condition(
                    old,
                    "Available",
                    "False",
                    "MinimumReplicasUnavailable",
                    "StatefulSet does not have minimum availability.",
                    now,
                )
            ]
    return status


def _available(old: Mapping[str, Any], kind: str, now: str) -> dict[str, Any]:
    message = f"{kind} has minimum availability."
    return _condition(old, "Available", "True", "MinimumReplicasAvailable", message, now)


class Simulation:
    def __init__(self, store: Store, delay: float, *, replication: bool = True) -> None:
        self.store = store
        self.work: DelayedWork[ObjectRef] = DelayedWork(delay)
        # Whether registry/replication.py runs, so that children stand behind counts.
        self.replication = replication

    def on_change(self, change: Change) -> None:
        if change.resource in (PODS, REPLICASETS):
            # A child's change changes its owner's counts.
            owner = rollout.controller_uid(change.new.obj)
            ref = self.store.ref_of_uid(owner) if owner else None
            if ref is not None and ref[0] in (REPLICASETS, DEPLOYMENTS, STATEFULSETS):
                self.work.schedule(ref, self._delay_of(ref))
        if change.resource not in _SIMULATED or change.type == DELETED:
            return
        ref = (change.resource, change.namespace, change.name)
        if desired_status(change.resource, change.new.obj, self.observe(ref)) is None:
            self.work.cancel(ref)
            return
        self.work.schedule(ref, self._delay_of(ref))

    def _delay_of(self, ref: ObjectRef) -> float | None:
        """Counts taken from children are written at once (the Pods' start took the time)."""
        if self.replication and ref[0] in (DEPLOYMENTS, REPLICASETS, STATEFULSETS):
            return 0.0
        return None

    def observe(self, ref: ObjectRef) -> Observed | None:
        """What the children of a Deployment or ReplicaSet report (None: not tracked)."""
        if not self.replication or ref[0] not in (DEPLOYMENTS, REPLICASETS, STATEFULSETS):
            return None
        current = self.store.find(*ref)
        if current is None:
            return None
        child = REPLICASETS if ref[0] == DEPLOYMENTS else PODS
        children = [
            found.obj
            for child_ref in self.store.dependents(current.uid)
            if child_ref[0] == child
            and (found := self.store.find(*child_ref)) is not None
            and rollout.controller_uid(found.obj) == current.uid
            and not found.obj["metadata"].get("deletionTimestamp")
        ]
        if ref[0] in (REPLICASETS, STATEFULSETS):
            running = sum(1 for p in children if (p.get("status") or {}).get("phase") == "Running")
            updated = len(children)
            if ref[0] == STATEFULSETS:
                revision = rollout.statefulset_revision(current.obj)
                updated = sum(
                    1
                    for p in children
                    if (p["metadata"].get("labels") or {}).get(rollout.REVISION_LABEL) == revision
                )
            return Observed(len(children), running, running, updated)
        total = Observed(0, 0, 0, 0)
        for rs in children:
            status = rs.get("status") or {}
            new = rollout.same_template(rs, current.obj)
            total = Observed(
                total.replicas + int(status.get("replicas") or 0),
                total.ready + int(status.get("readyReplicas") or 0),
                total.available + int(status.get("availableReplicas") or 0),
                total.updated + (int(status.get("replicas") or 0) if new else 0),
                str(rs["metadata"]["name"]) if new else total.new_replicaset,
            )
        return total

    def run_due(self) -> None:
        for ref in self.work.take_due():
            current = self.store.find(*ref)
            if current is None:
                continue
            status = desired_status(ref[0], current.obj, self.observe(ref))
            if status is None:
                continue
            new_obj = dict(current.obj)
            new_obj["status"] = status
            try:
                self.store.write_internal(self.store.kind_for(ref[0]), current, new_obj)
            except ApiError as error:
                log.warning("workload simulation could not update %s: %s", ref, error.message)


async def run_simulation(store: Store, *, delay: float = 0.2, replication: bool = True) -> None:
    """The simulation task: runs until cancelled."""
    sim = Simulation(store, delay, replication=replication)
    store.listeners.append(sim.on_change)
    try:
        for resource in _SIMULATED:
            for (ns, name), _stored in list(store.iter_objects(resource)):
                sim.work.schedule((resource, ns, name))
        while True:
            sim.run_due()
            await sim.work.wait()
    finally:
        store.listeners.remove(sim.on_change)
