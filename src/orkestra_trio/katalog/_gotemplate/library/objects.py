"""Readers of Kubernetes objects: metadata, conditions, containers, services, ingresses,
PVCs, HPAs, nodes and warning events.

They read what the template is given (a CR, ``.children.<group>.<name>``,
``.cross.<as>``): objects the box's informers already hold, never the API
server. A reader of an absent object answers "", 0, false or []. A child
``enrich`` gave related objects (``_endpoints``, ``_warnings``, ``_pv``,
``_storageClass``, ``_node``) is read through them, as Orkestra's readers do.

Functions that take an object and a key accept both orders, so that
``getLabel .obj "app"`` (Orkestra's order) and ``.obj | getLabel "app"``
(a pipeline) both work.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orkestra_trio.katalog._gotemplate.functions import template_function
from orkestra_trio.katalog._gotemplate.library._common import at, dig, integer, items, obj, text
from orkestra_trio.katalog._gotemplate.values import is_mapping, number_from_text
from orkestra_trio.katalog.provenance import (
    PROVENANCE_ANNOTATIONS,
    SERVE_ALIAS_ANNOTATION,
    SERVE_SOURCE_ANNOTATION,
    SERVE_TARGET_ANNOTATION,
)


def _pair(first: Any, second: Any) -> tuple[Mapping[str, Any], Any]:
    """(object, key) whichever order they came in."""
    if not is_mapping(first) and is_mapping(second):
        return second, first
    return obj(first), second


def _meta(value: Any) -> Mapping[str, Any]:
    return obj(obj(value).get("metadata"))


def _conditions(value: Any) -> list[Mapping[str, Any]]:
    return [c for c in items(at(value, "status", "conditions")) if is_mapping(c)]


def _condition(value: Any, kind: Any) -> Mapping[str, Any]:
    wanted = text(kind)
    return next((c for c in _conditions(value) if c.get("type") == wanted), {})


# -- kubernetes: metadata, spec, status, conditions ------------------------------


@template_function("meta")
def meta(value: Any) -> Mapping[str, Any]:
    return _meta(value)


@template_function("labels")
def labels(value: Any) -> Mapping[str, Any]:
    return obj(_meta(value).get("labels"))


@template_function("annotations")
def annotations_of(value: Any) -> Mapping[str, Any]:
    return obj(_meta(value).get("annotations"))


@template_function("spec")
def spec(value: Any) -> Mapping[str, Any]:
    return obj(obj(value).get("spec"))


@template_function("status")
def status(value: Any) -> Mapping[str, Any]:
    return obj(obj(value).get("status"))


@template_function("name")
def name(value: Any) -> str:
    return text(_meta(value).get("name") or obj(value).get("name"))


@template_function("namespace")
def namespace(value: Any) -> str:
    return text(_meta(value).get("namespace") or obj(value).get("namespace"))


@template_function("generation")
def generation(value: Any) -> int:
    return integer(_meta(value).get("generation"), "generation", 0)


@template_function("observedGeneration")
def observed_generation(value: Any) -> int:
    return integer(at(value, "status", "observedGeneration"), "observedGeneration", 0)


@template_function("getLabel")
def get_label(first: Any, second: Any) -> str:
    target, key = _pair(first, second)
    return text(labels(target).get(text(key)))


@template_function("getAnnotation")
def get_annotation(first: Any, second: Any) -> str:
    target, key = _pair(first, second)
    return text(annotations_of(target).get(text(key)))


def _int_or(value: Any, fallback: Any) -> int:
    found = number_from_text(text(value)) if value is not None else None
    return int(found) if found is not None else integer(fallback, "default", 0)


@template_function("getLabelInt")
def get_label_int(first: Any, second: Any, *fallback: Any) -> int:
    target, key = _pair(first, second)
    return _int_or(labels(target).get(text(key)), fallback[0] if fallback else 0)


@template_function("getAnnotationInt")
def get_annotation_int(first: Any, second: Any, *fallback: Any) -> int:
    target, key = _pair(first, second)
    return _int_or(annotations_of(target).get(text(key)), fallback[0] if fallback else 0)


@template_function("hasLabel")
def has_label(first: Any, second: Any) -> bool:
    target, key = _pair(first, second)
    return text(key) in labels(target)


@template_function("hasAnnotation")
def has_annotation(first: Any, second: Any) -> bool:
    target, key = _pair(first, second)
    return text(key) in annotations_of(target)


# -- serve: the gateway's provenance annotations (katalog/provenance.py) ---------


@template_function("getServeTarget")
def get_serve_target(value: Any) -> str:
    return text(annotations_of(value).get(SERVE_TARGET_ANNOTATION))


@template_function("getServeAlias")
def get_serve_alias(value: Any) -> str:
    return text(annotations_of(value).get(SERVE_ALIAS_ANNOTATION))


@template_function("getServeSource")
def get_serve_source(value: Any) -> str:
    return text(annotations_of(value).get(SERVE_SOURCE_ANNOTATION))


@template_function("hasServeTarget")
def has_serve_target(value: Any) -> bool:
    return get_serve_target(value) != ""


@template_function("hasServeAlias")
def has_serve_alias(value: Any) -> bool:
    return get_serve_alias(value) != ""


@template_function("hasServeSource")
def has_serve_source(value: Any) -> bool:
    return get_serve_source(value) != ""


@template_function("isDirectApply")
def is_direct_apply(value: Any) -> bool:
    """No provenance annotation at all: the CR came by kubectl or CI, not the gateway."""
    found = annotations_of(value)
    return not any(key in found for key in PROVENANCE_ANNOTATIONS)


@template_function("getStatus")
def get_status(first: Any, second: Any) -> Any:
    """``getStatus .obj "phase"``: a dot path under .status; nil when absent."""
    target, path = _pair(first, second)
    return dig(status(target), path)


@template_function("hasStatus")
def has_status(first: Any, second: Any) -> bool:
    found = get_status(first, second)
    return found is not None and found != ""


@template_function("hasCondition")
def has_condition(first: Any, second: Any, *wanted: Any) -> bool:
    """``hasCondition .obj "Ready"``: the condition is there with status True (or ``wanted``)."""
    target, kind = _pair(first, second)
    expected = text(wanted[0]) if wanted else "True"
    return text(_condition(target, kind).get("status")) == expected


@template_function("conditionReason")
def condition_reason(first: Any, second: Any) -> str:
    target, kind = _pair(first, second)
    return text(_condition(target, kind).get("reason"))


@template_function("conditionMessage")
def condition_message(first: Any, second: Any) -> str:
    target, kind = _pair(first, second)
    return text(_condition(target, kind).get("message"))


@template_function("conditionStatus")
def condition_status(first: Any, second: Any) -> str:
    target, kind = _pair(first, second)
    return text(_condition(target, kind).get("status"))


@template_function("isSynced")
def is_synced(value: Any) -> bool:
    """The controller has seen the latest spec: status.observedGeneration >= generation."""
    return bool(obj(value)) and observed_generation(value) >= generation(value)


@template_function("isTerminating")
def is_terminating(value: Any) -> bool:
    return bool(_meta(value).get("deletionTimestamp"))


@template_function("resourceExists")
def resource_exists(value: Any) -> bool:
    """An object is there: a mapping with a name (a not-found cross answer is not)."""
    target = obj(value)
    if text(target.get("found")) == "false":
        return False
    return bool(name(target))


@template_function("labelMatches")
def label_matches(first: Any, second: Any) -> bool:
    """``labelMatches .obj "app=web,tier!=db,env"``: equality-based label selector."""
    target, selector = _pair(first, second)
    present = labels(target)
    for term in (t.strip() for t in text(selector).split(",")):
        if not term:
            continue
        if "!=" in term:
            key, _, value = term.partition("!=")
            if text(present.get(key.strip())) == value.strip():
                return False
        elif "=" in term:
            key, _, value = term.replace("==", "=").partition("=")
            if key.strip() not in present or text(present[key.strip()]) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in present:
                return False
        elif term not in present:
            return False
    return True


def owner_reference(value: Any) -> Mapping[str, Any]:
    refs = [r for r in items(_meta(value).get("ownerReferences")) if is_mapping(r)]
    return next((r for r in refs if r.get("controller")), refs[0] if refs else {})


@template_function("ownerKind")
def owner_kind(value: Any) -> str:
    return text(owner_reference(value).get("kind"))


@template_function("ownerName")
def owner_name(value: Any) -> str:
    return text(owner_reference(value).get("name"))


# -- fields ---------------------------------------------------------------------


@template_function("creationTimestamp")
def creation_timestamp(value: Any) -> str:
    return text(_meta(value).get("creationTimestamp"))


@template_function("resourceName")
def resource_name(value: Any) -> str:
    return name(value)


@template_function("resourceNamespace")
def resource_namespace(value: Any) -> str:
    return namespace(value)


@template_function("resourceUID")
def resource_uid(value: Any) -> str:
    return text(_meta(value).get("uid"))


@template_function("resourceVersion")
def resource_version(value: Any) -> str:
    return text(_meta(value).get("resourceVersion"))


# -- containers -------------------------------------------------------------------


def pod_spec(value: Any) -> Mapping[str, Any]:
    """The pod spec of a Pod, a workload (Deployment...), a Job or a CronJob."""
    target = obj(value)
    for path in (
        ("spec", "jobTemplate", "spec", "template", "spec"),
        ("spec", "template", "spec"),
        ("spec",),
    ):
        found = at(target, *path)
        if is_mapping(found) and "containers" in found:
            return found  # type: ignore[no-any-return]
    return {}


def _containers(value: Any) -> list[Mapping[str, Any]]:
    return [c for c in items(pod_spec(value).get("containers")) if is_mapping(c)]


def _container(value: Any, which: tuple[Any, ...]) -> Mapping[str, Any]:
    containers = _containers(value)
    if not containers:
        return {}
    if which:
        key = which[0]
        if isinstance(key, int) and not isinstance(key, bool):
            return containers[key] if 0 <= key < len(containers) else {}
        return next((c for c in containers if c.get("name") == text(key)), {})
    return containers[0]


@template_function("containerCount")
def container_count(value: Any) -> int:
    return len(_containers(value))


@template_function("containerImage")
def container_image(value: Any, *which: Any) -> str:
    """The image of the first container (or the one named / at the index given)."""
    return text(_container(value, which).get("image"))


@template_function("containerPorts")
def container_ports(value: Any, *which: Any) -> list[Any]:
    return [p.get("containerPort") for p in items(_container(value, which).get("ports"))]


@template_function("containerPort")
def container_port(value: Any, *which: Any) -> Any:
    ports = container_ports(value, *which)
    return ports[0] if ports else 0


@template_function("containerPortByName")
def container_port_by_name(value: Any, port_name: Any) -> Any:
    for container in _containers(value):
        for port in items(container.get("ports")):
            if is_mapping(port) and port.get("name") == text(port_name):
                return port.get("containerPort")
    return 0


@template_function("containerEnv")
def container_env(value: Any, variable: Any, *which: Any) -> str:
    for env in items(_container(value, which).get("env")):
        if is_mapping(env) and env.get("name") == text(variable):
            return text(env.get("value"))
    return ""


def _requests(value: Any, resource: str) -> str:
    container = _container(value, ())
    found = at(container, "resources", "requests", resource)
    if found is None:
        found = at(container, "resources", "limits", resource)
    return text(found)


@template_function("resourceCPU")
def resource_cpu(value: Any) -> str:
    """The first container's CPU request (its limit when it requests none)."""
    return _requests(value, "cpu")


