"""The status a built-in object has right after create, before any controller wrote one.

kube-apiserver's create strategies reset ``status`` to the type's zero value,
and serialization turns that into ``{}`` or, for fields Go does not omit when
zero, explicit zeros (a Service's ``{loadBalancer: {}}``, a ReplicaSet's
``{replicas: 0}``). Decoding from storage applies defaults too, which is how a
new PersistentVolumeClaim reads back ``{phase: Pending}``. Clients rely on the
key being there: kr8s ``Deployment.ready()`` indexes ``status`` and the
official client models expect an object, not ``None``.
"""

from __future__ import annotations

import copy
from typing import Any

_ZERO_DAEMONSET = {
    "currentNumberScheduled": 0,
    "numberMisscheduled": 0,
    "desiredNumberScheduled": 0,
    "numberReady": 0,
}
_NODE_INFO_FIELDS = (
    "machineID",
    "systemUUID",
    "bootID",
    "kernelVersion",
    "osImage",
    "containerRuntimeVersion",
    "kubeletVersion",
    "kubeProxyVersion",
    "operatingSystem",
    "architecture",
)

_INITIAL: dict[tuple[str, str], dict[str, Any]] = {
    ("", "namespaces"): {"phase": "Active"},
    ("", "pods"): {"phase": "Pending", "qosClass": "BestEffort"},
    ("", "services"): {"loadBalancer": {}},
    ("", "persistentvolumeclaims"): {"phase": "Pending"},
    ("", "persistentvolumes"): {"phase": "Pending"},
    ("", "nodes"): {
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
        "nodeInfo": dict.fromkeys(_NODE_INFO_FIELDS, ""),
    },
    ("apps", "deployments"): {},
    ("apps", "statefulsets"): {"replicas": 0, "availableReplicas": 0},
    ("apps", "replicasets"): {"replicas": 0},
    ("apps", "daemonsets"): _ZERO_DAEMONSET,
    ("batch", "jobs"): {},
    ("batch", "cronjobs"): {},
    ("networking.k8s.io", "ingresses"): {"loadBalancer": {}},
    ("autoscaling", "horizontalpodautoscalers"): {"desiredReplicas": 0},
    ("policy", "poddisruptionbudgets"): {
        "disruptionsAllowed": 0,
        "currentHealthy": 0,
        "desiredHealthy": 0,
        "expectedPods": 0,
    },
}


def initial_status(group: str, plural: str) -> dict[str, Any] | None:
    """A fresh copy of the status a new ``group/plural`` object starts with (None: none)."""
    found = _INITIAL.get((group, plural))
    return None if found is None else copy.deepcopy(found)
