"""Reading a Katalog's ``security:`` block onto :class:`~orkestra_trio.katalog.security.Security`.

Every mistake is reported at its key's ``file:line:col`` (the reader's
issues), as the rest of the Katalog's are. Defaults follow Orkestra's types:
``deletionProtection``/``namespaceProtection`` are on once declared (unless
``enabled: false``) and fail closed; a declared ``webhooks`` block turns the
CRDs' admission webhooks on only with ``admission.enabled: true`` and fails
open; a declared ``conversion`` block converts only with ``enabled: true``.
"""

from __future__ import annotations

import re
from typing import Any

from orkestra_trio.katalog.durations import DurationError, parse_duration
from orkestra_trio.katalog.reading import DocumentReader, describe
from orkestra_trio.katalog.security import (
    FAILURE_POLICIES,
    NO_SECURITY,
    CertManagerSettings,
    ConversionSettings,
    DeletionProtection,
    NamespaceProtection,
    Security,
    WebhookSettings,
)
from orkestra_trio.katalog.yamlsource import KeyPath

SECURITY_KEYS = (
    "serviceName",
    "gatewayEndpoint",
    "deletionProtection",
    "namespaceProtection",
    "webhooks",
    "conversion",
    "certManager",
)
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
#: A namespace name, or one with ``*`` at its start or end (Orkestra's patterns).
_NAMESPACE_PATTERN = re.compile(
    r"\*[a-z0-9-]{1,62}|[a-z0-9-]{1,62}\*|[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
)


def read_security(reader: DocumentReader, top: dict[str, Any]) -> Security:
    """The ``security:`` of the Katalog document ``top`` (none: :data:`NO_SECURITY`)."""
    path: KeyPath = ("security",)
    block = reader.section(top, (), "security", allowed=SECURITY_KEYS)
    if block is None:
        return NO_SECURITY
    return Security(
        declared=True,
        service_name=_service(reader, block, path),
        gateway_endpoint=reader.string(block, path, "gatewayEndpoint") or "",
        deletion=_deletion(reader, block, path),
        namespaces=_namespaces(reader, block, path),
        webhooks=_webhooks(reader, block, path),
        conversion=_conversion(reader, block, path),
        cert_manager=_cert_manager(reader, block, path),
    )


def _service(reader: DocumentReader, block: dict[str, Any], path: KeyPath) -> str:
    name = reader.string(block, path, "serviceName")
    if name is None:
        return ""
    if not _DNS_LABEL.fullmatch(name):
        reader.report(
            (*path, "serviceName"), f"expected a Service name (a DNS label), got {name!r}"
        )
        return ""
    return name


def _policy(reader: DocumentReader, block: dict[str, Any], path: KeyPath, default: str) -> str:
    return reader.string(block, path, "failurePolicy", choices=FAILURE_POLICIES) or default


def _deletion(reader: DocumentReader, block: dict[str, Any], path: KeyPath) -> DeletionProtection:
    here = (*path, "deletionProtection")
    keys = ("enabled", "failurePolicy", "cleanupOnShutdown", "strictMode", "serviceName")
    m = reader.section(block, path, "deletionProtection", allowed=keys)
    if m is None:
        return DeletionProtection()
    return DeletionProtection(
        enabled=reader.boolean(m, here, "enabled", True),
        failure_policy=_policy(reader, m, here, "Fail"),
        cleanup_on_shutdown=reader.boolean(m, here, "cleanupOnShutdown", False),
        strict_mode=reader.boolean(m, here, "strictMode", False),
        service_name=_service(reader, m, here),
    )


def _namespaces(
    reader: DocumentReader, block: dict[str, Any], path: KeyPath
) -> NamespaceProtection:
    here = (*path, "namespaceProtection")
    keys = (
        "enabled",
        "restrictedNamespaces",
        "allowedNamespaces",
        "failurePolicy",
        "cleanupOnShutdown",
        "serviceName",
    )
    m = reader.section(block, path, "namespaceProtection", allowed=keys)
    if m is None:
        return NamespaceProtection()
    return NamespaceProtection(
        enabled=reader.boolean(m, here, "enabled", True),
        restricted=_patterns(reader, m, here, "restrictedNamespaces"),
        allowed=_patterns(reader, m, here, "allowedNamespaces"),
        failure_policy=_policy(reader, m, here, "Fail"),
        cleanup_on_shutdown=reader.boolean(m, here, "cleanupOnShutdown", False),
        service_name=_service(reader, m, here),
    )


def _patterns(
    reader: DocumentReader, m: dict[str, Any], path: KeyPath, key: str
) -> tuple[str, ...]:
    out: list[str] = []
    for index, item in enumerate(reader.items(m, path, key)):
        if not isinstance(item, str) or not _NAMESPACE_PATTERN.fullmatch(item):
            reader.report(
                (*path, key, index),
                f"expected a namespace name, or one with * at its start or end, got {describe(item)}",
            )
            continue
        out.append(item)
    return tuple(out)


def _webhooks(reader: DocumentReader, block: dict[str, Any], path: KeyPath) -> WebhookSettings:
    here = (*path, "webhooks")
    keys = ("admission", "failurePolicy", "serviceName", "cleanupOnShutdown")
    m = reader.section(block, path, "webhooks", allowed=keys)
    if m is None:
        return WebhookSettings()
    admission = reader.section(m, here, "admission", allowed=("enabled",))
    enabled = (
        reader.boolean(admission, (*here, "admission"), "enabled", False)
        if admission is not None
        else False
    )
    return WebhookSettings(
        admission_enabled=enabled,
        failure_policy=_policy(reader, m, here, "Ignore"),
        service_name=_service(reader, m, here),
        cleanup_on_shutdown=reader.boolean(m, here, "cleanupOnShutdown", False),
    )


def _conversion(reader: DocumentReader, block: dict[str, Any], path: KeyPath) -> ConversionSettings:
    here = (*path, "conversion")
    m = reader.section(block, path, "conversion", allowed=("enabled", "conversionWindow"))
    if m is None:
        return ConversionSettings()
    return ConversionSettings(
        enabled=reader.boolean(m, here, "enabled", False),
        window=reader.integer(m, here, "conversionWindow", 100, minimum=1),
    )


def _cert_manager(
    reader: DocumentReader, block: dict[str, Any], path: KeyPath
) -> CertManagerSettings | None:
    here = (*path, "certManager")
    keys = ("autoRotate", "rotationThreshold", "validFor")
    m = reader.section(block, path, "certManager", allowed=keys)
    if m is None:
        return None
    valid_for = _lifetime(reader, m, here, "validFor")
    threshold = _lifetime(reader, m, here, "rotationThreshold")
    if valid_for is not None and threshold is not None and threshold >= valid_for:
        reader.report(
            (*here, "rotationThreshold"),
            "must be shorter than validFor (the certificate is renewed that long before it expires)",
        )
        threshold = None
    return CertManagerSettings(
        auto_rotate=reader.boolean(m, here, "autoRotate", True),
        rotation_threshold=threshold,
        valid_for=valid_for,
    )


def _lifetime(reader: DocumentReader, m: dict[str, Any], path: KeyPath, key: str) -> float | None:
    value = m.get(key)
    if value is None:
        return None
    try:
        seconds = parse_duration(value, long_units=True)
    except DurationError as exc:
        reader.report((*path, key), str(exc))
        return None
    if seconds < 3600:
        # cert-manager refuses a certificate shorter than an hour, and a renewal that soon.
        reader.report((*path, key), f"must be at least 1h, got {value!r}")
        return None
    return seconds
