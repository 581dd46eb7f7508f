"""Known field names of the built-in kinds, for ``fieldValidation=Strict|Warn``.

A real server decodes built-in objects into Go structs; with
``fieldValidation=Strict`` (kubectl's default since 1.25) a JSON key no
struct field has is an error: ``Deployment in version "v1" cannot be handled
as a Deployment: strict decoding error: unknown field "spec.replica"``. With
``Warn`` it is a warning header, with ``Ignore`` nothing. The embedded server
has no Go structs, so this module lists the field names it checks: every
kind's top level, object metadata, and the specs where typos are common
(workloads, their pod templates and containers, Services). Below those levels
(selectors, probes, volumes, status, ...) anything is accepted: an incomplete
list must never reject a field a real server takes.

Field names are the Kubernetes API's JSON names as of 1.33 (plus the pod and container
fields 1.34 adds, which newer clients may already send).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import attrs


@attrs.frozen
class ListOf:
    """A list whose items have the shape ``item``."""

    item: Shape


#: A shape: the allowed keys of an object, each with the shape of its value
#: (None: not checked below this key).
Shape = Mapping[str, "Shape | ListOf | None"]


def _keys(*names: str) -> dict[str, Shape | ListOf | None]:
    return dict.fromkeys(names)


OBJECT_META: Shape = _keys(
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
)

CONTAINER: Shape = _keys(
    "name",
    "image",
    "command",
    "args",
    "workingDir",
    "ports",
    "envFrom",
    "env",
    "resources",
    "resizePolicy",
    "restartPolicy",
    "volumeMounts",
    "volumeDevices",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "lifecycle",
    "terminationMessagePath",
    "terminationMessagePolicy",
    "imagePullPolicy",
    "securityContext",
    "stdin",
    "stdinOnce",
    "tty",
    "restartPolicyRules",
)

POD_SPEC: Shape = {
    **_keys(
        "volumes",
        "ephemeralContainers",
        "restartPolicy",
        "terminationGracePeriodSeconds",
        "activeDeadlineSeconds",
        "dnsPolicy",
        "nodeSelector",
        "serviceAccountName",
        "serviceAccount",
        "automountServiceAccountToken",
        "nodeName",
        "hostNetwork",
        "hostPID",
        "hostIPC",
        "shareProcessNamespace",
        "securityContext",
        "imagePullSecrets",
        "hostname",
        "subdomain",
        "affinity",
        "schedulerName",
        "tolerations",
        "hostAliases",
        "priorityClassName",
        "priority",
        "dnsConfig",
        "readinessGates",
        "runtimeClassName",
        "enableServiceLinks",
        "preemptionPolicy",
        "overhead",
        "topologySpreadConstraints",
        "setHostnameAsFQDN",
        "os",
        "hostUsers",
        "schedulingGates",
        "resourceClaims",
        "resources",
        "hostnameOverride",
    ),
    "containers": ListOf(CONTAINER),
    "initContainers": ListOf(CONTAINER),
}

POD_TEMPLATE: Shape = {"metadata": OBJECT_META, "spec": POD_SPEC}

DEPLOYMENT_SPEC: Shape = {
    **_keys(
        "replicas",
        "selector",
        "strategy",
        "minReadySeconds",
        "revisionHistoryLimit",
        "paused",
        "progressDeadlineSeconds",
    ),
    "template": POD_TEMPLATE,
}

STATEFULSET_SPEC: Shape = {
    **_keys(
        "replicas",
        "selector",
        "volumeClaimTemplates",
        "serviceName",
        "podManagementPolicy",
        "updateStrategy",
        "revisionHistoryLimit",
        "minReadySeconds",
        "persistentVolumeClaimRetentionPolicy",
        "ordinals",
    ),
    "template": POD_TEMPLATE,
}

REPLICASET_SPEC: Shape = {
    **_keys("replicas", "minReadySeconds", "selector"),
    "template": POD_TEMPLATE,
}

JOB_SPEC: Shape = {
    **_keys(
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "podFailurePolicy",
        "successPolicy",
        "backoffLimit",
        "backoffLimitPerIndex",
        "maxFailedIndexes",
        "selector",
        "manualSelector",
        "ttlSecondsAfterFinished",
        "completionMode",
        "suspend",
        "podReplacementPolicy",
        "managedBy",
    ),
    "template": POD_TEMPLATE,
}

CRONJOB_SPEC: Shape = {
    **_keys(
        "schedule",
        "timeZone",
        "startingDeadlineSeconds",
        "concurrencyPolicy",
        "suspend",
        "successfulJobsHistoryLimit",
        "failedJobsHistoryLimit",
    ),
    "jobTemplate": {"metadata": OBJECT_META, "spec": JOB_SPEC},
}

SERVICE_SPEC: Shape = _keys(
    "ports",
    "selector",
    "clusterIP",
    "clusterIPs",
    "type",
    "externalIPs",
    "sessionAffinity",
    "loadBalancerIP",
    "loadBalancerSourceRanges",
    "externalName",
    "externalTrafficPolicy",
    "healthCheckNodePort",
    "publishNotReadyAddresses",
    "sessionAffinityConfig",
    "ipFamilies",
    "ipFamilyPolicy",
    "allocateLoadBalancerNodePorts",
    "loadBalancerClass",
    "internalTrafficPolicy",
    "trafficDistribution",
)


def _object(**body: Shape | ListOf | None) -> Shape:
    return {"apiVersion": None, "kind": None, "metadata": OBJECT_META, **body}


def _workload(spec: Shape) -> Shape:
    return _object(spec=spec, status=None)


#: (group, plural) of the stored kind -> the shape of a whole object of that kind
#: (events.k8s.io events are stored, and so checked, as core events).
KIND_SHAPES: Mapping[tuple[str, str], Shape] = {
    ("", "namespaces"): _object(spec=None, status=None),
    ("", "configmaps"): _object(data=None, binaryData=None, immutable=None),
    ("", "secrets"): _object(data=None, stringData=None, type=None, immutable=None),
    ("", "serviceaccounts"): _object(
        secrets=None, imagePullSecrets=None, automountServiceAccountToken=None
    ),
    ("", "events"): _object(
        **_keys(
            "involvedObject",
            "reason",
            "message",
            "source",
            "firstTimestamp",
            "lastTimestamp",
            "count",
            "type",
            "eventTime",
            "series",
            "action",
            "related",
            "reportingComponent",
            "reportingInstance",
        )
    ),
    ("", "services"): _workload(SERVICE_SPEC),
    ("", "pods"): _workload(POD_SPEC),
    ("", "endpoints"): _object(subsets=None),
    ("apps", "deployments"): _workload(DEPLOYMENT_SPEC),
    ("apps", "statefulsets"): _workload(STATEFULSET_SPEC),
    ("apps", "replicasets"): _workload(REPLICASET_SPEC),
    ("batch", "jobs"): _workload(JOB_SPEC),
    ("batch", "cronjobs"): _workload(CRONJOB_SPEC),
    ("coordination.k8s.io", "leases"): _object(spec=None),
    ("apiextensions.k8s.io", "customresourcedefinitions"): _object(spec=None, status=None),
    ("networking.k8s.io", "ingresses"): _object(spec=None, status=None),
}


def unknown_fields(resource: tuple[str, str], obj: Mapping[str, Any]) -> list[str]:
    """Dotted paths (``spec.replica``, ``spec.template.spec.containers[0].imag``) of
    keys in ``obj`` that a kind has no field for; [] for kinds not listed here."""
    shape = KIND_SHAPES.get(resource)
    if shape is None:
        return []
    return list(_walk(obj, shape, ""))


def _walk(value: Any, shape: Shape | ListOf, path: str) -> Iterator[str]:
    if isinstance(shape, ListOf):
        if isinstance(value, list):
            for index, item in enumerate(value):
                yield from _walk(item, shape.item, f"{path}[{index}]")
        return
    if not isinstance(value, Mapping):
        return  # a type error is for validation to report, not this check
    for key, child in value.items():
        where = f"{path}.{key}" if path else str(key)
        if key not in shape:
            yield where
            continue
        sub = shape[key]
        if sub is not None and child is not None:
            yield from _walk(child, sub, where)