@template_function("resourceMemory")
def resource_memory(value: Any) -> str:
    return _requests(value, "memory")


# -- services and endpoints --------------------------------------------------------


@template_function("serviceClusterIP")
def service_cluster_ip(value: Any) -> str:
    return text(at(value, "spec", "clusterIP"))


@template_function("serviceNodePort")
def service_node_port(value: Any, *index: Any) -> int:
    ports = items(at(value, "spec", "ports"))
    i = integer(index[0], "serviceNodePort") if index else 0
    port = ports[i] if 0 <= i < len(ports) else {}
    return integer(obj(port).get("nodePort"), "serviceNodePort", 0)


def _lb_ingress(value: Any) -> list[Mapping[str, Any]]:
    return [i for i in items(at(value, "status", "loadBalancer", "ingress")) if is_mapping(i)]


@template_function("serviceLoadBalancerIP")
def service_load_balancer_ip(value: Any) -> str:
    return next((text(i["ip"]) for i in _lb_ingress(value) if i.get("ip")), "")


@template_function("serviceLoadBalancerHost")
def service_load_balancer_host(value: Any) -> str:
    return next((text(i["hostname"]) for i in _lb_ingress(value) if i.get("hostname")), "")


def _enriched_endpoints(value: Any) -> list[Mapping[str, Any]] | None:
    """A Service's ``_endpoints`` (``enrich: [endpoints]``), None when it has none."""
    if is_mapping(value) and "_endpoints" in value:
        return [e for e in items(value["_endpoints"]) if is_mapping(e)]
    return None


