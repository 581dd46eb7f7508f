"""Discovery documents: what ``/api``, ``/apis`` and ``/apis/<g>/<v>`` answer.

Clients learn every resource name, scope, verb and short name from these
documents before they issue a single request: ``kubectl get deploy`` resolves
``deploy`` through them, ``kubectl api-resources`` prints them, and the
official clients' dynamic clients look up plurals here.  The builders are
pure functions of the registered kinds, so a CRD's resources appear as soon as
it is registered and vanish when it is removed.

Only the legacy (unaggregated) formats are built.  kubectl ≥1.26 asks ``/api``
and ``/apis`` with ``Accept: application/json;g=apidiscovery.k8s.io;
v=v2[beta1];as=APIGroupDiscoveryList,application/json``; client-go checks the
response Content-Type and, given plain ``application/json``, parses the legacy
APIVersions/APIGroupList and then fetches each group version as here.  So the
HTTP layer must answer these documents as plain ``application/json``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import Any

from orkestra_trio.apiserver.kinds import BUILTIN_KINDS, ResourceKind

# Verbs of /status and /scale subresources on a real server.
_SUBRESOURCE_VERBS = ["get", "patch", "update"]

_VERSION_RE = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")

# Built-in groups in the order a real server lists them (by group priority).
_BUILTIN_GROUP_ORDER: tuple[str, ...] = tuple(
    dict.fromkeys(k.group for k in BUILTIN_KINDS if k.group)
)


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Sort key for Kubernetes version names: v2 > v1 > v1beta2 > v1beta1 > v1alpha1 > other.

    Smaller keys sort first (the preferred version first).
    """
    m = _VERSION_RE.match(version)
    if not m:
        return (3, 0, 0, version)
    major = int(m.group(1))
    stage = m.group(2)
    minor = int(m.group(3) or 0)
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -major, -minor, version)


def storage_version_hash(group: str, version: str, kind: str) -> str:
    """An opaque hash of the storage version, as kube encodes it (8 bytes, base64)."""
    digest = hashlib.sha256(f"{group}/{version}/{kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def api_versions(server_address: str = "") -> dict[str, Any]:
    """``/api``: the core group's versions."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _group_versions(kinds: Iterable[ResourceKind], group: str) -> list[str]:
    versions = {k.version for k in kinds if k.group == group}
    return sorted(versions, key=version_priority)


def _group_entry(kinds: Sequence[ResourceKind], group: str) -> dict[str, Any] | None:
    versions = _group_versions(kinds, group)
    if not versions:
        return None
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": entries, "preferredVersion": entries[0]}


def _ordered_groups(kinds: Sequence[ResourceKind]) -> list[str]:
    present = {k.group for k in kinds if k.group}
    builtin = [g for g in _BUILTIN_GROUP_ORDER if g in present]
    return builtin + sorted(present - set(builtin))


def api_group_list(kinds: Sequence[ResourceKind]) -> dict[str, Any]:
    """``/apis``: every named group (the core group lives at ``/api``)."""
    groups = []
    for group in _ordered_groups(kinds):
        entry = _group_entry(kinds, group)
        if entry is not None:
            groups.append(entry)
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(kinds: Sequence[ResourceKind], group: str) -> dict[str, Any] | None:
    """``/apis/<group>``, or None when no kind of that group is registered."""
    entry = _group_entry(kinds, group) if group else None
    if entry is None:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **entry}


def _resource_entries(kind: ResourceKind) -> list[dict[str, Any]]:
    main: dict[str, Any] = {
        "name": kind.plural,
        "singularName": kind.singular,
        "namespaced": kind.namespaced,
        "kind": kind.kind,
        "verbs": list(kind.verbs),
    }
    if kind.short_names:
        main["shortNames"] = list(kind.short_names)
    if kind.categories:
        main["categories"] = list(kind.categories)
    main["storageVersionHash"] = storage_version_hash(kind.group, kind.version, kind.kind)
    entries = [main]
    if kind.has_status:
        entries.append(
            {
                "name": f"{kind.plural}/status",
                "singularName": "",
                "namespaced": kind.namespaced,
                "kind": kind.kind,
                "verbs": list(_SUBRESOURCE_VERBS),
            }
        )
    if "token" in kind.subresources:
        entries.append(
            {
                "name": f"{kind.plural}/token",
                "singularName": "",
                "namespaced": kind.namespaced,
                "group": "authentication.k8s.io",
                "version": "v1",
                "kind": "TokenRequest",
                "verbs": ["create"],
            }
        )
    if kind.has_scale:
        entries.append(
            {
                "name": f"{kind.plural}/scale",
                "singularName": "",
                "namespaced": kind.namespaced,
                "group": "autoscaling",
                "version": "v1",
                "kind": "Scale",
                "verbs": list(_SUBRESOURCE_VERBS),
            }
        )
    return entries


def api_resource_list(
    kinds: Sequence[ResourceKind], group: str, version: str
) -> dict[str, Any] | None:
    """``/api/v1`` or ``/apis/<group>/<version>``; None when nothing is served there."""
    matching = [k for k in kinds if k.group == group and k.version == version]
    if not matching:
        return None
    resources: list[dict[str, Any]] = []
    for kind in sorted(matching, key=lambda k: k.plural):
        resources.extend(_resource_entries(kind))
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }
