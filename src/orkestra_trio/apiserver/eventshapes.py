"""Core/v1 Events and events.k8s.io/v1 Events: one store, two shapes.

A real cluster stores one Event and serves it through both APIs, converting
field names on the way. Clients mix them (kubectl describe lists core/v1
events; client-go's new recorder writes events.k8s.io/v1), so an event written
through one API must be visible through the other. The store keeps the core
shape; these two functions convert at the API edge.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# events.k8s.io field -> core/v1 field, for fields that only change name.
_RENAMES: tuple[tuple[str, str], ...] = (
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
    ("reportingController", "reportingComponent"),
    ("reportingInstance", "reportingInstance"),
)
_SAME = ("metadata", "eventTime", "series", "reason", "type", "action", "related")


def _carry_over(
    event: Mapping[str, Any], api_version: str, renames: Iterable[tuple[str, str]]
) -> dict[str, Any]:
    """The fields both shapes share, plus each ``(to, from)`` rename that is present."""
    result: dict[str, Any] = {"kind": "Event", "apiVersion": api_version}
    for field in _SAME:
        if field in event:
            result[field] = event[field]
    for to, source in renames:
        if source in event:
            result[to] = event[source]
    return result


def core_to_events_v1(event: Mapping[str, Any]) -> dict[str, Any]:
    """A stored (core/v1) Event as events.k8s.io/v1 serves it."""
    result = _carry_over(event, "events.k8s.io/v1", _RENAMES)
    if "reportingController" not in result:
        component = (event.get("source") or {}).get("component")
        if component:
            result["reportingController"] = component
    if "reportingInstance" not in result:
        host = (event.get("source") or {}).get("host")
        if host:
            result["reportingInstance"] = host
    if not result.get("eventTime"):
        # A core/v1 writer (kubectl, client-go's old recorder) leaves eventTime unset,
        # which kube serves as null; the official client's EventsV1Api then refuses
        # the whole list (event_time is required in its model). The first time the
        # event was seen is what eventTime means, so that stands in.
        seen = (
            event.get("firstTimestamp")
            or event.get("lastTimestamp")
            or (event.get("metadata") or {}).get("creationTimestamp")
        )
        if isinstance(seen, str) and seen.endswith("Z") and "." not in seen:
            result["eventTime"] = seen[:-1] + ".000000Z"
        elif seen:
            result["eventTime"] = seen
    return result


def events_v1_to_core(event: Mapping[str, Any]) -> dict[str, Any]:
    """An events.k8s.io/v1 Event in the core/v1 shape the store keeps."""
    result = _carry_over(event, "v1", [(old, new) for new, old in _RENAMES])
    if "source" not in result and event.get("reportingController"):
        source = {"component": event["reportingController"]}
        if event.get("reportingInstance"):
            source["host"] = event["reportingInstance"]
        result["source"] = source
    return result