def _address(endpoint: Mapping[str, Any]) -> str:
    port = endpoint.get("port")
    return text(endpoint.get("ip")) + (f":{text(port)}" if port is not None else "")


def _endpoint_ips(value: Any, *, ready: bool = True) -> list[str]:
    """Addresses of an Endpoints object (or a list of EndpointSlices); of a Service's
    ``_endpoints``, ``ip:port`` as Orkestra gives them."""
    enriched = _enriched_endpoints(value)
    if enriched is not None:
        return [_address(e) for e in enriched if (e.get("ready") is not False) == ready]
    ips: list[str] = []
    for source in [value] if is_mapping(value) else items(value):
        for subset in items(obj(source).get("subsets")):
            key = "addresses" if ready else "notReadyAddresses"
            ips += [text(a.get("ip")) for a in items(obj(subset).get(key)) if is_mapping(a)]
        for endpoint in items(obj(source).get("endpoints")):
            state = obj(obj(endpoint).get("conditions")).get("ready")
            if (state is not False) == ready:
                ips += [text(a) for a in items(obj(endpoint).get("addresses"))]
    return ips


@template_function("serviceEndpoints")
def service_endpoints(value: Any) -> list[str]:
    enriched = _enriched_endpoints(value)
    if enriched is not None:  # every endpoint, ready or not (Orkestra's)
        return [_address(e) for e in enriched]
    return _endpoint_ips(value)


