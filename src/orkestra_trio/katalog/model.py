"""The Katalog as loaded: frozen attrs classes, tuples and frozen mappings.

Everything here is immutable after load so that the runtime can hand the same
objects to every box and every worker without copying and without locks. The
loader (:mod:`orkestra_trio.katalog.loader`, with its readers) is the only
place that builds these objects; it has already validated them, so consumers
need no checks.

Strings that may hold a Go template are :class:`Text` values that carry their
compiled template, so nothing is compiled twice. Durations are float seconds.
"""

from __future__ import annotations

import datetime
from collections.abc import ItemsView, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar, overload

import attrs

from orkestra_trio.katalog.conditions import Condition
from orkestra_trio.katalog.notification import Notification
from orkestra_trio.katalog.security import NO_SECURITY, Security
from orkestra_trio.katalog.template import CompiledTemplate

if TYPE_CHECKING:
    from orkestra_trio.katalog.errors import KatalogIssue

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")


class FrozenMap(Mapping[K, V], Generic[K, V]):
    """A read-only, hashable mapping that keeps insertion order."""

    __slots__ = ("_data", "_hash")

    def __init__(self, data: Mapping[K, V] | None = None) -> None:
        self._data: dict[K, V] = dict(data) if data is not None else {}
        self._hash: int | None = None

    def __getitem__(self, key: K) -> V:
        return self._data[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    # The dict's own, not the Mapping mixins' (__getitem__ and a try per call): every
    # plan reads the box's entries through these.
    def __contains__(self, key: object) -> bool:
        return key in self._data

    @overload
    def get(self, key: K, /) -> V | None: ...

    @overload
    def get(self, key: K, /, default: V | T) -> V | T: ...

    def get(self, key: K, /, default: Any = None) -> Any:
        return self._data.get(key, default)

    def items(self) -> ItemsView[K, V]:
        return self._data.items()

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._data.items()))
        return self._hash

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"


EMPTY_MAP: FrozenMap[Any, Any] = FrozenMap()


@attrs.frozen
class Location:
    """Where something was written: for runtime errors that point back at the Katalog."""

    file: str
    line: int
    column: int
    path: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


NOWHERE = Location("<unknown>", 0, 0)


@attrs.frozen
class Text:
    """A string from the Katalog that may be a Go template.

    ``template`` is the compiled form when ``source`` holds a template action
    (``{{``), else None and ``source`` is used as is. ``where`` is the
    ``file:line:col`` the template reports in render errors.
    """

    source: str
    template: CompiledTemplate | None = attrs.field(default=None, eq=False, repr=False)
    where: str = attrs.field(default="", eq=False, repr=False)

    @property
    def is_template(self) -> bool:
        return self.template is not None

    def render(self, context: Mapping[str, Any]) -> str:
        """The text for one CR: the template rendered, or the literal source."""
        if self.template is None:
            return self.source
        return self.template.render(context)

    def __str__(self) -> str:
        return self.source


# Values of a shorthand field or a raw `spec:`: scalars, Text for every string,
# tuples for lists and FrozenMaps for mappings.
FrozenValue = Any


@attrs.frozen
class ApiTypes:
    """The group/version/kind/plural of a CRD."""

    group: str
    version: str
    kind: str
    plural: str

    @property
    def api_version(self) -> str:
        # The core group (a built-in kind such as Pod) is written without a group.
        return f"{self.group}/{self.version}" if self.group else self.version


#: What ``dependsOn`` may wait for, weakest first: the box runs (``started``),
#: its health answers 200 (``ready``: pending or healthy), its last reconcile
#: succeeded (``healthy``).
DEPENDENCY_CONDITIONS = ("started", "ready", "healthy")


@attrs.frozen
class Dependency:
    """``dependsOn``: this box works only while ``crd``'s box meets ``condition``."""

    crd: str
    condition: str = "started"  # one of DEPENDENCY_CONDITIONS
    location: Location = attrs.field(default=NOWHERE, eq=False, repr=False)


@attrs.frozen
class Endpoints:
    """Whether this CRD's ONCOP paths are served: all of them (``enabled``), and the
    health path (``/katalog/<crd>/health``) and info path (``/katalog/<crd>``) each."""

    enabled: bool = True
    health: bool = True
    info: bool = True


@attrs.frozen
class ShedRule:
    """One tier of ``queue.behaviour``: while it applies, a new key whose CR meets
    ``when``/``or`` is dropped when ``drop`` (``onThreshold``: from ``percent`` of
    ``maxDepth`` on)."""

    drop: bool = True
    when: tuple[Condition, ...] = ()
    or_: tuple[Condition, ...] = ()
    percent: float = 100.0


@attrs.frozen
class QueueSettings:
    """``reconciler.queue``: max_depth 0 means unbounded; ``on_limit``/``on_threshold`` are
    Orkestra's ``behaviour`` (load shedding, :func:`orkestra_trio.katalog.shedding.sheds`)."""

    max_depth: int = 0
    failure_threshold: int = 5
    on_limit: ShedRule | None = None
    on_threshold: ShedRule | None = None


@attrs.frozen
class Reconciler:
    """How a box reconciles: workers, periodic resync, per-reconcile deadline (seconds)."""

    workers: int = 1
    resync: float | None = None
    timeout: float = 30.0
    queue: QueueSettings = QueueSettings()
    #: The box's share of the process's loop when boxes compete, relative to the others'.
    weight: int = 1


@attrs.frozen
class Requeue:
    """Requeue after a successful reconcile: ``after`` renders to a duration.

    A box holds a list of these (Orkestra's list form; the mapping form is a
    list of one): of the rules whose conditions hold, the shortest delay wins,
    as it does against a cron window's edge or a remote reconciler's answer.
    """

    after: Text | None = None
    when: tuple[Condition, ...] = ()
    or_: tuple[Condition, ...] = ()


