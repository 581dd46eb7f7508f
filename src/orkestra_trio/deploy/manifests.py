"""From Katalogs to what a cluster needs to run them: the objects ``manifests`` prints.

A pure function of the loaded Katalog set, the settings and the Katalog
files' contents (read by the caller): Namespace, the CRDs, a ServiceAccount,
least-privilege RBAC (:mod:`.rbac`), a ConfigMap holding every Katalog file
(and the crdFile/crFiles they name, which the loader checks), the
Deployment, a Service for ONCOP and metrics, and a PodDisruptionBudget;
with ``webhooks`` or ``conversion`` in a Katalog, what lets the cluster call
the runtime's webhook server too (:mod:`.webhooks`).
``docs/deploy.md`` says what each object is for.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from orkestra_trio.katalog import KatalogSet
from orkestra_trio.katalog.serve import gateways

from . import DEFAULT_IMAGE, DEFAULT_NAMESPACE, webhooks
from .rbac import Rights, policy_rules

KATALOG_MOUNT = "/etc/orkestra/katalogs"
HTTP_PORT = 8080
#: The gateway API's port, when a Katalog turns it on (gateway.api.enabled).
GATEWAY_PORT = 8090
#: ConfigMaps are stored in etcd whole; the API server refuses more than 1 MiB.
CONFIGMAP_LIMIT = 1024 * 1024
#: Seconds the runtime gives in-flight reconciles on SIGTERM; the pod's grace adds a margin.
RUNTIME_GRACE = 20
_KEY_CHARS = re.compile(r"[^-._a-zA-Z0-9]")


class ManifestError(Exception):
    """The inputs cannot make a valid object set (the message says which input)."""


@attrs.frozen
class Settings:
    """The knobs of ``manifests``: where, which image, how many replicas, the object names."""

    name: str
    namespace: str = DEFAULT_NAMESPACE
    image: str = DEFAULT_IMAGE
    replicas: int = 2
    #: ``--leader-elect`` mode the pods run with ("" for none).
    leader_elect: str = "per-box"
    #: The CA (PEM) that signed the webhook Secret's certificate; None: cert-manager's.
    webhook_ca_bundle: bytes | None = None


def default_name(katalogs: KatalogSet) -> str:
    """``orkestra-<katalog names>``: a DNS label naming every generated object."""
    names = sorted({katalog.name for katalog in katalogs.katalogs}) or ["runtime"]
    text = "orkestra-" + "-".join(names)
    cleaned = re.sub(r"[^a-z0-9-]+", "-", text.lower())
    return cleaned[:63].strip("-") or "orkestra"


def katalog_files(katalogs: KatalogSet) -> list[Path]:
    """Every file the Katalogs need at load time: each Katalog, its Motifs and
    included files, crdFile, setup and crFiles."""
    files: list[Path] = []
    for katalog in katalogs.katalogs:
        files.append(katalog.source_file.resolve())
        files.extend(path.resolve() for path in katalog.read_files)
        for crd in katalog.crds.values():
            if crd.crd_file is not None:
                files.append(crd.crd_file.resolve())
            files.extend(path.resolve() for path in (*crd.setup, *crd.cr_files))
    files.extend(path.resolve() for path in katalogs.companion_files)
    return list(dict.fromkeys(files))


@attrs.frozen
class _Mounted:
    key: str  # ConfigMap key
    path: str  # path under KATALOG_MOUNT


def _mount_layout(files: list[Path]) -> dict[Path, _Mounted]:
    """ConfigMap keys and mount paths that keep the files' relative layout (crdFile: ./x/crd.yaml)."""
    root = Path(os.path.commonpath([str(path.parent) for path in files]))
    layout: dict[Path, _Mounted] = {}
    used: set[str] = set()
    for path in files:
        relative = path.relative_to(root).as_posix()
        key = _KEY_CHARS.sub("_", relative.replace("/", "--"))[:253]
        while key in used:
            key = "x" + key[:252]
        used.add(key)
        layout[path] = _Mounted(key, relative)
    return layout


