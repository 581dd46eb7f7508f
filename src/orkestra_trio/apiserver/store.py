"""The object store: one global revision counter, history, optimistic concurrency.

Everything a kube-apiserver keeps in etcd lives here, in memory: the objects of
every collection, a revision counter that is every object's resourceVersion,
and a bounded history of changes from which watchers resume gap-free (older
than the history → 410 Expired). Every write is synchronous, so nothing else
runs between the precondition check and the commit: optimistic concurrency
needs no locks under Trio. A write commits in this order: persistence (when
configured, so an acknowledged write is durable), memory, history, watchers.

The store knows kinds (which collections exist, CRDs registering new ones) but
not HTTP; the app translates requests into these calls.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import json
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Protocol

import attrs

from orkestra_trio.apiserver import fieldmanager, strategy
from orkestra_trio.apiserver.kinds import BUILTIN_KINDS, ResourceKind, kinds_from_crd
from orkestra_trio.apiserver.limits import check_object_size
from orkestra_trio.apiserver.objects import Stored
from orkestra_trio.apiserver.reviews import REVIEW_KINDS
from orkestra_trio.apiserver.status import (
    ApiError,
    already_exists,
    conflict,
    expired,
    invalid,
    not_found,
)
from orkestra_trio.apiserver.watch import (
    ADDED,
    DELETED,
    MODIFIED,
    Change,
    Predicate,
    ResourceKey,
    Watcher,
    WatchHub,
    WatchItem,
)

NAMESPACES: ResourceKey = ("", "namespaces")
CRDS: ResourceKey = ("apiextensions.k8s.io", "customresourcedefinitions")
FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"

# An object's address inside the store.
ObjectRef = tuple[ResourceKey, str, str]

DEFAULT_HISTORY = 10_000
DEFAULT_WATCH_BUFFER = 4_096


class Persistence(Protocol):
    """What the store needs from a durable backend (see persistence.py)."""

    def record(self, change: Change) -> None: ...


def storage_resource(kind: ResourceKind) -> ResourceKey:
    """The collection a kind's objects live in (both Event APIs share one)."""
    if kind.group == "events.k8s.io" and kind.plural == "events":
        return ("", "events")
    return (kind.group, kind.plural)


class KindRegistry:
    """Which resources are served: the built-ins plus every CRD's versions."""

    def __init__(self, builtins: Iterable[ResourceKind] = BUILTIN_KINDS + REVIEW_KINDS) -> None:
        self._builtins = list(builtins)
        self._crds: dict[str, list[ResourceKind]] = {}
        self._by_gvr: dict[tuple[str, str, str], ResourceKind] = {}
        #: Bumped on every change, so discovery answers can be cached per value.
        self.generation = 0
        self._rebuild()

    def _rebuild(self) -> None:
        by_gvr: dict[tuple[str, str, str], ResourceKind] = {}
        for kind in self.all():
            by_gvr[(kind.group, kind.version, kind.plural)] = kind
        self._by_gvr = by_gvr
        self.generation += 1

    def all(self) -> list[ResourceKind]:
        result = list(self._builtins)
        for kinds in self._crds.values():
            result.extend(kinds)
        return result

    def resolve(self, group: str, version: str, plural: str) -> ResourceKind | None:
        return self._by_gvr.get((group, version, plural))

    def storage_kind(self, resource: ResourceKey) -> ResourceKind | None:
        """The kind objects of a collection are written as (a CRD's storage version)."""
        found: ResourceKind | None = None
        for kind in self._by_gvr.values():
            if (kind.group, kind.plural) == resource:
                if kind.storage:
                    return kind
                found = kind
        return found

    def set_crd(self, crd: Mapping[str, Any]) -> None:
        self._crds[str(crd["metadata"]["name"])] = kinds_from_crd(crd)
        self._rebuild()

    def drop_crd(self, name: str) -> None:
        if self._crds.pop(name, None) is not None:
            self._rebuild()