@template_function("serviceEndpointCount")
def service_endpoint_count(value: Any) -> int:
    return len(service_endpoints(value))


@template_function("serviceFirstEndpoint")
def service_first_endpoint(value: Any) -> str:
    found = service_endpoints(value)
    return found[0] if found else ""


@template_function("hasEndpoints")
def has_endpoints(value: Any) -> bool:
    return bool(_endpoint_ips(value))


@template_function("endpointsReady")
def endpoints_ready(value: Any) -> bool:
    return bool(_endpoint_ips(value)) and not _endpoint_ips(value, ready=False)


# -- ingresses --------------------------------------------------------------------


@template_function("ingressClassName")
def ingress_class_name(value: Any) -> str:
    return text(at(value, "spec", "ingressClassName"))


def _rules(value: Any) -> list[Mapping[str, Any]]:
    return [r for r in items(at(value, "spec", "rules")) if is_mapping(r)]


@template_function("ingressHost")
def ingress_host(value: Any) -> str:
    return next((text(r["host"]) for r in _rules(value) if r.get("host")), "")


@template_function("ingressRules")
def ingress_rules(value: Any) -> list[str]:
    """Each rule's paths as ``host/path`` (``*`` for a rule without a host)."""
    out: list[str] = []
    for rule in _rules(value):
        host = text(rule.get("host")) or "*"
        for path in items(at(rule, "http", "paths")):
            out.append(host + text(obj(path).get("path") or "/"))
    return out


@template_function("ingressIP")
def ingress_ip(value: Any) -> str:
    return service_load_balancer_ip(value) or service_load_balancer_host(value)


@template_function("ingressLoadBalancerIPs")
def ingress_load_balancer_ips(value: Any) -> list[str]:
    return [text(i.get("ip") or i.get("hostname")) for i in _lb_ingress(value)]


@template_function("ingressReady")
def ingress_ready(value: Any) -> bool:
    return bool(_lb_ingress(value))


