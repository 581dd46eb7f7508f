"""What kube's Deployment and ReplicaSet controllers would do next: pure decisions.

A Deployment owns one ReplicaSet per pod template it ever had; the one whose
template equals the Deployment's (ignoring the ``pod-template-hash`` label) is
the new one and runs every replica, the others are scaled to zero and kept as
rollout history, numbered by the ``deployment.kubernetes.io/revision``
annotation. ``kubectl rollout history`` reads those revisions and ``kubectl
rollout undo`` copies an old ReplicaSet's template back into the Deployment,
which makes that ReplicaSet the new one again under the next revision number.
A ReplicaSet keeps ``spec.replicas`` Pods that it controls.

These functions decide; ``registry/replication.py`` applies the decisions to
the store. The simulation is a healthy cluster: every rollout completes at
once (no surge, no unavailability), Pods start and report ready.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

REVISION = "deployment.kubernetes.io/revision"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
HASH_LABEL = "pod-template-hash"
# Deployment annotations kube does not copy to its ReplicaSets (and kubectl
# rollout undo does not copy back).
_NOT_COPIED = frozenset(
    {
        REVISION,
        DESIRED_REPLICAS,
        MAX_REPLICAS,
        "kubectl.kubernetes.io/last-applied-configuration",
        "deployment.kubernetes.io/revision-history",
    }
)
# kube's alphabet for generated suffixes: no vowels, no look-alike digits.
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

Obj = Mapping[str, Any]


def template_hash(template: Obj) -> str:
    """A short stable name part for a pod template (kube: fnv32 of the template, encoded)."""
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    number = str(int.from_bytes(digest[:4], "big"))
    return "".join(_ALPHABET[int(d) % len(_ALPHABET)] for d in number)


def controller_uid(obj: Obj) -> str | None:
    """The uid of the object's controlling owner, if any."""
    for ref in obj["metadata"].get("ownerReferences") or ():
        if isinstance(ref, Mapping) and ref.get("controller"):
            uid = ref.get("uid")
            return str(uid) if uid else None
    return None


def owner_reference(owner: Obj) -> dict[str, Any]:
    """A controller reference to ``owner``, as kube's controllers write it."""
    meta = owner["metadata"]
    return {
        "apiVersion": owner.get("apiVersion", ""),
        "kind": owner.get("kind", ""),
        "name": meta["name"],
        "uid": meta.get("uid", ""),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def revision_of(obj: Obj) -> int:
    text = (obj["metadata"].get("annotations") or {}).get(REVISION, "")
    try:
        return int(text)
    except (TypeError, ValueError):
        return 0


def _normalized(value: Any) -> Any:
    """``value`` without nulls, empty objects and empty lists, at any depth.

    kube compares templates as Go structs, where an absent field and its zero
    value are the same: ``kubectl rollout undo`` sends back
    ``creationTimestamp: null`` and ``resources: {}`` that the ReplicaSet's
    template never spelled out.
    """
    if isinstance(value, Mapping):
        result = {}
        for key, item in value.items():
            item = _normalized(item)
            if item is None or item == {} or item == []:
                continue
            result[key] = item
        return result
    if isinstance(value, list):
        return [_normalized(item) for item in value]
    return value


def _without_hash(template: Obj) -> dict[str, Any]:
    result: dict[str, Any] = _normalized(template)
    meta = dict(result.get("metadata") or {})
    labels = dict(meta.get("labels") or {})
    labels.pop(HASH_LABEL, None)
    if labels:
        meta["labels"] = labels
    else:
        meta.pop("labels", None)
    result["metadata"] = meta
    return result


def same_template(replicaset: Obj, deployment: Obj) -> bool:
    """Whether the ReplicaSet runs the Deployment's current template (kube's EqualIgnoreHash).

    The simulation asks it for every ReplicaSet on every change of a
    Deployment or of one of its ReplicaSets (13 times per Deployment while a
    thousand roll out, ~40 µs each): stored objects are immutable per
    resourceVersion, so the answer for two stored versions is remembered.
    """
    key = (_version(replicaset), _version(deployment))
    if key[0] is None or key[1] is None:
        return _same_template(replicaset, deployment)
    known = _SAME_TEMPLATE.get(key)
    if known is None:
        if len(_SAME_TEMPLATE) >= _SAME_TEMPLATE_MAX:
            _SAME_TEMPLATE.clear()
        known = _SAME_TEMPLATE[key] = _same_template(replicaset, deployment)
    return known


#: (ReplicaSet version, Deployment version) -> same template; bounded, cleared when full.
_SAME_TEMPLATE: dict[tuple[tuple[str, str, int] | None, tuple[str, str, int] | None], bool] = {}
_SAME_TEMPLATE_MAX = 16_384


def _version(obj: Obj) -> tuple[str, str, int] | None:
    """(uid, resourceVersion, generation) of a stored object; None for one never stored.

    The generation is part of it because an update in progress carries its
    new spec (and generation) under the old resourceVersion until it is written.
    """
    metadata = obj.get("metadata") or {}
    uid, version = metadata.get("uid"), metadata.get("resourceVersion")
    if not uid or not version:
        return None
    return str(uid), str(version), int(metadata.get("generation") or 0)


def _same_template(replicaset: Obj, deployment: Obj) -> bool:
    rs_template = (replicaset.get("spec") or {}).get("template") or {}
    dep_template = (deployment.get("spec") or {}).get("template") or {}
    return _without_hash(rs_template) == _without_hash(dep_template)


def _copied_annotations(deployment: Obj) -> dict[str, str]:
    annotations = deployment["metadata"].get("annotations") or {}
    return {k: v for k, v in annotations.items() if k not in _NOT_COPIED}


def _replicas(obj: Obj) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return value if isinstance(value, int) and not isinstance(value, bool) else 1


@attrs.frozen
class RolloutPlan:
    """The writes that bring a Deployment's ReplicaSets where the Deployment wants them."""

    create: dict[str, Any] | None = None
    # (name, the ReplicaSet as it should be)
    update: tuple[tuple[str, dict[str, Any]], ...] = ()
    delete: tuple[str, ...] = ()
    # The Deployment's revision annotation, when it must change.
    deployment_revision: str | None = None


def new_replicaset(deployment: Obj, revision: int) -> dict[str, Any]:
    """The ReplicaSet kube creates for the Deployment's current template."""
    meta = deployment["metadata"]
    spec = deployment.get("spec") or {}
    template = copy.deepcopy(dict(spec.get("template") or {}))
    pod_hash = template_hash(_without_hash(template))
    tmeta = dict(template.get("metadata") or {})
    tmeta["labels"] = {**(tmeta.get("labels") or {}), HASH_LABEL: pod_hash}
    template["metadata"] = tmeta
    selector = copy.deepcopy(dict(spec.get("selector") or {}))
    selector["matchLabels"] = {**(selector.get("matchLabels") or {}), HASH_LABEL: pod_hash}
    replicas = _replicas(deployment)
    annotations = _copied_annotations(deployment)
    annotations.update(
        {
            DESIRED_REPLICAS: str(replicas),
            MAX_REPLICAS: str(replicas + 1),
            REVISION: str(revision),
        }
    )
    rs_spec: dict[str, Any] = {"replicas": replicas, "selector": selector, "template": template}
    if "minReadySeconds" in spec:
        rs_spec["minReadySeconds"] = spec["minReadySeconds"]
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{meta['name']}-{pod_hash}",
            "namespace": meta.get("namespace", ""),
            "labels": dict(tmeta["labels"]),
            "annotations": annotations,
            "ownerReferences": [owner_reference(deployment)],
        },
        "spec": rs_spec,
    }


