"""An informer: list → watch → cache → notify, for one (kind, namespace, label selector).

Boxes never ask the API server what exists; they read an informer's cache.
The informer keeps that cache current from one list+watch stream (the
``kube`` layer resumes, relists on 410 and guards against stalled streams)
and tells its subscribers what changed.

Subscribers are plain synchronous callables, and the runtime's only
subscribers call a box's ``queue.add`` or look up the registry's cross-read
index: both return at once. So one informer can feed any number of boxes and
a slow box can never hold it back (the isolation rule of ARCHITECTURE.md). A
subscriber that raises is logged and skipped; it cannot stop the informer.

Cached objects are the decoded JSON of the API server's answers and are
shared with every reader: they are read-only by contract. Nothing in the
runtime mutates them (the reconcile pipeline copies before it builds a new
status or manifest), which keeps reads free of copies.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal

import attrs
import trio

from orkestra_trio.katalog.manifests import (
    OWNER_LABEL,
    OWNER_NAMESPACE_ANNOTATION,
    OWNER_UID_LABEL,
)
from orkestra_trio.kube import (
    KubeClient,
    ResourceInfo,
    Synced,
    WatchEvent,
    WatchOptions,
    WatchStats,
)
from orkestra_trio.kube.errors import KubeError

from .backoff import JitteredBackoff

logger = logging.getLogger(__name__)

JSON = dict[str, Any]
#: (namespace, name); namespace is "" for cluster-scoped objects.
ObjectKey = tuple[str, str]
ChangeType = Literal["ADDED", "MODIFIED", "DELETED"]


@attrs.frozen
class Change:
    """What a subscriber is told: ``new`` is None for DELETED, ``old`` None for ADDED."""

    type: ChangeType
    key: ObjectKey
    new: Mapping[str, Any] | None
    old: Mapping[str, Any] | None

    @property
    def current(self) -> Mapping[str, Any]:
        """The object as last known (the deleted one for DELETED)."""
        obj = self.new if self.new is not None else self.old
        assert obj is not None
        return obj


Subscriber = Callable[[Change], None]


@attrs.frozen
class InformerKey:
    """What makes two informers the same: shared by every box that needs it."""

    api_version: str
    kind: str
    namespace: str = ""  # "" = all namespaces
    label_selector: str = ""
    field_selector: str = ""
    #: False: the informer only notifies and keeps no objects (its subscriber stores
    #: what it needs, e.g. a bounded number of Events per CR).
    cached: bool = True


def object_key(obj: Mapping[str, Any]) -> ObjectKey:
    metadata = obj.get("metadata") or {}
    return (str(metadata.get("namespace") or ""), str(metadata.get("name") or ""))


def format_key(key: Any) -> str:
    """A CR key as people write it: ``namespace/name``, or ``name`` when cluster-scoped."""
    if key is None or key == "":
        return "-"
    if isinstance(key, tuple) and len(key) == 2:
        namespace, name = key
        return f"{namespace}/{name}" if namespace else str(name)
    return str(key)


def controller_uid(obj: Mapping[str, Any]) -> str:
    """The uid of the object's controller owner ("" when it has none)."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if isinstance(ref, Mapping) and ref.get("controller"):
            return str(ref.get("uid") or "")
    return ""


def owner_uid(obj: Mapping[str, Any]) -> str:
    """The uid of the CR that owns the object: its controller ownerReference, or else
    the owner-uid label a child carries where Kubernetes forbids the reference
    (another namespace than its CR, or cluster-scoped under a namespaced CR)."""
    uid = controller_uid(obj)
    if uid:
        return uid
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return str(labels.get(OWNER_UID_LABEL) or "")


def label_owner_key(obj: Mapping[str, Any]) -> ObjectKey | None:
    """(namespace, name) of the CR named by an owner-uid labelled child, else None."""
    metadata = obj.get("metadata") or {}
    labels = metadata.get("labels") or {}
    if controller_uid(obj) or not labels.get(OWNER_UID_LABEL) or not labels.get(OWNER_LABEL):
        return None
    annotations = metadata.get("annotations") or {}
    return (str(annotations.get(OWNER_NAMESPACE_ANNOTATION) or ""), str(labels[OWNER_LABEL]))


def _resource_version(obj: Mapping[str, Any] | None) -> str:
    if obj is None:
        return ""
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


