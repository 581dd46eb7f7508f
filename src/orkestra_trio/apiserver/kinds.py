"""Which resource kinds the embedded API server knows, and how to name them.

Every other part of the server (discovery, routing, tables, strategic merge,
field selectors) asks "what is this resource?" with a ``ResourceKind``.  The
built-in kinds mirror what a real kube-apiserver advertises for them (short
names, categories, verbs, subresources), because kubectl and other clients
rely on those names: ``kubectl get deploy`` resolves ``deploy`` through the
discovery short names, ``kubectl get all`` through the ``all`` category.

Custom resources get their kinds from a CustomResourceDefinition object via
``kinds_from_crd``: one kind per served version.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

#: The verbs a real server lists for an ordinary resource, in its order.
DEFAULT_VERBS: tuple[str, ...] = (
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
)

# Namespaces have no deletecollection on a real server.
_NAMESPACE_VERBS: tuple[str, ...] = tuple(v for v in DEFAULT_VERBS if v != "deletecollection")


@attrs.frozen
class ResourceKind:
    """One resource as served at ``/api[s]/<group>/<version>/<plural>``.

    ``printer_columns`` holds CRD ``additionalPrinterColumns`` entries; ``schema``
    the version's ``openAPIV3Schema`` (custom resources only); ``scale`` the
    CRD's scale subresource paths.  These three hold mappings, so they take no
    part in hashing (a kind stays usable as a dict key).
    """

    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = DEFAULT_VERBS
    subresources: frozenset[str] = frozenset()
    printer_columns: tuple[Mapping[str, Any], ...] = attrs.field(default=(), hash=False)
    # Extras beyond the agreed interface (all defaulted).
    schema: Mapping[str, Any] | None = attrs.field(default=None, hash=False)
    scale: Mapping[str, Any] | None = attrs.field(default=None, hash=False)
    storage: bool = True
    custom_list_kind: str = ""

    @property
    def group_version(self) -> str:
        """``v1`` for the core group, ``apps/v1`` otherwise."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def api_version(self) -> str:
        """The ``apiVersion`` objects of this kind carry (same as group_version)."""
        return self.group_version

    @property
    def list_kind(self) -> str:
        """``DeploymentList``, or the CRD's ``names.listKind`` when it sets one."""
        return self.custom_list_kind or f"{self.kind}List"

    @property
    def has_status(self) -> bool:
        """Whether ``/status`` is a separate subresource (status split on writes)."""
        return "status" in self.subresources

    @property
    def has_scale(self) -> bool:
        return "scale" in self.subresources

    @property
    def is_custom(self) -> bool:
        """True for kinds that come from a CustomResourceDefinition."""
        return self.schema is not None or self.custom_list_kind != ""

    @property
    def url_prefix(self) -> str:
        """``/api/v1`` or ``/apis/<group>/<version>``."""
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    def names(self) -> frozenset[str]:
        """Every name a user may type for this kind (kubectl resolves these)."""
        return frozenset({self.plural, self.singular, self.kind.lower(), *self.short_names})


def _kind(
    group: str,
    version: str,
    kind: str,
    plural: str,
    *,
    namespaced: bool = True,
    short: Sequence[str] = (),
    categories: Sequence[str] = (),
    subresources: Iterable[str] = (),
    verbs: tuple[str, ...] = DEFAULT_VERBS,
) -> ResourceKind:
    return ResourceKind(
        group=group,
        version=version,
        kind=kind,
        plural=plural,
        singular=kind.lower(),
        namespaced=namespaced,
        short_names=tuple(short),
        categories=tuple(categories),
        verbs=verbs,
        subresources=frozenset(subresources),
    )


def _apps_workload(kind: str, plural: str, short: str) -> ResourceKind:
    """Deployments, statefulsets and replicasets: apps/v1, in ``all``, scalable."""
    return _kind(
        "apps",
        "v1",
        kind,
        plural,
        short=(short,),
        categories=_ALL,
        subresources=("status", "scale"),
    )


_ALL = ("all",)

