"""A Katalog's ``security:`` block, and the admission decisions it asks for.

Orkestra's security block (ORKESTRA-LANGUAGE.md 1.2) turns on webhooks the
API server calls before it stores or deletes an object:

* ``deletionProtection``: a DELETE of an object labelled
  ``orkestra.io/deletion-protection: "true"``, or of one of the Katalog's
  CRDs, is denied; the runtime puts the label on every CR of the Katalog.
  With ``strictMode`` an UPDATE that takes the label off (or changes it) is
  denied too, unless the updated object carries
  ``orkestra.io/strict-mode-exempt: "true"``;
* ``namespaceProtection``: a CREATE or UPDATE of a CR in a namespace its
  CRD's (and the block's) ``restrictedNamespaces`` name, or outside its
  ``allowedNamespaces``, is denied;
* ``webhooks``/``conversion``: whether the CRDs' admission rules and
  conversion paths are served at all, with which failurePolicy and Service;
* ``certManager``: the lifetime of the serving certificate.

This module holds the settings (attrs data) and the decisions, as pure
functions of the objects; the embedded API server's hooks, the webhook
server and the manifests all take them from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

DELETION_PROTECTION_LABEL = "orkestra.io/deletion-protection"
STRICT_MODE_EXEMPT_LABEL = "orkestra.io/strict-mode-exempt"
#: The label value that protects (and that exempts).
LABEL_ON = "true"
FAILURE_POLICIES = ("Fail", "Ignore")

#: The webhooks' names, which kube quotes in a denial.
DELETION_WEBHOOK = "delete-protection.orkestra.orkspace.io"
STRICT_MODE_WEBHOOK = "strict-mode.orkestra.orkspace.io"
NAMESPACE_WEBHOOK = "namespace-protection.orkestra.orkspace.io"


@attrs.frozen
class DeletionProtection:
    enabled: bool = False
    failure_policy: str = "Fail"
    cleanup_on_shutdown: bool = False
    strict_mode: bool = False
    service_name: str = ""


@attrs.frozen
class NamespaceProtection:
    enabled: bool = False
    #: Namespace patterns (``name``, ``prefix-*``, ``*-suffix``) added to every CRD's lists.
    restricted: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()
    failure_policy: str = "Fail"
    cleanup_on_shutdown: bool = False
    service_name: str = ""


@attrs.frozen
class WebhookSettings:
    """``security.webhooks``: without the block, the CRDs' ``webhooks`` decide alone and a
    webhook that cannot answer refuses the write; with it, Orkestra's defaults (admission
    off unless ``admission.enabled``, failurePolicy Ignore)."""

    admission_enabled: bool = True
    failure_policy: str = "Fail"
    service_name: str = ""
    cleanup_on_shutdown: bool = False


@attrs.frozen
class ConversionSettings:
    """``security.conversion``: without it, every CRD with ``conversion.paths`` converts."""

    enabled: bool = True
    window: int = 100


@attrs.frozen
class CertManagerSettings:
    auto_rotate: bool = True
    #: Seconds before expiry the certificate is renewed (cert-manager's ``renewBefore``).
    rotation_threshold: float | None = None
    #: The certificate's lifetime in seconds (cert-manager's ``duration``).
    valid_for: float | None = None


@attrs.frozen
class Security:
    declared: bool = False
    service_name: str = ""
    gateway_endpoint: str = ""
    deletion: DeletionProtection = DeletionProtection()
    namespaces: NamespaceProtection = NamespaceProtection()
    webhooks: WebhookSettings = WebhookSettings()
    conversion: ConversionSettings = ConversionSettings()
    cert_manager: CertManagerSettings | None = None

    def service_for(self, block_service: str, default: str) -> str:
        """The Service a webhook of this block is called through: the block's
        ``serviceName``, else the security block's, else ``default`` (the runtime's)."""
        return block_service or self.service_name or default


NO_SECURITY = Security()


# --- decisions ----------------------------------------------------------------


def _labels(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if not obj:
        return {}
    labels = (obj.get("metadata") or {}).get("labels")
    return labels if isinstance(labels, Mapping) else {}


def is_protected(obj: Mapping[str, Any] | None) -> bool:
    return _labels(obj).get(DELETION_PROTECTION_LABEL) == LABEL_ON


def _describe(kind: str, obj: Mapping[str, Any] | None) -> str:
    metadata = (obj or {}).get("metadata") or {}
    where = f' in namespace "{metadata["namespace"]}"' if metadata.get("namespace") else ""
    return f'{kind} "{metadata.get("name", "")}"{where}'


def deletion_denial(
    kind: str, obj: Mapping[str, Any] | None, protected_crds: Iterable[str] = ()
) -> str | None:
    """Why a DELETE of ``obj`` (a ``kind``) is refused, or None when it may go.

    Refused: an object labelled ``orkestra.io/deletion-protection: "true"``,
    and a CustomResourceDefinition named in ``protected_crds`` (the
    Katalogs' own, labelled or not).
    """
    metadata = (obj or {}).get("metadata") or {}
    if kind == "CustomResourceDefinition" and metadata.get("name") in set(protected_crds):
        return (
            f"{_describe(kind, obj)} is a CRD of a Katalog with deletionProtection: "
            "deletion is blocked by Orkestra deletion protection"
        )
    if is_protected(obj):
        return (
            f"{_describe(kind, obj)} carries {DELETION_PROTECTION_LABEL}={LABEL_ON}: "
            "deletion is blocked by Orkestra deletion protection"
        )
    return None


def strict_mode_denial(
    kind: str, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
) -> str | None:
    """Why an UPDATE from ``old`` to ``new`` is refused under strict mode, or None.

    Refused: ``old`` carries the protection label and ``new`` does not carry
    it any more (removed or changed), unless ``new`` carries
    ``orkestra.io/strict-mode-exempt: "true"``.
    """
    if not is_protected(old) or is_protected(new):
        return None
    if _labels(new).get(STRICT_MODE_EXEMPT_LABEL) == LABEL_ON:
        return None
    return (
        f"{_describe(kind, old)} carries {DELETION_PROTECTION_LABEL}={LABEL_ON}; removing "
        f"it is blocked because strictMode is enabled (label the object "
        f"{STRICT_MODE_EXEMPT_LABEL}={LABEL_ON} in the same update, or set "
        "security.deletionProtection.strictMode: false)"
    )


def matches_namespace(namespace: str, pattern: str) -> bool:
    """Orkestra's namespace patterns: exact, ``prefix*`` or ``*suffix``."""
    if pattern == namespace:
        return True
    if pattern.endswith("*"):
        return namespace.startswith(pattern[:-1])
    if pattern.startswith("*"):
        return namespace.endswith(pattern[1:])
    return False


def namespace_denial(
    kind: str, namespace: str, restricted: Iterable[str], allowed: Iterable[str]
) -> str | None:
    """Why a CR of ``kind`` may not be written in ``namespace``, or None.

    ``restricted`` wins over ``allowed``; an empty ``allowed`` allows every
    namespace (Orkestra's rule, the lists of the Katalog and of the CRD
    being merged).
    """
    if not namespace:
        return None
    hit = next((p for p in restricted if matches_namespace(namespace, p)), None)
    if hit is not None:
        return f'namespace "{namespace}" is restricted for {kind} (restrictedNamespaces: {hit})'
    allowed = tuple(allowed)
    if allowed and not any(matches_namespace(namespace, p) for p in allowed):
        return (
            f'namespace "{namespace}" is not allowed for {kind} '
            f"(allowedNamespaces: {', '.join(allowed)})"
        )
    return None
