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
from orkestra_trio.katalog.protection import (
    deletion_protection,
    namespace_guards,
    namespace_webhook_name,
)
from orkestra_trio.katalog.security import (
    DELETION_PROTECTION_LABEL,
    DELETION_WEBHOOK,
    LABEL_ON,
    STRICT_MODE_WEBHOOK,
    CertManagerSettings,
)
from orkestra_trio.webhook.server import (
    CONVERT,
    DELETION_PATH,
    MUTATE,
    NAMESPACE_SIDE,
    STRICT_MODE_PATH,
    VALIDATE,
    has_webhooks,
    webhook_path,
)

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
    """Does anything need the webhook server (rules at admission, conversion, or a
    ``security:`` webhook)?"""
    return has_webhooks(katalogs)


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


def service_names(katalogs: KatalogSet, name: str) -> list[str]:
    """The Services kube calls the webhooks through: the runtime's (``name``) and each
    ``serviceName`` of the Katalogs' ``security:``, in order."""
    names = [name]
    for crd in admitting_crds(katalogs):
        security = katalogs.security_of(crd.key)
        names.append(security.service_for(security.webhooks.service_name, name))
    for crd in converting_crds(katalogs):
        names.append(katalogs.security_of(crd.key).service_for("", name))
    deletion = deletion_protection(katalogs)
    if deletion is not None:
        names.append(_deletion_service(katalogs, name))
    for guard in namespace_guards(katalogs):
        security = katalogs.security_of(guard.crd.key)
        names.append(security.service_for(guard.settings.service_name, name))
    return list(dict.fromkeys(names))


def _deletion_service(katalogs: KatalogSet, name: str) -> str:
    for katalog in katalogs.katalogs:
        security = katalog.security
        if security.deletion.enabled:
            return security.service_for(security.deletion.service_name, name)
    return name


def cert_manager_settings(katalogs: KatalogSet) -> CertManagerSettings | None:
    """The first ``security.certManager`` of the Katalogs (one certificate serves them all)."""
    for katalog in katalogs.katalogs:
        if katalog.security.cert_manager is not None:
            return katalog.security.cert_manager
    return None


