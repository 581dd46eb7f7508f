"""Every namespace gets a ``default`` ServiceAccount: kube-controller-manager's part, in small.

In a real cluster the service-account controller creates a ServiceAccount
named ``default`` in each namespace shortly after the namespace appears, and
again if someone deletes it. Pods name it implicitly, and tools and tests
(``kubectl get sa default``, ``kubectl create token default``, manifests that
wait for it) expect it, so the embedded server does the same: a task reacts to
committed namespace and ServiceAccount changes and creates what is missing,
through the ordinary create path, so watchers see an ADDED event with its own
revision like any controller's write. Terminating namespaces are left alone.
"""

from __future__ import annotations

import logging

import trio

from orkestra_trio.apiserver.status import ApiError
from orkestra_trio.apiserver.store import NAMESPACES, Store
from orkestra_trio.apiserver.watch import DELETED, Change

log = logging.getLogger(__name__)

SERVICEACCOUNTS = ("", "serviceaccounts")
DEFAULT_NAME = "default"


class DefaultServiceAccounts:
    """Collects namespaces that may lack their ``default`` ServiceAccount."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.pending: set[str] = set()
        self.wake = trio.Event()

    def on_change(self, change: Change) -> None:
        if change.resource == NAMESPACES and change.type != DELETED:
            namespace = change.name
        elif (
            change.resource == SERVICEACCOUNTS
            and change.type == DELETED
            and change.name == DEFAULT_NAME
        ):
            namespace = change.namespace
        else:
            return
        self.pending.add(namespace)
        self.wake.set()

    def queue_all(self) -> None:
        for (_ns, name), _stored in self.store.iter_objects(NAMESPACES):
            self.pending.add(name)

    def create_missing(self) -> None:
        pending, self.pending = self.pending, set()
        kind = self.store.kind_for(SERVICEACCOUNTS)
        for namespace in sorted(pending):
            ns = self.store.find(NAMESPACES, "", namespace)
            if ns is None or ns.obj["metadata"].get("deletionTimestamp"):
                continue
            if self.store.find(SERVICEACCOUNTS, namespace, DEFAULT_NAME) is not None:
                continue
            try:
                self.store.create(kind, namespace, {"metadata": {"name": DEFAULT_NAME}})
            except ApiError as error:  # e.g. the namespace started terminating meanwhile
                log.debug("no default ServiceAccount in %s: %s", namespace, error.message)


async def run_default_serviceaccounts(store: Store) -> None:
    """The controller task: runs until cancelled."""
    controller = DefaultServiceAccounts(store)
    store.listeners.append(controller.on_change)
    try:
        controller.queue_all()
        while True:
            controller.create_missing()
            await controller.wake.wait()
            controller.wake = trio.Event()
            # Let the write that woke us finish answering first, like a real controller.
            await trio.lowlevel.checkpoint()
    finally:
        store.listeners.remove(controller.on_change)