@attrs.frozen
class Selector:
    """Which object a cross entry observes; name/namespace are templates over the CR."""

    name: Text | None = None
    namespace: Text | None = None
    labels: FrozenMap[str, Text] | None = None


CROSS_TYPES = ("cr", "health", "metrics", "info", "events")


@attrs.frozen
class CrossSource:
    """A remote source: ONCOP (``host``) or a raw JSON ``endpoint``; exactly one is set."""

    host: str | None = None
    endpoint: Text | None = None
    type: str = "cr"
    cache_for: float = 30.0
    token: str | None = None
    token_from_env: str | None = None
    # How long a last good value may be served after errors (default 2 x cache_for).
    stale_for: float = 60.0
    #: ``auth.secretRef``: (namespace, name, key) of the Secret holding the token.
    token_secret: tuple[str, str, str] | None = None


@attrs.frozen
class CrossEntry:
    """One ``cross:`` observation, visible in templates as ``.cross.<as_>``."""

    crd: str
    as_: str
    selector: Selector = Selector()
    source: CrossSource | None = None
    location: Location = attrs.field(default=NOWHERE, eq=False, repr=False)
    #: Orkestra's ``labelSelector`` instead of ``crd`` (``crd`` is then ""): the first CR,
    #: of any CRD of this runtime's Katalogs that allows cross access, whose labels match.
    label_selector: str | None = None

    @property
    def same_process(self) -> bool:
        """True when read from the local registry rather than over HTTP."""
        return self.source is None


#: The HTTP methods an external call may use.
EXTERNAL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
#: Where an external call is declared, in the order a reconcile runs them (1.6; ``hooks``:
#: ``hooks.external``, Orkestra's HTTP hooks, which 2.2 runs before the templates).
EXTERNAL_PHASES = ("preReconcile", "hooks", "onCreate", "onReconcile")


@attrs.frozen
class RetryBackoff:
    """``retryBackoff``: attempts inside one reconcile, waits growing by ``multiplier``."""

    initial: float = 0.5
    max: float = 30.0
    multiplier: float = 2.0
    max_attempts: int = 1

    def waits(self) -> tuple[float, ...]:
        """The pauses between attempts (``max_attempts - 1`` of them)."""
        out, wait = [], self.initial
        for _ in range(self.max_attempts - 1):
            out.append(min(wait, self.max))
            wait *= self.multiplier
        return tuple(out)


@attrs.frozen
class ExternalCall:
    """One external HTTP call (ORKESTRA-LANGUAGE.md 1.6, 1.9); its answer is ``.external.<name>``.

    ``url``: only its path and query are templates (the scheme and host are
    literal, as for a cross ``source.endpoint``). ``body``: a template string
    sent as is, or a mapping rendered and sent as JSON. ``expected_status``
    empty: any 2xx.
    """

    name: str
    phase: str  # one of EXTERNAL_PHASES
    url: Text
    method: str = "GET"
    body: FrozenValue = None
    headers: FrozenMap[str, Text] = EMPTY_MAP
    token: str | None = None
    token_from_env: str | None = None
    timeout: float = 10.0
    expected_status: tuple[int, ...] = ()
    continue_on_error: bool = False
    when: tuple[Condition, ...] = ()
    or_: tuple[Condition, ...] = ()
    #: The when/or of the onCreate/onReconcile block the call is written in.
    block_when: tuple[Condition, ...] = ()
    block_or: tuple[Condition, ...] = ()
    #: Seconds to pause after the request was sent.
    sleep: float = 0.0
    retry: RetryBackoff = RetryBackoff()
    #: GET answers are reused this long; a changed answer reconciles the CR again
    #: (``fires.reconcile``, on by default).
    cache_for: float = 30.0
    fires_reconcile: bool = True
    location: Location = attrs.field(default=NOWHERE, eq=False, repr=False)


@attrs.frozen
class RemoteReconciler:
    """``reconcile.remote`` (ORKESTRA-LANGUAGE.md 1.13): an HTTP service computes the children.

    Each reconcile POSTs ``{key, gvk, object, prepared}`` to ``endpoint`` (only
    its path and query are templates) and applies the ``resources`` and
    ``status`` of the answer. ``managed``: (apiVersion, kind) of the kinds it
    returns, watched like declared children. ``templates`` False
    (``default: false``): the box's own onCreate/onReconcile do not run.
    """

    endpoint: Text
    timeout: float = 10.0
    managed: tuple[tuple[str, str], ...] = ()
    token: str | None = None
    token_from_env: str | None = None
    #: The header the token is sent in, as ``Bearer <token>``.
    header: str = "Authorization"
    templates: bool = True
    location: Location = attrs.field(default=NOWHERE, eq=False, repr=False)


@attrs.frozen
class ForEach:
    """Stamp one child per item of the list at ``field``, named ``as_`` in templates."""

    field: str
    as_: str = "item"


class ResourceGroup(NamedTuple):
    """What a resource group's entries become."""

    api_version: str
    kind: str
    plural: str
    shorthand: frozenset[str]


_WORKLOAD = (
    "image",
    "command",
    "args",
    "env",
    "spec",
    # Orkestra's everyday container and pod fields (ORKESTRA-LANGUAGE.md 1.6).
    "envFrom",
    "imagePullSecrets",
    "imagePullPolicy",
    "protocol",
    "nodeSelector",
    "serviceAccountName",
    "workingDirectory",
    "probes",
    "securityContext",
    "podSecurity",
    "volumes",
    "volumeMounts",
    "resources",
    "containerName",
)
_SCALABLE = ("replicas", "port", "ports")