def _with(rs: Obj, replicas: int, annotations: Mapping[str, str]) -> dict[str, Any]:
    result = dict(rs)
    meta = dict(rs["metadata"])
    meta["annotations"] = dict(annotations)
    result["metadata"] = meta
    spec = dict(rs.get("spec") or {})
    spec["replicas"] = replicas
    result["spec"] = spec
    return result


def plan_rollout(deployment: Obj, replicasets: Sequence[Obj]) -> RolloutPlan:
    """The next writes for ``deployment`` given the ReplicaSets it controls."""
    replicas = _replicas(deployment)
    paused = bool((deployment.get("spec") or {}).get("paused"))
    current = next((rs for rs in replicasets if same_template(rs, deployment)), None)
    max_revision = max((revision_of(rs) for rs in replicasets), default=0)
    updates: list[tuple[str, dict[str, Any]]] = []
    create = None
    if current is None:
        if paused:
            return RolloutPlan()
        revision = max_revision + 1
        create = new_replicaset(deployment, revision)
    else:
        revision = revision_of(current)
        if revision < max_revision or revision == 0:
            revision = max_revision + 1
        annotations = dict(current["metadata"].get("annotations") or {})
        annotations.update(_copied_annotations(deployment))
        annotations[REVISION] = str(revision)
        annotations[DESIRED_REPLICAS] = str(replicas)
        annotations[MAX_REPLICAS] = str(replicas + 1)
        wanted = _with(current, replicas, annotations)
        if wanted != current:
            updates.append((current["metadata"]["name"], wanted))
    old = [rs for rs in replicasets if rs is not current]
    for rs in old:
        annotations = rs["metadata"].get("annotations") or {}
        if _replicas(rs) != 0:
            updates.append((rs["metadata"]["name"], _with(rs, 0, annotations)))
    delete = _beyond_history(deployment, old)
    dep_revision = str(revision)
    if (deployment["metadata"].get("annotations") or {}).get(REVISION) == dep_revision:
        dep_revision_change = None
    else:
        dep_revision_change = dep_revision
    return RolloutPlan(
        create=create,
        update=tuple((n, rs) for n, rs in updates if n not in delete),
        delete=delete,
        deployment_revision=dep_revision_change,
    )


