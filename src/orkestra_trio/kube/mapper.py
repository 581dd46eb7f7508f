"""From (apiVersion, kind) to a URL: the REST mapper.

Kubernetes objects name their type as apiVersion + kind ("apps/v1",
"Deployment"), but URLs use the plural resource name and differ for
namespaced and cluster-scoped types. The mapper knows the common built-ins
without asking (so a runtime that only touches Deployments and ConfigMaps
never pays a discovery round trip) and asks the server's discovery documents
(/api/v1, /apis/<group>/<version>) for anything else, again whenever a kind
is missing, because a CRD created after start-up must become reachable
without a restart.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import attrs
import trio

from .errors import NotFound


@attrs.frozen
class ResourceInfo:
    """One resource type as the REST API serves it."""

    group: str  # "" for the core group
    version: str
    kind: str
    plural: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    subresources: frozenset[str] = frozenset()
    verbs: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def base_path(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    def collection_path(self, namespace: str | None) -> str:
        """URL of the collection; ``namespace`` None or "" means all namespaces."""
        if self.namespaced and namespace:
            return f"{self.base_path}/namespaces/{namespace}/{self.plural}"
        return f"{self.base_path}/{self.plural}"

    def object_path(self, name: str, namespace: str | None, subresource: str = "") -> str:
        path = f"{self.collection_path(namespace)}/{name}"
        return f"{path}/{subresource}" if subresource else path

    def describe(self, name: str = "", namespace: str | None = None) -> str:
        """'apps/v1 Deployment default/web', the object part of every error message."""
        head = f"{self.api_version} {self.kind}"
        if not name:
            if self.namespaced:
                return f"{head} in {'namespace ' + namespace if namespace else 'all namespaces'}"
            return head
        if self.namespaced and namespace:
            return f"{head} {namespace}/{name}"
        return f"{head} {name}"


def split_api_version(api_version: str) -> tuple[str, str]:
    """'apps/v1' → ('apps', 'v1'); 'v1' → ('', 'v1')."""
    group, _, version = api_version.rpartition("/")
    return group, version


def _b(group: str, version: str, kind: str, plural: str, namespaced: bool = True,
       subresources: Iterable[str] = (), short: Iterable[str] = ()) -> ResourceInfo:  # fmt: skip
    return ResourceInfo(
        group=group,
        version=version,
        kind=kind,
        plural=plural,
        namespaced=namespaced,
        singular=kind.lower(),
        short_names=tuple(short),
        subresources=frozenset(subresources),
    )


# Stable built-ins every cluster serves: known without a discovery round trip.
BUILTINS: tuple[ResourceInfo, ...] = (
    _b("", "v1", "Namespace", "namespaces", False, ("status",), ("ns",)),
    _b("", "v1", "ConfigMap", "configmaps", short=("cm",)),
    _b("", "v1", "Secret", "secrets"),
    _b("", "v1", "Event", "events", short=("ev",)),
    _b("", "v1", "ServiceAccount", "serviceaccounts", short=("sa",)),
    _b("", "v1", "Service", "services", subresources=("status",), short=("svc",)),
    _b("", "v1", "Pod", "pods", subresources=("status", "log"), short=("po",)),
    _b("", "v1", "Endpoints", "endpoints", short=("ep",)),
    _b("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", subresources=("status",), short=("pvc",)),
    _b("", "v1", "PersistentVolume", "persistentvolumes", False, ("status",), ("pv",)),
    _b("", "v1", "Node", "nodes", False, ("status",), ("no",)),
    _b("apps", "v1", "Deployment", "deployments", subresources=("status", "scale"), short=("deploy",)),
    _b("apps", "v1", "StatefulSet", "statefulsets", subresources=("status", "scale"), short=("sts",)),
    _b("apps", "v1", "ReplicaSet", "replicasets", subresources=("status", "scale"), short=("rs",)),
    _b("apps", "v1", "DaemonSet", "daemonsets", subresources=("status",), short=("ds",)),
    _b("batch", "v1", "Job", "jobs", subresources=("status",)),
    _b("batch", "v1", "CronJob", "cronjobs", subresources=("status",), short=("cj",)),
    _b("coordination.k8s.io", "v1", "Lease", "leases"),
    _b("events.k8s.io", "v1", "Event", "events", short=("ev",)),
    _b("networking.k8s.io", "v1", "Ingress", "ingresses", subresources=("status",), short=("ing",)),
    _b("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", short=("netpol",)),
    _b("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices"),
    _b("storage.k8s.io", "v1", "StorageClass", "storageclasses", False, short=("sc",)),
    _b("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", subresources=("status",), short=("pdb",)),
    _b("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", subresources=("status",), short=("hpa",)),
    _b("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    _b("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    _b("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    _b("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    _b("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False, ("status",), ("crd", "crds")),
)  # fmt: skip


def resources_from_discovery(group_version: str, document: Mapping[str, Any]) -> list[ResourceInfo]:
    """ResourceInfos from an APIResourceList (/api/v1, /apis/<g>/<v>)."""
    group, version = split_api_version(group_version)
    entries = [r for r in document.get("resources") or () if isinstance(r, Mapping)]
    subresources: dict[str, set[str]] = {}
    for entry in entries:
        name = str(entry.get("name", ""))
        if "/" in name:
            parent, _, sub = name.partition("/")
            subresources.setdefault(parent, set()).add(sub)
    out = []
    for entry in entries:
        name = str(entry.get("name", ""))
        if not name or "/" in name or not entry.get("kind"):
            continue
        out.append(
            ResourceInfo(
                group=str(entry.get("group") or group),
                version=str(entry.get("version") or version),
                kind=str(entry["kind"]),
                plural=name,
                namespaced=bool(entry.get("namespaced", False)),
                singular=str(entry.get("singularName") or str(entry["kind"]).lower()),
                short_names=tuple(str(s) for s in entry.get("shortNames") or ()),
                subresources=frozenset(subresources.get(name, ())),
                verbs=tuple(str(v) for v in entry.get("verbs") or ()),
            )
        )
    return out


Fetch = Callable[[str], Awaitable[Mapping[str, Any] | None]]


#: A resource type named by its :class:`ResourceInfo` or by ``(apiVersion, kind)``.
ResourceRef = ResourceInfo | tuple[str, str]


class RestMapper:
    """kind ⇄ plural ⇄ scope, from built-ins and discovery, refreshed on a miss.

    ``fetch(path)`` returns the decoded JSON of a discovery path, or None when
    the server answers 404 (the group/version does not exist).
    """

    def __init__(self, fetch: Fetch, *, builtins: Iterable[ResourceInfo] = BUILTINS):
        self._fetch = fetch
        self._by_kind: dict[tuple[str, str, str], ResourceInfo] = {}
        self._by_plural: dict[tuple[str, str, str], ResourceInfo] = {}
        self._discovered: set[str] = set()  # group/versions fetched from the server
        self._refreshes: dict[str, int] = {}  # per group/version: completed fetches
        self._lock = trio.Lock()
        self.discovery_requests = 0
        for info in builtins:
            self._add(info)

    def _add(self, info: ResourceInfo) -> None:
        self._by_kind[(info.group, info.version, info.kind)] = info
        self._by_plural[(info.group, info.version, info.plural)] = info

    def known(self, api_version: str, kind: str) -> ResourceInfo | None:
        """The mapping if already known, without any I/O."""
        group, version = split_api_version(api_version)
        return self._by_kind.get((group, version, kind))

    async def resolve(self, api_version: str, kind: str) -> ResourceInfo:
        """The resource serving ``kind`` in ``api_version``; NotFound if the server has none."""
        group, version = split_api_version(api_version)
        found = self._by_kind.get((group, version, kind))
        if found is None:
            await self.refresh(api_version)
            found = self._by_kind.get((group, version, kind))
        if found is None:
            raise NotFound(
                "resolve",
                f"{api_version} {kind}",
                code=404,
                reason="NotFound",
                message=f"the server does not serve kind {kind} in {api_version}",
            )
        return found

    async def resolve_plural(self, api_version: str, plural: str) -> ResourceInfo:
        """The resource named ``plural`` (e.g. "deployments") in ``api_version``."""
        group, version = split_api_version(api_version)
        found = self._by_plural.get((group, version, plural))
        if found is None:
            await self.refresh(api_version)
            found = self._by_plural.get((group, version, plural))
        if found is None:
            raise NotFound(
                "resolve",
                f"{api_version} {plural}",
                code=404,
                reason="NotFound",
                message=f"the server does not serve resource {plural} in {api_version}",
            )
        return found

    async def refresh(self, api_version: str) -> None:
        """Fetch one group/version's resource list again (a CRD may have appeared)."""
        group, version = split_api_version(api_version)
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        seen = self._refreshes.get(api_version, 0)
        async with self._lock:
            if self._refreshes.get(api_version, 0) != seen:
                return  # a concurrent miss fetched it while we waited: one request suffices
            self.discovery_requests += 1
            document = await self._fetch(path)
            self._refreshes[api_version] = seen + 1
            if document is None:
                return
            fresh = resources_from_discovery(api_version, document)
            # Drop what this group/version served before: a deleted CRD's kind must go.
            for key in [k for k in self._by_kind if k[:2] == (group, version)]:
                del self._by_kind[key]
            for key in [k for k in self._by_plural if k[:2] == (group, version)]:
                del self._by_plural[key]
            for info in fresh:
                self._add(info)
            self._discovered.add(api_version)

    async def search(self, name: str) -> list[ResourceInfo]:
        """Every resource whose kind, plural, singular or short name is ``name``.

        Walks the whole discovery (/api, /apis): for user-facing lookups such
        as a Katalog naming a kind without its group, not for hot paths.
        """
        root = await self._fetch("/apis")
        versions = ["v1"]
        core = await self._fetch("/api")
        if core:
            versions = [str(v) for v in core.get("versions") or ["v1"]]
        group_versions = list(versions)
        for group in (root or {}).get("groups") or ():
            for v in group.get("versions") or ():
                gv = v.get("groupVersion")
                if gv:
                    group_versions.append(str(gv))
        for gv in group_versions:
            if gv not in self._discovered:
                await self.refresh(gv)
        lowered = name.lower()
        return [
            info
            for info in self._by_kind.values()
            if lowered in (info.kind.lower(), info.plural, info.singular, *info.short_names)
        ]