# Group name -> (apiVersion, kind, plural, allowed shorthand keys), in the fixed
# apply order: what others depend on (namespaces, secrets, config, policies,
# RBAC, storage) comes first, what refers to workloads (ingresses, HPAs, PDBs) last.
RESOURCE_GROUPS: FrozenMap[str, ResourceGroup] = FrozenMap(
    {
        "namespaces": ResourceGroup("v1", "Namespace", "namespaces", frozenset()),
        "secrets": ResourceGroup(
            "v1",
            "Secret",
            "secrets",
            frozenset(
                {
                    "data",
                    "stringData",
                    "type",
                    "once",
                    "toNamespaces",
                    "tls",
                    "rotateAfter",
                    "fromSecret",
                    "fromNamespace",
                }
            ),
        ),
        # toNamespaces, fromConfigMap/fromNamespace: Orkestra's ConfigMap copies, as a Secret's.
        "configMaps": ResourceGroup(
            "v1",
            "ConfigMap",
            "configmaps",
            frozenset({"data", "toNamespaces", "fromConfigMap", "fromNamespace"}),
        ),
        "networkPolicies": ResourceGroup(
            "networking.k8s.io/v1",
            "NetworkPolicy",
            "networkpolicies",
            frozenset({"profile", "podSelector", "policyTypes", "ingress", "egress", "spec"}),
        ),
        "resourceQuotas": ResourceGroup(
            "v1", "ResourceQuota", "resourcequotas", frozenset({"profile", "hard", "spec"})
        ),
        "limitRanges": ResourceGroup(
            "v1", "LimitRange", "limitranges", frozenset({"profile", "limits", "spec"})
        ),
        # Cluster-scoped: tracked by the owner-uid label (no ownerReference from a
        # namespaced CR), deleted by the runtime under its finalizer.
        "clusterRoles": ResourceGroup(
            "rbac.authorization.k8s.io/v1",
            "ClusterRole",
            "clusterroles",
            frozenset({"rules", "aggregationRule"}),
        ),
        "clusterRoleBindings": ResourceGroup(
            "rbac.authorization.k8s.io/v1",
            "ClusterRoleBinding",
            "clusterrolebindings",
            frozenset({"roleRef", "role", "subjects", "serviceAccounts"}),
        ),
        "serviceAccounts": ResourceGroup("v1", "ServiceAccount", "serviceaccounts", frozenset()),
        "roles": ResourceGroup(
            "rbac.authorization.k8s.io/v1", "Role", "roles", frozenset({"rules"})
        ),
        "roleBindings": ResourceGroup(
            "rbac.authorization.k8s.io/v1",
            "RoleBinding",
            "rolebindings",
            frozenset({"roleRef", "role", "subjects", "serviceAccounts"}),
        ),
        # apiVersion and kind come from the entry itself.
        "custom": ResourceGroup(
            "", "", "", frozenset({"apiVersion", "kind", "metadata", "spec", "data"})
        ),
        "persistentVolumes": ResourceGroup(
            "v1",
            "PersistentVolume",
            "persistentvolumes",
            frozenset(
                {
                    "storage",
                    "capacity",
                    "accessModes",
                    "storageClassName",
                    "volumeMode",
                    "reclaimPolicy",
                    "hostPath",
                    "nfs",
                    "csi",
                    "spec",
                }
            ),
        ),
        "persistentVolumeClaims": ResourceGroup(
            "v1",
            "PersistentVolumeClaim",
            "persistentvolumeclaims",
            frozenset({"storage", "accessModes", "storageClassName", "volumeMode", "spec"}),
        ),
        "replicaSets": ResourceGroup(
            "apps/v1", "ReplicaSet", "replicasets", frozenset({*_WORKLOAD, *_SCALABLE})
        ),
        "deployments": ResourceGroup(
            "apps/v1",
            "Deployment",
            "deployments",
            frozenset({*_WORKLOAD, *_SCALABLE, "rollingUpdate", "autoscale"}),
        ),
        "statefulSets": ResourceGroup(
            "apps/v1",
            "StatefulSet",
            "statefulsets",
            frozenset({*_WORKLOAD, *_SCALABLE, "serviceName", "autoscale"}),
        ),
        "daemonSets": ResourceGroup(
            "apps/v1", "DaemonSet", "daemonsets", frozenset({*_WORKLOAD, "port", "ports"})
        ),
        "services": ResourceGroup(
            "v1",
            "Service",
            "services",
            frozenset(
                {"port", "targetPort", "type", "selector", "ports", "spec", "protocol", "headless"}
            ),
        ),
        "jobs": ResourceGroup(
            "batch/v1",
            "Job",
            "jobs",
            frozenset({*_WORKLOAD, "backoffLimit", "restartPolicy"}),
        ),
        "cronJobs": ResourceGroup(
            "batch/v1", "CronJob", "cronjobs", frozenset({*_WORKLOAD, "schedule"})
        ),
        "ingresses": ResourceGroup(
            "networking.k8s.io/v1",
            "Ingress",
            "ingresses",
            frozenset(
                {
                    "host",
                    "path",
                    "pathType",
                    "serviceName",
                    "servicePort",
                    "className",
                    "spec",
                    "tls",
                }
            ),
        ),
        "hpa": ResourceGroup(
            "autoscaling/v2",
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
            frozenset(
                {
                    "profile",
                    "target",
                    "scaleTargetRef",
                    "minReplicas",
                    "maxReplicas",
                    "cpu",
                    "memory",
                    "metrics",
                    "spec",
                }
            ),
        ),
        "pdb": ResourceGroup(
            "policy/v1",
            "PodDisruptionBudget",
            "poddisruptionbudgets",
            frozenset({"profile", "minAvailable", "maxUnavailable", "selector", "spec"}),
        ),
        # Last, as in Orkestra: a bare pod comes after everything it may mount or use.
        "pods": ResourceGroup(
            "v1", "Pod", "pods", frozenset({*_WORKLOAD, "port", "ports", "restartPolicy"})
        ),
    }
)

