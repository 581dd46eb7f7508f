"""``enrich``: related objects in a CR's template context, from informers the box owns.

Orkestra fetches them per reconcile; here each enrichment reads a cache,
listed and watched once, so a reconcile reads memory and a change of a
related object reconciles the CRs that read it. What each target embeds on
the children is decided in :mod:`orkestra_trio.katalog.enrichment`; this
module keeps the caches, as narrow as the objects allow:

* selected by the owner label the box's children and their pod templates carry
  (so their pods, ReplicaSets, EndpointSlices, StatefulSet claims and CronJob
  Jobs carry it too): pods, ReplicaSets, EndpointSlices, PersistentVolumeClaims,
  Jobs, in the box's namespace;
* Warning Events by ``type=Warning`` and the kind they are about, one informer per
  child kind (and Pod);
* one object by name (field selector ``metadata.name``), opened the first time a
  reconcile looks for it: the PersistentVolume bound to a claim, a StorageClass,
  a Node, an Ingress's TLS Secret, the claim bound to a volume;
* the pods a Service selects, by that selector, opened the first time too.

A cache opened during a reconcile is empty for it; its first list reconciles the
CR again, with the object. Such a cache closes once no CR reads it any more
(the CR is gone, or now names another object). The CR itself gets ``.pods``, ``.warnings`` and
``.owner`` at the context's top level:

* ``pods``: the pods of the CR's workloads (those whose pod labels name the CR as
  owner and one of its children as name);
* ``warnings``: the Warning Events about the CR, selected on the server by
  ``type=Warning`` and the CR's kind, oldest first;
* ``owner``: the CR's controller owner (else its first owner) when that is a CR
  of a CRD of the Katalogs, from that CRD's informer (as ``cross:`` reads it);
  an owner of another kind is given as its ownerReference's fields only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any

from orkestra_trio.katalog import CrdEntry
from orkestra_trio.katalog.enrichment import KINDS, ChildKey, enrich_children, with_extras
from orkestra_trio.katalog.manifests import NAME_LABEL, OWNER_LABEL
from orkestra_trio.katalog.render import normalized

from .informer import Change, Informer, ObjectKey
from .readers import ReadIndex
from .registry import CrossTarget, KatalogRegistry

PODS = KINDS["Pod"]
EVENTS = KINDS["Event"]

#: The kinds read from owner-labelled caches, by target.
_OWNED = {
    "replicasets": "ReplicaSet",
    "endpoints": "EndpointSlice",
    "pvcs": "PersistentVolumeClaim",
    "cronjob": "Job",
}

#: What a reconcile read: ("Event", kind, namespace, name) for the Warning Events about
#: an object, ("named", kind, namespace, name) for one object, ("selected", namespace,
#: selector) for a Service's pods.
Token = tuple[str, ...]


class Enrichment:
    """The box's enrichment caches, what a CR's reconcile reads from them, and who read what."""

    def __init__(
        self,
        crd: CrdEntry,
        registry: KatalogRegistry,
        informers: Mapping[str, Informer],
        *,
        owned: Mapping[str, Informer] | None = None,
        events: Mapping[str, Informer] | None = None,
        owners: Mapping[tuple[str, str], tuple[str, bool, Informer]] | None = None,
    ) -> None:
        self.crd = crd
        self.registry = registry
        #: The top-level pods/warnings informers (whose changes reconcile a CR).
        self.informers = dict(informers)
        #: Owner-labelled caches by kind (ReplicaSet, EndpointSlice...).
        self.owned = dict(owned or {})
        #: Warning Event caches by the kind they are about.
        self.events = dict(events or {})
        #: ``owner``: (apiVersion, kind) of each Katalog CRD -> (its key, namespaced, informer).
        self.owners = dict(owners or {})
        #: Caches opened by a reconcile (one object, or a Service's pods), by what they answer.
        self.lazy: dict[Token, Informer] = {}
        self._listeners: dict[Token, Callable[[Change], None]] = {}
        self._reads: ReadIndex[ObjectKey, Token] = ReadIndex()
        self._notify: Callable[[ObjectKey], None] = lambda key: None

    @property
    def caches(self) -> list[Informer]:
        """Every cache, for the box's sync waits and error reports."""
        return [
            *self.informers.values(),
            *self.owned.values(),
            *self.events.values(),
            *self.lazy.values(),
        ]

    def start(self, notify: Callable[[ObjectKey], None]) -> None:
        """Tell ``notify`` the CRs whose enrichment a change of a cached object concerns."""
        self._notify = notify
        pods = self.informers.get("pods")
        for informer in (*([pods] if pods is not None else []), *self.owned.values()):
            informer.subscribe(self._owned_changed)
        warnings = self.informers.get("warnings")
        if warnings is not None:
            warnings.subscribe(partial(self._event_changed, self.crd.api_types.kind))
        for kind, informer in self.events.items():
            informer.subscribe(partial(self._event_changed, kind))

    async def read(
        self, cr: Mapping[str, Any], children: Iterable[Mapping[str, Any]] = ()
    ) -> tuple[dict[str, Any], list[Mapping[str, Any]], frozenset[CrossTarget]]:
        """What ``cr``'s templates see: the top-level enrichments (``.pods``, ``.warnings``,
        ``.owner``), the children with their underscore keys, and the Katalog CRs it read
        (the owner), for re-enqueueing. ``children``: the CR's own, as the box caches them."""
        metadata = cr.get("metadata") or {}
        namespace, name = str(metadata.get("namespace") or ""), str(metadata.get("name") or "")
        children = list(children)
        top, reads = self._top_level(cr, children)
        reading = _Reading(self)
        extras: dict[ChildKey, dict[str, Any]]
        # The gates read the CR as the plan's templates will (normalize applied).
        extras, active = enrich_children(
            normalized(self.crd, cr), self.crd.enrich_items, children, reading, top_level=top
        )
        key = (namespace if self.crd.namespaced else "", name)
        before = self._reads.reads_of(key)
        self._reads.record(key, reading.tokens)
        self._close_unread(before)
        for token, (ref, options) in reading.wanted.items():
            await self._open(token, ref, options)
        top = {key: value for key, value in top.items() if key in active}
        return top, with_extras(children, extras), reads

    # -- the CR's own (top level) ---------------------------------------------------------

    def _top_level(
        self, cr: Mapping[str, Any], children: list[Mapping[str, Any]]
    ) -> tuple[dict[str, Any], frozenset[CrossTarget]]:
        metadata = cr.get("metadata") or {}
        namespace, name = str(metadata.get("namespace") or ""), str(metadata.get("name") or "")
        uid = metadata.get("uid")
        out: dict[str, Any] = {}
        reads: frozenset[CrossTarget] = frozenset()
        if "owner" in self.crd.enrich:
            out["owner"], reads = self._owner(metadata, namespace)
        pods = self.informers.get("pods")
        if pods is not None and "pods" in self.crd.enrich:
            workloads = {str((child.get("metadata") or {}).get("name")) for child in children}
            out["pods"] = sorted(
                (pod for pod in pods.objects() if _pod_of(pod, namespace, name, workloads)),
                key=lambda pod: str(pod["metadata"].get("name")),
            )
        warnings = self.informers.get("warnings")
        if warnings is not None:
            out["warnings"] = sorted(
                (event for event in warnings.objects() if _about(event, namespace, name, uid)),
                key=lambda event: str(event.get("lastTimestamp") or event.get("eventTime") or ""),
            )
        return out, reads

    def _owner(
        self, metadata: Mapping[str, Any], namespace: str
    ) -> tuple[Mapping[str, Any] | None, frozenset[CrossTarget]]:
        refs = [ref for ref in metadata.get("ownerReferences") or () if isinstance(ref, Mapping)]
        if not refs:
            return None, frozenset()
        ref = next((r for r in refs if r.get("controller")), refs[0])
        name = str(ref.get("name") or "")
        found = self.owners.get((str(ref.get("apiVersion") or ""), str(ref.get("kind") or "")))
        if found is not None:
            crd_key, namespaced, informer = found
            where = namespace if namespaced else ""
            obj = informer.get(where, name)
            if obj is not None:
                return obj, frozenset({(crd_key, where, name)})
        stub = {
            "apiVersion": ref.get("apiVersion"),
            "kind": ref.get("kind"),
            "metadata": {"name": name, "uid": ref.get("uid")},
        }
        return stub, frozenset()

    # -- who read what ----------------------------------------------------------------------

    def forget(self, key: ObjectKey) -> None:
        """The CR is gone: it reads nothing any more (nor keeps a cache only it read)."""
        before = self._reads.reads_of(key)
        self._reads.forget(key)
        self._close_unread(before)

    def _close_unread(self, tokens: Iterable[Token]) -> None:
        """Stop the caches opened for ``tokens`` that no CR reads any more (a claim bound
        to another volume, a pod moved to another node, a CR deleted)."""
        for token in tokens:
            if token in self.lazy and not self._reads.readers_of(token):
                informer = self.lazy.pop(token)
                informer.unsubscribe(self._listeners.pop(token))
                self.registry.release(informer)

    def _tell(self, token: Token) -> None:
        for key in self._reads.readers_of(token):
            self._notify(key)

    def _owned_changed(self, change: Change) -> None:
        """An owner-labelled object changed (a pod, a ReplicaSet...): its CR reconciles."""
        metadata = change.current.get("metadata") or {}
        owner = (metadata.get("labels") or {}).get(OWNER_LABEL)
        if owner:
            namespace = str(metadata.get("namespace") or "") if self.crd.namespaced else ""
            self._notify((namespace, str(owner)))

    def _event_changed(self, kind: str, change: Change) -> None:
        event = change.current
        involved = event.get("involvedObject") or {}
        namespace = str(involved.get("namespace") or "")
        name = str(involved.get("name") or "")
        if kind == self.crd.api_types.kind and "warnings" in self.informers:
            # A Warning about a CR of the box: its top-level .warnings.
            self._notify((namespace if self.crd.namespaced else "", name))
        self._tell(("Event", kind, namespace, name))

    async def _open(self, token: Token, ref: tuple[str, str], options: Mapping[str, str]) -> None:
        """Open the cache ``token`` names; its first list reconciles its readers."""
        if token in self.lazy:
            return
        informer = await self.registry.informer(
            ref,
            label_selector=options.get("label_selector", ""),
            field_selector=options.get("field_selector", ""),
            namespace=options.get("namespace"),
        )
        if token in self.lazy or not self._reads.readers_of(token):
            # Another reconcile opened it meanwhile, or its reader is gone already.
            self.registry.release(informer)
            return
        self.lazy[token] = informer
        self._listeners[token] = listener = partial(self._lazy_changed, token)
        informer.subscribe(listener)

    def _lazy_changed(self, token: Token, change: Change) -> None:
        self._tell(token)


