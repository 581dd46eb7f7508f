"""Garbage collection and namespace cleanup: kube-controller-manager's part, in small.

A real API server only stores ownerReferences and finalizers; the garbage
collector and the namespace controller act on them. Clients depend on their
effects (deleting a Deployment's owner removes it; ``kubectl delete ns`` ends
with the namespace gone), so the embedded server runs one small collector:

- background: an object whose owners are all gone is deleted;
- foreground: an owner carrying the ``foregroundDeletion`` finalizer has its
  dependents deleted, and loses the finalizer once none is left;
- orphan: an owner carrying the ``orphan`` finalizer has its ownerReference
  removed from every dependent, then loses the finalizer;
- namespaces: a terminating namespace has its objects deleted, and goes once
  it is empty. Like kube's namespace controller, the cleanup starts a moment
  after the namespace is marked (``namespace_delay``): ``kubectl delete -f``
  of a manifest that lists the Namespace first still finds the objects after
  it and deletes them itself, instead of failing with NotFound.

The store tells the collector about each commit; the collector works in its
own task, so a write never waits for collection.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

import trio
import trio.lowlevel

from orkestra_trio.apiserver.objects import Stored
from orkestra_trio.apiserver.status import ApiError
from orkestra_trio.apiserver.store import FOREGROUND, NAMESPACES, ORPHAN, ObjectRef, Store
from orkestra_trio.apiserver.watch import DELETED, Change

log = logging.getLogger(__name__)

#: Seconds between a namespace being marked for deletion and its cleanup.
NAMESPACE_DELAY = 0.5


class Collector:
    """Reacts to committed changes; ``collect()`` does the pending work."""

    def __init__(self, store: Store, *, namespace_delay: float = NAMESPACE_DELAY) -> None:
        self.store = store
        self.namespace_delay = namespace_delay
        self.deleted_owners: set[str] = set()
        self.terminating_owners: set[str] = set()
        self.orphan_candidates: set[ObjectRef] = set()
        # Terminating namespaces -> when their cleanup may run (trio clock).
        self.namespaces: dict[str, float] = {}
        self.wake = trio.Event()

    def on_change(self, change: Change) -> None:
        meta = change.new.obj["metadata"]
        uid = str(meta.get("uid") or "")
        interesting = False
        if change.type == DELETED:
            if uid:
                self.deleted_owners.add(uid)
                interesting = True
            # A dependent gone may let an owner in foreground deletion finish.
            for ref in meta.get("ownerReferences") or ():
                if ref.get("uid"):
                    self.terminating_owners.add(str(ref["uid"]))
                    interesting = True
            if change.namespace and self._namespace_terminating(change.namespace):
                self.namespaces.setdefault(change.namespace, trio.current_time())
                interesting = True
        else:
            finalizers = meta.get("finalizers") or ()
            if meta.get("deletionTimestamp") and (FOREGROUND in finalizers or ORPHAN in finalizers):
                self.terminating_owners.add(uid)
                interesting = True
            if change.resource == NAMESPACES and meta.get("deletionTimestamp"):
                self.namespaces.setdefault(change.name, trio.current_time() + self.namespace_delay)
                interesting = True
            if meta.get("ownerReferences") and change.type != "MODIFIED":
                self.orphan_candidates.add((change.resource, change.namespace, change.name))
                interesting = True
        if interesting:
            self.wake.set()

    def rescan(self) -> None:
        """Queue every piece of work the stored objects imply (start-up after a restart).

        Changes committed just before a crash (an owner deleted, a foreground
        or orphan deletion started) were never collected, and no new change
        will mention them, so the collector looks at everything once: objects
        with owners may have lost them, owners in foreground or orphan
        deletion may be waiting for their dependents, terminating namespaces
        may still hold objects.
        """
        for resource in self.store.resources():
            for (namespace, name), stored in list(self.store.iter_objects(resource)):
                meta = stored.obj["metadata"]
                if meta.get("ownerReferences"):
                    self.orphan_candidates.add((resource, namespace, name))
                finalizers = meta.get("finalizers") or ()
                if meta.get("deletionTimestamp") and (
                    FOREGROUND in finalizers or ORPHAN in finalizers
                ):
                    self.terminating_owners.add(str(meta.get("uid") or ""))
                if resource == NAMESPACES and meta.get("deletionTimestamp"):
                    self.namespaces[name] = trio.current_time()
        self.wake.set()

    def _namespace_terminating(self, name: str) -> bool:
        ns = self.store.find(NAMESPACES, "", name)
        return ns is not None and bool(ns.obj["metadata"].get("deletionTimestamp"))

    def _due_namespaces(self) -> list[str]:
        now = trio.current_time()
        due = [name for name, when in self.namespaces.items() if when <= now]
        for name in due:
            del self.namespaces[name]
        return due

    def next_namespace_time(self) -> float | None:
        return min(self.namespaces.values()) if self.namespaces else None

    def collect(self) -> None:
        """Do all pending work (synchronous: the store is never seen half-changed)."""
        while True:
            namespaces = self._due_namespaces()
            if not (
                self.deleted_owners
                or self.terminating_owners
                or self.orphan_candidates
                or namespaces
            ):
                return
            deleted, self.deleted_owners = self.deleted_owners, set()
            terminating, self.terminating_owners = self.terminating_owners, set()
            candidates, self.orphan_candidates = self.orphan_candidates, set()
            for uid in deleted:
                for ref in self.store.dependents(uid):
                    self._collect_if_ownerless(ref)
            for ref in candidates:
                self._collect_if_ownerless(ref)
            for uid in terminating:
                self._finish_owner(uid)
            for name in namespaces:
                self._clean_namespace(name)

    def _delete(self, ref: ObjectRef, propagation: str = "Background") -> None:
        resource, namespace, name = ref
        try:
            kind = self.store.kind_for(resource)
            self.store.delete(kind, namespace, name, propagation=propagation)
        except ApiError as error:
            if error.code != 404:
                log.warning("garbage collector could not delete %s: %s", ref, error.message)

    def _collect_if_ownerless(self, ref: ObjectRef) -> None:
        stored = self.store.find(*ref)
        if stored is None:
            return
        owners = [str(r.get("uid")) for r in stored.obj["metadata"].get("ownerReferences") or ()]
        if (
            owners
            and all(self.store.by_uid(uid) is None for uid in owners)
            and not stored.obj["metadata"].get("deletionTimestamp")
        ):
            self._delete(ref)

    def _write(self, ref: ObjectRef, current: Stored, new_obj: dict[str, Any]) -> None:
        try:
            self.store.write_internal(self.store.kind_for(ref[0]), current, new_obj)
        except ApiError as error:
            log.warning("garbage collector could not update %s: %s", ref, error.message)

    def _finish_owner(self, uid: str) -> None:
        owner = self.store.by_uid(uid)
        owner_ref = self.store.ref_of_uid(uid)
        if owner is None or owner_ref is None:
            return
        meta = owner.obj["metadata"]
        if not meta.get("deletionTimestamp"):
            return
        finalizers = list(meta.get("finalizers") or ())
        if ORPHAN in finalizers:
            for ref in self.store.dependents(uid):
                dep = self.store.find(*ref)
                if dep is None:
                    continue
                new_obj = _filter_metadata_list(
                    dep.obj, "ownerReferences", lambda r: r.get("uid") != uid
                )
                self._write(ref, dep, new_obj)
            self._drop_finalizer(owner_ref, ORPHAN)
        elif FOREGROUND in finalizers:
            remaining = False
            for ref in self.store.dependents(uid):
                dep = self.store.find(*ref)
                if dep is None:
                    continue
                remaining = True
                if not dep.obj["metadata"].get("deletionTimestamp"):
                    self._delete(ref, "Foreground")
            if not any(self.store.find(*ref) for ref in self.store.dependents(uid)):
                remaining = False
            if not remaining:
                self._drop_finalizer(owner_ref, FOREGROUND)

    def _drop_finalizer(self, ref: ObjectRef, finalizer: str) -> None:
        current = self.store.find(*ref)
        if current is None:
            return
        new_obj = _filter_metadata_list(current.obj, "finalizers", lambda f: f != finalizer)
        self._write(ref, current, new_obj)

    def _clean_namespace(self, name: str) -> None:
        ns = self.store.find(NAMESPACES, "", name)
        if ns is None or not ns.obj["metadata"].get("deletionTimestamp"):
            return
        left = False
        for resource in self.store.resources():
            if resource == NAMESPACES:
                continue
            for (_ns, obj_name), stored in list(self.store.iter_objects(resource, name)):
                left = True
                if not stored.obj["metadata"].get("deletionTimestamp"):
                    self._delete((resource, name, obj_name))
        if left and any(
            True
            for resource in self.store.resources()
            if resource != NAMESPACES
            for _ in self.store.iter_objects(resource, name)
        ):
            return
        if ns.obj["metadata"].get("finalizers"):
            return
        self.store.purge(NAMESPACES, "", name)


async def run_collector(store: Store, *, namespace_delay: float = NAMESPACE_DELAY) -> None:
    """The collector task: runs until cancelled."""
    collector = Collector(store, namespace_delay=namespace_delay)
    store.listeners.append(collector.on_change)
    try:
        # Work left undone when a persisted server stopped resumes now.
        collector.rescan()
        while True:
            collector.collect()
            next_time = collector.next_namespace_time()
            with trio.move_on_at(next_time if next_time is not None else math.inf):
                await collector.wake.wait()
            collector.wake = trio.Event()
            # Let the write that woke us finish answering before collecting.
            await trio.lowlevel.checkpoint()
    finally:
        store.listeners.remove(collector.on_change)


def _filter_metadata_list(
    obj: Mapping[str, Any], key: str, keep: Callable[[Any], bool]
) -> dict[str, Any]:
    """A copy of ``obj`` whose ``metadata[key]`` list holds only what ``keep`` accepts.

    An emptied list is dropped rather than left as ``[]``, as the real server
    stores it (omitempty).
    """
    meta = dict(obj["metadata"])
    kept = [item for item in meta.get(key) or () if keep(item)]
    if kept:
        meta[key] = kept
    else:
        meta.pop(key, None)
    return {**obj, "metadata": meta}