#: The kinds registered at start.  Short names and categories are those a real
#: 1.2x/1.3x server advertises; subresources are the ones this server serves.
BUILTIN_KINDS: tuple[ResourceKind, ...] = (
    _kind(
        "",
        "v1",
        "Namespace",
        "namespaces",
        namespaced=False,
        short=("ns",),
        subresources=("status",),
        verbs=_NAMESPACE_VERBS,
    ),
    _kind("", "v1", "ConfigMap", "configmaps", short=("cm",)),
    _kind("", "v1", "Secret", "secrets"),
    _kind("", "v1", "Event", "events", short=("ev",)),
    # token: TokenRequest (kubectl create token), see satokens.py.
    _kind("", "v1", "ServiceAccount", "serviceaccounts", short=("sa",), subresources=("token",)),
    _kind(
        "", "v1", "Service", "services", short=("svc",), categories=_ALL, subresources=("status",)
    ),
    _kind("", "v1", "Pod", "pods", short=("po",), categories=_ALL, subresources=("status", "log")),
    _kind("", "v1", "Endpoints", "endpoints", short=("ep",)),
    _kind(
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        short=("pvc",),
        subresources=("status",),
    ),
    _kind(
        "",
        "v1",
        "PersistentVolume",
        "persistentvolumes",
        namespaced=False,
        short=("pv",),
        subresources=("status",),
    ),
    _kind("", "v1", "Node", "nodes", namespaced=False, short=("no",), subresources=("status",)),
    # Namespace policy objects children of a Katalog may carry (resourceQuotas,
    # limitRanges); stored as given, no admission enforces them.
    _kind("", "v1", "ResourceQuota", "resourcequotas", short=("quota",), subresources=("status",)),
    _kind("", "v1", "LimitRange", "limitranges", short=("limits",)),
    _apps_workload("Deployment", "deployments", "deploy"),
    _apps_workload("StatefulSet", "statefulsets", "sts"),
    _apps_workload("ReplicaSet", "replicasets", "rs"),
    _kind(
        "apps",
        "v1",
        "DaemonSet",
        "daemonsets",
        short=("ds",),
        categories=_ALL,
        subresources=("status",),
    ),
    _kind("batch", "v1", "Job", "jobs", categories=_ALL, subresources=("status",)),
    _kind(
        "batch",
        "v1",
        "CronJob",
        "cronjobs",
        short=("cj",),
        categories=_ALL,
        subresources=("status",),
    ),
    _kind(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        short=("hpa",),
        categories=_ALL,
        subresources=("status",),
    ),
    _kind(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        short=("pdb",),
        subresources=("status",),
    ),
    _kind("coordination.k8s.io", "v1", "Lease", "leases"),
    # RBAC (enforced with --authorization rbac, see authz/); aggregation is not evaluated.
    _kind("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    _kind("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    _kind("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced=False),
    _kind(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        namespaced=False,
    ),
    _kind("events.k8s.io", "v1", "Event", "events", short=("ev",)),
    _kind(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        namespaced=False,
        short=("crd", "crds"),
        categories=("api-extensions",),
        subresources=("status",),
    ),
    _kind(
        "networking.k8s.io",
        "v1",
        "Ingress",
        "ingresses",
        short=("ing",),
        subresources=("status",),
    ),
    _kind("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", short=("netpol",)),
    # Read by enrich (endpoints, storageclass); no controller here makes them.
    _kind("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices"),
    _kind(
        "storage.k8s.io",
        "v1",
        "StorageClass",
        "storageclasses",
        namespaced=False,
        short=("sc",),
    ),
)


def builtin(group: str, plural: str) -> ResourceKind:
    """The built-in kind ``group/plural`` (KeyError when there is none)."""
    for k in BUILTIN_KINDS:
        if k.group == group and k.plural == plural:
            return k
    raise KeyError(f"no built-in kind {group}/{plural}")


def find_kind(
    kinds: Iterable[ResourceKind], group: str, version: str, plural: str
) -> ResourceKind | None:
    """The kind served at ``group/version/plural``, or None."""
    for k in kinds:
        if k.group == group and k.version == version and k.plural == plural:
            return k
    return None


def kinds_from_crd(crd: Mapping[str, Any]) -> list[ResourceKind]:
    """One ResourceKind per served version of a CustomResourceDefinition.

    Assumes the CRD passed ``schema.validate_crd``; missing optional parts get
    the API server's defaults (singular = lowercased kind, listKind = kind+List).
    """
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    kind = str(names.get("kind", ""))
    plural = str(names.get("plural", ""))
    singular = str(names.get("singular") or kind.lower())
    list_kind = str(names.get("listKind") or f"{kind}List")
    namespaced = spec.get("scope", "Namespaced") != "Cluster"
    result: list[ResourceKind] = []
    for ver in spec.get("versions") or ():
        if not ver.get("served", False):
            continue
        subs = ver.get("subresources") or {}
        subresources = {name for name in ("status", "scale") if name in subs}
        schema_holder = ver.get("schema") or {}
        schema = schema_holder.get("openAPIV3Schema") or {}
        result.append(
            ResourceKind(
                group=str(spec.get("group", "")),
                version=str(ver.get("name", "")),
                kind=kind,
                plural=plural,
                singular=singular,
                namespaced=namespaced,
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=frozenset(subresources),
                printer_columns=tuple(ver.get("additionalPrinterColumns") or ()),
                schema=schema,
                scale=subs.get("scale"),
                storage=bool(ver.get("storage", False)),
                custom_list_kind=list_kind,
            )
        )
    return result