@template_function("ingressTLSHosts")
def ingress_tls_hosts(value: Any) -> list[str]:
    return [text(h) for t in items(at(value, "spec", "tls")) for h in items(obj(t).get("hosts"))]


@template_function("ingressTLSSecretCount")
def ingress_tls_secret_count(value: Any) -> int:
    return sum(1 for t in items(at(value, "spec", "tls")) if obj(t).get("secretName"))


# -- persistent volume claims -------------------------------------------------------


@template_function("pvcPhase")
def pvc_phase(value: Any) -> str:
    return text(at(value, "status", "phase"))


@template_function("pvcBound")
def pvc_bound(value: Any) -> bool:
    return pvc_phase(value) == "Bound"


@template_function("pvcCapacity")
def pvc_capacity(value: Any) -> str:
    return text(at(value, "status", "capacity", "storage"))


@template_function("pvcAccessModes")
def pvc_access_modes(value: Any) -> list[str]:
    return [text(m) for m in items(at(value, "spec", "accessModes"))]


@template_function("pvcStorageClass")
def pvc_storage_class(value: Any) -> str:
    return text(at(value, "spec", "storageClassName"))


@template_function("pvcVolumeMode")
def pvc_volume_mode(value: Any) -> str:
    return text(at(value, "spec", "volumeMode")) or "Filesystem"


@template_function("pvcProvisioner")
def pvc_provisioner(value: Any) -> str:
    notes = annotations_of(value)
    return text(
        notes.get("volume.kubernetes.io/storage-provisioner")
        or notes.get("volume.beta.kubernetes.io/storage-provisioner")
    )


def _storage_class(value: Any) -> Mapping[str, Any]:
    """A claim's ``_storageClass`` (``enrich: [storageclass]``), else the StorageClass given."""
    return obj(obj(value).get("_storageClass") or value)


@template_function("pvcStorageClassProvisioner")
def pvc_storage_class_provisioner(value: Any) -> str:
    """The provisioner of a StorageClass object (or of a claim's ``_storageClass``)."""
    return text(_storage_class(value).get("provisioner"))


@template_function("pvcStorageClassReclaimPolicy")
def pvc_storage_class_reclaim_policy(value: Any) -> str:
    return text(_storage_class(value).get("reclaimPolicy")) or "Delete"


@template_function("pvReclaimPolicy")
def pv_reclaim_policy(value: Any) -> str:
    """The reclaim policy of a PersistentVolume (or of a claim's ``_pv``)."""
    return text(at(obj(value).get("_pv") or value, "spec", "persistentVolumeReclaimPolicy"))


@template_function("pvAccessModes")
def pv_access_modes(value: Any) -> list[str]:
    return [text(m) for m in items(at(obj(value).get("_pv") or value, "spec", "accessModes"))]


# -- horizontal pod autoscalers -----------------------------------------------------


@template_function("hpaMinReplicas")
def hpa_min_replicas(value: Any) -> int:
    return integer(at(value, "spec", "minReplicas"), "hpaMinReplicas", 1)


@template_function("hpaMaxReplicas")
def hpa_max_replicas(value: Any) -> int:
    return integer(at(value, "spec", "maxReplicas"), "hpaMaxReplicas", 0)


@template_function("hpaCurrentReplicas")
def hpa_current_replicas(value: Any) -> int:
    return integer(at(value, "status", "currentReplicas"), "hpaCurrentReplicas", 0)


@template_function("hpaDesiredReplicas")
def hpa_desired_replicas(value: Any) -> int:
    return integer(at(value, "status", "desiredReplicas"), "hpaDesiredReplicas", 0)


@template_function("hpaAtMax")
def hpa_at_max(value: Any) -> bool:
    return bool(obj(value)) and hpa_current_replicas(value) >= hpa_max_replicas(value) > 0


@template_function("hpaScaling")
def hpa_scaling(value: Any) -> bool:
    return hpa_desired_replicas(value) != hpa_current_replicas(value)


@template_function("hpaAbleToScale")
def hpa_able_to_scale(value: Any) -> bool:
    return text(_condition(value, "AbleToScale").get("status")) == "True"


