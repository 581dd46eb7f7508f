"""The JSON bodies of every ONCOP answer, built from plain data.

ONCOP is a protocol other programs implement (docs/oncop.md), so its shapes
live in one place as plain functions: the server calls them, the tests check
them, and the documentation's examples are their output. Nothing here does
I/O or knows the runtime: the inputs are the Katalog's ``CrdEntry``, the
health and metrics dicts a box already produces, and Kubernetes objects as
decoded JSON.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from orkestra_trio.katalog.edges import Edge
from orkestra_trio.katalog.model import CrdEntry

JSON = dict[str, Any]

#: Health states answered with HTTP 200 (the others are 503), as KATALOG.md says.
SERVING_STATES = frozenset({"healthy", "pending"})

#: The most events one answer carries (newest first), to stay far below a client's 64 KiB cap.
MAX_EVENTS = 50

#: The health fields every health answer (and the CRD info) carries, with their empty values.
HEALTH_DEFAULTS: Mapping[str, Any] = {
    "state": "not started",
    "healthy": False,
    "started": False,
    "pending": False,
    "consecutiveFails": 0,
    "totalReconciles": 0,
    "lastError": "",
    "lastReconcile": None,
    "startedAt": None,
    "uptime": "",
}

#: The ``metrics`` object of a box, with its empty values.
METRICS_DEFAULTS: Mapping[str, Any] = {
    "queueDepth": 0,
    "workers": 0,
    "workersBusyPercent": 0.0,
    "errorRatePercent": 0.0,
    "reconcileDurationP95Ms": 0.0,
}


def health_status(health: Mapping[str, Any]) -> int:
    """The HTTP status of a health answer: 200 while pending or healthy, else 503."""
    return 200 if health.get("state") in SERVING_STATES else 503


def health_body(key: str, health: Mapping[str, Any]) -> JSON:
    """``/katalog/<crd>/health``: the box's health fields (missing ones filled in)."""
    body: JSON = {"name": key}
    for field, default in HEALTH_DEFAULTS.items():
        body[field] = health.get(field, default)
    body["status"] = health_status(health)  # Orkestra's CRDHealthResponse carries it
    if health.get("holder"):  # --leader-elect per-box: the replica that runs the box
        body["holder"] = health["holder"]
    return body


def metrics_body(metrics: Mapping[str, Any]) -> JSON:
    """The ``metrics`` object: the five fields of ONCOP.md, missing ones zero."""
    body = {field: metrics.get(field, default) for field, default in METRICS_DEFAULTS.items()}
    # Where the runtime autoscales, the configured worker count next to the current one.
    if "baselineWorkers" in metrics:
        body["baselineWorkers"] = metrics["baselineWorkers"]
    return body


def summary_entry(
    crd: CrdEntry, health: Mapping[str, Any], metrics: Mapping[str, Any], resource_count: int
) -> JSON:
    """One CRD in the ``/katalog`` summary."""
    entry = {
        "name": crd.key,
        "kind": crd.api_types.kind,
        # The CRD entry's free text, which Orkestra shows in its /katalog answers.
        "description": crd.description,
        "state": health.get("state", HEALTH_DEFAULTS["state"]),
        "workers": metrics.get("workers", 0),
        "queueDepth": metrics.get("queueDepth", 0),
        "resourceCount": resource_count,
    }
    if health.get("holder"):  # --leader-elect per-box: the replica that runs the box
        entry["holder"] = health["holder"]
    return entry


def edge_entry(edge: Edge) -> JSON:
    """One cross-operator dependency in the ``/katalog`` summary (:mod:`~orkestra_trio.katalog.edges`)."""
    return {
        "observer": edge.observer,
        "observed": edge.observed,
        "as": edge.as_,
        "via": edge.via,
        "remote": edge.remote,
        "where": edge.where,
    }


def katalog_summary(
    name: str,
    entries: Sequence[JSON],
    edges: Sequence[JSON] = (),
    katalogs: Sequence[Mapping[str, Any]] = (),
) -> JSON:
    """``/katalog``: the Katalog's name, one :func:`summary_entry` per served CRD, the edges.

    ``katalogs``: each Katalog's name and descriptive metadata (``version``,
    ``author``, ``description``...) as written, listed under ``katalogs``; with
    exactly one Katalog they also sit at the top, as in Orkestra's KatalogResponse.
    """
    body: JSON = {"name": name, "crds": list(entries), "edges": list(edges)}
    listed = [plain_json(katalog) for katalog in katalogs]
    body["katalogs"] = listed
    if len(listed) == 1:
        for key, value in listed[0].items():
            body.setdefault(key, value)
    return body