def build_manifests(
    katalogs: KatalogSet,
    settings: Settings,
    rights: Rights,
    crds: Sequence[Mapping[str, Any]],
    contents: Mapping[Path, str],
) -> list[dict[str, Any]]:
    """Every object, in the order ``kubectl apply -f -`` creates them.

    ``crds``: the CRD object of each Katalog CRD; ``contents``: the text of
    each file of :func:`katalog_files`.
    """
    name, namespace = settings.name, settings.namespace
    labels = {
        "app.kubernetes.io/name": "orkestra-trio",
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/part-of": "orkestra-trio",
    }
    selector = {"app.kubernetes.io/name": "orkestra-trio", "app.kubernetes.io/instance": name}

    def meta(obj_name: str, *, namespaced: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"name": obj_name, "labels": dict(labels)}
        if namespaced:
            out["namespace"] = namespace
        return out

    layout = _mount_layout(list(contents))
    data = {layout[path].key: text for path, text in contents.items()}
    size = sum(len(k) + len(v.encode()) for k, v in data.items())
    if size > CONFIGMAP_LIMIT:
        raise ManifestError(
            f"the Katalog files take {size} bytes; a ConfigMap holds at most {CONFIGMAP_LIMIT}"
        )
    digest = hashlib.sha256(
        "\0".join(f"{k}\0{v}" for k, v in sorted(data.items())).encode()
    ).hexdigest()
    given = [katalog.source_file for katalog in katalogs.katalogs] + list(katalogs.companion_files)
    katalog_args = [f"{KATALOG_MOUNT}/{layout[path.resolve()].path}" for path in given]
    subject = [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]
    args = ["run", *katalog_args, "--listen", f"0.0.0.0:{HTTP_PORT}"]
    args += ["--grace", str(RUNTIME_GRACE), "--log-format", "json"]
    # Reachable from every pod: only callers with a ServiceAccount token the cluster
    # vouches for (another runtime, a Prometheus) get past the probes.
    args += ["--oncop-tokenreview"]
    if settings.leader_elect:
        args += ["--leader-elect", settings.leader_elect]
    serve_webhooks = webhooks.needs_webhooks(katalogs)
    ports = [{"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"}]
    mounts: list[dict[str, Any]] = [
        {"name": "katalogs", "mountPath": KATALOG_MOUNT, "readOnly": True},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    volumes: list[dict[str, Any]] = []
    service_ports = [{"name": "http", "port": HTTP_PORT, "targetPort": "http", "protocol": "TCP"}]
    if serve_webhooks:
        args += webhooks.container_args()
        ports.append({"name": "webhook", "containerPort": webhooks.WEBHOOK_PORT, "protocol": "TCP"})
        mounts.append({"name": "webhook-tls", "mountPath": webhooks.CERT_MOUNT, "readOnly": True})
        volumes.append(
            {"name": "webhook-tls", "secret": {"secretName": webhooks.secret_name(name)}}
        )
        service_ports.append(
            {
                "name": "webhook",
                "port": webhooks.SERVICE_PORT,
                "targetPort": "webhook",
                "protocol": "TCP",
            }
        )
    if gateways(katalogs):
        # Plain HTTP behind the Katalog's bearer tokens: TLS belongs to what exposes it.
        args += ["--gateway-listen", f"0.0.0.0:{GATEWAY_PORT}"]
        ports.append({"name": "gateway", "containerPort": GATEWAY_PORT, "protocol": "TCP"})
        service_ports.append(
            {"name": "gateway", "port": GATEWAY_PORT, "targetPort": "gateway", "protocol": "TCP"}
        )
    probe = {"port": "http"}
    container = {
        "name": "runtime",
        "image": settings.image,
        "args": args,
        "ports": ports,
        # The pod itself: Events about a box that cannot start (no CR to put them on).
        "env": [
            {"name": env_name, "valueFrom": {"fieldRef": {"fieldPath": field}}}
            for env_name, field in (
                ("ORKESTRA_POD_NAME", "metadata.name"),
                ("ORKESTRA_POD_NAMESPACE", "metadata.namespace"),
                ("ORKESTRA_POD_UID", "metadata.uid"),
            )
        ]
        # Each gateway token written token: ${VAR}: the key VAR of the Secret
        # <name>-gateway, which the operator of the cluster creates.
        + [
            {
                "name": token.env,
                "valueFrom": {"secretKeyRef": {"name": f"{name}-gateway", "key": token.env}},
            }
            for gateway in gateways(katalogs)
            for token in gateway.tokens
            if token.env
        ],
        "startupProbe": {
            "httpGet": {"path": "/healthz", **probe},
            "periodSeconds": 2,
            "failureThreshold": 30,
        },
        "livenessProbe": {
            "httpGet": {"path": "/healthz", **probe},
            "periodSeconds": 10,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        },
        "readinessProbe": {
            "httpGet": {"path": "/readyz", **probe},
            "periodSeconds": 5,
            "timeoutSeconds": 3,
        },
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"memory": "512Mi"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": mounts,
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(name),
        "spec": {
            "replicas": settings.replicas,
            "selector": {"matchLabels": dict(selector)},
            # One new pod at a time, never below the wanted count: boxes hand over.
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            },
            "template": {
                "metadata": {
                    "labels": dict(labels),
                    "annotations": {"orkestra.orkspace.io/katalog-sha256": digest},
                },
                "spec": {
                    "serviceAccountName": name,
                    "terminationGracePeriodSeconds": RUNTIME_GRACE + 10,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 65532,
                        "runAsGroup": 65532,
                        "fsGroup": 65532,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                    "volumes": [
                        {
                            "name": "katalogs",
                            "configMap": {
                                "name": f"{name}-katalogs",
                                "items": [
                                    {"key": m.key, "path": m.path}
                                    for m in sorted(layout.values(), key=lambda m: m.path)
                                ],
                            },
                        },
                        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
                        *volumes,
                    ],
                },
            },
        },
    }
    ca_bundle = settings.webhook_ca_bundle
    services = webhooks.service_names(katalogs, name) if serve_webhooks else [name]
    cert_settings = webhooks.cert_manager_settings(katalogs)
    if cert_settings is not None and ca_bundle is not None:
        raise ManifestError(
            "security.certManager sets cert-manager's certificate; with --webhook-ca-file "
            "the certificate is yours: leave one of them out"
        )
    if serve_webhooks:
        crds = webhooks.with_conversion(katalogs, crds, name, namespace, ca_bundle)
        crds = webhooks.with_protection_labels(katalogs, crds)
    certificates = (
        webhooks.certificate_objects(name, namespace, meta, services, cert_settings)
        if serve_webhooks and ca_bundle is None
        else []
    )
    # A security: serviceName other than the runtime's: a Service of that name in front
    # of the same pods, for the webhook port only.
    webhook_services = [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta(service),
            "spec": {
                "selector": dict(selector),
                "ports": [port for port in service_ports if port["name"] == "webhook"],
            },
        }
        for service in services
        if service != name
    ]
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": meta(namespace, namespaced=False)},
        *(dict(crd) for crd in crds),
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(name)},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": meta(name, namespaced=False),
            "rules": policy_rules(rights.cluster),
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": meta(name, namespaced=False),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": name,
            },
            "subjects": subject,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": meta(name),
            "rules": policy_rules(rights.namespaced),
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": meta(name),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": subject,
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta(f"{name}-katalogs"),
            "data": dict(sorted(data.items())),
        },
        *certificates,
        deployment,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta(name),
            "spec": {
                "selector": dict(selector),
                "ports": service_ports,
            },
        },
        *webhook_services,
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": meta(name),
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": dict(selector)}},
        },
        # Last: until the pods answer, the writes they govern are refused (failurePolicy Fail).
        *(
            webhooks.webhook_configurations(katalogs, name, namespace, meta, ca_bundle)
            if serve_webhooks
            else []
        ),
    ]
    return objects