@template_function("hpaScalingActive")
def hpa_scaling_active(value: Any) -> bool:
    return text(_condition(value, "ScalingActive").get("status")) == "True"


@template_function("hpaScalingLimited")
def hpa_scaling_limited(value: Any) -> bool:
    return text(_condition(value, "ScalingLimited").get("status")) == "True"


@template_function("hpaMetricTypes")
def hpa_metric_types(value: Any) -> list[str]:
    return [text(obj(m).get("type")) for m in items(at(value, "spec", "metrics"))]


@template_function("hpaScaleTargetKind")
def hpa_scale_target_kind(value: Any) -> str:
    return text(at(value, "spec", "scaleTargetRef", "kind"))


@template_function("hpaScaleTargetName")
def hpa_scale_target_name(value: Any) -> str:
    return text(at(value, "spec", "scaleTargetRef", "name"))


# -- nodes --------------------------------------------------------------------------


@template_function("nodeAllocatableCPU")
def node_allocatable_cpu(value: Any) -> str:
    return text(at(value, "status", "allocatable", "cpu"))


@template_function("nodeAllocatableMemory")
def node_allocatable_memory(value: Any) -> str:
    return text(at(value, "status", "allocatable", "memory"))


@template_function("nodeCondition")
def node_condition(first: Any, second: Any) -> str:
    target, kind = _pair(first, second)
    return text(_condition(target, kind).get("status"))


@template_function("nodeReady")
def node_ready(value: Any) -> bool:
    return node_condition(value, "Ready") == "True"


@template_function("nodeTaints")
def node_taints(value: Any) -> list[str]:
    out = []
    for taint in items(at(value, "spec", "taints")):
        t = obj(taint)
        key = text(t.get("key")) + (f"={text(t['value'])}" if t.get("value") else "")
        out.append(f"{key}:{text(t.get('effect'))}")
    return out


@template_function("podNodeName")
def pod_node_name(value: Any) -> str:
    return text(at(value, "spec", "nodeName"))


def _node_label(value: Any, summary_key: str, *keys: str) -> str:
    node = obj(obj(value).get("_node"))
    if node:  # a Pod enrich gave its node: {name, zone, region, instanceType}
        return text(node.get(summary_key))
    found = labels(value)
    return next((text(found[k]) for k in keys if found.get(k)), "")


@template_function("podNodeZone")
def pod_node_zone(value: Any) -> str:
    """The zone label of a Node object (the node a pod runs on), or of a Pod's ``_node``."""
    return _node_label(
        value, "zone", "topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone"
    )


@template_function("podNodeRegion")
def pod_node_region(value: Any) -> str:
    return _node_label(
        value,
        "region",
        "topology.kubernetes.io/region",
        "failure-domain.beta.kubernetes.io/region",
    )


@template_function("podNodeInstanceType")
def pod_node_instance_type(value: Any) -> str:
    return _node_label(
        value,
        "instanceType",
        "node.kubernetes.io/instance-type",
        "beta.kubernetes.io/instance-type",
    )


# -- warnings (a list of Events) ------------------------------------------------------


def _warnings(value: Any) -> list[Mapping[str, Any]]:
    """Warning Events given, or a child's ``_warnings`` (``enrich: [warnings]``)."""
    if is_mapping(value) and "_warnings" in value:
        return [e for e in items(value["_warnings"]) if is_mapping(e)]
    return [e for e in items(value) if is_mapping(e) and e.get("type") == "Warning"]


@template_function("hasWarnings")
def has_warnings(value: Any) -> bool:
    return bool(_warnings(value))


@template_function("warningCount")
def warning_count(value: Any) -> int:
    return len(_warnings(value))


@template_function("warningMessages")
def warning_messages(value: Any) -> list[str]:
    return [text(e.get("message") or e.get("note")) for e in _warnings(value)]


@template_function("warningReasons")
def warning_reasons(value: Any) -> list[str]:
    return [text(e.get("reason")) for e in _warnings(value)]


@template_function("firstWarning")
def first_warning(value: Any) -> str:
    found = warning_messages(value)
    return found[0] if found else ""


@template_function("firstWarningReason")
def first_warning_reason(value: Any) -> str:
    found = warning_reasons(value)
    return found[0] if found else ""