#: What a child is named when its entry has no ``name`` (nor, for ``custom``,
#: ``metadata.name``): ``<cr name><suffix>``. Orkestra documents most of these on
#: its entry types; where it names no default (daemonSets it ignores, and the
#: groups it requires a name for or leaves unsaid) the suffix is the kind in
#: lower case, ``-pvc``/``-pv`` for the volume kinds, and for ``custom`` the
#: entry's own kind (see :func:`orkestra_trio.katalog.manifests.default_child_name`).
DEFAULT_NAME_SUFFIXES: FrozenMap[str, str] = FrozenMap(
    {
        # Orkestra's documented defaults.
        "namespaces": "-ns",
        "secrets": "-secret",
        "configMaps": "-config",
        "clusterRoles": "-cluster-role",
        "clusterRoleBindings": "-crb",
        "serviceAccounts": "-sa",
        "roles": "-role",
        "roleBindings": "-rolebinding",
        "replicaSets": "-replicaset",
        "deployments": "-deployment",
        "statefulSets": "",
        "services": "-svc",
        "jobs": "-job",
        "cronJobs": "-cronjob",
        "ingresses": "-ingress",
        "hpa": "-hpa",
        "pdb": "-pdb",
        "pods": "-pod",
        # Chosen here: Orkestra documents none.
        "networkPolicies": "-networkpolicy",
        "resourceQuotas": "-resourcequota",
        "limitRanges": "-limitrange",
        "persistentVolumes": "-pv",
        "persistentVolumeClaims": "-pvc",
        "daemonSets": "-daemonset",
        "custom": "",  # "-<kind in lower case>", from the entry
    }
)

#: Orkestra's longer names of groups, read as the group they stand for.
GROUP_ALIASES: FrozenMap[str, str] = FrozenMap(
    {"horizontalPodAutoscalers": "hpa", "podDisruptionBudgets": "pdb"}
)

# Groups whose objects have no namespace.
CLUSTER_SCOPED_GROUPS: frozenset[str] = frozenset(
    {"namespaces", "clusterRoles", "clusterRoleBindings", "persistentVolumes"}
)

#: ``enrich`` targets (Orkestra's names), each embedding related objects on the CR's
#: children under ``_<name>`` keys (see :mod:`orkestra_trio.katalog.enrichment`).
ENRICHMENTS = (
    "pods",
    "warnings",
    "owner",
    "replicasets",
    "endpoints",
    "pvcs",
    "pvc",
    "pv",
    "storageclass",
    "backingpods",
    "node",
    "hpa",
    "cronjob",
    "ingress",
)

#: The enrichments the templates also see at the context's top level, about the CR
#: itself: ``.pods`` (its workloads' pods), ``.warnings`` (Warning Events about it)
#: and ``.owner`` (its owner).
TOP_LEVEL_ENRICHMENTS = ("pods", "warnings", "owner")

#: Orkestra's other names of the targets (aliases, plurals, shorthands).
ENRICH_ALIASES: FrozenMap[str, str] = FrozenMap(
    {
        "pod": "pods",
        "events": "warnings",
        "event": "warnings",
        "ev": "warnings",
        "ep": "endpoints",
        "endpointslice": "endpoints",
        "pvclaim": "pvc",
        "persistentvolumeclaim": "pvc",
        "pvs": "pv",
        "persistentvolume": "pv",
        "sc": "storageclass",
        "storageclasses": "storageclass",
        "horizontalpodautoscaler": "hpa",
        "cj": "cronjob",
        "cronjobs": "cronjob",
        "ing": "ingress",
        "ingresses": "ingress",
    }
)


@attrs.frozen
class EnrichItem:
    """One ``enrich`` target and its gate: embedded only when ``when``/``or`` hold."""

    name: str
    when: tuple[Condition, ...] = ()
    or_: tuple[Condition, ...] = ()

    @property
    def conditional(self) -> bool:
        return bool(self.when or self.or_)


#: The built-in kinds a CRD entry's apiTypes may name, as (group, kind): an
#: operator over plain Deployments, Services... (Orkestra recognises them by
#: kind). Such an entry needs a ``labelSelector``; no CRD is installed for it.
BUILTIN_KINDS: frozenset[tuple[str, str]] = frozenset(
    (info.api_version.rpartition("/")[0], info.kind)
    for info in RESOURCE_GROUPS.values()
    if info.kind
)

# Keys every resource entry may carry, whatever its group.
COMMON_ENTRY_KEYS: frozenset[str] = frozenset(
    {
        "name",
        "namespace",
        "labels",
        "annotations",
        "when",
        "or",
        "reconcile",
        "forEach",
        "wait",
        "sleep",
        "forceConflict",
    }
)


@attrs.frozen
class ScaleStep:
    """One direction of a workload ``autoscale``: while its conditions hold, step the replicas.

    ``step`` replicas at a time, or straight to ``target`` when given.
    """

    when: tuple[Condition, ...] = ()
    or_: tuple[Condition, ...] = ()
    step: int = 1
    target: int | None = None


@attrs.frozen
class WorkloadAutoscale:
    """``autoscale`` on a deployment/statefulSet entry: replicas within [minimum, maximum].

    Evaluated at each reconcile from the child as the informer holds it; a
    change is not repeated within ``cooldown`` seconds of the previous one.
    """

    minimum: int = 1
    maximum: int = 10
    cooldown: float = 0.0
    up: ScaleStep | None = None
    down: ScaleStep | None = None


