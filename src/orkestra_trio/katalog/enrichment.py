"""``enrich``: what each target embeds on a CR's children, decided from cached objects.

Orkestra embeds related objects on the children templates read, under
underscore keys (``.children.deployment._pods``). This module decides those
keys from the child and a :class:`EnrichSource` (the runtime's caches: it
never asks the API server), so it stays pure:

* ``pods``: ``_pods`` on Deployments, StatefulSets, ReplicaSets and Jobs, the
  summaries of the pods their selector matches (and whose controller, when
  they name one, is of the kind that workload runs pods through);
* ``warnings`` (``events``): ``_warnings`` on every child, its Warning Events
  (and, for a workload, its pods'), as ``{reason, message, count, lastTimestamp}``;
* ``owner``: ``_owner`` on every child with an owner: ``{name, kind, uid}`` of its
  controller (else first) ownerReference;
* ``replicasets``: ``_replicaSets`` on Deployments, the ReplicaSets they own;
* ``endpoints``: ``_endpoints`` on Services, ``{ip, port, ready}`` per address and
  port of their EndpointSlices;
* ``pvcs``: ``_pvcs`` on StatefulSets, the claims of their volumeClaimTemplates;
* ``pvc``: ``_pv`` on PersistentVolumeClaims, the volume bound to them;
* ``storageclass``: ``_storageClass`` on PersistentVolumeClaims, their StorageClass;
* ``pv``: ``_pvc`` on PersistentVolumes, the claim bound to them;
* ``backingpods``: ``_backingPods`` on Services with a selector, the summaries of
  the pods it selects;
* ``node``: ``_node`` on Pods, ``{name, zone, region, instanceType}`` of their node;
* ``hpa``: ``_currentMetrics`` and ``_scaleTarget`` on HorizontalPodAutoscalers;
* ``cronjob``: ``_activeJobs``, ``_lastJob`` and ``_lastSuccessfulJob`` on CronJobs;
* ``ingress``: ``_loadBalancerIPs`` and ``_tlsSecrets`` on Ingresses.

Gated targets (``when``/``or``) are decided in a second pass, over the
children as the ungated targets enriched them, so a gate may read them
(``{{ replicasReady .children.deployment }}``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from orkestra_trio.katalog.conditions import conditions_hold
from orkestra_trio.katalog.model import EnrichItem
from orkestra_trio.katalog.render import build_context

ChildKey = tuple[str, str, str]
"""(kind, namespace, name) of a child."""

#: The kind whose pods a workload kind runs through (their controller ownerReference).
POD_CONTROLLERS: Mapping[str, str] = {
    "Deployment": "ReplicaSet",
    "ReplicaSet": "ReplicaSet",
    "StatefulSet": "StatefulSet",
    "Job": "Job",
}
#: Workload kinds whose pods' Warning Events count as theirs (a failing image
#: is reported on the pod, not on the Deployment).
_WARNING_WORKLOADS = frozenset({"Deployment", "StatefulSet", "ReplicaSet"})

NODE_ZONE = "topology.kubernetes.io/zone"
NODE_REGION = "topology.kubernetes.io/region"
NODE_INSTANCE_TYPE = "node.kubernetes.io/instance-type"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


class EnrichSource(Protocol):
    """The cached objects enrichment reads (the runtime's informers)."""

    def pods(self, namespace: str) -> Iterable[Mapping[str, Any]]:
        """The pods of the CR's workloads in ``namespace``."""
        ...

    def selected_pods(
        self, namespace: str, selector: Mapping[str, str]
    ) -> Iterable[Mapping[str, Any]]:
        """The pods ``selector`` selects in ``namespace`` (a Service's)."""
        ...

    def warnings(self, kind: str, namespace: str, name: str) -> Iterable[Mapping[str, Any]]:
        """The Warning Events about the object ``kind`` ``namespace/name``."""
        ...

    def owned(self, kind: str, namespace: str) -> Iterable[Mapping[str, Any]]:
        """The objects of ``kind`` the CR's children made (ReplicaSets, EndpointSlices,
        PersistentVolumeClaims of StatefulSets, Jobs of CronJobs)."""
        ...

    def named(self, kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        """One object of ``kind`` (PersistentVolume, StorageClass, Node, Secret,
        PersistentVolumeClaim) by name; None when absent."""
        ...


def enrich_children(
    cr: Mapping[str, Any],
    items: Sequence[EnrichItem],
    children: Iterable[Mapping[str, Any]],
    source: EnrichSource,
    *,
    top_level: Mapping[str, Any] | None = None,
) -> tuple[dict[ChildKey, dict[str, Any]], frozenset[str]]:
    """The underscore keys of each child (by :func:`child_key`) and the targets whose gate
    held (the ungated ones and the gated ones whose ``when``/``or`` hold)."""
    children = list(children)
    ungated = frozenset(item.name for item in items if not item.conditional)
    extras = {child_key(c): embedded(c, ungated, source) for c in children}
    gated = [item for item in items if item.conditional]
    if not gated:
        return extras, ungated
    context = build_context(cr, children=with_extras(children, extras))
    context.update({k: v for k, v in (top_level or {}).items() if k in ungated})
    opened = frozenset(item.name for item in gated if conditions_hold(item.when, item.or_, context))
    if opened:
        for child in children:
            extras[child_key(child)].update(embedded(child, opened, source))
    return extras, ungated | opened


def child_key(obj: Mapping[str, Any]) -> ChildKey:
    metadata = obj.get("metadata") or {}
    return (
        str(obj.get("kind") or ""),
        str(metadata.get("namespace") or ""),
        str(metadata.get("name") or ""),
    )


def with_extras(
    children: Iterable[Mapping[str, Any]], extras: Mapping[ChildKey, Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """The children with their underscore keys (new mappings; the cached ones stay as they are)."""
    out: list[Mapping[str, Any]] = []
    for child in children:
        more = extras.get(child_key(child))
        out.append({**child, **more} if more else child)
    return out


def embedded(
    child: Mapping[str, Any], targets: frozenset[str], source: EnrichSource
) -> dict[str, Any]:
    """The underscore keys ``targets`` put on ``child``."""
    out: dict[str, Any] = {}
    kind, namespace, _ = child_key(child)
    for target in sorted(targets):
        step = _STEPS.get(target)
        if step is not None and (step[0] is None or kind in step[0]):
            out.update(step[1](child, namespace, source))
    return out


# -- the targets ------------------------------------------------------------------------


def _workload_pods(
    child: Mapping[str, Any], namespace: str, source: EnrichSource
) -> list[Mapping[str, Any]]:
    """The full pods of a workload child: its selector's, run through its controller kind."""
    kind = str(child.get("kind") or "")
    spec = child.get("spec") or {}
    selector = (spec.get("selector") or {}).get("matchLabels")
    if not selector:  # a Job the server did not default: its pod template's labels
        selector = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
    if not isinstance(selector, Mapping) or not selector:
        return []
    controller = POD_CONTROLLERS.get(kind)
    found = [
        pod for pod in source.pods(namespace) if matches(pod, selector) and _run_by(pod, controller)
    ]
    return sorted(found, key=_name)


def _pods(child: Mapping[str, Any], namespace: str, source: EnrichSource) -> dict[str, Any]:
    return {"_pods": [pod_summary(p) for p in _workload_pods(child, namespace, source)]}


def _warnings(child: Mapping[str, Any], namespace: str, source: EnrichSource) -> dict[str, Any]:
    kind, _, name = child_key(child)
    uid = (child.get("metadata") or {}).get("uid")
    events = [e for e in source.warnings(kind, namespace, name) if _about_uid(e, uid)]
    if kind in _WARNING_WORKLOADS:
        for pod in _workload_pods(child, namespace, source):
            events += source.warnings("Pod", namespace, _name(pod))
    events.sort(key=lambda e: (_event_time(e), _name(e)))
    return {"_warnings": [warning_summary(e) for e in events]}


def _owner(child: Mapping[str, Any], namespace: str, source: EnrichSource) -> dict[str, Any]:
    refs = [r for r in (child.get("metadata") or {}).get("ownerReferences") or () if _is_map(r)]
    if not refs:
        return {}
    ref = next((r for r in refs if r.get("controller")), refs[0])
    return {"_owner": {"name": ref.get("name"), "kind": ref.get("kind"), "uid": ref.get("uid")}}


def _replica_sets(child: Mapping[str, Any], namespace: str, source: EnrichSource) -> dict[str, Any]:
    owned = [rs for rs in source.owned("ReplicaSet", namespace) if _owned_by(rs, child)]
    return {"_replicaSets": sorted(owned, key=lambda rs: (_revision(rs), _name(rs)))}


def _endpoints(child: Mapping[str, Any], namespace: str, source: EnrichSource) -> dict[str, Any]:
    service = _name(child)
    out: list[dict[str, Any]] = []
    slices = [
        s
        for s in source.owned("EndpointSlice", namespace)
        if ((s.get("metadata") or {}).get("labels") or {}).get(SERVICE_NAME_LABEL) == service
    ]
    for endpoint_slice in sorted(slices, key=_name):
        ports = [p.get("port") for p in endpoint_slice.get("ports") or () if _is_map(p)]
        for endpoint in endpoint_slice.get("endpoints") or ():
            if not _is_map(endpoint):
                continue
            ready = (endpoint.get("conditions") or {}).get("ready") is not False
            for address in endpoint.get("addresses") or ():
                for port in ports or [None]:
                    out.append({"ip": address, "port": port, "ready": ready})
    return {"_endpoints": out}


def _pvcs(child: Mapping[str, Any], namespace: str, source: EnrichSource) -> dict[str, Any]:
    spec = child.get("spec") or {}
    replicas = spec.get("replicas")
    count = replicas if isinstance(replicas, int) else 1
    claims = {_name(c): c for c in source.owned("PersistentVolumeClaim", namespace)}
    found = []
    for template in spec.get("volumeClaimTemplates") or ():
        base = str(((template or {}).get("metadata") or {}).get("name") or "")
        for ordinal in range(count):
            claim = claims.get(f"{base}-{_name(child)}-{ordinal}")
            if claim is not None:
                found.append(claim)
    return {"_pvcs": found}


def _pv(child: Mapping[str, Any], namespace: str, source: EnrichSource) -> dict[str, Any]:
    volume = (child.get("spec") or {}).get("volumeName")
    found = source.named("PersistentVolume", "", str(volume)) if volume else None
    return {"_pv": found} if found is not None else {}


def _storage_class(
    child: Mapping[str, Any], namespace: str, source: EnrichSource
) -> dict[str, Any]:
    name = (child.get("spec") or {}).get("storageClassName")
    found = source.named("StorageClass", "", str(name)) if name else None
    return {"_storageClass": found} if found is not None else {}


def _claim(child: Mapping[str, Any], namespace: str, source: EnrichSource) -> dict[str, Any]:
    ref = (child.get("spec") or {}).get("claimRef") or {}
    name, where = ref.get("name"), ref.get("namespace")
    found = source.named("PersistentVolumeClaim", str(where), str(name)) if name else None
    return {"_pvc": found} if found is not None else {}


def _backing_pods(child: Mapping[str, Any], namespace: str, source: EnrichSource) -> dict[str, Any]:
    selector = (child.get("spec") or {}).get("selector")
    if not isinstance(selector, Mapping) or not selector:
        return {}  # headless without a selector, or ExternalName: no pods behind it
    pods = sorted(source.selected_pods(namespace, selector), key=_name)
    return {"_backingPods": [pod_summary(p) for p in pods]}


def _node(child: Mapping[str, Any], namespace: str, source: EnrichSource) -> dict[str, Any]:
    name = (child.get("spec") or {}).get("nodeName")
    node = source.named("Node", "", str(name)) if name else None
    if node is None:
        return {}
    labels = (node.get("metadata") or {}).get("labels") or {}
    return {
        "_node": {
            "name": name,
            "zone": labels.get(NODE_ZONE, ""),
            "region": labels.get(NODE_REGION, ""),
            "instanceType": labels.get(NODE_INSTANCE_TYPE, ""),
        }
    }


def _hpa(child: Mapping[str, Any], namespace: str, source: EnrichSource) -> dict[str, Any]:
    target = (child.get("spec") or {}).get("scaleTargetRef") or {}
    metrics = [metric_summary(m) for m in (child.get("status") or {}).get("currentMetrics") or ()]
    return {
        "_currentMetrics": [m for m in metrics if m],
        "_scaleTarget": {
            "name": target.get("name"),
            "kind": target.get("kind"),
            "apiVersion": target.get("apiVersion"),
        },
    }


def _cron_job(child: Mapping[str, Any], namespace: str, source: EnrichSource) -> dict[str, Any]:
    jobs = [j for j in source.owned("Job", namespace) if _owned_by(j, child)]
    jobs.sort(key=lambda j: (_created(j), _name(j)), reverse=True)
    out: dict[str, Any] = {"_activeJobs": list((child.get("status") or {}).get("active") or ())}
    if jobs:
        out["_lastJob"] = jobs[0]
    done = next((j for j in jobs if _succeeded(j)), None)
    if done is not None:
        out["_lastSuccessfulJob"] = done
    return out


def _ingress(child: Mapping[str, Any], namespace: str, source: EnrichSource) -> dict[str, Any]:
    balancer = ((child.get("status") or {}).get("loadBalancer") or {}).get("ingress") or ()
    addresses = [
        str(i.get("ip") or i.get("hostname"))
        for i in balancer
        if _is_map(i) and (i.get("ip") or i.get("hostname"))
    ]
    secrets = []
    for tls in (child.get("spec") or {}).get("tls") or ():
        name = (tls or {}).get("secretName")
        found = source.named("Secret", namespace, str(name)) if name else None
        if found is not None:
            secrets.append(found)
    return {"_loadBalancerIPs": addresses, "_tlsSecrets": secrets}


_Step = Callable[[Mapping[str, Any], str, EnrichSource], dict[str, Any]]

#: target -> (the child kinds it enriches, None: every kind; the step).
_STEPS: Mapping[str, tuple[frozenset[str] | None, _Step]] = {
    "pods": (frozenset(POD_CONTROLLERS), _pods),
    "warnings": (None, _warnings),
    "owner": (None, _owner),
    "replicasets": (frozenset({"Deployment"}), _replica_sets),
    "endpoints": (frozenset({"Service"}), _endpoints),
    "pvcs": (frozenset({"StatefulSet"}), _pvcs),
    "pvc": (frozenset({"PersistentVolumeClaim"}), _pv),
    "storageclass": (frozenset({"PersistentVolumeClaim"}), _storage_class),
    "pv": (frozenset({"PersistentVolume"}), _claim),
    "backingpods": (frozenset({"Service"}), _backing_pods),
    "node": (frozenset({"Pod"}), _node),
    "hpa": (frozenset({"HorizontalPodAutoscaler"}), _hpa),
    "cronjob": (frozenset({"CronJob"}), _cron_job),
    "ingress": (frozenset({"Ingress"}), _ingress),
}

#: The (apiVersion, kind) of each kind enrichment reads.
KINDS: Mapping[str, tuple[str, str]] = {
    "Pod": ("v1", "Pod"),
    "Event": ("v1", "Event"),
    "ReplicaSet": ("apps/v1", "ReplicaSet"),
    "EndpointSlice": ("discovery.k8s.io/v1", "EndpointSlice"),
    "PersistentVolumeClaim": ("v1", "PersistentVolumeClaim"),
    "PersistentVolume": ("v1", "PersistentVolume"),
    "StorageClass": ("storage.k8s.io/v1", "StorageClass"),
    "Node": ("v1", "Node"),
    "Secret": ("v1", "Secret"),
    "Job": ("batch/v1", "Job"),
}

#: The kinds each target reads from the caches (the runtime's informers and RBAC rules).
READS: Mapping[str, tuple[str, ...]] = {
    "pods": ("Pod",),
    "warnings": ("Event", "Pod"),
    "owner": (),
    "replicasets": ("ReplicaSet",),
    "endpoints": ("EndpointSlice",),
    "pvcs": ("PersistentVolumeClaim",),
    "pvc": ("PersistentVolume",),
    "storageclass": ("StorageClass",),
    "pv": ("PersistentVolumeClaim",),
    "backingpods": ("Pod",),
    "node": ("Node",),
    "hpa": (),
    "cronjob": ("Job",),
    "ingress": ("Secret",),
}


# -- summaries ---------------------------------------------------------------------------


def pod_summary(pod: Mapping[str, Any]) -> dict[str, Any]:
    """Orkestra's pod summary: ``{name, ip, phase, ready, node, restartCount, ordinal,
    exitCode, containers}``; each container ``{name, image, state, reason, ready,
    restartCount}`` (and ``lastReason``, the reason its last run ended)."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    images = {
        str(c.get("name")): c.get("image") for c in spec.get("containers") or () if _is_map(c)
    }
    containers = [
        _container_summary(s, images) for s in status.get("containerStatuses") or () if _is_map(s)
    ]
    name = _name(pod)
    tail = name.rpartition("-")[2]
    ready = any(
        _is_map(c) and c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or ()
    )
    return {
        "name": name,
        "ip": status.get("podIP") or "",
        "phase": status.get("phase") or "",
        "ready": ready,
        "node": spec.get("nodeName") or "",
        "restartCount": sum(int(c["restartCount"]) for c in containers),
        "ordinal": int(tail) if tail.isdigit() and "-" in name else -1,
        "exitCode": _exit_code(status),
        "containers": containers,
    }


def _container_summary(status: Mapping[str, Any], images: Mapping[str, Any]) -> dict[str, Any]:
    state = status.get("state") or {}
    phase = next((p for p in ("running", "waiting", "terminated") if p in state), "")
    reason = ((state.get(phase) or {}) if phase else {}).get("reason") or ""
    last = status.get("lastState") or {}
    last_reason = next(
        ((last.get(p) or {}).get("reason") for p in ("terminated", "waiting") if p in last), ""
    )
    count = status.get("restartCount")
    return {
        "name": status.get("name") or "",
        "image": status.get("image") or images.get(str(status.get("name"))) or "",
        "state": phase.capitalize(),
        "reason": reason,
        "lastReason": last_reason or "",
        "ready": status.get("ready") is True,
        "restartCount": count if isinstance(count, int) else 0,
    }


def _exit_code(status: Mapping[str, Any]) -> int:
    for container in status.get("containerStatuses") or ():
        for key in ("state", "lastState"):
            code = (((container or {}).get(key) or {}).get("terminated") or {}).get("exitCode")
            if isinstance(code, int):
                return code
    return -1


def warning_summary(event: Mapping[str, Any]) -> dict[str, Any]:
    """Orkestra's warning: ``{reason, message, count, lastTimestamp}``."""
    count = event.get("count")
    return {
        "reason": event.get("reason") or "",
        "message": event.get("message") or event.get("note") or "",
        "count": count if isinstance(count, int) else 1,
        "lastTimestamp": _event_time(event),
    }


def metric_summary(metric: Any) -> dict[str, Any]:
    """An HPA's current metric as ``{type, name, current}`` (empty when unreadable)."""
    if not _is_map(metric):
        return {}
    kind = str(metric.get("type") or "")
    key = kind[:1].lower() + kind[1:]
    body = metric.get(key) or {}
    if not _is_map(body):
        return {}
    name = body.get("name") or (body.get("metric") or {}).get("name") or ""
    current = body.get("current") or {}
    value = next(
        (current[k] for k in ("averageUtilization", "averageValue", "value") if k in current),
        None,
    )
    return {"type": kind, "name": name, "current": value}


# -- small readers -----------------------------------------------------------------------


def matches(obj: Mapping[str, Any], selector: Mapping[str, Any]) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return all(labels.get(k) == v for k, v in selector.items())


def _run_by(pod: Mapping[str, Any], controller: str | None) -> bool:
    refs = [r for r in (pod.get("metadata") or {}).get("ownerReferences") or () if _is_map(r)]
    owner = next((r for r in refs if r.get("controller")), None)
    return owner is None or controller is None or owner.get("kind") == controller


def _owned_by(obj: Mapping[str, Any], owner: Mapping[str, Any]) -> bool:
    metadata = owner.get("metadata") or {}
    uid = metadata.get("uid")
    return any(
        _is_map(r)
        and r.get("kind") == owner.get("kind")
        and (r.get("uid") == uid if uid else r.get("name") == metadata.get("name"))
        for r in (obj.get("metadata") or {}).get("ownerReferences") or ()
    )


def _about_uid(event: Mapping[str, Any], uid: Any) -> bool:
    involved = event.get("involvedObject") or {}
    return not uid or not involved.get("uid") or involved.get("uid") == uid


def _revision(obj: Mapping[str, Any]) -> int:
    notes = (obj.get("metadata") or {}).get("annotations") or {}
    text = str(notes.get("deployment.kubernetes.io/revision") or "0")
    return int(text) if text.isdigit() else 0


def _succeeded(job: Mapping[str, Any]) -> bool:
    status = job.get("status") or {}
    if isinstance(status.get("succeeded"), int) and status["succeeded"] > 0:
        return True
    return any(
        _is_map(c) and c.get("type") == "Complete" and c.get("status") == "True"
        for c in status.get("conditions") or ()
    )


def _event_time(event: Mapping[str, Any]) -> str:
    return str(event.get("lastTimestamp") or event.get("eventTime") or "")


def _created(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("creationTimestamp") or "")


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _is_map(value: Any) -> bool:
    return isinstance(value, Mapping)