class _Reading:
    """The :class:`~orkestra_trio.katalog.enrichment.EnrichSource` of one reconcile: reads
    the caches, notes what it read, and the caches it lacked (opened after it)."""

    def __init__(self, enrichment: Enrichment) -> None:
        self.enrichment = enrichment
        self.tokens: set[Token] = set()
        self.wanted: dict[Token, tuple[tuple[str, str], dict[str, str]]] = {}

    def pods(self, namespace: str) -> Iterable[Mapping[str, Any]]:
        informer = self.enrichment.informers.get("pods")
        return _in(informer.objects(), namespace) if informer is not None else []

    def selected_pods(
        self, namespace: str, selector: Mapping[str, str]
    ) -> Iterable[Mapping[str, Any]]:
        text = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        token: Token = ("selected", namespace, text)
        return self._lazy(token, PODS, {"label_selector": text, "namespace": namespace})

    def warnings(self, kind: str, namespace: str, name: str) -> Iterable[Mapping[str, Any]]:
        self.tokens.add(("Event", kind, namespace, name))
        informer = self.enrichment.events.get(kind)
        if informer is None:
            return []
        return [e for e in informer.objects() if _involves(e, namespace, name)]

    def owned(self, kind: str, namespace: str) -> Iterable[Mapping[str, Any]]:
        informer = self.enrichment.owned.get(kind)
        return _in(informer.objects(), namespace) if informer is not None else []

    def named(self, kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        token: Token = ("named", kind, namespace, name)
        options = {"field_selector": f"metadata.name={name}", "namespace": namespace}
        found = self._lazy(token, KINDS[kind], options)
        return next(iter(found), None)

    def _lazy(
        self, token: Token, ref: tuple[str, str], options: dict[str, str]
    ) -> list[Mapping[str, Any]]:
        self.tokens.add(token)
        informer = self.enrichment.lazy.get(token)
        if informer is None:
            self.wanted[token] = (ref, options)
            return []
        return list(informer.objects())


def _in(objects: Iterable[Mapping[str, Any]], namespace: str) -> list[Mapping[str, Any]]:
    return [
        o for o in objects if str((o.get("metadata") or {}).get("namespace") or "") == namespace
    ]


def _involves(event: Mapping[str, Any], namespace: str, name: str) -> bool:
    involved = event.get("involvedObject") or {}
    return involved.get("name") == name and str(involved.get("namespace") or "") == namespace


def _pod_of(pod: Mapping[str, Any], namespace: str, name: str, workloads: set[str]) -> bool:
    metadata = pod.get("metadata") or {}
    labels = metadata.get("labels") or {}
    return (
        metadata.get("namespace") == namespace
        and labels.get(OWNER_LABEL) == name
        and labels.get(NAME_LABEL) in workloads
    )


def _about(event: Mapping[str, Any], namespace: str, name: str, uid: Any) -> bool:
    if not _involves(event, namespace, name):
        return False
    involved = event.get("involvedObject") or {}
    return not uid or not involved.get("uid") or involved.get("uid") == uid


async def open_enrichment(
    registry: KatalogRegistry, crd: CrdEntry, child_kinds: Iterable[str] = ()
) -> Enrichment | None:
    """The caches of ``crd``'s enrichments (None without ``enrich``); ``child_kinds``:
    the kinds of the box's children (whose Warning Events ``warnings`` reads)."""
    if not crd.enrich:
        return None
    informers: dict[str, Informer] = {}
    namespace = crd.namespace or None
    wanted = set(crd.enrich)
    if wanted & {"pods", "warnings"}:
        informers["pods"] = await registry.informer(
            PODS, label_selector=OWNER_LABEL, namespace=namespace
        )
    events: dict[str, Informer] = {}
    if "warnings" in wanted:
        informers["warnings"] = await registry.informer(
            EVENTS,
            field_selector=f"type=Warning,involvedObject.kind={crd.api_types.kind}",
            namespace=namespace,
        )
        for kind in sorted({*child_kinds, "Pod"}):
            events[kind] = await registry.informer(
                EVENTS,
                field_selector=f"type=Warning,involvedObject.kind={kind}",
                namespace=namespace,
            )
    owned: dict[str, Informer] = {}
    for target, kind in _OWNED.items():
        if target in wanted:
            owned[kind] = await registry.informer(
                KINDS[kind], label_selector=OWNER_LABEL, namespace=namespace
            )
    owners: dict[tuple[str, str], tuple[str, bool, Informer]] = {}
    if "owner" in wanted:
        for key, other in registry.katalogs.crds.items():
            types = other.api_types
            owners[(types.api_version, types.kind)] = (
                key,
                other.namespaced,
                await registry.cr_informer(key),
            )
    return Enrichment(crd, registry, informers, owned=owned, events=events, owners=owners)