@attrs.frozen
class ResourceEntry:
    """One child declaration of a resource group.

    ``name`` None means the CR's own name; ``namespace`` None means the CR's
    namespace. ``fields`` holds the group's shorthand keys exactly as written
    (strings as :class:`Text`), e.g. ``image``, ``replicas``, ``spec``.
    """

    group: str
    name: Text | None = None
    namespace: Text | None = None
    labels: FrozenMap[str, Text] = EMPTY_MAP
    annotations: FrozenMap[str, Text] = EMPTY_MAP
    when: tuple[Condition, ...] = ()
    or_: tuple[Condition, ...] = ()
    #: The ``when``/``or`` of the whole onCreate/onReconcile block the entry is in:
    #: they must hold too (Orkestra's block-level gate).
    block_when: tuple[Condition, ...] = ()
    block_or: tuple[Condition, ...] = ()
    reconcile: bool = False
    for_each: ForEach | None = None
    fields: FrozenMap[str, FrozenValue] = EMPTY_MAP
    #: onDelete entries only: hold the finalizer until this child finished (a Job
    #: completed or failed), then delete it.
    wait: bool = False
    location: Location = attrs.field(default=NOWHERE, eq=False, repr=False)
    #: Seconds to pause after this child was created or changed (Orkestra's ``sleep``).
    sleep: float = 0.0
    #: ``once: true`` (secrets): created once, never updated, whatever the phase.
    once: bool = False
    #: ``forceConflict`` (the entry's, else the CRD's): False corrects drift with a
    #: server-side apply that fails on fields another manager owns instead of taking them.
    force_conflict: bool = True
    autoscale: WorkloadAutoscale | None = None
    #: An entry a Motif brought: its inputs (templates over the CR), seen as
    #: ``.inputs.<name>`` by the entry's templates. None for the CRD's own entries.
    inputs: FrozenMap[str, Text] | None = None

    @property
    def kind_info(self) -> ResourceGroup:
        return RESOURCE_GROUPS[self.group]


# Group name -> its entries; only groups that have entries, in apply order.
Resources = FrozenMap[str, tuple[ResourceEntry, ...]]

STATUS_FIELD_TYPES = ("string", "int", "float", "bool", "auto")


@attrs.frozen
class StatusField:
    """A declared ``status.fields`` entry: ``path`` is a dot path under ``.status``."""

    path: str
    value: Text
    type: str = "string"
    when: tuple[Condition, ...] = ()
    or_: tuple[Condition, ...] = ()
    clear_on_false: bool = False
    location: Location = attrs.field(default=NOWHERE, eq=False, repr=False)
    #: A field a Motif brought: its inputs, as on :class:`ResourceEntry`.
    inputs: FrozenMap[str, Text] | None = None


@attrs.frozen
class StatusSpec:
    """``status``: the Ready condition (``conditions``) and declared fields."""

    conditions: bool = True
    fields: tuple[StatusField, ...] = ()


@attrs.frozen
class AutoscaleOverride:
    """What applies while an autoscale condition holds (None: the box's own setting)."""

    workers: int | None = None
    #: ``queueDepth``: the queue's ``maxDepth`` (0: unbounded).
    queue_depth: int | None = None
    #: ``resync``: seconds between resyncs of every CR.
    resync: float | None = None


@attrs.frozen
class AutoscaleCondition:
    """While ``when`` (all) and ``or_`` (any, if given) hold, ``override`` applies."""

    override: AutoscaleOverride
    when: tuple[Condition, ...] = ()
    or_: tuple[Condition, ...] = ()


@attrs.frozen
class Autoscale:
    """The box's own worker count, evaluated every ``interval`` seconds.

    After ``cooldown`` seconds with no condition holding, the baseline
    (``reconciler.workers``) returns.
    """

    interval: float = 15.0
    cooldown: float = 120.0
    conditions: tuple[AutoscaleCondition, ...] = ()


@attrs.frozen
class Watch:
    """``observe.watch``: changes of other objects that reconcile a CR of the box.

    The CR to reconcile is found, in this order: the watched object's label
    ``key_label`` holds the CR's name (same namespace); ``key_name`` (and
    ``key_namespace``) render the CR's name from the watched object; an
    ownerReference of the box's kind; otherwise every CR of the box.
    """

    api_version: str
    kind: str
    #: Only objects of this namespace ("": the runtime's), of this name (""; any).
    namespace: str = ""
    name: str = ""
    on: tuple[str, ...] = ("add", "update", "delete")
    key_label: str | None = None
    key_name: Text | None = None
    key_namespace: Text | None = None
    location: Location = attrs.field(default=NOWHERE, eq=False, repr=False)
    #: ``enqueueGate``: an update of a watched object enqueues only if a sentinel fired.
    enqueue_gate: EnqueueGate | None = None


@attrs.frozen
class EventWatch:
    """``observe.events.<name>``: Kubernetes Events (events.k8s.io) that reconcile a CR.

    The server filters them by ``reason``, ``type``, ``regarding_kind`` and
    ``reporting_controller`` (each optional). The CR is the Event's ``regarding``
    object when it is of the box's kind; else the Event's label ``key_label``
    names it (same namespace); else ``key_name``/``key_namespace`` render it
    over the Event; otherwise every CR of the box. The newest such Event of
    the CR reads in templates as ``.events.<name>``.
    """

    name: str
    reason: str | None = None
    type: str | None = None
    regarding_kind: str | None = None
    reporting_controller: str | None = None
    key_label: str | None = None
    key_name: Text | None = None
    key_namespace: Text | None = None
    location: Location = attrs.field(default=NOWHERE, eq=False, repr=False)

    @property
    def field_selector(self) -> str:
        pairs = (
            ("reason", self.reason),
            ("type", self.type),
            ("regarding.kind", self.regarding_kind),
            ("reportingController", self.reporting_controller),
        )
        return ",".join(f"{field}={value}" for field, value in pairs if value)


