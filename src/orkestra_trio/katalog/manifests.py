"""Expand one rendered resource entry into the Kubernetes manifest it stands for.

A Katalog entry is shorthand (``image``, ``replicas``, ``port``...); the API
server wants full objects. This module is the one place that knows how each
resource group's shorthand maps onto the real fields, so the offline ``render``
command and the runtime produce byte-for-byte the same children.

Everything here is a plain function over plain data: the caller has already
rendered the entry's templates into ``dict``/``list``/``str`` values. Two rules
live here because only this module knows the Kubernetes field types:

* **Typed values.** Templates render text, so ``replicas: "{{ .spec.replicas }}"``
  arrives as ``"3"``. Text in a field Kubernetes types as an integer becomes an
  int (port fields that may name a port stay text when not numeric), text
  ``"true"``/``"false"`` in a boolean field becomes a bool, and an empty text in
  such a field removes the field (the Kubernetes default applies). Text that
  cannot convert raises :class:`ManifestError` naming the field. Other fields
  (env values, ConfigMap data, resource quantities) stay text. Objects of the
  ``custom`` group are passed through untouched: their schema is unknown here.
* **Ownership.** Every child carries the labels ``app.kubernetes.io/managed-by:
  orkestra``, ``orkestra.orkspace.io/owner: <cr name>``, Orkestra's
  ``managed-by: orkestra`` and ``orkestra-owner: <cr name>``, and
  ``orkestra.orkspace.io/box: <kind>.<group>`` (each box caches only the
  children with its own box label) and, when the CR has
  a uid and Kubernetes allows it (same namespace, or a cluster-scoped owner), a
  controller ownerReference to the CR.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from orkestra_trio.katalog.model import (
    CLUSTER_SCOPED_GROUPS,
    DEFAULT_NAME_SUFFIXES,
    RESOURCE_GROUPS,
)
from orkestra_trio.katalog.template import number_from_text

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "orkestra"
OWNER_LABEL = "orkestra.orkspace.io/owner"
#: The labels Orkestra itself puts on every child (``managed-by=orkestra``,
#: ``orkestra-owner=<cr name>``), kept beside this runtime's for Katalogs and
#: scripts that select by them.
ORKESTRA_MANAGED_BY_LABEL = "managed-by"
ORKESTRA_OWNER_LABEL = "orkestra-owner"
#: On a child that cannot carry an ownerReference to its CR (another namespace, or
#: cluster-scoped under a namespaced CR): the CR's uid, and its namespace. The
#: runtime maps, prunes and deletes such children by these instead.
OWNER_UID_LABEL = "orkestra.orkspace.io/owner-uid"
OWNER_NAMESPACE_ANNOTATION = "orkestra.orkspace.io/owner-namespace"
NAME_LABEL = "app.kubernetes.io/name"
#: Which box (CRD) made a child: each box caches only its own children, by this label.
BOX_LABEL = "orkestra.orkspace.io/box"

# Fields Kubernetes types as integers, wherever they appear in a built-in spec.
_INT_FIELDS = frozenset(
    {
        "replicas",
        "containerPort",
        "hostPort",
        "nodePort",
        "number",
        "backoffLimit",
        "completions",
        "parallelism",
        "activeDeadlineSeconds",
        "ttlSecondsAfterFinished",
        "startingDeadlineSeconds",
        "successfulJobsHistoryLimit",
        "failedJobsHistoryLimit",
        "minReadySeconds",
        "revisionHistoryLimit",
        "progressDeadlineSeconds",
        "terminationGracePeriodSeconds",
        "initialDelaySeconds",
        "periodSeconds",
        "timeoutSeconds",
        "successThreshold",
        "failureThreshold",
        "runAsUser",
        "runAsGroup",
        "fsGroup",
        "defaultMode",
        "weight",
        "minReplicas",
        "maxReplicas",
        "averageUtilization",
    }
)
# Integer fields that may instead hold a port *name* ("http").
_INT_OR_NAME_FIELDS = frozenset(
    {"port", "targetPort", "servicePort", "minAvailable", "maxUnavailable", "maxSurge"}
)
# Fields Kubernetes types as booleans.
_BOOL_FIELDS = frozenset(
    {
        "suspend",
        "paused",
        "readOnly",
        "privileged",
        "allowPrivilegeEscalation",
        "readOnlyRootFilesystem",
        "runAsNonRoot",
        "automountServiceAccountToken",
        "hostNetwork",
        "hostPID",
        "hostIPC",
        "stdin",
        "tty",
        "optional",
        "immutable",
        "publishNotReadyAddresses",
        "shareProcessNamespace",
        "enableServiceLinks",
        "setHostnameAsFQDN",
    }
)
# Subtrees whose values are free text by definition: never coerced.
_TEXT_SUBTREES = frozenset(
    {
        "labels",
        "annotations",
        "matchLabels",
        "selector",
        "resources",
        "data",
        "stringData",
        "nodeSelector",
        "hard",
    }
)


class ManifestError(Exception):
    """A rendered entry cannot become a manifest; ``field`` is the offending key path."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


