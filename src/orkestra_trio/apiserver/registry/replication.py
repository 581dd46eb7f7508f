"""The Deployment, ReplicaSet and Pod lifecycle a cluster's controllers and kubelets provide.

Without them a Deployment became "available" with nothing behind it: ``kubectl
get pods`` was empty, ``kubectl rollout undo`` found no history and ``kubectl
logs deploy/x`` waited for a Pod until its timeout. This task applies the
decisions of ``rollout.py`` right after each change (a Pod starts ``delay``
later), through the store's ordinary write paths, so watchers see the same sequence of
objects as on a cluster: a ReplicaSet per template revision, Pods owned by
it, each Pod turning Running and Ready. The garbage collector removes the
children when their owner goes. Status counts of Deployments and ReplicaSets
stay with ``workloads.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from orkestra_trio.apiserver.registry import rollout
from orkestra_trio.apiserver.registry.delayed import DelayedWork
from orkestra_trio.apiserver.status import ApiError
from orkestra_trio.apiserver.store import ObjectRef, Store
from orkestra_trio.apiserver.strategy import generate_name, now_rfc3339
from orkestra_trio.apiserver.watch import DELETED, Change, ResourceKey

log = logging.getLogger(__name__)

DEPLOYMENTS: ResourceKey = ("apps", "deployments")
REPLICASETS: ResourceKey = ("apps", "replicasets")
STATEFULSETS: ResourceKey = ("apps", "statefulsets")
PODS: ResourceKey = ("", "pods")


class Replication:
    """Pending reconciles, by object, and the code that runs them."""

    def __init__(self, store: Store, delay: float) -> None:
        self.store = store
        self.work: DelayedWork[ObjectRef] = DelayedWork(delay)
        self._pod_ips = 0
        self._handlers: dict[ResourceKey, Callable[[str, str], None]] = {
            DEPLOYMENTS: self.reconcile_deployment,
            REPLICASETS: self.reconcile_replicaset,
            STATEFULSETS: self.reconcile_statefulset,
            PODS: self.reconcile_pod,
        }

    def schedule(self, ref: ObjectRef) -> None:
        # Controllers answer in milliseconds; starting a Pod is what takes time.
        self.work.schedule(ref, None if ref[0] == PODS else 0.0)

    def on_change(self, change: Change) -> None:
        resource = change.resource
        if resource not in self._handlers:
            return
        if change.type != DELETED:
            self.schedule((resource, change.namespace, change.name))
        # A child's change wakes its controller: a deleted Pod is replaced, a
        # ReplicaSet changed by hand is put back in line.
        owner = rollout.controller_uid(change.new.obj)
        if owner is not None:
            ref = self.store.ref_of_uid(owner)
            if ref is not None and ref[0] in (DEPLOYMENTS, REPLICASETS, STATEFULSETS):
                self.schedule(ref)

    def run_due(self) -> None:
        for ref in self.work.take_due():
            resource, namespace, name = ref
            try:
                self._handlers[resource](namespace, name)
            except ApiError as error:
                # Someone else wrote first: the change that caused will schedule us again.
                log.debug("replication of %s deferred: %s", ref, error.message)

    # ------------------------------------------------------------ controllers

    def _children(self, owner_uid: str, resource: ResourceKey) -> list[ObjectRef]:
        return [
            ref
            for ref in self.store.dependents(owner_uid)
            if ref[0] == resource
            and (found := self.store.find(*ref)) is not None
            and rollout.controller_uid(found.obj) == owner_uid
        ]

    def reconcile_deployment(self, namespace: str, name: str) -> None:
        store = self.store
        current = store.find(DEPLOYMENTS, namespace, name)
        if current is None or current.obj["metadata"].get("deletionTimestamp"):
            return
        rs_kind = store.kind_for(REPLICASETS)
        owned = [store.find(*ref) for ref in self._children(current.uid, REPLICASETS)]
        replicasets = [rs.obj for rs in owned if rs is not None]
        plan = rollout.plan_rollout(current.obj, replicasets)
        if plan.create is not None:
            rs_name = plan.create["metadata"]["name"]
            if store.find(REPLICASETS, namespace, rs_name) is None:
                store.create(rs_kind, namespace, plan.create)
        for rs_name, wanted in plan.update:
            store.update(rs_kind, namespace, rs_name, dict(wanted))
        for rs_name in plan.delete:
            store.delete(rs_kind, namespace, rs_name)
        if plan.deployment_revision is not None:
            live = store.find(DEPLOYMENTS, namespace, name)
            if live is None:
                return
            obj = dict(live.obj)
            meta = dict(obj["metadata"])
            annotations = dict(meta.get("annotations") or {})
            annotations[rollout.REVISION] = plan.deployment_revision
            meta["annotations"] = annotations
            obj["metadata"] = meta
            store.update(store.kind_for(DEPLOYMENTS), namespace, name, obj)

    def reconcile_replicaset(self, namespace: str, name: str) -> None:
        store = self.store
        current = store.find(REPLICASETS, namespace, name)
        if current is None or current.obj["metadata"].get("deletionTimestamp"):
            return
        pods = [
            found.obj
            for ref in self._children(current.uid, PODS)
            if (found := store.find(*ref)) is not None
            and not found.obj["metadata"].get("deletionTimestamp")
        ]
        replicas = (current.obj.get("spec") or {}).get("replicas")
        wanted = replicas if isinstance(replicas, int) else 1
        pod_kind = store.kind_for(PODS)
        for pod_name in rollout.pods_to_remove(pods, wanted):
            store.delete(pod_kind, namespace, pod_name)
        for _ in range(wanted - len(pods)):
            pod_name = generate_name(f"{name}-")
            while store.find(PODS, namespace, pod_name) is not None:
                pod_name = generate_name(f"{name}-")
            store.create(pod_kind, namespace, rollout.pod_for(current.obj, pod_name))

    def reconcile_statefulset(self, namespace: str, name: str) -> None:
        """Pods ``<name>-0`` … ``<name>-<replicas-1>`` of the current template."""
        store = self.store
        current = store.find(STATEFULSETS, namespace, name)
        if current is None or current.obj["metadata"].get("deletionTimestamp"):
            return
        pods = [
            found.obj
            for ref in self._children(current.uid, PODS)
            if (found := store.find(*ref)) is not None
        ]
        replicas = (current.obj.get("spec") or {}).get("replicas")
        wanted = replicas if isinstance(replicas, int) else 1
        pod_kind = store.kind_for(PODS)
        live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        for pod_name in rollout.statefulset_pods_to_remove(current.obj, live, wanted):
            store.delete(pod_kind, namespace, pod_name)
        for ordinal in range(wanted):
            pod = rollout.statefulset_pod(current.obj, ordinal)
            if store.find(PODS, namespace, pod["metadata"]["name"]) is None:
                store.create(pod_kind, namespace, pod)

    def reconcile_pod(self, namespace: str, name: str) -> None:
        store = self.store
        current = store.find(PODS, namespace, name)
        if current is None:
            return
        self._pod_ips += 1
        ip = f"10.244.{(self._pod_ips >> 8) % 256}.{self._pod_ips % 256}"
        status = rollout.running_status(current.obj, now_rfc3339(), ip)
        if status is None:
            return
        new_obj = dict(current.obj)
        new_obj["status"] = status
        store.write_internal(store.kind_for(PODS), current, new_obj)


async def run_replication(store: Store, *, delay: float = 0.2) -> None:
    """The controllers' task: runs until cancelled."""
    replication = Replication(store, delay)
    store.listeners.append(replication.on_change)
    try:
        for resource in (DEPLOYMENTS, REPLICASETS, STATEFULSETS, PODS):
            for (ns, name), _stored in list(store.iter_objects(resource)):
                replication.schedule((resource, ns, name))
        while True:
            replication.run_due()
            await replication.work.wait()
    finally:
        store.listeners.remove(replication.on_change)