@attrs.frozen
class EnqueueGate:
    """``preReconcile.enqueueGate``: an update of a CR is queued only if a sentinel fired.

    ``fail_open``: when the gate cannot be evaluated, queue (``failPolicy: open``).
    """

    sentinels: tuple[str, ...] = ()
    fail_open: bool = True


@attrs.frozen
class OrderedGroup:
    """One step of an ordered ``onDelete``: its children are deleted, then awaited gone."""

    name: str
    resources: FrozenMap[str, tuple[ResourceEntry, ...]]
    when: tuple[Condition, ...] = ()
    or_: tuple[Condition, ...] = ()


@attrs.frozen
class OrderedDelete:
    """``onDelete: {ordered: true, timeout, groups}``."""

    groups: tuple[OrderedGroup, ...] = ()
    timeout: float = 300.0


#: ``rollback.trigger.consecutiveFailures`` when not given (Orkestra's default).
DEFAULT_ROLLBACK_FAILURES = 3


@attrs.frozen
class Rollback:
    """``rollBackOnError`` / ``rollback``: back to the last known-good spec when reconciles fail.

    After ``failures`` consecutive failed reconciles of a CR (all within ``within``
    seconds when given), the CR's children are applied from the spec of its last
    successful reconcile, until its spec changes again (katalog/rollback.py).
    ``on_rollback`` None (``rollBackOnError: true`` alone): the box's own
    onCreate ``reconcile: true`` and onReconcile entries (``once`` Secrets left
    out), rendered with ``.spec`` the known-good spec; else those entries, rendered
    over the CR as it is with the known-good spec under ``.previous.spec``.
    """

    failures: int = DEFAULT_ROLLBACK_FAILURES
    within: float | None = None
    on_rollback: Resources | None = None


@attrs.frozen
class OperatorBox:
    """An isolated operator for one CRD."""

    reconciler: Reconciler = Reconciler()
    requeue: tuple[Requeue, ...] = ()
    when: tuple[Condition, ...] = ()
    or_: tuple[Condition, ...] = ()
    cross: tuple[CrossEntry, ...] = ()
    on_create: Resources = EMPTY_MAP
    on_reconcile: Resources = EMPTY_MAP
    on_delete: Resources = EMPTY_MAP
    status: StatusSpec = StatusSpec()
    autoscale: Autoscale | None = None
    #: Finalizers the box holds on its CRs besides its own (Orkestra's ``finalizers``).
    finalizers: tuple[str, ...] = ()
    watches: tuple[Watch, ...] = ()
    enqueue_gate: EnqueueGate | None = None
    #: ``reconcileGate.eventAware``: every change of a CR gets a reconcile of its own,
    #: instead of changes made while one waits being collapsed into it.
    event_aware: bool = False
    #: ``observe.events``: Events that reconcile a CR, readable as ``.events.<name>``.
    event_watches: tuple[EventWatch, ...] = ()
    #: ``preReconcile.sentinels``: computed on each update of a CR, readable in its
    #: templates as zero-argument functions until its next reconcile.
    sentinels: tuple[str, ...] = ()
    ordered_delete: OrderedDelete | None = None
    #: External calls in the order a reconcile makes them: preReconcile, onCreate, onReconcile.
    external: tuple[ExternalCall, ...] = ()
    #: ``reconcile.remote``: an HTTP service that returns children and status.
    remote: RemoteReconciler | None = None
    #: ``rollBackOnError`` / ``rollback``: None when the box does not roll back.
    rollback: Rollback | None = None


#: ``action`` of a validation rule: ``deny`` stops the CR, ``warn`` posts a Warning Event.
VALIDATION_ACTIONS = ("deny", "warn")
#: ``webhooks.operations``: the admission operations the embedded server runs the rules on.
ADMISSION_OPERATIONS = ("CREATE", "UPDATE")


@attrs.frozen
class ValidationRule:
    """One ``validation.rules`` entry: the CR passes while ``condition`` holds.

    ``message`` (a template over the CR) says why it does not; without one the
    message names the field and the operator.
    """

    condition: Condition
    action: str = "deny"  # one of VALIDATION_ACTIONS
    message: Text | None = None
    #: ``link``: where to read more, appended to the message.
    link: str = ""
    location: Location = attrs.field(default=NOWHERE, eq=False, repr=False)


@attrs.frozen
class MutationRule:
    """One ``mutation.rules`` entry: set ``field`` to ``value`` on the CR as stored.

    ``override`` false (``default:``): only where the field is missing;
    true (``override:``): always. ``field`` is under ``spec.``,
    ``metadata.labels.`` or ``metadata.annotations.`` (a label key is
    everything after ``metadata.labels.``, dots included).
    """

    field: str
    value: FrozenValue
    override: bool = False
    when: tuple[Condition, ...] = ()
    or_: tuple[Condition, ...] = ()
    location: Location = attrs.field(default=NOWHERE, eq=False, repr=False)


@attrs.frozen
class ConversionPath:
    """``conversion.paths[]``: how a CR of version ``from_`` reads as version ``to``.

    ``spec``: the ``to`` version's spec fields, templates over the ``from_`` CR.
    """

    from_: str
    to: str
    spec: FrozenMap[str, FrozenValue] = EMPTY_MAP


@attrs.frozen
class Conversion:
    """``conversion``: the version the CRs are stored in and the paths between versions."""

    storage_version: str = ""
    paths: tuple[ConversionPath, ...] = ()


@attrs.frozen
class Webhooks:
    """``webhooks``: which rules the API server runs at admission, for which operations."""

    validation: bool = False
    mutation: bool = False
    operations: tuple[str, ...] = ADMISSION_OPERATIONS


