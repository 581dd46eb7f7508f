"""The Website operator of ``katalogs/website.yaml``, written by hand with kopf.

The peer of ``bench/vs_kopf.py``: the same children (byte for byte what
``python -m orkestra_trio render`` prints), the same status fields and the
same single ``WebsiteReconciled`` Event per reconcile that changed something,
written the way kopf's documentation shows it: sync handlers calling the
official ``kubernetes`` client (kopf runs them in its thread pool), kopf's
default state storage and finalizer, a stateless ``on.event`` handler on the
Deployments that carries their readiness to the parent's status.

Run alone: ``KUBECONFIG=... kopf run --standalone --all-namespaces bench/kopf_website.py``.
"""

from __future__ import annotations

import datetime
import logging
import threading
from typing import Any

import kopf
import kubernetes
from kubernetes.client.rest import ApiException

GROUP, VERSION, PLURAL = "demo.example.com", "v1", "websites"
MANAGED = {"app.kubernetes.io/managed-by": "orkestra"}
OWNER_LABEL = "orkestra.orkspace.io/owner"

# readyReplicas last carried to each Website's status, by (namespace, name). The
# create handler and the Deployment handler run in kopf's thread pool: a lock per
# Website keeps a late "Pending" from overwriting an earlier "Running".
_ready: dict[tuple[str, str], int] = {}
_locks: dict[tuple[str, str], threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock(namespace: str, name: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault((namespace, name), threading.Lock())


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    kubernetes.config.load_kube_config()
    settings.posting.level = logging.INFO  # only the explicit kopf.info() below
    settings.watching.server_timeout = 600


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _owner(body: Any) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Website",
            "name": body["metadata"]["name"],
            "uid": body["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


def _meta(name: str, namespace: str, owner: str, body: Any) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": namespace,
        "labels": {**MANAGED, OWNER_LABEL: owner},
        "ownerReferences": _owner(body),
    }


def _port(spec: Any) -> int:
    return int(spec.get("port") or 80)


def deployment(body: Any) -> dict[str, Any]:
    name, ns, spec = body["metadata"]["name"], body["metadata"]["namespace"], body["spec"]
    selector = {"app.kubernetes.io/name": name, OWNER_LABEL: name}
    replicas = spec.get("replicas")
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(name, ns, name, body),
        "spec": {
            "replicas": 1 if replicas is None else int(replicas),
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": selector},
                "spec": {
                    "containers": [
                        {
                            "name": name,
                            "image": spec.get("image") or "nginx:1.27",
                            "ports": [
                                {"name": "http", "containerPort": _port(spec), "protocol": "TCP"}
                            ],
                            "env": [
                                {"name": "SITE_NAME", "value": name},
                                {"name": "SITE_HOST", "value": spec.get("host") or ""},
                            ],
                            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
                        }
                    ]
                },
            },
        },
    }


def service(body: Any) -> dict[str, Any]:
    name, ns, spec = body["metadata"]["name"], body["metadata"]["namespace"], body["spec"]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(name, ns, name, body),
        "spec": {
            "selector": {"app.kubernetes.io/name": name, OWNER_LABEL: name},
            "ports": [{"name": "http", "port": 80, "targetPort": _port(spec), "protocol": "TCP"}],
        },
    }


def ingress(body: Any) -> dict[str, Any]:
    name, ns, spec = body["metadata"]["name"], body["metadata"]["namespace"], body["spec"]
    backend = {"service": {"name": name, "port": {"number": 80}}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": _meta(name, ns, name, body),
        "spec": {
            "rules": [
                {
                    "host": spec["host"],
                    "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]},
                }
            ]
        },
    }


def _drifted(desired: Any, actual: Any) -> bool:
    """Does ``actual`` differ from ``desired`` in any field ``desired`` sets?"""
    if isinstance(desired, dict):
        if not isinstance(actual, dict):
            return True
        return any(_drifted(v, actual.get(k)) for k, v in desired.items())
    if isinstance(desired, list):
        if not isinstance(actual, list) or len(actual) != len(desired):
            return True
        return any(_drifted(d, a) for d, a in zip(desired, actual, strict=True))
    return desired != actual


def _ensure(create: Any, read: Any, patch: Any, obj: dict[str, Any], *, update: bool) -> str:
    """Create ``obj``; when it exists, correct its drift (``update``) or leave it."""
    try:
        create(obj["metadata"]["namespace"], obj)
        return f"created {obj['kind']} {obj['metadata']['name']}"
    except ApiException as exc:
        if exc.status != 409:
            raise
    if not update:
        return ""
    name, ns = obj["metadata"]["name"], obj["metadata"]["namespace"]
    actual = kubernetes.client.ApiClient().sanitize_for_serialization(read(name, ns))
    if _drifted(obj["spec"], actual.get("spec")):
        patch(name, ns, {"spec": obj["spec"]})
        return f"updated {obj['kind']} {name}"
    return ""


def _status(body: Any, ready: int) -> dict[str, Any]:
    meta, spec = body["metadata"], body["spec"]
    generation = meta.get("generation") or 0
    old = {c.get("type"): c for c in (body.get("status") or {}).get("conditions") or ()}
    ready_cond = old.get("Ready") or {}
    since = ready_cond.get("lastTransitionTime") if ready_cond.get("status") == "True" else None
    status: dict[str, Any] = {
        "observedGeneration": generation,
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "ReconcileSucceeded",
                "message": "",
                "observedGeneration": generation,
                "lastTransitionTime": since or _now(),
            }
        ],
        "phase": "Running" if ready > 0 else "Pending",
        "readyReplicas": ready,
        "url": f"http://{meta['name']}.{meta['namespace']}.svc.cluster.local",
        "externalUrl": f"https://{spec['host']}" if spec.get("host") else None,
    }
    return status