class Informer:
    """The cache of one kind (optionally one namespace and label selector). Run :meth:`run`."""

    def __init__(
        self,
        kube: KubeClient,
        info: ResourceInfo,
        *,
        namespace: str = "",
        label_selector: str = "",
        field_selector: str = "",
        cached: bool = True,
        options: WatchOptions | None = None,
    ) -> None:
        self.kube = kube
        self.info = info
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.cached = cached
        self.options = options if options is not None else WatchOptions()
        self.key = InformerKey(
            info.api_version, info.kind, namespace, label_selector, field_selector, cached
        )
        self._cache: dict[ObjectKey, Mapping[str, Any]] = {}
        # Objects by the uid of their owner CR (:func:`owner_uid`): how a box finds a CR's children.
        self._by_owner: dict[str, dict[ObjectKey, Mapping[str, Any]]] = {}
        self._subscribers: list[Subscriber] = []
        self.synced = trio.Event()
        self.resource_version = ""
        self.events_seen = 0
        self.last_error = ""
        self._failing = False
        self._watch_stats: WatchStats | None = None
        self._past_stalls = 0  # stalls of list+watch loops that ended

    # ------------------------------------------------------------ subscribing

    def subscribe(self, subscriber: Subscriber) -> None:
        """Call ``subscriber(change)`` for every change from now on (must not block)."""
        self._subscribers.append(subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        if subscriber in self._subscribers:
            self._subscribers.remove(subscriber)

    # ---------------------------------------------------------------- reading

    def get(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        """The cached object, or None. Read-only: never mutate what this returns."""
        return self._cache.get((namespace if self.info.namespaced else "", name))

    def owned_by(self, uid: str) -> list[Mapping[str, Any]]:
        """Cached objects whose owner CR (reference or owner-uid label) has ``uid``."""
        return list(self._by_owner.get(uid, {}).values()) if uid else []

    def keys(self) -> list[ObjectKey]:
        return list(self._cache)

    def objects(self) -> Iterator[Mapping[str, Any]]:
        return iter(list(self._cache.values()))

    def __len__(self) -> int:
        return len(self._cache)

    # ---------------------------------------------------------------- running

    async def run(self) -> None:
        """List, watch and keep the cache until cancelled.

        Errors the list+watch loop gives up on (the kind is not served yet, say
        a CRD still being installed) are retried here with backoff: an
        informer never ends, so it never takes its registry down.
        """
        backoff = JitteredBackoff(base=0.2, cap=10.0)
        attempt = 0
        while True:
            try:
                async with self.kube.list_watch(
                    self.info,
                    namespace=self.namespace,
                    label_selector=self.label_selector or None,
                    field_selector=self.field_selector or None,
                    options=self.options,
                ) as events:
                    if self._watch_stats is not None:
                        self._past_stalls += self._watch_stats.stalls
                    self._watch_stats = events.stats
                    async for event in events:
                        attempt = 0
                        self._failing = False
                        if isinstance(event, Synced):
                            self._replace(event)
                        else:
                            self._apply(event)
            except KubeError as exc:
                self.last_error = str(exc)
                self._failing = True
                delay = backoff.delay(attempt)
                attempt += 1
                logger.warning("informer %s: %s; retrying in %.2fs", self.describe(), exc, delay)
                await trio.sleep(delay)

    @property
    def error(self) -> str:
        """Why listing or watching fails right now ("" while it works): the box shows it."""
        stats = self._watch_stats
        if stats is not None and (stats.failing or stats.stalled):
            return stats.last_error
        return self.last_error if self._failing else ""

    @property
    def stalls(self) -> int:
        """Watch streams closed because they went silent (each one relisted)."""
        stats = self._watch_stats
        return self._past_stalls + (0 if stats is None else stats.stalls)

    def describe(self) -> str:
        where = self.namespace or "all namespaces"
        selectors = ", ".join(s for s in (self.label_selector, self.field_selector) if s)
        selector = f" ({selectors})" if selectors else ""
        return f"{self.info.api_version} {self.info.kind} in {where}{selector}"

    # ----------------------------------------------------------- cache upkeep

    def _replace(self, synced: Synced) -> None:
        """A (re)list: the new cache is exactly the list; tell subscribers the difference."""
        fresh = {object_key(obj): obj for obj in synced.items}
        old_cache = self._cache
        self._cache = {}
        self._by_owner = {}
        for key, obj in fresh.items():
            self._store(key, obj)
        self.resource_version = synced.resource_version
        for key, obj in fresh.items():
            before = old_cache.get(key)
            if before is None:
                self._notify(Change("ADDED", key, obj, None))
            elif _resource_version(before) != _resource_version(obj):
                self._notify(Change("MODIFIED", key, obj, before))
        for key, before in old_cache.items():
            if key not in fresh:
                self._notify(Change("DELETED", key, None, before))
        self.synced.set()

    def _apply(self, event: WatchEvent) -> None:
        self.events_seen += 1
        obj = event.object
        key = object_key(obj)
        before = self._cache.get(key)
        self.resource_version = event.resource_version or self.resource_version
        if event.type == "DELETED":
            if before is not None:
                self._forget(key, before)
            self._notify(Change("DELETED", key, None, before if before is not None else obj))
            return
        if before is not None:
            self._forget(key, before)
        self._store(key, obj)
        self._notify(Change("MODIFIED" if before is not None else "ADDED", key, obj, before))

    def _store(self, key: ObjectKey, obj: Mapping[str, Any]) -> None:
        if isinstance(obj, dict):
            # Adjusted once, before any reader sees the object:
            # list items may come without apiVersion/kind (as Kubernetes sends
            # them) and readers group children by kind; managedFields are
            # bookkeeping of the server that no reconcile reads, and often the
            # largest part of an object (client-go informers drop them too).
            if "kind" not in obj:
                obj["apiVersion"] = self.info.api_version
                obj["kind"] = self.info.kind
            metadata = obj.get("metadata")
            if isinstance(metadata, dict):
                metadata.pop("managedFields", None)
        if not self.cached:
            return
        self._cache[key] = obj
        uid = owner_uid(obj)
        if uid:
            self._by_owner.setdefault(uid, {})[key] = obj

    def _forget(self, key: ObjectKey, obj: Mapping[str, Any]) -> None:
        self._cache.pop(key, None)
        uid = owner_uid(obj)
        owned = self._by_owner.get(uid)
        if owned is not None:
            owned.pop(key, None)
            if not owned:
                del self._by_owner[uid]

    def _notify(self, change: Change) -> None:
        for subscriber in list(self._subscribers):
            try:
                subscriber(change)
            except Exception:
                logger.exception("informer %s: a subscriber failed", self.describe())
