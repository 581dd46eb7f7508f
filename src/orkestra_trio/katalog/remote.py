"""A remote reconciler's answer as part of the plan (ORKESTRA-LANGUAGE.md 1.13).

The runtime POSTs ``{key, gvk, object, prepared}`` to the remote reconciler
*before* planning, like an external call, and hands the answer to the plan,
which stays pure: this module turns the answer into children, status fields
and a requeue, or into the error that fails the reconcile.

The answer: ``{result: ok|requeue|error, requeueAfter, error, status: {...},
resources: [...]}``. A resource is a full object (``apiVersion``, ``kind``,
``metadata.name``...) or the shorthand of a resource group, ``{type:
deployments, fields: {name, image, replicas...}}``; either becomes a child of
the CR (ownerReference, the runtime's labels, the CR's namespace by default)
applied on every reconcile. ``status`` fields are merged over the declared
ones (``conditions`` and ``observedGeneration`` stay the runtime's).
``result: requeue`` reconciles the CR again after ``requeueAfter`` (seconds
or a duration; 1s without one).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from orkestra_trio.katalog.durations import parse_duration
from orkestra_trio.katalog.manifests import ManifestError, build_manifest, owner_from_cr
from orkestra_trio.katalog.model import COMMON_ENTRY_KEYS, RESOURCE_GROUPS, RemoteReconciler
from orkestra_trio.katalog.render import RenderedChild, RenderError, describe_cr

#: Seconds until the next reconcile of ``result: requeue`` without ``requeueAfter``.
DEFAULT_REQUEUE = 1.0
#: Status fields the runtime writes itself.
_RUNTIME_STATUS = frozenset({"conditions", "observedGeneration"})
#: Top-level keys of a full object that are not copied into the child.
_NOT_COPIED = frozenset({"apiVersion", "kind", "metadata", "status"})


@attrs.frozen
class RemoteOutcome:
    """What the remote reconciler's answer adds to the plan."""

    children: tuple[RenderedChild, ...] = ()
    status: Mapping[str, Any] = attrs.field(factory=dict)
    requeue_after: float | None = None


def remote_outcome(
    remote: RemoteReconciler, answer: Mapping[str, Any] | None, context: Mapping[str, Any]
) -> RemoteOutcome:
    """The children, status and requeue of ``answer``; raises :class:`RenderError` on failure."""
    cr = describe_cr(context)

    def fail(message: str) -> RenderError:
        return RenderError(f"remote reconciler: {message}", where=str(remote.location), cr=cr)

    if answer is None:
        raise fail("not called (render and simulate make no outgoing calls)")
    if answer.get("error"):
        raise fail(str(answer["error"]))
    body = answer.get("body")
    if not isinstance(body, Mapping):
        raise fail(f"the answer is not a JSON object: {str(body)[:80]!r}")
    result = body.get("result") or "ok"
    if result == "error" or body.get("error"):
        raise fail(str(body.get("error") or "result: error"))
    if result not in ("ok", "requeue"):
        raise fail(f"result must be ok, requeue or error, got {result!r}")
    owner = owner_from_cr(context)
    children = []
    for index, resource in enumerate(body.get("resources") or ()):
        try:
            children.append(_child(remote, resource, owner))
        except (ManifestError, ValueError) as error:
            raise fail(f"resources[{index}]: {error}") from None
    status = body.get("status") or {}
    if not isinstance(status, Mapping):
        raise fail("status must be a JSON object")
    requeue = None
    if result == "requeue":
        requeue = _seconds(body.get("requeueAfter"))
        if requeue is None:
            raise fail(f"requeueAfter {body.get('requeueAfter')!r} is not a duration")
    return RemoteOutcome(
        children=tuple(children),
        status={k: v for k, v in status.items() if k not in _RUNTIME_STATUS},
        requeue_after=requeue,
    )


def _child(remote: RemoteReconciler, resource: Any, owner: Any) -> RenderedChild:
    if not isinstance(resource, Mapping):
        raise ValueError("expected an object")
    if "type" in resource:
        group = str(resource["type"])
        info = RESOURCE_GROUPS.get(group)
        if info is None or group == "custom":
            raise ValueError(f"unknown resource type {group!r}")
        fields = resource.get("fields") or {}
        if not isinstance(fields, Mapping):
            raise ValueError("fields must be an object")
        unknown = sorted(set(fields) - info.shorthand - COMMON_ENTRY_KEYS - {"spec"})
        if unknown:
            raise ValueError(f"{group} has no field {unknown[0]!r}")
        manifest = build_manifest(group, fields, owner)
    else:
        metadata = resource.get("metadata") or {}
        if not isinstance(metadata, Mapping) or not metadata.get("name"):
            raise ValueError("a full object needs metadata.name (or write {type, fields})")
        group = "custom"
        entry = {
            **resource,
            "name": metadata["name"],
            "namespace": metadata.get("namespace") or "",
        }
        manifest = build_manifest(group, entry, owner)
        for key, value in resource.items():
            if key not in _NOT_COPIED:
                manifest[key] = value
    meta = manifest["metadata"]
    return RenderedChild(
        "onReconcile",
        group,
        str(meta["name"]),
        str(meta.get("namespace") or ""),
        True,
        manifest,
        True,
        remote.location,
    )


def _seconds(value: Any) -> float | None:
    if value in (None, ""):
        return DEFAULT_REQUEUE
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value > 0 else DEFAULT_REQUEUE
    try:
        seconds = parse_duration(str(value))
    except ValueError:
        return None
    return seconds if seconds > 0 else DEFAULT_REQUEUE