@kopf.on.create(GROUP, VERSION, PLURAL)
@kopf.on.update(GROUP, VERSION, PLURAL)
@kopf.on.resume(GROUP, VERSION, PLURAL)
def reconcile(body: Any, spec: Any, name: str, namespace: str, **_: Any) -> None:
    with _lock(namespace, name):
        _reconcile(body, spec, name, namespace)


def _same_status(old: Any, new: dict[str, Any]) -> bool:
    def strip(status: Any) -> Any:
        status = {k: v for k, v in (status or {}).items() if v is not None}
        status["conditions"] = [
            {k: v for k, v in c.items() if k != "lastTransitionTime"}
            for c in status.get("conditions") or ()
        ]
        return status

    return bool(strip(old) == strip(new))


def _write_status(body: Any, ready: int) -> None:
    status = _status(body, ready)
    if _same_status(body.get("status"), status):
        return  # steady state: nothing to write
    meta = body["metadata"]
    kubernetes.client.CustomObjectsApi().patch_namespaced_custom_object_status(
        GROUP, VERSION, meta["namespace"], PLURAL, meta["name"], {"status": status}
    )


def _reconcile(body: Any, spec: Any, name: str, namespace: str) -> None:
    apps = kubernetes.client.AppsV1Api()
    core = kubernetes.client.CoreV1Api()
    net = kubernetes.client.NetworkingV1Api()
    changes: list[str] = []
    # onCreate: one ConfigMap per page, created once and then left to the user.
    for page in spec.get("pages") or ():
        cm = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                **_meta(f"{name}-page-{page['name']}", namespace, name, body),
            },
            "data": {"index.html": page.get("content") or "<h1>Hello</h1>"},
        }
        cm["metadata"]["labels"]["demo.example.com/page"] = page["name"]
        changes.append(_ensure(core.create_namespaced_config_map, None, None, cm, update=False))
    changes.append(
        _ensure(
            apps.create_namespaced_deployment,
            apps.read_namespaced_deployment,
            apps.patch_namespaced_deployment,
            deployment(body),
            update=True,
        )
    )
    changes.append(
        _ensure(
            core.create_namespaced_service,
            core.read_namespaced_service,
            core.patch_namespaced_service,
            service(body),
            update=True,
        )
    )
    if spec.get("host"):
        changes.append(
            _ensure(
                net.create_namespaced_ingress,
                net.read_namespaced_ingress,
                net.patch_namespaced_ingress,
                ingress(body),
                update=True,
            )
        )
    elif (body.get("status") or {}).get("externalUrl"):
        try:
            net.delete_namespaced_ingress(name, namespace)
            changes.append(f"deleted Ingress {name}")
        except ApiException as exc:
            if exc.status != 404:
                raise
    done = [c for c in changes if c]
    ready = _ready.get((namespace, name), 0)
    _write_status(body, ready)
    if done:
        kopf.info(body, reason="WebsiteReconciled", message="; ".join(done))


@kopf.on.event("apps", "v1", "deployments", labels=MANAGED)
def deployment_changed(body: Any, type: str, **_: Any) -> None:
    """Carry a Deployment's readiness to its Website's status (when it changed)."""
    if type == "DELETED":
        return
    owners = [
        o for o in body["metadata"].get("ownerReferences") or () if o.get("kind") == "Website"
    ]
    if not owners:
        return
    ready = int((body.get("status") or {}).get("readyReplicas") or 0)
    namespace, parent_name = body["metadata"]["namespace"], owners[0]["name"]
    with _lock(namespace, parent_name):
        if _ready.get((namespace, parent_name), 0) == ready:
            return
        _ready[(namespace, parent_name)] = ready
        try:
            parent = kubernetes.client.CustomObjectsApi().get_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, parent_name
            )
        except ApiException as exc:
            if exc.status == 404:
                return
            raise
        _write_status(parent, ready)


@kopf.on.delete(GROUP, VERSION, PLURAL)
def cleanup(body: Any, name: str, namespace: str, **_: Any) -> None:
    """onDelete: a cleanup Job without an ownerReference, removed by its TTL."""
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": f"{name}-cleanup",
            "namespace": namespace,
            "labels": {**MANAGED, OWNER_LABEL: name},
        },
        "spec": {
            "backoffLimit": 2,
            "ttlSecondsAfterFinished": 600,
            "template": {
                "metadata": {
                    "labels": {"app.kubernetes.io/name": f"{name}-cleanup", OWNER_LABEL: name}
                },
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": f"{name}-cleanup",
                            "image": "busybox:1.36",
                            "command": ["sh", "-c"],
                            "args": [f"echo removing site {name}"],
                        }
                    ],
                },
            },
        },
    }
    try:
        kubernetes.client.BatchV1Api().create_namespaced_job(namespace, job)
    except ApiException as exc:
        if exc.status != 409:
            raise
    kopf.info(body, reason="WebsiteDeleted", message=f"onDelete ran (Job {name}-cleanup)")