def _beyond_history(deployment: Obj, old: Iterable[Obj]) -> tuple[str, ...]:
    """Old ReplicaSets past ``revisionHistoryLimit``, oldest revisions first."""
    limit = (deployment.get("spec") or {}).get("revisionHistoryLimit")
    if not isinstance(limit, int) or limit < 0:
        limit = 10
    ordered = sorted(old, key=revision_of)
    excess = len(ordered) - limit
    return tuple(rs["metadata"]["name"] for rs in ordered[: max(0, excess)])


def pod_for(replicaset: Obj, name: str) -> dict[str, Any]:
    """A Pod the ReplicaSet controller would create from its template."""
    meta = replicaset["metadata"]
    template = (replicaset.get("spec") or {}).get("template") or {}
    tmeta = template.get("metadata") or {}
    pod_meta: dict[str, Any] = {
        "name": name,
        "generateName": f"{meta['name']}-",
        "namespace": meta.get("namespace", ""),
        "labels": dict(tmeta.get("labels") or {}),
        "ownerReferences": [owner_reference(replicaset)],
    }
    if tmeta.get("annotations"):
        pod_meta["annotations"] = dict(tmeta["annotations"])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": pod_meta,
        "spec": copy.deepcopy(dict(template.get("spec") or {})),
    }


REVISION_LABEL = "controller-revision-hash"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"


def statefulset_revision(statefulset: Obj) -> str:
    """The name of the StatefulSet's current revision (kube: a ControllerRevision's)."""
    template = (statefulset.get("spec") or {}).get("template") or {}
    return f"{statefulset['metadata']['name']}-{template_hash(_without_hash(template))}"


def statefulset_pod(statefulset: Obj, ordinal: int) -> dict[str, Any]:
    """Pod ``<name>-<ordinal>`` of a StatefulSet, with its stable identity labels."""
    name = f"{statefulset['metadata']['name']}-{ordinal}"
    pod = pod_for(statefulset, name)
    meta = pod["metadata"]
    del meta["generateName"]
    meta["labels"] = {
        **meta["labels"],
        REVISION_LABEL: statefulset_revision(statefulset),
        POD_NAME_LABEL: name,
        POD_INDEX_LABEL: str(ordinal),
    }
    pod["spec"]["hostname"] = name
    service = (statefulset.get("spec") or {}).get("serviceName")
    if service:
        pod["spec"]["subdomain"] = service
    return pod


def statefulset_pods_to_remove(statefulset: Obj, pods: Sequence[Obj], wanted: int) -> list[str]:
    """Pods past the wanted ordinals, or of an older revision (replaced, highest first)."""
    revision = statefulset_revision(statefulset)
    prefix = f"{statefulset['metadata']['name']}-"
    doomed: list[tuple[int, str]] = []
    for pod in pods:
        name = str(pod["metadata"]["name"])
        suffix = name[len(prefix) :] if name.startswith(prefix) else ""
        ordinal = int(suffix) if suffix.isdigit() else wanted
        labels = pod["metadata"].get("labels") or {}
        if ordinal >= wanted or labels.get(REVISION_LABEL) != revision:
            doomed.append((ordinal, name))
    return [name for _, name in sorted(doomed, reverse=True)]


def pods_to_remove(pods: Sequence[Obj], wanted: int) -> list[str]:
    """Which Pods a ReplicaSet scaled down deletes: the youngest first, as kube prefers."""
    excess = len(pods) - wanted
    if excess <= 0:
        return []
    ordered = sorted(
        pods,
        key=lambda p: (
            str(p["metadata"].get("creationTimestamp") or ""),
            str(p["metadata"]["name"]),
        ),
        reverse=True,
    )
    return [str(p["metadata"]["name"]) for p in ordered[:excess]]


def running_status(pod: Obj, now: str, pod_ip: str) -> dict[str, Any] | None:
    """The status of a started, ready Pod (None: it has it already, or is going)."""
    if pod["metadata"].get("deletionTimestamp"):
        return None
    old = pod.get("status") or {}
    if old.get("phase") in ("Running", "Succeeded", "Failed"):
        return None
    spec = pod.get("spec") or {}
    start = old.get("startTime") or now
    conditions = [
        {"type": ctype, "status": "True", "lastProbeTime": None, "lastTransitionTime": start}
        for ctype in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady")
    ]
    conditions.append(
        {
            "type": "PodScheduled",
            "status": "True",
            "lastProbeTime": None,
            "lastTransitionTime": start,
        }
    )
    containers = [
        {
            "name": c.get("name", ""),
            "image": c.get("image", ""),
            "imageID": "",
            "containerID": f"orkestra://{template_hash(c)}",
            "ready": True,
            "started": True,
            "restartCount": 0,
            "state": {"running": {"startedAt": start}},
        }
        for c in spec.get("containers") or ()
        if isinstance(c, Mapping)
    ]
    status = dict(old)
    status.update(
        {
            "phase": "Running",
            "conditions": conditions,
            "hostIP": "10.0.0.1",
            "hostIPs": [{"ip": "10.0.0.1"}],
            "podIP": pod_ip,
            "podIPs": [{"ip": pod_ip}],
            "startTime": start,
            "containerStatuses": containers,
        }
    )
    return status
