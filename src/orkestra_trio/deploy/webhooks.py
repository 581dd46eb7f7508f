"""The objects that let a real cluster call the runtime's webhooks (``webhooks``, ``conversion``).

For the CRDs whose rules run at admission: a MutatingWebhookConfiguration
and a ValidatingWebhookConfiguration, one webhook per CRD (its rules: the
CRD's group and plural, the operations ``webhooks.operations`` lists), and
for the CRDs with ``conversion.paths`` the CRD's ``spec.conversion`` webhook
stanza. Every webhook points at the runtime's Service (port 443, the pods'
``--webhook-listen 0.0.0.0:9443``) at the path the webhook server answers
(:func:`orkestra_trio.webhook.server.webhook_path`).

The API server trusts the serving certificate through a ``caBundle``:
either cert-manager issues the certificate (a self-signed Issuer and a
Certificate for the Service's DNS names, into the Secret the pods mount)
and its CA injector writes the bundle (the ``cert-manager.io/inject-ca-from``
annotation), or the user provides the Secret and the CA that signed it
(``manifests --webhook-ca-file``), written into each ``caBundle``.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from orkestra_trio.katalog import CrdEntry, KatalogSet
from orkestra_trio.katalog.admission import admitting_crds, converting_crds, webhook_name
from orkestra_trio.webhook.server import CONVERT, MUTATE, VALIDATE, webhook_path

#: The container port the webhook server listens on, and the Service port kube calls.
WEBHOOK_PORT = 9443
SERVICE_PORT = 443
#: Where the pods mount the serving certificate (``tls.crt``, ``tls.key``).
CERT_MOUNT = "/etc/orkestra/webhook"
#: Seconds kube waits for an answer (its default and maximum is 10 and 30).
TIMEOUT_SECONDS = 10
INJECT_ANNOTATION = "cert-manager.io/inject-ca-from"

Meta = Callable[..., dict[str, Any]]


def needs_webhooks(katalogs: KatalogSet) -> bool:
    """Does any CRD need the webhook server (rules at admission, or conversion)?"""
    return bool(admitting_crds(katalogs) or converting_crds(katalogs))


def secret_name(name: str) -> str:
    """The Secret holding the serving certificate (kubernetes.io/tls)."""
    return f"{name}-webhook-tls"


def container_args() -> list[str]:
    return [
        "--webhook-listen",
        f"0.0.0.0:{WEBHOOK_PORT}",
        "--webhook-cert",
        f"{CERT_MOUNT}/tls.crt",
        "--webhook-key",
        f"{CERT_MOUNT}/tls.key",
    ]


def certificate_objects(name: str, namespace: str, meta: Meta) -> list[dict[str, Any]]:
    """cert-manager's Issuer and Certificate for the Service's DNS names."""
    return [
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Issuer",
            "metadata": meta(f"{name}-webhook"),
            "spec": {"selfSigned": {}},
        },
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": meta(f"{name}-webhook"),
            "spec": {
                "secretName": secret_name(name),
                "dnsNames": [f"{name}.{namespace}.svc", f"{name}.{namespace}.svc.cluster.local"],
                "issuerRef": {"name": f"{name}-webhook", "kind": "Issuer"},
                "privateKey": {"rotationPolicy": "Always"},
            },
        },
    ]


def ca_annotations(name: str, namespace: str, ca_bundle: bytes | None) -> dict[str, str]:
    """The annotation that has cert-manager inject the CA (none with a given CA)."""
    return {} if ca_bundle is not None else {INJECT_ANNOTATION: f"{namespace}/{name}-webhook"}


def _client_config(name: str, namespace: str, path: str, ca_bundle: bytes | None) -> dict[str, Any]:
    config: dict[str, Any] = {
        "service": {"namespace": namespace, "name": name, "path": path, "port": SERVICE_PORT}
    }
    if ca_bundle is not None:
        config["caBundle"] = base64.b64encode(ca_bundle).decode()
    return config


def webhook_configurations(
    katalogs: KatalogSet, name: str, namespace: str, meta: Meta, ca_bundle: bytes | None
) -> list[dict[str, Any]]:
    """The Mutating- and ValidatingWebhookConfiguration (each only when a CRD needs it)."""
    sides = ((MUTATE, "MutatingWebhookConfiguration"), (VALIDATE, "ValidatingWebhookConfiguration"))
    objects = []
    for side, kind in sides:
        webhooks = [
            _webhook(crd, name, namespace, webhook_path(side, crd), ca_bundle)
            for crd in admitting_crds(katalogs)
            if (
                crd.admission.webhooks.mutation
                if side == MUTATE
                else crd.admission.webhooks.validation
            )
        ]
        if not webhooks:
            continue
        metadata = meta(name, namespaced=False)
        annotations = ca_annotations(name, namespace, ca_bundle)
        if annotations:
            metadata["annotations"] = annotations
        objects.append(
            {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": kind,
                "metadata": metadata,
                "webhooks": webhooks,
            }
        )
    return objects


def _webhook(
    crd: CrdEntry, name: str, namespace: str, path: str, ca_bundle: bytes | None
) -> dict[str, Any]:
    types = crd.api_types
    return {
        "name": webhook_name(crd),
        "admissionReviewVersions": ["v1"],
        "sideEffects": "None",
        # As the embedded server: a webhook that cannot answer refuses the write.
        "failurePolicy": "Fail",
        "timeoutSeconds": TIMEOUT_SECONDS,
        "clientConfig": _client_config(name, namespace, path, ca_bundle),
        "rules": [
            {
                "apiGroups": [types.group],
                "apiVersions": ["*"],
                "operations": list(crd.admission.webhooks.operations),
                "resources": [types.plural],  # the object, not its status
                "scope": "Namespaced" if crd.namespaced else "Cluster",
            }
        ],
    }


def with_conversion(
    katalogs: KatalogSet,
    crds: Sequence[Mapping[str, Any]],
    name: str,
    namespace: str,
    ca_bundle: bytes | None,
) -> list[dict[str, Any]]:
    """``crds`` with the conversion webhook stanza on those with ``conversion.paths``
    (it replaces any ``spec.conversion`` a crdFile had: the Katalog's paths convert)."""
    converting = {
        f"{crd.api_types.plural}.{crd.api_types.group}": crd for crd in converting_crds(katalogs)
    }
    out = []
    for manifest in crds:
        crd = converting.get(str((manifest.get("metadata") or {}).get("name") or ""))
        if crd is None:
            out.append(dict(manifest))
            continue
        changed = copy.deepcopy(dict(manifest))
        changed["spec"]["conversion"] = {
            "strategy": "Webhook",
            "webhook": {
                "conversionReviewVersions": ["v1"],
                "clientConfig": _client_config(
                    name, namespace, webhook_path(CONVERT, crd), ca_bundle
                ),
            },
        }
        annotations = ca_annotations(name, namespace, ca_bundle)
        if annotations:
            metadata = changed.setdefault("metadata", {})
            metadata["annotations"] = {**(metadata.get("annotations") or {}), **annotations}
        out.append(changed)
    return out