@attrs.frozen
class Admission:
    """A CRD's ``validation``/``mutation``/``conversion``/``webhooks`` (Gen B on the CRD
    entry, Gen C under ``admission:``): one model for both layouts.

    The rules run on every reconcile and, with ``webhooks``, at admission: on
    the embedded API server in-process, on a real cluster through the webhook
    server (docs/katalog.md).
    """

    validation: tuple[ValidationRule, ...] = ()
    mutation: tuple[MutationRule, ...] = ()
    #: ``mutation.mutateFirst``: at reconcile, mutate before validating (Orkestra's docs: false).
    mutate_first: bool = False
    conversion: Conversion | None = None
    webhooks: Webhooks = Webhooks()

    @property
    def has_rules(self) -> bool:
        return bool(self.validation or self.mutation)


NO_ADMISSION = Admission()


# --- the gateway and serve (katalog/serve.py decides over them) ------------------


@attrs.frozen
class GatewayToken:
    """One ``gateway.api.auth.tokens`` entry: where its secret value comes from."""

    name: str
    #: ``token: ${VAR}``: the environment variable holding the value.
    env: str = ""
    #: ``secretRef``: the Secret key holding it ("" namespace: the runtime's).
    secret_name: str = ""
    secret_key: str = ""
    secret_namespace: str = ""
    #: ``secretRef.rotateAfter`` in seconds: the Secret's token is made anew once it is
    #: older than this (None: read once at start, never rotated).
    rotate_after: float | None = None
    #: OIDC (``githubOIDC``, ``gitlabOIDC``, ``vaultOIDC``, ``oidc``): the ID token's
    #: issuer, its expected audience ("" : not checked) and the claims it must carry.
    oidc_issuer: str = ""
    oidc_audience: str = ""
    oidc_allow: FrozenMap[str, str] = EMPTY_MAP


@attrs.frozen
class Gateway:
    """A Katalog's ``gateway:`` block (the parts this runtime serves)."""

    enabled: bool = False
    standalone: bool = False
    endpoint: str = ""
    api_enabled: bool = False
    tokens: tuple[GatewayToken, ...] = ()


NO_GATEWAY = Gateway()


@attrs.frozen
class TokenGrant:
    """One ``serve.tokens.<name>`` entry: what the token may do, and where."""

    namespaces: tuple[str, ...] = ()
    global_ops: frozenset[str] = frozenset()
    schema_ops: frozenset[str] = frozenset()
    resource_ops: frozenset[str] = frozenset()

    def allows(self, operation: str, endpoint_class: str, namespace: str) -> str | None:
        """None when allowed, else why not (class list first, then global, as Orkestra)."""
        if self.namespaces and namespace and namespace not in self.namespaces:
            return f"namespace {namespace!r} is outside the token's namespaces"
        specific = self.schema_ops if endpoint_class == "schema" else self.resource_ops
        ops = specific or self.global_ops
        if operation in ops or "*" in ops:
            return None
        return f"operation {operation!r} is not permitted to this token"


@attrs.frozen
class ServeField:
    """One ``serve.fields``/``labels``/``annotations`` entry (a form field)."""

    name: str
    label: str = ""
    hint: str = ""
    placeholder: str = ""
    category: str = ""
    order: int = 0
    required: bool = False
    disabled: str = ""
    #: ``path``: dot path under spec ("" : the field's name).
    path: str = ""
    value: Text | None = None
    values: FrozenMap[str, Text] = EMPTY_MAP
    default: Any = None
    override: Any = None
    enum: tuple[str, ...] = ()
    type: str = ""
    when: tuple[Condition, ...] = ()
    or_: tuple[Condition, ...] = ()

    @property
    def spec_path(self) -> str:
        return (self.path or self.name).removeprefix("spec.")


@attrs.frozen
class ServeTarget:
    """One ``serve.target`` entry; ``tokens`` None: the CRD-level ``serve.tokens`` apply."""

    name: str
    primary: bool = False
    enabled: bool = True
    tokens: FrozenMap[str, TokenGrant] | None = None


@attrs.frozen
class Serve:
    """A CRD's ``serve:`` block."""

    enabled: bool = False
    category: str = ""
    description: str = ""
    ignore: tuple[str, ...] = ()
    fields: tuple[ServeField, ...] = ()
    labels: tuple[ServeField, ...] = ()
    annotations: tuple[ServeField, ...] = ()
    name: Text | None = None
    namespace: Text | None = None
    target_mode: bool = True
    cr_mode: bool = True
    targets: tuple[ServeTarget, ...] = ()
    tokens: FrozenMap[str, TokenGrant] = EMPTY_MAP

    @property
    def primary(self) -> ServeTarget:
        return next(t for t in self.targets if t.primary)


