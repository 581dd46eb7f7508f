"""Write a CR's status only when it changed, as the smallest merge patch that gets it there.

:func:`orkestra_trio.katalog.render.render_status` computes the whole next
status (observedGeneration, the Ready condition whose lastTransitionTime
only moves when its status flips, the declared fields). This module compares
it with the status the cache holds and writes nothing when they are equal:
a steady-state reconcile makes no request. When they differ, it sends an RFC
7386 merge patch of just the difference (``null`` removes a field that a
``clearOnFalse`` field dropped), through the ``status`` subresource when the
CRD has one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orkestra_trio.kube import KubeClient, ResourceInfo


def merge_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The RFC 7386 merge patch turning ``old`` into ``new`` ({} when they are equal).

    Mappings are diffed key by key; lists and scalars are replaced whole.
    """
    patch: dict[str, Any] = {}
    for key, value in new.items():
        if key not in old:
            patch[key] = value
            continue
        before = old[key]
        if isinstance(value, Mapping) and isinstance(before, Mapping):
            inner = merge_diff(before, value)
            if inner:
                patch[key] = inner
        elif before != value or type(before) is not type(value):
            patch[key] = value
    for key in old:
        if key not in new:
            patch[key] = None
    return patch


async def write_status(
    kube: KubeClient, info: ResourceInfo, cr: Mapping[str, Any], status: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    """Patch ``cr``'s status to ``status`` if it differs; the server's answer, or None (no write)."""
    current = cr.get("status")
    diff = merge_diff(current if isinstance(current, Mapping) else {}, status)
    if not diff:
        return None
    metadata = cr.get("metadata") or {}
    name = str(metadata.get("name"))
    namespace = str(metadata.get("namespace") or "") or None
    if "status" in info.subresources:
        return await kube.patch_status(info, name, {"status": diff}, namespace=namespace)
    return await kube.merge_patch(info, name, {"status": diff}, namespace=namespace)