@attrs.frozen
class Owner:
    """The CR that owns the children: what labels and ownerReferences need."""

    api_version: str
    kind: str
    name: str
    namespace: str  # "" for a cluster-scoped CR
    uid: str  # "" when unknown (an offline render of a CR never stored)


def owner_from_cr(cr: Mapping[str, Any]) -> Owner:
    """The :class:`Owner` of a CR object as read from the API server (or a file)."""
    metadata = cr.get("metadata") or {}
    return Owner(
        api_version=str(cr.get("apiVersion") or ""),
        kind=str(cr.get("kind") or ""),
        name=str(metadata.get("name") or ""),
        namespace=str(metadata.get("namespace") or ""),
        uid=str(metadata.get("uid") or ""),
    )


def pod_labels(child_name: str, owner_name: str) -> dict[str, str]:
    """The labels of a workload's pods, which its selector (and a Service's) matches."""
    return {NAME_LABEL: child_name, OWNER_LABEL: owner_name}


def owner_labels(owner: Owner) -> dict[str, str]:
    """The labels every child carries; the runtime lists a CR's children by them."""
    labels = {
        MANAGED_BY_LABEL: MANAGED_BY_VALUE,
        OWNER_LABEL: owner.name,
        # Orkestra's own two: its docs select a CR's children by `-l orkestra-owner=<cr>`.
        ORKESTRA_MANAGED_BY_LABEL: MANAGED_BY_VALUE,
        ORKESTRA_OWNER_LABEL: owner.name,
    }
    if owner.kind:
        labels[BOX_LABEL] = box_label_value(owner.api_version, owner.kind)
    return labels


def box_label_value(api_version: str, kind: str) -> str:
    """The :data:`BOX_LABEL` value of the box of CRs of ``kind``: ``<kind>.<group>``.

    One box per CRD, so the CR's kind and group name the box across runtimes
    and Katalogs. A label value holds 63 characters: a longer one keeps the
    kind and a hash of the group.
    """
    group = api_version.rpartition("/")[0]
    value = f"{kind.lower()}.{group}" if group else kind.lower()
    if len(value) <= 63:
        return value
    digest = hashlib.sha256(group.encode()).hexdigest()[:10]
    return f"{kind.lower()[:52]}.{digest}"


def group_api(group: str) -> tuple[str, str]:
    """(apiVersion, kind) of a built-in resource group, from the model's table."""
    try:
        info = RESOURCE_GROUPS[group]
    except KeyError:
        raise ManifestError("group", f"unknown resource group {group!r}") from None
    return info.api_version, info.kind


def default_child_name(group: str, cr_name: str, kind: str = "") -> str:
    """The name of a child of ``group`` whose entry names none: Orkestra's per-kind
    default, ``<cr>-deployment``, ``<cr>-svc``, ``<cr>-config``... (a ``custom``
    child: ``<cr>-<its kind in lower case>``; a StatefulSet: the CR's name)."""
    if not cr_name:
        return ""
    if group == "custom":
        return f"{cr_name}-{kind.lower()}" if kind else cr_name
    return cr_name + DEFAULT_NAME_SUFFIXES[group]


def child_name(group: str, entry: Mapping[str, Any], cr_name: str) -> str:
    """The name of the child of a rendered entry: its ``name``, else the kind's default."""
    name = entry.get("name")
    if name and isinstance(name, str):  # the usual case, on every child of every reconcile
        return name
    return _text(name) or default_child_name(
        group, cr_name, _text(entry.get("kind")) if group == "custom" else ""
    )


def _peer_name(entry: Mapping[str, Any], owner: Owner, group: str) -> str:
    """The child of ``group`` an entry refers to by default: the one of the entry's own
    name, or, when the entry has none, the one ``group``'s default names (an unnamed
    Service selects the pods of ``<cr>-deployment``, as both are unnamed)."""
    return _text(entry.get("name")) or default_child_name(group, owner.name)


