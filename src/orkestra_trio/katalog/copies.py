"""Copies of objects the box does not own: ``fromSecret`` and ``fromConfigMap`` entries.

A ``secrets`` entry with ``fromSecret`` or a ``configMaps`` entry with
``fromConfigMap`` (each with an optional ``fromNamespace``, the CR's by
default) takes its content from an existing object of its own kind. One
mechanism serves both kinds: the runtime gives each box that copies an
informer per :class:`SourceScope` its Katalog names, scoped as narrowly as
:func:`source_scopes` allows, and hands the plan the sources a CR reads
(:data:`SOURCE_OBJECTS`, by :data:`SourceRef`), so planning reads no server.
A source missing from the cache is that reconcile's error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from orkestra_trio.katalog.model import OperatorBox, Text


@attrs.frozen
class CopyKind:
    """What an entry group copies: the kind, its plural (RBAC) and the entry key naming it."""

    kind: str
    plural: str
    key: str


#: The entry groups that may copy, by group.
COPY_KINDS: Mapping[str, CopyKind] = {
    "secrets": CopyKind("Secret", "secrets", "fromSecret"),
    "configMaps": CopyKind("ConfigMap", "configmaps", "fromConfigMap"),
}

#: The context key of the objects that copying entries read, by :data:`SourceRef`;
#: not a Go identifier, so no template reads it.
SOURCE_OBJECTS = "orkestra:source-objects"

#: (kind, namespace, name) of a source object.
SourceRef = tuple[str, str, str]


class CopyError(ValueError):
    """A copy that cannot be made; ``field`` names the entry key to blame."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


@attrs.frozen
class SourceScope:
    """Which objects of ``kind`` a box must cache to copy them: as narrow as the Katalog allows.

    ``namespace`` None: the CR's own (any namespace the runtime watches);
    ``name`` None: the name is a template (every object of the namespace).
    """

    kind: str
    namespace: str | None
    name: str | None


def copy_kind(group: str, fields: Mapping[str, Any]) -> CopyKind | None:
    """The kind an entry of ``group`` with ``fields`` copies (None: it copies nothing)."""
    copy = COPY_KINDS.get(group)
    return copy if copy is not None and copy.key in fields else None


def source_scopes(box: OperatorBox) -> tuple[SourceScope, ...]:
    """The scopes of the objects ``box``'s copying entries may read, known at load.

    A literal name is one object (a field selector on ``metadata.name``); a
    namespace-wide scope makes the named ones of the same kind and namespace redundant.
    """
    found: list[SourceScope] = []
    for resources in (box.on_create, box.on_reconcile):
        for group, copy in COPY_KINDS.items():
            for entry in resources.get(group, ()):
                source = entry.fields.get(copy.key)
                if source is None:
                    continue
                namespace = entry.fields.get("fromNamespace")
                scope = SourceScope(copy.kind, _literal(namespace), _literal(source))
                if scope not in found:
                    found.append(scope)
    # The CR's namespace (None) is only known to cover the runtime's watched namespaces,
    # which may not include a literal one: only an exact namespace match is redundant.
    wide = {(scope.kind, scope.namespace) for scope in found if scope.name is None}
    return tuple(
        scope for scope in found if scope.name is None or (scope.kind, scope.namespace) not in wide
    )


def _literal(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Text):
        return None if value.is_template else value.source.strip() or None
    return str(value).strip() or None


def source_ref(copy: CopyKind, rendered: Mapping[str, Any], cr_namespace: str) -> SourceRef:
    """The object a rendered copying entry reads (``fromNamespace``: the CR's)."""
    name = str(rendered.get(copy.key) or "").strip()
    if not name:
        raise CopyError(copy.key, f"rendered empty: which {copy.kind} to copy?")
    namespace = str(rendered.get("fromNamespace") or "").strip() or cr_namespace
    return (copy.kind, namespace, name)


def copied(
    copy: CopyKind,
    manifest: Mapping[str, Any],
    rendered: Mapping[str, Any],
    sources: Mapping[SourceRef, Mapping[str, Any] | None],
    cr_namespace: str,
) -> dict[str, Any]:
    """``manifest`` with the source's content, read from ``sources`` (the box's cache).

    A Secret takes the source's ``data`` (the entry's own ``data`` keys win)
    and its ``type`` unless the entry sets one; a ConfigMap takes ``data``
    and ``binaryData`` (an entry cannot give both ``data`` and a source: a
    load error). Absent, the copy cannot be made and that is the reconcile's error.
    """
    ref = source_ref(copy, rendered, cr_namespace)
    source = sources.get(ref)
    if source is None:
        raise CopyError(copy.key, f"{copy.kind} {ref[1]}/{ref[2]} to copy does not exist")
    out = dict(manifest)
    data = {str(key): str(value) for key, value in (source.get("data") or {}).items()}
    if copy.kind == "Secret":
        out["data"] = {**data, **(manifest.get("data") or {})}
        if not rendered.get("type"):
            out["type"] = str(source.get("type") or "Opaque")
        return out
    out["data"] = data
    binary = source.get("binaryData") or {}
    if binary:
        out["binaryData"] = {str(key): str(value) for key, value in binary.items()}
    return out