def plain_json(value: Any) -> Any:
    """A Katalog value (FrozenMaps, tuples) as plain JSON (dicts, lists, scalars, text)."""
    if isinstance(value, Mapping):
        return {str(k): plain_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_json(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def crd_info(
    crd: CrdEntry,
    health: Mapping[str, Any],
    metrics: Mapping[str, Any],
    *,
    resource_count: int,
    children: Mapping[str, int] | None = None,
) -> JSON:
    """``/katalog/<crd>``: what the CRD is, how its box is doing, its metrics.

    ``children`` counts the box's children by kind over all its CRs.
    """
    types = crd.api_types
    box_metrics = metrics_body(metrics)
    body: JSON = {
        "name": crd.key,
        "description": crd.description,
        "gvk": {"group": types.group, "version": types.version, "kind": types.kind},
        "plural": types.plural,
        "namespaced": crd.namespaced,
        "workers": box_metrics["workers"],
        "queueDepth": box_metrics["queueDepth"],
        "resourceCount": resource_count,
        "totalReconciles": health.get("totalReconciles", 0),
        "errorRate": box_metrics["errorRatePercent"],
    }
    for field, default in HEALTH_DEFAULTS.items():
        body.setdefault(field, health.get(field, default))
    body["children"] = dict(children or {})
    body["metrics"] = box_metrics
    return body


def is_ready(obj: Mapping[str, Any]) -> bool:
    """Does the object's ``status.conditions`` say ``Ready=True``?"""
    status = obj.get("status")
    conditions = status.get("conditions") if isinstance(status, Mapping) else None
    if not isinstance(conditions, list):
        return False
    return any(
        isinstance(c, Mapping) and c.get("type") == "Ready" and c.get("status") == "True"
        for c in conditions
    )


def _metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, Mapping) else {}


def _mapping(value: Any) -> JSON:
    return dict(value) if isinstance(value, Mapping) else {}


def parse_time(value: Any) -> datetime.datetime | None:
    """An RFC 3339 timestamp as an aware datetime, None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def short_age(seconds: float) -> str:
    """A duration the way kubectl prints an age: ``42s``, ``5m``, ``3h``, ``12d``."""
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 3600 * 2:
        return f"{seconds // 60}m"
    if seconds < 86400 * 2:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def cr_list_item(obj: Mapping[str, Any], now: datetime.datetime) -> JSON:
    """One CR in ``/katalog/<crd>/cr``."""
    metadata = _metadata(obj)
    status = _mapping(obj.get("status"))
    created = parse_time(metadata.get("creationTimestamp"))
    return {
        "name": metadata.get("name", ""),
        "namespace": metadata.get("namespace", ""),
        "phase": status.get("phase", ""),
        "ready": is_ready(obj),
        "generation": metadata.get("generation", 0),
        "age": short_age((now - created).total_seconds()) if created else "",
        "creationTimestamp": metadata.get("creationTimestamp", ""),
    }


def cr_list(objects: Iterable[Mapping[str, Any]], now: datetime.datetime) -> JSON:
    """``/katalog/<crd>/cr``: every CR, sorted by namespace then name."""
    items = [cr_list_item(obj, now) for obj in objects]
    items.sort(key=lambda item: (str(item["namespace"]), str(item["name"])))
    return {"items": items}


def child_summary(obj: Mapping[str, Any]) -> JSON:
    """What a CR's answer says about one child: identity and status, not the whole spec."""
    metadata = _metadata(obj)
    return {
        "apiVersion": obj.get("apiVersion", ""),
        "kind": obj.get("kind", ""),
        "name": metadata.get("name", ""),
        "namespace": metadata.get("namespace", ""),
        "generation": metadata.get("generation", 0),
        "status": _mapping(obj.get("status")),
    }


def children_by_kind(children: Iterable[Mapping[str, Any]]) -> dict[str, JSON]:
    """``{Kind: {name: child_summary}}``, kinds and names sorted."""
    grouped: dict[str, JSON] = {}
    for child in children:
        summary = child_summary(child)
        grouped.setdefault(str(summary["kind"]), {})[str(summary["name"])] = summary
    return {kind: dict(sorted(grouped[kind].items())) for kind in sorted(grouped)}


def count_by_kind(children: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """How many children of each kind."""
    counts: dict[str, int] = {}
    for child in children:
        kind = str(child.get("kind", ""))
        counts[kind] = counts.get(kind, 0) + 1
    return dict(sorted(counts.items()))


def cr_detail(
    obj: Mapping[str, Any],
    children: Iterable[Mapping[str, Any]],
    metrics: Mapping[str, Any],
) -> JSON:
    """``/katalog/<crd>/cr/<ns>/<name>``: the CR, its children by kind, its box's metrics.

    The top-level keys are the ones templates see under ``.cross.<as>`` for a
    same-process read (``found``, ``name``, ``namespace``, ``labels``,
    ``annotations``, ``spec``, ``status``), so a remote read looks the same.
    """
    metadata = _metadata(obj)
    return {
        "found": "true",
        "name": metadata.get("name", ""),
        "namespace": metadata.get("namespace", ""),
        "generation": metadata.get("generation", 0),
        "labels": _mapping(metadata.get("labels")),
        "annotations": _mapping(metadata.get("annotations")),
        "spec": _mapping(obj.get("spec")),
        "status": _mapping(obj.get("status")),
        "ready": is_ready(obj),
        "children": children_by_kind(children),
        "metrics": metrics_body(metrics),
    }


def event_entry(event: Mapping[str, Any]) -> JSON:
    """One Event as ONCOP shows it; accepts core/v1 and events.k8s.io/v1 Events.

    ``firstSeen``/``lastSeen`` are RFC 3339 strings ("" when unknown).
    """
    series = _mapping(event.get("series"))
    first = (
        event.get("firstTimestamp")
        or event.get("deprecatedFirstTimestamp")
        or event.get("eventTime")
        or ""
    )
    last = (
        event.get("lastTimestamp")
        or series.get("lastObservedTime")
        or event.get("deprecatedLastTimestamp")
        or event.get("eventTime")
        or first
    )
    count = event.get("count") or series.get("count") or event.get("deprecatedCount") or 1
    return {
        "type": event.get("type", "Normal"),
        "reason": event.get("reason", ""),
        "message": event.get("message") or event.get("note") or "",
        "count": int(count),
        "firstSeen": first,
        "lastSeen": last,
    }


def event_identity(entry: Mapping[str, Any]) -> tuple[str, str, str]:
    """What makes two event entries the same aggregated Event (a repeat bumps its count)."""
    return (str(entry.get("type")), str(entry.get("reason")), str(entry.get("message")))


def _newest_first_key(entry: Mapping[str, Any]) -> tuple[float, float]:
    last = parse_time(entry.get("lastSeen"))
    first = parse_time(entry.get("firstSeen"))
    return (
        last.timestamp() if last else 0.0,
        first.timestamp() if first else 0.0,
    )


def event_list(events: Iterable[Mapping[str, Any]], *, limit: int = MAX_EVENTS) -> list[JSON]:
    """Event entries newest first (by lastSeen), at most ``limit``."""
    entries = [event_entry(event) for event in events]
    entries.sort(key=_newest_first_key, reverse=True)
    return entries[:limit]


def events_body(events: Iterable[Mapping[str, Any]]) -> JSON:
    """``/katalog/<crd>/cr/<ns>/<name>/events``."""
    return {"events": event_list(events)}


def stream_snapshot(entries: Sequence[Mapping[str, Any]]) -> JSON:
    """The first websocket message: every current event entry, newest first."""
    return {"type": "snapshot", "events": [dict(e) for e in entries]}


def stream_event(entry: Mapping[str, Any]) -> JSON:
    """A later websocket message: one new event, or one whose count/lastSeen changed."""
    return {"type": "event", "event": dict(entry)}


def error_body(message: str) -> JSON:
    """Every non-2xx answer of the surface (except health's 503, which is a health body)."""
    return {"error": message}