def build_manifest(group: str, entry: Mapping[str, Any], owner: Owner) -> dict[str, Any]:
    """The full manifest of one rendered entry of ``group``.

    ``entry`` holds the entry's rendered values: ``name`` (absent or empty: the
    kind's default, :func:`default_child_name`), optional ``namespace``,
    ``labels``, ``annotations``, the group's shorthand keys and the raw
    ``spec`` escape hatch. Keys that only steer the renderer (``when``,
    ``or``, ``forEach``, ``reconcile``) are ignored.
    """
    name = child_name(group, entry, owner.name)
    if not name:
        raise ManifestError("name", "a child needs a name")
    if group == "custom":
        manifest = _custom(entry)
    else:
        api_version, kind = group_api(group)
        manifest = {"apiVersion": api_version, "kind": kind, "metadata": {}}
        expand = _EXPANDERS.get(group)
        if expand is not None:
            expand(manifest, entry, name, owner)
        raw_spec = entry.get("spec")
        if raw_spec is not None:
            if not isinstance(raw_spec, Mapping):
                raise ManifestError("spec", "must be a mapping")
            manifest["spec"] = deep_merge(manifest.get("spec") or {}, raw_spec)
        manifest = coerce_types(manifest)
    _set_metadata(manifest, group, entry, name, owner)
    return manifest


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` over ``base``: mappings merge key by key, anything else replaces.

    Neither input is modified; the result shares no containers with them.
    """
    merged: dict[str, Any] = {key: plain_copy(value) for key, value in base.items()}
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = plain_copy(value)
    return merged


def coerce_types(value: Any, path: str = "") -> Any:
    """Convert rendered text to the int/bool the Kubernetes field expects.

    Walks a manifest (or part of one) and returns a converted copy; empty text
    in a typed field drops the field. See the module docstring for the rule.
    """
    # Runs on every child of every reconcile: plain dict/list checks first
    # (manifests are built from plain containers), the ABCs only as a fallback.
    if isinstance(value, dict) or (not isinstance(value, list) and isinstance(value, Mapping)):
        out: dict[str, Any] = {}
        for child_key, child in value.items():
            if child_key in _TEXT_SUBTREES:
                out[child_key] = plain_copy(child)
                continue
            child_type = type(child)
            if child_type is str or isinstance(child, str):
                try:
                    converted = _coerce_scalar(str(child_key), child)
                except ValueError as exc:
                    raise ManifestError(_child_path(path, child_key), str(exc)) from None
                if converted is not _DROP:
                    out[child_key] = converted
            elif child_type in _UNCOERCED or child is None:
                out[child_key] = child
            elif isinstance(child, dict | list | tuple | Mapping):
                out[child_key] = coerce_types(child, _child_path(path, child_key))
            else:
                out[child_key] = child
        return out
    if isinstance(value, list | tuple):
        return [coerce_types(item, f"{path}[{index}]") for index, item in enumerate(value)]
    return value


#: Scalars that :func:`coerce_types` and :func:`plain_copy` pass through as they are.
_UNCOERCED = frozenset({int, float, bool})


def _child_path(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


# --- shorthand expansion, one function per group -----------------------------

_Expander = Callable[[dict[str, Any], Mapping[str, Any], str, Owner], None]


def _workload(manifest: dict[str, Any], entry: Mapping[str, Any], name: str, owner: Owner) -> None:
    """deployments, replicaSets, statefulSets, daemonSets: one container, selector == pod labels."""
    labels = pod_labels(name, owner.name)
    spec: dict[str, Any] = {}
    if "replicas" in entry:
        spec["replicas"] = entry["replicas"]
    spec["selector"] = {"matchLabels": dict(labels)}
    if manifest["kind"] == "StatefulSet":
        spec["serviceName"] = _text(entry.get("serviceName")) or name
    rolling = entry.get("rollingUpdate")
    if isinstance(rolling, Mapping):
        spec["strategy"] = {"type": "RollingUpdate", "rollingUpdate": plain_copy(rolling)}
    spec["template"] = {
        "metadata": {"labels": dict(labels)},
        "spec": _pod_spec(entry, name),
    }
    manifest["spec"] = spec


def _pod_spec(entry: Mapping[str, Any], name: str, restart: str = "") -> dict[str, Any]:
    """The pod spec of a workload entry: its one container and the pod-level shorthand."""
    pod: dict[str, Any] = {}
    if restart:
        pod["restartPolicy"] = _text(entry.get("restartPolicy")) or restart
    if entry.get("serviceAccountName") not in (None, ""):
        pod["serviceAccountName"] = _text(entry["serviceAccountName"])
    if "nodeSelector" in entry:
        pod["nodeSelector"] = _text_map(entry["nodeSelector"], "nodeSelector")
    if "podSecurity" in entry:
        pod["securityContext"] = _mapping(entry["podSecurity"], "podSecurity")
    if "imagePullSecrets" in entry:
        pod["imagePullSecrets"] = [
            {"name": _text(item.get("name"))}
            if isinstance(item, Mapping)
            else {"name": _text(item)}
            for item in _list(entry["imagePullSecrets"], "imagePullSecrets")
        ]
    if "volumes" in entry:
        pod["volumes"] = plain_copy(_list(entry["volumes"], "volumes"))
    pod["containers"] = [_container(entry, name)]
    return pod


def _job_pod_template(
    entry: Mapping[str, Any], name: str, owner: Owner, restart: str
) -> dict[str, Any]:
    return {
        "metadata": {"labels": pod_labels(name, owner.name)},
        "spec": _pod_spec(entry, name, restart),
    }


def _pod(manifest: dict[str, Any], entry: Mapping[str, Any], name: str, owner: Owner) -> None:
    """pods: the workload shorthand without a template; the pod carries the pod labels."""
    manifest["metadata"] = {"labels": pod_labels(name, owner.name)}
    manifest["spec"] = _pod_spec(entry, name, "Always")


def _job(manifest: dict[str, Any], entry: Mapping[str, Any], name: str, owner: Owner) -> None:
    spec: dict[str, Any] = {}
    if "backoffLimit" in entry:
        spec["backoffLimit"] = entry["backoffLimit"]
    spec["template"] = _job_pod_template(entry, name, owner, "Never")
    manifest["spec"] = spec


def _cron_job(manifest: dict[str, Any], entry: Mapping[str, Any], name: str, owner: Owner) -> None:
    job_spec: dict[str, Any] = {}
    if "backoffLimit" in entry:
        job_spec["backoffLimit"] = entry["backoffLimit"]
    job_spec["template"] = _job_pod_template(entry, name, owner, "OnFailure")
    manifest["spec"] = {
        "schedule": _text(entry.get("schedule")),
        # The Jobs it runs carry these labels (as its pods do): enrich's Job cache selects
        # the CR's by the owner label.
        "jobTemplate": {"metadata": {"labels": pod_labels(name, owner.name)}, "spec": job_spec},
    }


def _container(entry: Mapping[str, Any], name: str) -> dict[str, Any]:
    container: dict[str, Any] = {"name": _text(entry.get("containerName")) or name}
    if "image" in entry:
        container["image"] = _text(entry["image"])
    if "command" in entry:
        container["command"] = _text_list(entry["command"], "command")
    if "args" in entry:
        container["args"] = _text_list(entry["args"], "args")
    if entry.get("imagePullPolicy") not in (None, ""):
        container["imagePullPolicy"] = _text(entry["imagePullPolicy"])
    if entry.get("workingDirectory") not in (None, ""):
        container["workingDir"] = _text(entry["workingDirectory"])
    ports: list[Any] = []
    if entry.get("port") not in (None, ""):
        protocol = _text(entry.get("protocol")) or "TCP"
        ports.append({"name": "http", "containerPort": entry["port"], "protocol": protocol})
    if "ports" in entry:
        ports.extend(plain_copy(_list(entry["ports"], "ports")))
    if ports:
        container["ports"] = ports
    if "env" in entry:
        container["env"] = _env(entry["env"])
    if "envFrom" in entry:
        container["envFrom"] = _env_from(entry["envFrom"])
    if "resources" in entry:
        if not isinstance(entry["resources"], Mapping):
            raise ManifestError("resources", "must be a mapping (requests, limits)")
        container["resources"] = plain_copy(entry["resources"])
    if "probes" in entry:
        for kind, probe in _mapping(entry["probes"], "probes").items():
            container[f"{kind}Probe"] = _probe(probe, entry.get("port"), f"probes.{kind}")
    if "securityContext" in entry:
        container["securityContext"] = _mapping(entry["securityContext"], "securityContext")
    if "volumeMounts" in entry:
        container["volumeMounts"] = plain_copy(_list(entry["volumeMounts"], "volumeMounts"))
    return container


def _env_from(value: Any) -> list[dict[str, Any]]:
    """``{secretRef: [{name, prefix}], configMapRef: [...]}`` -> Kubernetes envFrom."""
    sources: list[dict[str, Any]] = []
    for ref in ("configMapRef", "secretRef"):
        items = _mapping(value, "envFrom").get(ref)
        if items is None:
            continue
        if isinstance(items, str | Mapping):
            items = [items]
        for index, item in enumerate(_list(items, f"envFrom.{ref}")):
            if isinstance(item, str):
                item = {"name": item}
            if not isinstance(item, Mapping) or not item.get("name"):
                raise ManifestError(f"envFrom.{ref}[{index}]", "needs a name")
            source: dict[str, Any] = {ref: {"name": _text(item["name"])}}
            if item.get("optional") is not None:
                source[ref]["optional"] = item["optional"]
            if item.get("prefix"):
                source["prefix"] = _text(item["prefix"])
            sources.append(source)
    return sources


_PROBE_SETTINGS = (
    "initialDelaySeconds",
    "periodSeconds",
    "timeoutSeconds",
    "failureThreshold",
    "successThreshold",
    "terminationGracePeriodSeconds",
)


def _probe(value: Any, default_port: Any, field: str) -> dict[str, Any]:
    """``{type: http|tcp|exec|grpc, path, port, command, ...}`` -> a Kubernetes probe."""
    probe = _mapping(value, field)
    kind = _text(probe.get("type")) or ("exec" if "command" in probe else "http")
    port = probe.get("port")
    if port in (None, ""):
        port = default_port if default_port not in (None, "") else "http"
    out: dict[str, Any]
    if kind == "http":
        out = {"httpGet": {"path": _text(probe.get("path")) or "/", "port": port}}
        if probe.get("scheme"):
            out["httpGet"]["scheme"] = _text(probe["scheme"])
    elif kind == "tcp":
        out = {"tcpSocket": {"port": port}}
    elif kind == "grpc":
        out = {"grpc": {"port": port}}
    elif kind == "exec":
        out = {"exec": {"command": _text_list(probe.get("command") or [], f"{field}.command")}}
    else:
        raise ManifestError(f"{field}.type", f"expected http, tcp, grpc or exec, got {kind!r}")
    for key in _PROBE_SETTINGS:
        if probe.get(key) not in (None, ""):
            out[key] = probe[key]
    return out


def _env(value: Any) -> list[dict[str, Any]]:
    """``{NAME: value}`` or ``[{name, value|valueFrom}]`` -> Kubernetes env list."""
    if isinstance(value, Mapping):
        return [{"name": str(key), "value": _text(item)} for key, item in value.items()]
    env: list[dict[str, Any]] = []
    for index, item in enumerate(_list(value, "env")):
        if not isinstance(item, Mapping) or "name" not in item:
            raise ManifestError(
                f"env[{index}]", "each item needs a name (and a value or valueFrom)"
            )
        variable: dict[str, Any] = {"name": _text(item["name"])}
        if "valueFrom" in item:
            variable["valueFrom"] = plain_copy(item["valueFrom"])
        else:
            variable["value"] = _text(item.get("value"))
        env.append(variable)
    return env


def _service(manifest: dict[str, Any], entry: Mapping[str, Any], name: str, owner: Owner) -> None:
    spec: dict[str, Any] = {}
    if entry.get("type") not in (None, ""):
        spec["type"] = _text(entry["type"])
    if _text(entry.get("headless")) == "true":
        spec["clusterIP"] = "None"
    selector = entry.get("selector")
    if selector is None or selector == {}:
        spec["selector"] = pod_labels(_peer_name(entry, owner, "deployments"), owner.name)
    elif isinstance(selector, Mapping):
        spec["selector"] = {str(key): _text(value) for key, value in selector.items()}
    else:
        raise ManifestError("selector", "must be a mapping of labels")
    ports: list[Any] = []
    if entry.get("port") not in (None, ""):
        target = entry.get("targetPort")
        ports.append(
            {
                "name": "http",
                "port": entry["port"],
                "targetPort": entry["port"] if target in (None, "") else target,
                "protocol": _text(entry.get("protocol")) or "TCP",
            }
        )
    if "ports" in entry:
        ports.extend(plain_copy(_list(entry["ports"], "ports")))
    if ports:
        spec["ports"] = ports
    manifest["spec"] = spec


def _config_map(
    manifest: dict[str, Any], entry: Mapping[str, Any], name: str, owner: Owner
) -> None:
    if "data" in entry:
        manifest["data"] = _text_map(entry["data"], "data")


def _secret(manifest: dict[str, Any], entry: Mapping[str, Any], name: str, owner: Owner) -> None:
    manifest["type"] = _text(entry.get("type")) or "Opaque"
    if "stringData" in entry:
        manifest["stringData"] = _text_map(entry["stringData"], "stringData")
    if "data" in entry:
        # Plain text, as Orkestra writes it; Kubernetes wants base64 in `data`.
        # Encoded here (not sent as stringData) so the drift check compares
        # exactly what the server stores.
        manifest["data"] = {
            key: base64.b64encode(value.encode()).decode("ascii")
            for key, value in _text_map(entry["data"], "data").items()
        }


def _ingress(manifest: dict[str, Any], entry: Mapping[str, Any], name: str, owner: Owner) -> None:
    port = entry.get("servicePort")
    if port in (None, ""):
        port = 80
    port_ref: dict[str, Any]
    if isinstance(port, str) and not port.strip().isdigit():
        port_ref = {"name": port}
    else:
        port_ref = {"number": port}
    rule: dict[str, Any] = {}
    host = _text(entry.get("host"))
    if host:
        rule["host"] = host
    rule["http"] = {
        "paths": [
            {
                "path": _text(entry.get("path")) or "/",
                "pathType": _text(entry.get("pathType")) or "Prefix",
                "backend": {
                    "service": {
                        "name": _text(entry.get("serviceName"))
                        or _peer_name(entry, owner, "services"),
                        "port": port_ref,
                    }
                },
            }
        ]
    }
    spec: dict[str, Any] = {}
    if entry.get("className") not in (None, ""):
        spec["ingressClassName"] = _text(entry["className"])
    spec["rules"] = [rule]
    tls = entry.get("tls")
    if tls not in (None, "", "false", False):
        # Orkestra's default secret is "<cr>-tls"; a named Ingress's, "<name>-tls".
        spec["tls"] = _ingress_tls(tls, host, _text(entry.get("name")) or owner.name)
    manifest["spec"] = spec


def _ingress_tls(value: Any, host: str, name: str) -> list[dict[str, Any]]:
    """``tls: true``, ``{secretName, hosts}`` or a list of those -> spec.tls."""
    if value in (True, "true"):
        value = {}
    items = value if isinstance(value, list | tuple) else [value]
    out: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        item = _mapping(item, f"tls[{index}]")
        hosts = item.get("hosts")
        hosts = _text_list(hosts, "tls.hosts") if hosts is not None else ([host] if host else [])
        tls: dict[str, Any] = {"secretName": _text(item.get("secretName")) or f"{name}-tls"}
        if hosts:
            tls["hosts"] = hosts
        out.append(tls)
    return out


def _network_policy(
    manifest: dict[str, Any], entry: Mapping[str, Any], name: str, owner: Owner
) -> None:
    selector = entry.get("podSelector") or {}
    if isinstance(selector, Mapping) and not {"matchLabels", "matchExpressions"} & set(selector):
        selector = {"matchLabels": dict(selector)} if selector else {}
    spec: dict[str, Any] = {"podSelector": plain_copy(selector)}
    for key in ("policyTypes", "ingress", "egress"):
        if key in entry:
            spec[key] = plain_copy(entry[key])
    manifest["spec"] = spec


def _resource_quota(
    manifest: dict[str, Any], entry: Mapping[str, Any], name: str, owner: Owner
) -> None:
    if "hard" in entry:
        manifest["spec"] = {"hard": _text_map(entry["hard"], "hard")}


def _limit_range(
    manifest: dict[str, Any], entry: Mapping[str, Any], name: str, owner: Owner
) -> None:
    if "limits" in entry:
        manifest["spec"] = {"limits": plain_copy(_list(entry["limits"], "limits"))}


def _role(manifest: dict[str, Any], entry: Mapping[str, Any], name: str, owner: Owner) -> None:
    """roles and clusterRoles: their rules (a ClusterRole may aggregate instead)."""
    manifest["rules"] = plain_copy(_list(entry.get("rules") or [], "rules"))
    if "aggregationRule" in entry:
        manifest["aggregationRule"] = _mapping(entry["aggregationRule"], "aggregationRule")


def _role_binding(
    manifest: dict[str, Any], entry: Mapping[str, Any], name: str, owner: Owner
) -> None:
    """roleBindings and clusterRoleBindings: ``role:`` names a Role, or a ClusterRole
    for a ClusterRoleBinding; ``serviceAccounts`` live in the entry's (or CR's) namespace."""
    ref = entry.get("roleRef")
    if ref is None:
        role = _text(entry.get("role"))
        role_kind = "ClusterRole" if manifest["kind"] == "ClusterRoleBinding" else "Role"
        if not role:
            raise ManifestError(
                "roleRef", f"a role binding needs roleRef (or role: <{role_kind} name>)"
            )
        ref = {"kind": role_kind, "name": role}
    ref = {"apiGroup": "rbac.authorization.k8s.io", **_mapping(ref, "roleRef")}
    manifest["roleRef"] = ref
    subjects = plain_copy(_list(entry.get("subjects") or [], "subjects"))
    namespace = _text(entry.get("namespace")) or owner.namespace
    for account in _list(entry.get("serviceAccounts") or [], "serviceAccounts"):
        subjects.append({"kind": "ServiceAccount", "name": _text(account), "namespace": namespace})
    manifest["subjects"] = subjects


def _pvc(manifest: dict[str, Any], entry: Mapping[str, Any], name: str, owner: Owner) -> None:
    spec: dict[str, Any] = {
        "accessModes": _text_list(entry.get("accessModes") or ["ReadWriteOnce"], "accessModes")
    }
    if entry.get("storage") not in (None, ""):
        spec["resources"] = {"requests": {"storage": _text(entry["storage"])}}
    for key in ("storageClassName", "volumeMode"):
        if entry.get(key) not in (None, ""):
            spec[key] = _text(entry[key])
    manifest["spec"] = spec


def _persistent_volume(
    manifest: dict[str, Any], entry: Mapping[str, Any], name: str, owner: Owner
) -> None:
    """persistentVolumes: capacity (``storage``, or ``capacity`` as text or a mapping),
    access modes, class, reclaim policy and one volume source (hostPath, nfs, csi)."""
    spec: dict[str, Any] = {}
    capacity = entry.get("capacity")
    if isinstance(capacity, Mapping):
        spec["capacity"] = _text_map(capacity, "capacity")
    elif capacity not in (None, ""):
        spec["capacity"] = {"storage": _text(capacity)}
    elif entry.get("storage") not in (None, ""):
        spec["capacity"] = {"storage": _text(entry["storage"])}
    spec["accessModes"] = _text_list(entry.get("accessModes") or ["ReadWriteOnce"], "accessModes")
    for key in ("storageClassName", "volumeMode"):
        if entry.get(key) not in (None, ""):
            spec[key] = _text(entry[key])
    if entry.get("reclaimPolicy") not in (None, ""):
        spec["persistentVolumeReclaimPolicy"] = _text(entry["reclaimPolicy"])
    for source in ("hostPath", "nfs", "csi"):
        if source in entry:
            spec[source] = _mapping(entry[source], source)
    manifest["spec"] = spec


def _hpa(manifest: dict[str, Any], entry: Mapping[str, Any], name: str, owner: Owner) -> None:
    ref = entry.get("scaleTargetRef")
    if ref is None:
        ref = {"apiVersion": "apps/v1", "kind": "Deployment"}
        ref["name"] = _text(entry.get("target")) or _peer_name(entry, owner, "deployments")
    spec: dict[str, Any] = {"scaleTargetRef": plain_copy(_mapping(ref, "scaleTargetRef"))}
    for key in ("minReplicas", "maxReplicas"):
        if key in entry:
            spec[key] = entry[key]
    metrics: list[Any] = []
    for resource in ("cpu", "memory"):
        if entry.get(resource) not in (None, ""):
            target = {"type": "Utilization", "averageUtilization": entry[resource]}
            metrics.append({"type": "Resource", "resource": {"name": resource, "target": target}})
    if "metrics" in entry:
        metrics.extend(plain_copy(_list(entry["metrics"], "metrics")))
    if metrics:
        spec["metrics"] = metrics
    manifest["spec"] = spec


def _pdb(manifest: dict[str, Any], entry: Mapping[str, Any], name: str, owner: Owner) -> None:
    selector = entry.get("selector")
    labels = (
        _text_map(selector, "selector")
        if selector
        else pod_labels(_peer_name(entry, owner, "deployments"), owner.name)
    )
    spec: dict[str, Any] = {"selector": {"matchLabels": labels}}
    for key in ("minAvailable", "maxUnavailable"):
        if entry.get(key) not in (None, ""):
            spec[key] = entry[key]
    manifest["spec"] = spec


def _custom(entry: Mapping[str, Any]) -> dict[str, Any]:
    api_version = _text(entry.get("apiVersion"))
    kind = _text(entry.get("kind"))
    if not api_version or not kind:
        raise ManifestError("apiVersion", "custom entries need apiVersion and kind")
    manifest: dict[str, Any] = {"apiVersion": api_version, "kind": kind}
    metadata = entry.get("metadata")
    manifest["metadata"] = plain_copy(metadata) if isinstance(metadata, Mapping) else {}
    for key in ("spec", "data"):
        if key in entry:
            manifest[key] = plain_copy(entry[key])
    return manifest


_EXPANDERS: dict[str, _Expander] = {
    "deployments": _workload,
    "replicaSets": _workload,
    "pods": _pod,
    "persistentVolumes": _persistent_volume,
    "clusterRoles": _role,
    "clusterRoleBindings": _role_binding,
    "statefulSets": _workload,
    "daemonSets": _workload,
    "networkPolicies": _network_policy,
    "resourceQuotas": _resource_quota,
    "limitRanges": _limit_range,
    "roles": _role,
    "roleBindings": _role_binding,
    "persistentVolumeClaims": _pvc,
    "hpa": _hpa,
    "pdb": _pdb,
    "services": _service,
    "configMaps": _config_map,
    "secrets": _secret,
    "jobs": _job,
    "cronJobs": _cron_job,
    "ingresses": _ingress,
    # namespaces and serviceAccounts have nothing beyond metadata.
}


def _set_metadata(
    manifest: dict[str, Any], group: str, entry: Mapping[str, Any], name: str, owner: Owner
) -> None:
    metadata: dict[str, Any] = dict(manifest.get("metadata") or {})
    metadata["name"] = name
    cluster_scoped = group in CLUSTER_SCOPED_GROUPS
    namespace = _text(entry.get("namespace")) or owner.namespace
    if not cluster_scoped and namespace:
        metadata["namespace"] = namespace
    labels = {**_text_map(metadata.get("labels") or {}, "metadata.labels")}
    labels.update(_text_map(entry.get("labels") or {}, "labels"))
    # Ours last: the runtime finds a CR's children by these, so users may not
    # override them.
    labels.update(owner_labels(owner))
    metadata["labels"] = labels
    annotations = {**_text_map(metadata.get("annotations") or {}, "metadata.annotations")}
    annotations.update(_text_map(entry.get("annotations") or {}, "annotations"))
    may_own = _may_own(owner, cluster_scoped, metadata.get("namespace", ""))
    if owner.uid and not may_own:
        labels[OWNER_UID_LABEL] = owner.uid
        annotations[OWNER_NAMESPACE_ANNOTATION] = owner.namespace
    if annotations:
        metadata["annotations"] = annotations
    else:
        metadata.pop("annotations", None)
    if may_own:
        metadata["ownerReferences"] = [
            {
                "apiVersion": owner.api_version,
                "kind": owner.kind,
                "name": owner.name,
                "uid": owner.uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    manifest["metadata"] = metadata


def _may_own(owner: Owner, child_cluster_scoped: bool, child_namespace: str) -> bool:
    """Kubernetes only honours owner references it can resolve.

    A cluster-scoped owner may own anything; a namespaced owner only objects
    in its own namespace.
    """
    if not owner.uid:
        return False
    if not owner.namespace:
        return True
    return not child_cluster_scoped and child_namespace == owner.namespace


# --- small value helpers ------------------------------------------------------

_DROP = object()


def _coerce_scalar(key: str, value: str) -> Any:
    """Text of field ``key`` as Kubernetes types it; _DROP for empty typed text."""
    if key in _INT_FIELDS or key in _INT_OR_NAME_FIELDS:
        text = value.strip()
        if text == "":
            return _DROP
        number = parse_int(text)
        if number is not None:
            return number
        if key in _INT_OR_NAME_FIELDS:
            return value
        raise ValueError(f"expected an integer, got {value!r}")
    if key in _BOOL_FIELDS:
        lowered = value.strip().lower()
        if lowered == "":
            return _DROP
        if lowered in ("true", "false"):
            return lowered == "true"
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def parse_int(text: str) -> int | None:
    """``"3"`` or ``"3.0"`` -> 3; anything else (``"3.5"``, ``"x"``, ``"inf"``) -> None."""
    number = number_from_text(text)
    if isinstance(number, float):
        return int(number) if number.is_integer() else None
    return number


def _text(value: Any) -> str:
    """Shorthand text: None -> "", booleans the Kubernetes way, numbers as written."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _text_map(value: Any, field: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ManifestError(field, "must be a mapping")
    return {str(key): _text(item) for key, item in value.items()}


def _text_list(value: Any, field: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [_text(item) for item in _list(value, field)]


def _mapping(value: Any, field: str) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return plain_copy(value)  # type: ignore[no-any-return]
    raise ManifestError(field, "must be a mapping")


def _list(value: Any, field: str) -> list[Any]:
    if isinstance(value, list | tuple):
        return list(value)
    raise ManifestError(field, "must be a list")


def plain_copy(value: Any) -> Any:
    """A plain, unshared copy: mappings become dicts, sequences lists."""
    kind = type(value)
    if kind is str or kind in _UNCOERCED or value is None:
        return value  # most of a manifest: no ABC check for it
    if kind is dict or isinstance(value, Mapping):
        return {str(key): plain_copy(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain_copy(item) for item in value]
    return value