@attrs.frozen
class ListResult:
    items: list[Stored]
    revision: int
    continue_token: str = ""
    remaining: int | None = None


@attrs.frozen
class WatchStart:
    """What a new watch sends first (replayed or synthetic events), then ``watcher``."""

    initial: list[WatchItem]
    watcher: Watcher
    revision: int


def _encode_continue(rv: int, namespace: str, name: str) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": f"{namespace}/{name}\x00"})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        rv = int(data["rv"])
        start = str(data["start"]).rstrip("\x00")
        namespace, _, name = start.partition("/")
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise ApiError(400, f"continue key is not valid: {exc}", reason="BadRequest") from exc
    return rv, (namespace, name)


def _owner_uids(obj: Mapping[str, Any]) -> list[str]:
    refs = obj["metadata"].get("ownerReferences") or ()
    return [str(r.get("uid")) for r in refs if isinstance(r, Mapping) and r.get("uid")]


class Store:
    """All objects, the revision counter, the change history and the watchers."""

    def __init__(
        self,
        *,
        history_size: int = DEFAULT_HISTORY,
        watch_buffer: int = DEFAULT_WATCH_BUFFER,
        persistence: Persistence | None = None,
    ) -> None:
        self.kinds = KindRegistry()
        self.revision = 0
        self._objects: dict[ResourceKey, dict[str, dict[str, Stored]]] = {}
        self._history: deque[Change] = deque(maxlen=max(1, history_size))
        # Every change with rv > _floor is in the history (watch resumes from _floor on).
        self._floor = 0
        self.hub = WatchHub(watch_buffer)
        self.persistence = persistence
        self._uids: dict[str, ObjectRef] = {}
        self._dependents: dict[str, set[ObjectRef]] = {}
        #: Called after every commit (garbage collector, workload simulation).
        self.listeners: list[Callable[[Change], None]] = []

    # ------------------------------------------------------------------ setup

    def bootstrap(self) -> None:
        """Create the namespaces every cluster has, unless they exist already."""
        ns_kind = self.kind_for(NAMESPACES)
        for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
            if self.find(NAMESPACES, "", name) is None:
                self.create(ns_kind, "", {"metadata": {"name": name}})

    def restore_from(
        self,
        revision: int,
        objects: Iterable[tuple[ResourceKey, Stored]],
        history: Iterable[Change],
    ) -> None:
        """Load a persisted state into an empty store (persistence.py calls this)."""
        crds: list[Mapping[str, Any]] = []
        for resource, stored in objects:
            self._put(resource, stored)
            if resource == CRDS:
                crds.append(stored.obj)
        for crd in crds:
            self.kinds.set_crd(crd)
        first: int | None = None
        for change in history:
            if first is None:
                first = change.rv
            self._history.append(change)
        self.revision = revision
        self._floor = (first - 1) if first is not None else revision

    def kind_for(self, resource: ResourceKey) -> ResourceKind:
        kind = self.kinds.storage_kind(resource)
        if kind is None:
            raise ApiError(404, f"the server could not find the requested resource {resource}")
        return kind

    # ------------------------------------------------------------------ reads

    def find(self, resource: ResourceKey, namespace: str, name: str) -> Stored | None:
        bucket = self._objects.get(resource)
        if bucket is None:
            return None
        names = bucket.get(namespace)
        return None if names is None else names.get(name)

    def get(self, kind: ResourceKind, namespace: str, name: str) -> Stored:
        found = self.find(storage_resource(kind), namespace if kind.namespaced else "", name)
        if found is None:
            raise not_found(kind.plural, kind.group, name)
        return found

    def find_for(self, kind: ResourceKind, namespace: str, name: str) -> Stored | None:
        return self.find(storage_resource(kind), namespace if kind.namespaced else "", name)

    def by_uid(self, uid: str) -> Stored | None:
        ref = self._uids.get(uid)
        return None if ref is None else self.find(*ref)

    def ref_of_uid(self, uid: str) -> ObjectRef | None:
        return self._uids.get(uid)

    def dependents(self, owner_uid: str) -> list[ObjectRef]:
        return sorted(self._dependents.get(owner_uid, ()))

    def iter_objects(
        self, resource: ResourceKey, namespace: str | None = None
    ) -> Iterator[tuple[tuple[str, str], Stored]]:
        bucket = self._objects.get(resource)
        if not bucket:
            return
        if namespace is not None:
            names = bucket.get(namespace)
            if names:
                for name, stored in names.items():
                    yield (namespace, name), stored
            return
        for ns, names in bucket.items():
            for name, stored in names.items():
                yield (ns, name), stored

    def resources(self) -> list[ResourceKey]:
        return [r for r, bucket in self._objects.items() if any(bucket.values())]

    def count(self) -> int:
        return sum(len(names) for bucket in self._objects.values() for names in bucket.values())

    @property
    def floor(self) -> int:
        """The oldest revision a watch may resume from."""
        return self._floor

    def _snapshot(
        self, resource: ResourceKey, namespace: str | None, rv: int
    ) -> dict[tuple[str, str], Stored]:
        """The collection as it was at revision ``rv`` (410 if history is too short)."""
        current = dict(self.iter_objects(resource, namespace))
        if rv >= self.revision:
            return current
        if rv < self._floor:
            # A continue token's age is checked before this; what is left is an exact RV.
            raise expired("The resourceVersion for the provided list is too old.")
        for change in reversed(self._history):
            if change.rv <= rv:
                break
            if change.resource != resource:
                continue
            if namespace is not None and change.namespace != namespace:
                continue
            key = (change.namespace, change.name)
            if change.old is None:
                current.pop(key, None)
            else:
                current[key] = change.old
        return current

    def list(
        self,
        kind: ResourceKind,
        namespace: str | None,
        *,
        predicate: Predicate | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
        resource_version: str | None = None,
        resource_version_match: str | None = None,
    ) -> ListResult:
        resource = storage_resource(kind)
        ns = namespace if kind.namespaced else None
        start_after: tuple[str, str] | None = None
        at = self.revision
        if continue_token:
            at, start_after = _decode_continue(continue_token)
            if at < self._floor:
                raise expired(
                    "The provided continue parameter is too old to display a consistent list "
                    "result. You can start a new list without the continue parameter, or use "
                    "the continue token in this response to retrieve the remainder of the "
                    "results."
                )
        elif resource_version_match == "Exact" and resource_version:
            at = self._parse_rv(resource_version)
            if at > self.revision:
                raise _too_large(at, self.revision)
        elif resource_version and resource_version != "0":
            # NotOlderThan: any state from that revision on will do, but not a future one.
            wanted = self._parse_rv(resource_version)
            if wanted > self.revision:
                raise _too_large(wanted, self.revision)
        if at == self.revision:
            pairs = list(self.iter_objects(resource, ns))
        else:
            pairs = list(self._snapshot(resource, ns, at).items())
        pairs.sort(key=lambda pair: pair[0])
        items: list[Stored] = []
        token = ""
        remaining: int | None = None
        index = 0
        if start_after is not None:
            # Binary search would do; lists are small enough that a scan is clear.
            while index < len(pairs) and pairs[index][0] <= start_after:
                index += 1
        total = len(pairs)
        while index < total:
            key, stored = pairs[index]
            index += 1
            if predicate is not None and not predicate(stored.obj):
                continue
            items.append(stored)
            if limit is not None and limit > 0 and len(items) >= limit:
                more = any(predicate is None or predicate(s.obj) for _, s in pairs[index:])
                if more:
                    token = _encode_continue(at, key[0], key[1])
                    if predicate is None:
                        remaining = total - index
                break
        return ListResult(items, at, token, remaining)

    def _parse_rv(self, text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ApiError(
                400, f'resourceVersion: Invalid value: "{text}": must be an integer'
            ) from None
        if value < 0:
            raise ApiError(400, f'resourceVersion: Invalid value: "{text}": must be >= 0')
        return value

    # ------------------------------------------------------------------ watch

    def watch(
        self,
        kind: ResourceKind,
        namespace: str | None,
        *,
        predicate: Predicate | None = None,
        resource_version: str | None = None,
        send_initial_events: bool | None = None,
    ) -> WatchStart:
        """Open a watch. Raises 410 ApiError if ``resource_version`` is older than the history.

        ``resource_version`` unset or "0": synthetic ADDED events for the
        current state first (unless ``send_initial_events`` is False), then
        live changes. ``N``: every change strictly after N, then live changes.
        ``send_initial_events=True``: current state, then live changes after
        the current revision (the caller sends the initial-events-end bookmark).
        """
        resource = storage_resource(kind)
        ns = namespace if kind.namespaced else None
        rv_text = resource_version or ""
        initial: list[WatchItem] = []
        if send_initial_events or (rv_text in ("", "0") and send_initial_events is None):
            watcher = self.hub.open(resource, ns, predicate, min_rv=self.revision)
            for _key, stored in sorted(self.iter_objects(resource, ns), key=lambda p: p[0]):
                if predicate is None or predicate(stored.obj):
                    change = Change(stored.rv, ADDED, resource, _key[0], _key[1], stored, None)
                    initial.append((ADDED, change))
            return WatchStart(initial, watcher, self.revision)
        if rv_text in ("", "0"):
            watcher = self.hub.open(resource, ns, predicate, min_rv=self.revision)
            return WatchStart(initial, watcher, self.revision)
        since = self._parse_rv(rv_text)
        if since > self.revision:
            # kube's watch cache waits up to 3 s for the revision, then refuses; this
            # store has every revision it will ever have, so it refuses at once.
            raise _too_large(since, self.revision)
        if since < self._floor:
            raise expired(f"too old resource version: {since} ({self._floor + 1})")
        watcher = self.hub.open(resource, ns, predicate, min_rv=max(since, self.revision))
        if since < self.revision:
            replay: list[Change] = []
            for change in reversed(self._history):
                if change.rv <= since:
                    break
                replay.append(change)
            probe = Watcher(resource, ns, predicate, min_rv=since, buffer=1, on_close=_noop)
            for change in reversed(replay):
                if change.resource != resource:
                    continue
                event_type = probe.classify(change)
                if event_type is not None:
                    initial.append((event_type, change))
        return WatchStart(initial, watcher, self.revision)

    def compact(self) -> None:
        """Forget the history: resuming from any earlier revision now gets 410."""
        self._history.clear()
        self._floor = self.revision

    def compact_to(self, revision: int) -> None:
        """Forget the changes up to ``revision`` (etcd's compaction): older resumes get 410."""
        history = self._history
        while history and history[0].rv <= revision:
            history.popleft()
        self._floor = max(self._floor, min(revision, self.revision))

    # ------------------------------------------------------------------ commit

    def _put(self, resource: ResourceKey, stored: Stored) -> Stored | None:
        meta = stored.obj["metadata"]
        namespace = str(meta.get("namespace") or "")
        name = str(meta["name"])
        names = self._objects.setdefault(resource, {}).setdefault(namespace, {})
        old = names.get(name)
        names[name] = stored
        ref: ObjectRef = (resource, namespace, name)
        if old is not None:
            self._unindex(ref, old)
        uid = meta.get("uid")
        if uid:
            self._uids[str(uid)] = ref
        for owner in _owner_uids(stored.obj):
            self._dependents.setdefault(owner, set()).add(ref)
        return old

    def _unindex(self, ref: ObjectRef, stored: Stored) -> None:
        uid = stored.obj["metadata"].get("uid")
        if uid and self._uids.get(str(uid)) == ref:
            del self._uids[str(uid)]
        for owner in _owner_uids(stored.obj):
            deps = self._dependents.get(owner)
            if deps is not None:
                deps.discard(ref)
                if not deps:
                    del self._dependents[owner]

    def _remove(self, resource: ResourceKey, namespace: str, name: str) -> None:
        bucket = self._objects.get(resource)
        if bucket is None:
            return
        names = bucket.get(namespace)
        if names is None:
            return
        old = names.pop(name, None)
        if not names:
            del bucket[namespace]
        if old is not None:
            self._unindex((resource, namespace, name), old)

    def _commit(
        self,
        resource: ResourceKey,
        event_type: str,
        obj: dict[str, Any],
        old: Stored | None,
    ) -> Change:
        """Write one revision. ``obj`` is a fresh dict owned by the store from now on."""
        rv = self.revision + 1
        metadata = dict(obj["metadata"])
        metadata["resourceVersion"] = str(rv)
        obj["metadata"] = metadata
        stored = Stored(obj, rv)
        if event_type != DELETED:
            # etcd's limit: checked on the bytes every reader will be served.
            check_object_size(stored.raw())
        namespace = str(metadata.get("namespace") or "")
        name = str(metadata["name"])
        change = Change(rv, event_type, resource, namespace, name, stored, old)
        if self.persistence is not None:
            self.persistence.record(change)
        self.revision = rv
        if event_type == DELETED:
            self._remove(resource, namespace, name)
        else:
            self._put(resource, stored)
        history = self._history
        if history.maxlen is not None and len(history) == history.maxlen:
            self._floor = history[0].rv
        history.append(change)
        self.hub.dispatch(change)
        for listener in self.listeners:
            listener(change)
        return change

    # ------------------------------------------------------------------ writes

    def _check_namespace(self, kind: ResourceKind, namespace: str) -> None:
        if not kind.namespaced:
            return
        ns = self.find(NAMESPACES, "", namespace)
        if ns is None:
            raise not_found("namespaces", "", namespace)
        if ns.obj["metadata"].get("deletionTimestamp"):
            raise ApiError(
                403,
                f"{kind.plural} is forbidden: unable to create new content in namespace "
                f"{namespace} because it is being terminated",
                reason="Forbidden",
                name=namespace,
                kind="namespaces",
            )

    def create(
        self,
        kind: ResourceKind,
        namespace: str,
        obj: dict[str, Any],
        *,
        dry_run: bool = False,
        field_validation: str = "Ignore",
        warnings: builtins.list[str] | None = None,
        manager: str | None = None,
    ) -> Stored:
        resource = storage_resource(kind)
        ns = namespace if kind.namespaced else ""
        warns: list[str] = [] if warnings is None else warnings
        prepared = strategy.prepare_create(
            kind, obj, namespace=ns, field_validation=field_validation, warnings=warns
        )
        name = str(prepared["metadata"]["name"])
        if self.find(resource, ns, name) is not None:
            raise already_exists(kind.plural, kind.group, name)
        self._check_namespace(kind, ns)
        if manager:
            prepared = _record_manager(kind, None, prepared, manager, "Update")
        if dry_run:
            return Stored(prepared, 0)
        change = self._commit(resource, ADDED, prepared, None)
        if resource == CRDS:
            self.kinds.set_crd(change.new.obj)
        return change.new

    def update(
        self,
        kind: ResourceKind,
        namespace: str,
        name: str,
        obj: dict[str, Any],
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        field_validation: str = "Ignore",
        warnings: builtins.list[str] | None = None,
        require_resource_version: bool = False,
        manager: str | None = None,
    ) -> Stored:
        """Replace an object (PUT, or the result of a patch). 409 on a stale resourceVersion."""
        resource = storage_resource(kind)
        ns = namespace if kind.namespaced else ""
        current = self.find(resource, ns, name)
        if current is None:
            raise not_found(kind.plural, kind.group, name)
        metadata = obj.get("metadata") if isinstance(obj, dict) else None
        wanted_rv = metadata.get("resourceVersion") if isinstance(metadata, dict) else None
        if wanted_rv:
            if str(wanted_rv) != str(current.rv):
                raise conflict(
                    kind.plural,
                    kind.group,
                    name,
                    "the object has been modified; please apply your changes to the latest "
                    "version and try again",
                )
        elif require_resource_version:
            raise invalid(
                kind.kind,
                kind.group,
                name,
                [
                    {
                        "reason": "FieldValueInvalid",
                        "message": "Invalid value: 0x0: must be specified for an update",
                        "field": "metadata.resourceVersion",
                    }
                ],
            )
        warns: list[str] = [] if warnings is None else warnings
        prepared = strategy.prepare_update(
            kind,
            current.obj,
            obj,
            subresource=subresource,
            field_validation=field_validation,
            warnings=warns,
        )
        if manager:
            prepared = _record_manager(
                kind, current.obj, prepared, manager, "Update", subresource or ""
            )
        return self._write_prepared(kind, resource, current, prepared, dry_run=dry_run)

    def _write_prepared(
        self,
        kind: ResourceKind,
        resource: ResourceKey,
        current: Stored,
        prepared: dict[str, Any],
        *,
        dry_run: bool,
    ) -> Stored:
        if strategy.equal_ignoring_bookkeeping(current.obj, prepared):
            return current
        if dry_run:
            meta = dict(prepared["metadata"])
            meta["resourceVersion"] = str(current.rv)
            prepared["metadata"] = meta
            return Stored(prepared, current.rv)
        meta = prepared["metadata"]
        if meta.get("deletionTimestamp") and not _pending_finalizers(resource, prepared):
            change = self._commit(resource, DELETED, prepared, current)
            self._after_delete(resource, change)
            return change.new
        change = self._commit(resource, MODIFIED, prepared, current)
        if resource == CRDS:
            self.kinds.set_crd(change.new.obj)
        return change.new

    def write_internal(
        self, kind: ResourceKind, current: Stored, new_obj: dict[str, Any]
    ) -> Stored:
        """A controller's write (GC, workloads, namespaces): no strategy, no preconditions.

        ``new_obj`` must be a fresh dict derived from ``current.obj``.
        """
        resource = storage_resource(kind)
        live = self.find(resource, current.namespace, current.name)
        if live is None or live.rv != current.rv:
            raise conflict(kind.plural, kind.group, current.name, "the object has been modified")
        return self._write_prepared(kind, resource, current, new_obj, dry_run=False)

    def delete(
        self,
        kind: ResourceKind,
        namespace: str,
        name: str,
        *,
        precondition_uid: str | None = None,
        precondition_rv: str | None = None,
        propagation: str | None = None,
        dry_run: bool = False,
    ) -> tuple[Stored, bool]:
        """Delete or start deleting. Returns (object, gone now?)."""
        resource = storage_resource(kind)
        ns = namespace if kind.namespaced else ""
        current = self.find(resource, ns, name)
        if current is None:
            raise not_found(kind.plural, kind.group, name)
        meta = current.obj["metadata"]
        if precondition_uid and precondition_uid != meta.get("uid"):
            raise conflict(
                kind.plural,
                kind.group,
                name,
                f"Precondition failed: UID in precondition: {precondition_uid}, "
                f"UID in object meta: {meta.get('uid')}",
            )
        if precondition_rv and precondition_rv != str(current.rv):
            raise conflict(
                kind.plural,
                kind.group,
                name,
                f"Precondition failed: ResourceVersion in precondition: {precondition_rv}, "
                f"ResourceVersion in object meta: {current.rv}",
            )
        finalizers = list(meta.get("finalizers") or ())
        if propagation == "Foreground" and FOREGROUND not in finalizers:
            finalizers.append(FOREGROUND)
            if ORPHAN in finalizers:
                finalizers.remove(ORPHAN)
        elif propagation == "Orphan" and ORPHAN not in finalizers:
            finalizers.append(ORPHAN)
            if FOREGROUND in finalizers:
                finalizers.remove(FOREGROUND)
        elif propagation == "Background" and meta.get("deletionTimestamp"):
            # An explicit background delete drops a pending foreground/orphan request.
            finalizers = [f for f in finalizers if f not in (FOREGROUND, ORPHAN)]
        pending = bool(finalizers) or resource == NAMESPACES
        if pending:
            new_obj = dict(current.obj)
            new_meta = dict(meta)
            if finalizers:
                new_meta["finalizers"] = finalizers
            else:
                new_meta.pop("finalizers", None)
            if not meta.get("deletionTimestamp"):
                new_meta["deletionTimestamp"] = strategy.now_rfc3339()
                new_meta["deletionGracePeriodSeconds"] = 0
                if meta.get("generation"):
                    new_meta["generation"] = int(meta["generation"]) + 1
            new_obj["metadata"] = new_meta
            if resource == NAMESPACES:
                status = dict(new_obj.get("status") or {})
                status["phase"] = "Terminating"
                new_obj["status"] = status
            if dry_run:
                return Stored(new_obj, current.rv), False
            if strategy.equal_ignoring_bookkeeping(current.obj, new_obj):
                return current, False
            if resource == NAMESPACES or _pending_finalizers(resource, new_obj):
                change = self._commit(resource, MODIFIED, new_obj, current)
                return change.new, False
            change = self._commit(resource, DELETED, new_obj, current)
            self._after_delete(resource, change)
            return change.new, True
        if dry_run:
            return current, True
        change = self._commit(resource, DELETED, dict(current.obj), current)
        self._after_delete(resource, change)
        return change.new, True

    def purge(self, resource: ResourceKey, namespace: str, name: str) -> Change | None:
        """Remove an object now, whatever its finalizers (namespace and CRD cleanup)."""
        current = self.find(resource, namespace, name)
        if current is None:
            return None
        change = self._commit(resource, DELETED, dict(current.obj), current)
        self._after_delete(resource, change)
        return change

    def _after_delete(self, resource: ResourceKey, change: Change) -> None:
        if resource == CRDS:
            self._drop_custom_resources(change.new.obj)

    def _drop_custom_resources(self, crd: Mapping[str, Any]) -> None:
        """A deleted CRD takes its objects, watches and discovery entries with it."""
        spec = crd.get("spec") or {}
        cr_resource: ResourceKey = (
            str(spec.get("group", "")),
            str(spec.get("names", {}).get("plural", "")),
        )
        for (ns, name), _stored in list(self.iter_objects(cr_resource)):
            self.purge(cr_resource, ns, name)
        self.hub.end_all("crd-deleted", cr_resource)
        self.kinds.drop_crd(str(crd["metadata"]["name"]))


def _pending_finalizers(resource: ResourceKey, obj: Mapping[str, Any]) -> bool:
    if obj["metadata"].get("finalizers"):
        return True
    if resource == NAMESPACES:
        return bool((obj.get("spec") or {}).get("finalizers"))
    return False


def _too_large(wanted: int, current: int) -> ApiError:
    """kube's answer to a revision it has not reached: 504 with a ResourceVersionTooLarge cause.

    client-go's reflector recognizes it by that cause and relists instead of
    waiting forever for events that will never come.
    """
    return ApiError(
        504,
        f"Too large resource version: {wanted}, current: {current}",
        reason="Timeout",
        causes=[{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
        retry_after=1,
    )


def _noop(_watcher: Watcher) -> None:
    return None


def _record_manager(
    kind: ResourceKind,
    old: Mapping[str, Any] | None,
    new: dict[str, Any],
    manager: str,
    operation: str,
    subresource: str = "",
) -> dict[str, Any]:
    """managedFields for a non-apply write, so a later apply can detect conflicts."""
    return fieldmanager.record_update_manager(
        old,
        new,
        manager=manager,
        operation=operation,
        now=strategy.now_rfc3339(),
        kind=kind,
        subresource=subresource,
    )
