"""``enrich``: related objects in a CR's template context, from informers the box owns.

Orkestra fetches them per reconcile; here each enrichment is a cache, listed
and watched once, so a reconcile reads memory and a change of a related
object reconciles its CR:

* ``pods``: the pods of the CR's workloads, i.e. those whose pod template
  carried the owner label (:func:`~orkestra_trio.katalog.manifests.pod_labels`);
  the informer selects pods by that label only, so it holds no other pods;
* ``warnings``: the Warning Events about the CR, selected on the server by
  ``type=Warning`` and the CR's kind.

Both sit in the box's namespace (a CRD entry's ``namespace``, else the
runtime's). Templates see them as ``.pods`` and ``.warnings``, lists sorted
by name and by time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orkestra_trio.katalog import CrdEntry
from orkestra_trio.katalog.manifests import OWNER_LABEL

from .informer import Change, Informer, ObjectKey
from .registry import KatalogRegistry

PODS = ("v1", "Pod")
EVENTS = ("v1", "Event")


class Enrichment:
    """The box's enrichment informers and what they hold for one CR."""

    def __init__(self, crd: CrdEntry, informers: Mapping[str, Informer]) -> None:
        self.crd = crd
        self.informers = dict(informers)

    def read(self, cr: Mapping[str, Any]) -> dict[str, Any]:
        """``{"pods": [...], "warnings": [...]}`` for ``cr`` (the enrichments declared)."""
        metadata = cr.get("metadata") or {}
        namespace, name = str(metadata.get("namespace") or ""), str(metadata.get("name") or "")
        uid = metadata.get("uid")
        out: dict[str, Any] = {}
        pods = self.informers.get("pods")
        if pods is not None:
            out["pods"] = sorted(
                (
                    pod
                    for pod in pods.objects()
                    if (pod.get("metadata") or {}).get("namespace") == namespace
                    and ((pod.get("metadata") or {}).get("labels") or {}).get(OWNER_LABEL) == name
                ),
                key=lambda pod: str(pod["metadata"].get("name")),
            )
        warnings = self.informers.get("warnings")
        if warnings is not None:
            out["warnings"] = sorted(
                (event for event in warnings.objects() if _about(event, namespace, name, uid)),
                key=lambda event: str(event.get("lastTimestamp") or event.get("eventTime") or ""),
            )
        return out

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
    return Enrichment(crd, informers)