def _go_duration(seconds: float) -> str:
    """cert-manager reads Go durations: hours are its largest unit."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes}m{secs}s"


def certificate_objects(
    name: str,
    namespace: str,
    meta: Meta,
    services: Sequence[str] = (),
    settings: CertManagerSettings | None = None,
) -> list[dict[str, Any]]:
    """cert-manager's Issuer and Certificate for the DNS names of the Services
    (``services``; default the runtime's), with ``security.certManager``'s lifetime:
    ``validFor`` is the Certificate's ``duration``, ``rotationThreshold`` its
    ``renewBefore``, ``autoRotate: false`` keeps the private key across renewals."""
    dns_names = [
        dns
        for service in (services or [name])
        for dns in (f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.cluster.local")
    ]
    spec: dict[str, Any] = {
        "secretName": secret_name(name),
        "dnsNames": dns_names,
        "issuerRef": {"name": f"{name}-webhook", "kind": "Issuer"},
        "privateKey": {"rotationPolicy": "Always"},
    }
    if settings is not None:
        if settings.valid_for is not None:
            spec["duration"] = _go_duration(settings.valid_for)
        if settings.rotation_threshold is not None:
            spec["renewBefore"] = _go_duration(settings.rotation_threshold)
        if not settings.auto_rotate:
            spec["privateKey"] = {"rotationPolicy": "Never"}
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
            "spec": spec,
        },
    ]


def ca_annotations(name: str, namespace: str, ca_bundle: bytes | None) -> dict[str, str]:
    """The annotation that has cert-manager inject the CA (none with a given CA)."""
    return {} if ca_bundle is not None else {INJECT_ANNOTATION: f"{namespace}/{name}-webhook"}


def _client_config(
    service: str, namespace: str, path: str, ca_bundle: bytes | None
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "service": {"namespace": namespace, "name": service, "path": path, "port": SERVICE_PORT}
    }
    if ca_bundle is not None:
        config["caBundle"] = base64.b64encode(ca_bundle).decode()
    return config


def webhook_configurations(
    katalogs: KatalogSet, name: str, namespace: str, meta: Meta, ca_bundle: bytes | None
) -> list[dict[str, Any]]:
    """The Mutating- and ValidatingWebhookConfiguration (each only when a CRD needs it),
    then those of the Katalogs' ``security:`` (:func:`protection_configurations`)."""
    sides = ((MUTATE, "MutatingWebhookConfiguration"), (VALIDATE, "ValidatingWebhookConfiguration"))
    objects = []
    for side, kind in sides:
        webhooks = [
            _webhook(katalogs, crd, name, namespace, webhook_path(side, crd), ca_bundle)
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
    return objects + protection_configurations(katalogs, name, namespace, meta, ca_bundle)


def protection_configurations(
    katalogs: KatalogSet, name: str, namespace: str, meta: Meta, ca_bundle: bytes | None
) -> list[dict[str, Any]]:
    """The ValidatingWebhookConfigurations of ``security:``.

    ``<name>-deletion-protection``: DELETE of any object labelled
    ``orkestra.io/deletion-protection: "true"`` (an objectSelector, so only
    those are sent), and with strictMode UPDATE of them; the Katalogs' CRDs
    carry the label (:func:`with_protection_labels`). ``<name>-namespace-protection``:
    CREATE and UPDATE of each guarded CRD's CRs.
    """
    objects: list[dict[str, Any]] = []

    def configuration(suffix: str, webhooks: list[dict[str, Any]]) -> None:
        metadata = meta(f"{name}-{suffix}", namespaced=False)
        annotations = ca_annotations(name, namespace, ca_bundle)
        if annotations:
            metadata["annotations"] = annotations
        objects.append(
            {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingWebhookConfiguration",
                "metadata": metadata,
                "webhooks": webhooks,
            }
        )

    deletion = deletion_protection(katalogs)
    if deletion is not None:
        service = _deletion_service(katalogs, name)
        sides = [(DELETION_WEBHOOK, "DELETE", DELETION_PATH)]
        if deletion.strict_mode:
            sides.append((STRICT_MODE_WEBHOOK, "UPDATE", STRICT_MODE_PATH))
        configuration(
            "deletion-protection",
            [
                {
                    **_common(webhook, deletion.failure_policy),
                    "clientConfig": _client_config(service, namespace, path, ca_bundle),
                    "rules": [
                        {
                            "apiGroups": ["*"],
                            "apiVersions": ["*"],
                            "operations": [operation],
                            "resources": ["*"],
                            "scope": "*",
                        }
                    ],
                    "objectSelector": {"matchLabels": {DELETION_PROTECTION_LABEL: LABEL_ON}},
                }
                for webhook, operation, path in sides
            ],
        )
    guards = namespace_guards(katalogs)
    if guards:
        webhooks = []
        for guard in guards:
            security = katalogs.security_of(guard.crd.key)
            service = security.service_for(guard.settings.service_name, name)
            path = webhook_path(NAMESPACE_SIDE, guard.crd)
            webhooks.append(
                {
                    **_common(namespace_webhook_name(guard.crd), guard.settings.failure_policy),
                    "clientConfig": _client_config(service, namespace, path, ca_bundle),
                    "rules": [_rule(guard.crd, ("CREATE", "UPDATE"))],
                }
            )
        configuration("namespace-protection", webhooks)
    return objects


def with_protection_labels(
    katalogs: KatalogSet, crds: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """``crds`` with the deletion-protection label on those of Katalogs that protect them
    (the deletion webhook's objectSelector then sends their DELETE to the runtime)."""
    protected = {
        f"{crd.api_types.plural}.{crd.api_types.group}"
        for katalog in katalogs.katalogs
        if katalog.security.deletion.enabled
        for crd in katalog.crds.values()
    }
    out = []
    for manifest in crds:
        changed = copy.deepcopy(dict(manifest))
        metadata = changed.setdefault("metadata", {})
        if str(metadata.get("name") or "") in protected:
            metadata["labels"] = {
                **(metadata.get("labels") or {}),
                DELETION_PROTECTION_LABEL: LABEL_ON,
            }
        out.append(changed)
    return out


def _common(webhook: str, failure_policy: str) -> dict[str, Any]:
    return {
        "name": webhook,
        "admissionReviewVersions": ["v1"],
        "sideEffects": "None",
        "failurePolicy": failure_policy,
        "timeoutSeconds": TIMEOUT_SECONDS,
    }


def _rule(crd: CrdEntry, operations: Sequence[str]) -> dict[str, Any]:
    types = crd.api_types
    return {
        "apiGroups": [types.group],
        "apiVersions": ["*"],
        "operations": list(operations),
        "resources": [types.plural],  # the object, not its status
        "scope": "Namespaced" if crd.namespaced else "Cluster",
    }


def _webhook(
    katalogs: KatalogSet,
    crd: CrdEntry,
    name: str,
    namespace: str,
    path: str,
    ca_bundle: bytes | None,
) -> dict[str, Any]:
    security = katalogs.security_of(crd.key)
    service = security.service_for(security.webhooks.service_name, name)
    return {
        # Without security.webhooks, Fail as the embedded server: a webhook that cannot
        # answer refuses the write.
        **_common(webhook_name(crd), security.webhooks.failure_policy),
        "clientConfig": _client_config(service, namespace, path, ca_bundle),
        "rules": [_rule(crd, crd.admission.webhooks.operations)],
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
                    katalogs.security_of(crd.key).service_for("", name),
                    namespace,
                    webhook_path(CONVERT, crd),
                    ca_bundle,
                ),
            },
        }
        annotations = ca_annotations(name, namespace, ca_bundle)
        if annotations:
            metadata = changed.setdefault("metadata", {})
            metadata["annotations"] = {**(metadata.get("annotations") or {}), **annotations}
        out.append(changed)
    return out
