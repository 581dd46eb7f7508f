"""Which changes enqueue which CRs: Orkestra's enqueueGate sentinels and ``observe.watch``.

Pure decisions over :class:`~.informer.Change` values; the box subscribes the
informers and calls these (no requests, no state).

* An ``enqueueGate`` lets an *update* of a CR through only when one of its
  sentinels fired (``generationChanged``: ``metadata.generation`` differs
  between the old and new object, and so on). Adds and deletes always pass:
  a gate that could drop a new CR would leave it unreconciled for ever.
* A ``watch`` entry maps a change of another object to the CRs it concerns:
  the label named by ``keyFrom.label`` holds the CR's name; else
  ``keyFrom.name``/``namespace`` render it from the watched object; else an
  ownerReference of the box's kind; else every CR of the box.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from orkestra_trio.katalog import ApiTypes
from orkestra_trio.katalog.model import EnqueueGate, EventWatch, Watch

from .informer import Change, ObjectKey, object_key

# sentinel -> the metadata field whose change it reports.
_FIELD_OF = {
    "generationChanged": "generation",
    "labelsChanged": "labels",
    "annotationsChanged": "annotations",
    "finalizersChanged": "finalizers",
    "nameChanged": "name",
    "namespaceChanged": "namespace",
    "generateNameChanged": "generateName",
    "uidChanged": "uid",
    "resourceVersionChanged": "resourceVersion",
    "creationTimestampChanged": "creationTimestamp",
    "deletionGracePeriodSecondsChanged": "deletionGracePeriodSeconds",
    "ownerReferenceChanged": "ownerReferences",
    "managedFieldsChanged": "managedFields",
}

_EVENT_OF = {"ADDED": "add", "MODIFIED": "update", "DELETED": "delete"}


def sentinel_fired(name: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Did sentinel ``name`` fire between ``old`` and ``new``?"""
    old_meta = old.get("metadata") or {}
    new_meta = new.get("metadata") or {}
    if name == "deletionStarted":
        return not old_meta.get("deletionTimestamp") and bool(new_meta.get("deletionTimestamp"))
    field = _FIELD_OF[name]
    return bool(old_meta.get(field) != new_meta.get(field))


def fired_sentinels(names: Iterable[str], change: Change) -> frozenset[str]:
    """Which of ``names`` fired in this change (updates only: an add or a delete has no old
    object to compare)."""
    if change.type != "MODIFIED" or change.old is None or change.new is None:
        return frozenset()
    return frozenset(name for name in names if sentinel_fired(name, change.old, change.new))


def gate_passes(gate: EnqueueGate | None, change: Change) -> bool:
    """May this change of a CR enter the queue?"""
    if gate is None or change.type != "MODIFIED" or change.old is None or change.new is None:
        return True
    if (change.new.get("metadata") or {}).get("deletionTimestamp"):
        return True  # never hold back a deletion: our finalizer must come off
    if not gate.sentinels:
        return gate.fail_open
    return any(sentinel_fired(name, change.old, change.new) for name in gate.sentinels)


def watch_matches(watch: Watch, change: Change) -> bool:
    obj = change.current
    namespace, name = object_key(obj)
    return (
        obj.get("apiVersion") in (None, watch.api_version)
        and obj.get("kind") in (None, watch.kind)
        and _EVENT_OF.get(change.type, "") in watch.on
        and (not watch.name or name == watch.name)
        and (not watch.namespace or namespace in ("", watch.namespace))
    )


def watch_targets(
    watch: Watch,
    change: Change,
    *,
    types: ApiTypes,
    namespaced: bool,
    all_keys: Iterable[ObjectKey],
) -> list[ObjectKey]:
    """The keys of the CRs a change of a watched object concerns."""
    obj = change.current
    metadata = obj.get("metadata") or {}
    namespace = object_key(obj)[0] if namespaced else ""
    keyed = _key_from(watch, obj, namespace, namespaced)
    if keyed is not None:
        return keyed
    owners = [
        (namespace, str(ref.get("name") or ""))
        for ref in metadata.get("ownerReferences") or ()
        if isinstance(ref, Mapping)
        and ref.get("kind") == types.kind
        and ref.get("apiVersion") == types.api_version
    ]
    if owners:
        return owners
    return list(all_keys)


def event_summary(event: Mapping[str, Any]) -> dict[str, Any]:
    """What ``.events.<name>`` shows of an events.k8s.io Event (Orkestra's fields)."""
    series = event.get("series") or {}
    return {
        "reason": event.get("reason") or "",
        "action": event.get("action") or "",
        "type": event.get("type") or "",
        "note": event.get("note") or "",
        "reportingController": event.get("reportingController") or "",
        "reportingInstance": event.get("reportingInstance") or "",
        "regarding": dict(event.get("regarding") or {}),
        "related": dict(event.get("related") or {}),
        "count": int(series.get("count") or event.get("deprecatedCount") or 1),
        "eventTime": event.get("eventTime") or event.get("deprecatedLastTimestamp") or "",
    }


def event_targets(
    watch: EventWatch,
    event: Mapping[str, Any],
    *,
    types: ApiTypes,
    namespaced: bool,
    all_keys: Iterable[ObjectKey],
) -> list[ObjectKey]:
    """The keys of the CRs an Event concerns (:class:`EventWatch`'s order)."""
    regarding = event.get("regarding") or {}
    namespace = object_key(event)[0] if namespaced else ""
    if regarding.get("kind") == types.kind and regarding.get("apiVersion") == types.api_version:
        name = str(regarding.get("name") or "")
        return [(str(regarding.get("namespace") or namespace) if namespaced else "", name)]
    keyed = _key_from(watch, event, namespace, namespaced)
    return keyed if keyed is not None else list(all_keys)


def _key_from(
    watch: Watch | EventWatch, obj: Mapping[str, Any], namespace: str, namespaced: bool
) -> list[ObjectKey] | None:
    """The CR ``keyFrom`` names on ``obj`` (its label, or the name rendered over it);
    None when the watch has no ``keyFrom``."""
    if watch.key_label is not None:
        label = ((obj.get("metadata") or {}).get("labels") or {}).get(watch.key_label)
        return [(namespace, str(label))] if label else []
    if watch.key_name is not None:
        name = watch.key_name.render(obj)
        if watch.key_namespace is not None and namespaced:
            namespace = watch.key_namespace.render(obj) or namespace
        return [(namespace, name)] if name else []
    return None
