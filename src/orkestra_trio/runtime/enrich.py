"""``enrich``: related objects in a CR's template context, from informers the box owns.

Orkestra fetches them per reconcile; here each enrichment is a cache, listed
and watched once, so a reconcile reads memory and a change of a related
object reconciles its CR:

* ``pods``: the pods of the CR's workloads, i.e. those whose pod template
  carried the CR's owner label and, as name label, the name of one of the CR's
  children (:func:`~orkestra_trio.katalog.manifests.pod_labels`): a CR of another
  box with the same name has other children. The informer selects pods by the
  owner label, so it holds no pods of other workloads;
* ``warnings``: the Warning Events about the CR, selected on the server by
  ``type=Warning`` and the CR's kind;
* ``owner``: the CR's controller owner (else its first owner) when that is a CR
  of a CRD of the Katalogs, from that CRD's informer (as ``cross:`` reads it,
  and a change of it reconciles the CR); an owner of another kind is given as
  its ownerReference's fields only (apiVersion, kind, metadata.name/uid):
  watching a whole foreign kind for it would cache far more than it reads.
  ``None`` when the CR has no owner.

Both sit in the box's namespace (a CRD entry's ``namespace``, else the
runtime's). Templates see them as ``.pods`` and ``.warnings``, lists sorted
by name and by time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from orkestra_trio.katalog import CrdEntry
from orkestra_trio.katalog.manifests import NAME_LABEL, OWNER_LABEL

from .informer import Change, Informer, ObjectKey
from .registry import CrossTarget, KatalogRegistry

PODS = ("v1", "Pod")
EVENTS = ("v1", "Event")


class Enrichment:
    """The box's enrichment informers and what they hold for one CR."""

    def __init__(
        self,
        crd: CrdEntry,
        informers: Mapping[str, Informer],
        owners: Mapping[tuple[str, str], tuple[str, bool, Informer]] | None = None,
    ) -> None:
        self.crd = crd
        #: The pods/warnings informers (whose changes reconcile a CR).
        self.informers = dict(informers)
        #: ``owner``: (apiVersion, kind) of each Katalog CRD -> (its key, namespaced, informer).
        self.owners = dict(owners or {})

    def read(
        self, cr: Mapping[str, Any], children: Iterable[Mapping[str, Any]] = ()
    ) -> tuple[dict[str, Any], frozenset[CrossTarget]]:
        """``{"pods": [...], "warnings": [...], "owner": ...}`` for ``cr`` (the enrichments
        declared; ``children``: the CR's own, as the box caches them), and the Katalog CRs
        it read (the owner), for re-enqueueing."""
        metadata = cr.get("metadata") or {}
        namespace, name = str(metadata.get("namespace") or ""), str(metadata.get("name") or "")
        uid = metadata.get("uid")
        out: dict[str, Any] = {}
        reads: frozenset[CrossTarget] = frozenset()
        if "owner" in self.crd.enrich:
            out["owner"], reads = self._owner(metadata, namespace)
        pods = self.informers.get("pods")
        if pods is not None:
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

    def key_of(self, name: str, change: Change) -> ObjectKey | None:
        """The CR a change of an enriched object concerns (None: none)."""
        obj = change.current
        metadata = obj.get("metadata") or {}
        namespace = str(metadata.get("namespace") or "") if self.crd.namespaced else ""
        if name == "pods":
            owner = (metadata.get("labels") or {}).get(OWNER_LABEL)
            return (namespace, str(owner)) if owner else None
        involved = obj.get("involvedObject") or {}
        if involved.get("kind") != self.crd.api_types.kind:
            return None
        return (namespace, str(involved.get("name") or ""))


def _pod_of(pod: Mapping[str, Any], namespace: str, name: str, workloads: set[str]) -> bool:
    metadata = pod.get("metadata") or {}
    labels = metadata.get("labels") or {}
    return (
        metadata.get("namespace") == namespace
        and labels.get(OWNER_LABEL) == name
        and labels.get(NAME_LABEL) in workloads
    )


def _about(event: Mapping[str, Any], namespace: str, name: str, uid: Any) -> bool:
    involved = event.get("involvedObject") or {}
    if involved.get("name") != name or (involved.get("namespace") or "") != namespace:
        return False
    return not uid or not involved.get("uid") or involved.get("uid") == uid


async def open_enrichment(registry: KatalogRegistry, crd: CrdEntry) -> Enrichment | None:
    """The informers of ``crd``'s enrichments (None without ``enrich``)."""
    if not crd.enrich:
        return None
    informers: dict[str, Informer] = {}
    namespace = crd.namespace or None
    if "pods" in crd.enrich:
        informers["pods"] = await registry.informer(
            PODS, label_selector=OWNER_LABEL, namespace=namespace
        )
    if "warnings" in crd.enrich:
        informers["warnings"] = await registry.informer(
            EVENTS,
            field_selector=f"type=Warning,involvedObject.kind={crd.api_types.kind}",
            namespace=namespace,
        )
    owners: dict[tuple[str, str], tuple[str, bool, Informer]] = {}
    if "owner" in crd.enrich:
        for key, other in registry.katalogs.crds.items():
            types = other.api_types
            owners[(types.api_version, types.kind)] = (
                key,
                other.namespaced,
                await registry.cr_informer(key),
            )
    return Enrichment(crd, informers, owners)