@attrs.frozen
class CrdEntry:
    """One CRD of a Katalog, keyed by ``key`` (used in cross:, ONCOP URLs, metrics)."""

    key: str
    api_types: ApiTypes
    namespaced: bool = True
    crd_file: Path | None = None
    cr_files: tuple[Path, ...] = ()
    #: ``setup``: files whose objects the dev runtime creates before anything else.
    setup: tuple[Path, ...] = ()
    depends_on: tuple[Dependency, ...] = ()
    cross_access: bool = True
    endpoints: Endpoints = Endpoints()
    operator_box: OperatorBox | None = None
    location: Location = attrs.field(default=NOWHERE, eq=False, repr=False)
    #: ``enabled: false``: listed, but its box does not run.
    enabled: bool = True
    description: str = ""
    #: ``labels``: written onto each CR (values are templates over the CR).
    labels: FrozenMap[str, Text] = EMPTY_MAP
    #: ``normalize.spec``: dot path under .spec -> template, applied to the in-memory CR.
    normalize: FrozenMap[str, Text] = EMPTY_MAP
    #: ``ignoreStatusPatch``: the runtime never writes the CR's status (Orkestra's
    #: switch for CRDs whose status another controller owns).
    ignore_status_patch: bool = False
    #: ``validation``/``mutation``/``conversion``/``webhooks`` (or ``admission:``).
    admission: Admission = NO_ADMISSION
    #: ``allowedNamespaces``: when not empty, CRs in other namespaces are not reconciled;
    #: ``restrictedNamespaces``: CRs in these are not (Orkestra's namespace guard).
    allowed_namespaces: tuple[str, ...] = ()
    restricted_namespaces: tuple[str, ...] = ()
    #: ``namespace``: the one namespace whose CRs (and children) the box watches,
    #: instead of the runtime's; "" for the runtime's.
    namespace: str = ""
    #: ``ignoreObservedGeneration``: ``status.observedGeneration`` is left as it is.
    ignore_observed_generation: bool = False
    #: ``removeFinalizers`` (a migration aid): a list names finalizers stripped from every
    #: CR of the CRD (an earlier operator's); ``true`` strips the runtime's own and the
    #: box stops adding them (its CRs are deleted without waiting for onDelete).
    remove_finalizers: tuple[str, ...] = ()
    remove_own_finalizers: bool = False
    #: ``labelSelector``/``fieldSelector``: the box's CR informer sees only the
    #: objects they select (required for a built-in kind).
    label_selector: str = ""
    field_selector: str = ""
    #: ``enrich``/``enrichAll``: the targets' names (Orkestra's canonical ones), each read
    #: from caches the box owns; ``enrich_items`` adds each one's ``when``/``or`` gate.
    enrich: tuple[str, ...] = ()
    enrich_items: tuple[EnrichItem, ...] = ()
    #: The Katalog's ``notification`` block (every CRD of the Katalog shares it).
    notification: Notification | None = None
    #: The box's conditions that carry ``notify:`` (found once, at load).
    notify: tuple[Condition, ...] = attrs.field(default=(), eq=False, repr=False)
    #: Its Katalog's ``security.deletionProtection`` is on: each CR is labelled
    #: ``orkestra.io/deletion-protection: "true"`` as the box reconciles it.
    deletion_protected: bool = False
    #: ``serve:``: the CRD's gateway surface (None: not served).
    serve: Serve | None = None

    @property
    def builtin(self) -> bool:
        """The entry names a built-in kind (no CRD of its own; its status is not ours)."""
        return (self.api_types.group, self.api_types.kind) in BUILTIN_KINDS


@attrs.frozen
class Deprecation:
    message: str = ""
    migrated_to: str = ""
    #: ``timeline.from``: deprecated from this day on (None: at once).
    warn_from: datetime.date | None = None
    #: ``timeline.to``: the end of life.
    end_of_life: datetime.date | None = None


@attrs.frozen
class Lifecycle:
    """A Katalog's (or a Komposer's) ``lifecycle`` block, as read (:mod:`.lifecycle`)."""

    maturity: str = ""
    deprecation: Deprecation | None = None
    #: ``compatibility.kubernetes`` / ``.orkestra``: version ranges.
    kubernetes: str = ""
    orkestra: str = ""
    location: Location = attrs.field(default=NOWHERE, eq=False)


@attrs.frozen
class Katalog:
    """One Katalog file: its name, where it was read from, and its CRDs in order."""

    name: str
    source_file: Path
    crds: FrozenMap[str, CrdEntry] = EMPTY_MAP

    #: Descriptive metadata (version, author, description...), shown as written.
    info: FrozenMap[str, Any] = EMPTY_MAP
    #: The other files it was read from: Motifs it imports, files it includes.
    read_files: tuple[Path, ...] = ()
    #: Its ``lifecycle`` block (maturity, deprecation, compatibility), None when absent.
    lifecycle: Lifecycle | None = None
    #: What reading it found worth saying that did not stop it (a note a function hides...).
    warnings: tuple[KatalogIssue, ...] = ()
    #: ``security:`` (deletion and namespace protection, webhook settings).
    security: Security = NO_SECURITY
    #: ``gateway:`` (its API, its tokens).
    gateway: Gateway = NO_GATEWAY

    @property
    def boxes(self) -> tuple[CrdEntry, ...]:
        """The CRDs that have an operatorBox (and are enabled)."""
        return tuple(
            crd for crd in self.crds.values() if crd.operator_box is not None and crd.enabled
        )

    @property
    def cross_edges(self) -> tuple[tuple[str, CrossEntry], ...]:
        """(observing CRD key, cross entry) for every cross: declaration."""
        return tuple(
            (crd.key, entry)
            for crd in self.boxes
            if crd.operator_box is not None
            for entry in crd.operator_box.cross
        )


@attrs.frozen
class KatalogSet:
    """Several Katalogs loaded together; CRD keys are unique across them."""

    katalogs: tuple[Katalog, ...]
    crds: FrozenMap[str, CrdEntry] = EMPTY_MAP
    #: Files of the set that hold no Katalog: Motifs lent by name, a Komposer.
    companion_files: tuple[Path, ...] = ()
    #: What loading found worth saying that does not stop it (deprecations...).
    warnings: tuple[KatalogIssue, ...] = ()

    def katalog_of(self, crd_key: str) -> Katalog:
        """The Katalog that declares ``crd_key`` (KeyError when none does)."""
        for katalog in self.katalogs:
            if crd_key in katalog.crds:
                return katalog
        raise KeyError(crd_key)

    def security_of(self, crd_key: str) -> Security:
        """The ``security:`` of the Katalog that declares ``crd_key`` (none: the defaults)."""
        for katalog in self.katalogs:
            if crd_key in katalog.crds:
                return katalog.security
        return NO_SECURITY
