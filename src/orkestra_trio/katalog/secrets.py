"""Secrets the Katalog does not spell out: generated ones (``tls``, ``rotateAfter``); their
copies (``fromSecret``) are :mod:`.copies`.

A generated Secret is made once and kept: a reconcile reads the child from
the box's cache and keeps its data, unless it is due. It is due when it does
not exist yet, when the rendered ``tls`` block changed (its hash is kept in
the annotation :data:`TLS_SPEC_ANNOTATION`), when its certificate expired
(``validFor`` after it was made) or when it is older than ``rotateAfter``.
When it was made is the annotation :data:`GENERATED_AT_ANNOTATION`
(Orkestra's), else the Secret's ``creationTimestamp``.

Everything here is a decision over the clock given (the plan's): making a
key and a certificate is an effect, left to the runtime, which reads the
:class:`TlsRequest` the decision carries.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import json
from collections.abc import Mapping
from typing import Any

import attrs

from orkestra_trio.katalog.durations import DurationError, parse_duration

GENERATED_AT_ANNOTATION = "orkestra.orkspace.io/generated-at"
TLS_SPEC_ANNOTATION = "orkestra.orkspace.io/tls-spec"
TLS_TYPE = "kubernetes.io/tls"
TLS_KEYS = ("tls.crt", "tls.key")
#: A ``tls`` block without ``validFor``: one year.
DEFAULT_VALID_FOR = 365 * 86400.0
#: The keys of a ``tls`` block.
TLS_FIELDS = ("commonName", "dnsNames", "validFor")
#: Entry keys that make a Secret a generated one.
GENERATED_FIELDS = frozenset({"tls", "rotateAfter"})


class SecretSpecError(ValueError):
    """A rendered ``tls``/``rotateAfter`` value that cannot be used; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


@attrs.frozen
class TlsRequest:
    """A self-signed certificate to make (the runtime makes it): subject, names, validity."""

    common_name: str
    dns_names: tuple[str, ...]
    not_before: datetime.datetime
    not_after: datetime.datetime


@attrs.frozen
class Generation:
    """What the decision says of one generated Secret for this reconcile."""

    #: Write it now (create, or replace its data).
    due: bool
    #: Annotations its manifest carries (when it was made, the tls block's hash).
    annotations: Mapping[str, str]
    #: A kept certificate: the cached ``tls.crt``/``tls.key`` (base64), so nothing drifts.
    kept_data: Mapping[str, str] | None = None
    #: A certificate to make (``due`` and a ``tls`` block).
    request: TlsRequest | None = None
    #: Seconds until it is due again (the plan reconciles then, event or not).
    renew_in: float | None = None


def secret_text(secret: Mapping[str, Any], key: str) -> str | None:
    """The text under ``key`` of a Secret as read (``data`` is base64, ``stringData``
    plain); None when the key is absent or its value is not base64 of UTF-8 text."""
    encoded = (secret.get("data") or {}).get(key)
    if isinstance(encoded, str):
        try:
            return base64.b64decode(encoded, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
    plain = (secret.get("stringData") or {}).get(key)
    return plain if isinstance(plain, str) else None


def lifetime(value: Any, field: str) -> float:
    """A ``validFor``/``rotateAfter`` in seconds (``d``, ``w``, ``mo``, ``y`` allowed)."""
    try:
        seconds = parse_duration(value, long_units=True)
    except DurationError as exc:
        raise SecretSpecError(field, str(exc)) from None
    if seconds <= 0:
        raise SecretSpecError(field, "must be longer than 0s")
    return seconds


def tls_spec(tls: Any) -> tuple[str, tuple[str, ...], float]:
    """(commonName, dnsNames, validFor seconds) of a rendered ``tls`` block."""
    if not isinstance(tls, Mapping):
        raise SecretSpecError("tls", "must be a mapping {commonName, dnsNames, validFor}")
    common_name = str(tls.get("commonName") or "").strip()
    if not common_name:
        raise SecretSpecError("tls.commonName", "a certificate needs a commonName")
    names = tls.get("dnsNames") or []
    if isinstance(names, str):
        names = [part.strip() for part in names.split(",")]
    if not isinstance(names, list | tuple):
        raise SecretSpecError("tls.dnsNames", "must be a list of DNS names")
    dns_names = tuple(str(name).strip() for name in names if str(name).strip())
    valid_for = tls.get("validFor")
    seconds = DEFAULT_VALID_FOR if valid_for in (None, "") else lifetime(valid_for, "tls.validFor")
    return common_name, dns_names or (common_name,), seconds


def decide(
    rendered: Mapping[str, Any], cached: Mapping[str, Any] | None, now: datetime.datetime
) -> Generation:
    """Is this generated Secret (its rendered entry: ``tls``, ``rotateAfter``) due at ``now``?"""
    rotate = rendered.get("rotateAfter")
    rotate_after = lifetime(rotate, "rotateAfter") if rotate not in (None, "") else None
    tls = rendered.get("tls")
    spec = tls_spec(tls) if tls is not None else None
    spec_hash = _hash(spec) if spec is not None else ""
    annotations = (cached or {}).get("metadata", {}).get("annotations") or {}
    made = _made_at(cached) if cached is not None else None
    lifetimes = [rotate_after] if rotate_after is not None else []
    if spec is not None:
        lifetimes.append(spec[2])
    data = (cached or {}).get("data") or {}
    due = (
        made is None
        or (spec is not None and annotations.get(TLS_SPEC_ANNOTATION) != spec_hash)
        or (spec is not None and not all(data.get(key) for key in TLS_KEYS))
        or any(now >= made + datetime.timedelta(seconds=s) for s in lifetimes)
    )
    if due:
        made = now
    assert made is not None
    stamps = {GENERATED_AT_ANNOTATION: _rfc3339(made)}
    if spec is not None:
        stamps[TLS_SPEC_ANNOTATION] = spec_hash
    renew_in = None
    if lifetimes:
        renew_in = (made + datetime.timedelta(seconds=min(lifetimes)) - now).total_seconds()
    if spec is None:
        return Generation(due=due, annotations=stamps, renew_in=renew_in)
    if not due:
        kept = {key: str(data[key]) for key in TLS_KEYS}
        return Generation(due=False, annotations=stamps, kept_data=kept, renew_in=renew_in)
    common_name, dns_names, valid_for = spec
    request = TlsRequest(
        common_name=common_name,
        dns_names=dns_names,
        not_before=now,
        not_after=now + datetime.timedelta(seconds=valid_for),
    )
    return Generation(due=True, annotations=stamps, request=request, renew_in=renew_in)


def _hash(spec: tuple[str, tuple[str, ...], float]) -> str:
    """A short, stable digest of the tls block: a change of it makes the certificate again."""
    text = json.dumps([spec[0], list(spec[1]), spec[2]], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _made_at(cached: Mapping[str, Any]) -> datetime.datetime | None:
    metadata = cached.get("metadata") or {}
    for stamp in (
        (metadata.get("annotations") or {}).get(GENERATED_AT_ANNOTATION),
        metadata.get("creationTimestamp"),
    ):
        if not stamp:
            continue
        try:
            moment = datetime.datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
        except ValueError:
            continue
        return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)
    return None


def _rfc3339(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
