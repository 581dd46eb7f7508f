"""The scale subresource: an object seen as an autoscaling/v1 Scale, and back.

Built-in workloads keep replicas at ``.spec.replicas``; a custom resource
names its paths in the CRD's ``subresources.scale``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orkestra_trio.apiserver.kinds import ResourceKind


def _scale_paths(kind: ResourceKind) -> tuple[str, str, str]:
    """(spec replicas, status replicas, label selector) JSON paths for /scale."""
    if kind.scale:
        return (
            str(kind.scale.get("specReplicasPath", ".spec.replicas")),
            str(kind.scale.get("statusReplicasPath", ".status.replicas")),
            str(kind.scale.get("labelSelectorPath", "")),
        )
    return (".spec.replicas", ".status.replicas", "")


def _get_path(obj: Mapping[str, Any], path: str) -> Any:
    cur: Any = obj
    for part in path.strip(".").split("."):
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(part)
    return cur


def _set_path(obj: dict[str, Any], path: str, value: Any) -> None:
    parts = path.strip(".").split(".")
    cur = obj
    for part in parts[:-1]:
        nxt = cur.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            cur[part] = nxt
        cur = nxt
    cur[parts[-1]] = value


def _selector_text(obj: Mapping[str, Any], kind: ResourceKind, path: str) -> str:
    if path:
        value = _get_path(obj, path)
        return value if isinstance(value, str) else ""
    match = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(match.items()))


def scale_of(kind: ResourceKind, obj: Mapping[str, Any]) -> dict[str, Any]:
    spec_path, status_path, selector_path = _scale_paths(kind)
    meta = obj["metadata"]
    status: dict[str, Any] = {"replicas": _get_path(obj, status_path) or 0}
    selector = _selector_text(obj, kind, selector_path)
    if selector:
        status["selector"] = selector
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": _get_path(obj, spec_path) or 0},
        "status": status,
    }


def set_spec_replicas(obj: dict[str, Any], kind: ResourceKind, replicas: Any) -> None:
    """Write a Scale's ``spec.replicas`` where ``kind`` keeps it (in place)."""
    _set_path(obj, _scale_paths(kind)[0], replicas)
