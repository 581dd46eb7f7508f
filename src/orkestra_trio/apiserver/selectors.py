"""Field selectors, parsed the way kube-apiserver parses them.

``fieldSelector`` query parameters reach list, watch and deletecollection. A
field the kind does not index is refused with the server's own message
("field label not supported: <field>"), which kubectl prints verbatim. Label
selectors are pure and shared with the Katalog: :mod:`orkestra_trio.katalog.labelselector`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from orkestra_trio.apiserver.kinds import ResourceKind
from orkestra_trio.katalog.labelselector import SelectorError

# --------------------------------------------------------------------------
# field selectors


def _path(*names: str) -> Callable[[Mapping[str, Any]], Any]:
    def get(obj: Mapping[str, Any]) -> Any:
        cur: Any = obj
        for n in names:
            if not isinstance(cur, Mapping):
                return None
            cur = cur.get(n)
        return cur

    return get


def _first(*getters: Callable[[Mapping[str, Any]], Any]) -> Callable[[Mapping[str, Any]], Any]:
    """The first non-empty value; core and events.k8s.io events share one store
    and may be stored in either shape, so each field looks in both places."""

    def get(obj: Mapping[str, Any]) -> Any:
        for g in getters:
            v = g(obj)
            if v not in (None, ""):
                return v
        return None

    return get


_COMMON_FIELDS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "metadata.name": _path("metadata", "name"),
    "metadata.namespace": _path("metadata", "namespace"),
}

_OBJECT_REF_FIELDS = (
    "kind",
    "namespace",
    "name",
    "uid",
    "apiVersion",
    "resourceVersion",
    "fieldPath",
)


def _event_fields(prefix: str) -> dict[str, Callable[[Mapping[str, Any]], Any]]:
    fields: dict[str, Callable[[Mapping[str, Any]], Any]] = {
        f"{prefix}.{f}": _first(_path("involvedObject", f), _path("regarding", f))
        for f in _OBJECT_REF_FIELDS
    }
    fields["reason"] = _path("reason")
    fields["type"] = _path("type")
    return fields


_CORE_EVENT_FIELDS = {
    **_event_fields("involvedObject"),
    "source": _first(_path("source", "component"), _path("deprecatedSource", "component")),
    "reportingComponent": _first(_path("reportingComponent"), _path("reportingController")),
}

_EVENTS_V1_FIELDS = {
    **_event_fields("regarding"),
    "deprecatedSource": _first(
        _path("deprecatedSource", "component"), _path("source", "component")
    ),
    "reportingController": _first(_path("reportingController"), _path("reportingComponent")),
}

# Field labels a real server indexes per (group, plural), beyond metadata.*.
_KIND_FIELDS: dict[tuple[str, str], dict[str, Callable[[Mapping[str, Any]], Any]]] = {
    ("", "events"): _CORE_EVENT_FIELDS,
    ("events.k8s.io", "events"): _EVENTS_V1_FIELDS,
    ("", "pods"): {
        "spec.nodeName": _path("spec", "nodeName"),
        "spec.restartPolicy": _path("spec", "restartPolicy"),
        "spec.schedulerName": _path("spec", "schedulerName"),
        "spec.serviceAccountName": _path("spec", "serviceAccountName"),
        "spec.hostNetwork": _path("spec", "hostNetwork"),
        "status.phase": _path("status", "phase"),
        "status.podIP": _path("status", "podIP"),
        "status.nominatedNodeName": _path("status", "nominatedNodeName"),
    },
    ("", "namespaces"): {"status.phase": _path("status", "phase")},
    ("", "secrets"): {"type": _path("type")},
    ("", "services"): {
        "spec.clusterIP": _path("spec", "clusterIP"),
        "spec.type": _path("spec", "type"),
    },
    ("apps", "replicasets"): {"status.replicas": _path("status", "replicas")},
    ("batch", "jobs"): {"status.successful": _path("status", "succeeded")},
}


def supported_field_labels(kind: ResourceKind) -> frozenset[str]:
    """The field selector labels the server accepts for ``kind``."""
    return frozenset(_COMMON_FIELDS) | frozenset(_KIND_FIELDS.get((kind.group, kind.plural), {}))


def _field_text(value: Any) -> str:
    # Field values compare as the strings the real server's field sets hold.
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@attrs.frozen
class FieldRequirement:
    field: str
    operator: str  # "=" or "!="
    value: str

    def format(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")
        return f"{self.field}{self.operator}{escaped}"


@attrs.frozen
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()
    _getters: tuple[Callable[[Mapping[str, Any]], Any], ...] = attrs.field(
        default=(), eq=False, repr=False
    )

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, obj: Mapping[str, Any]) -> bool:
        for req, get in zip(self.requirements, self._getters, strict=True):
            equal = _field_text(get(obj)) == req.value
            if equal != (req.operator == "="):
                return False
        return True

    def format(self) -> str:
        return ",".join(r.format() for r in self.requirements)

    def __str__(self) -> str:
        return self.format()


def _split_unescaped(text: str, sep: str) -> list[str]:
    """Split on ``sep`` not preceded by a backslash escape (kept escaped)."""
    parts: list[str] = []
    cur: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            cur.append(text[i : i + 2])
            i += 2
            continue
        if ch == sep:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    parts.append("".join(cur))
    return parts


def _unescape(value: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == "\\":
            if i + 1 >= len(value) or value[i + 1] not in "\\,=":
                raise SelectorError(f"invalid field selector: invalid escape sequence in {value!r}")
            out.append(value[i + 1])
            i += 2
            continue
        if ch in ",=":
            raise SelectorError(f"invalid field selector: unescaped {ch!r} in value {value!r}")
        out.append(ch)
        i += 1
    return "".join(out)


def parse_field_selector(text: str, kind: ResourceKind) -> FieldSelector:
    """Parse ``fieldSelector`` text for ``kind``.

    Only ``=``, ``==`` and ``!=`` exist for fields; a field the kind does not
    index raises SelectorError("field label not supported: <field>").
    """
    if not text or not text.strip():
        return FieldSelector()
    known = {**_COMMON_FIELDS, **_KIND_FIELDS.get((kind.group, kind.plural), {})}
    reqs: list[FieldRequirement] = []
    getters: list[Callable[[Mapping[str, Any]], Any]] = []
    for part in _split_unescaped(text, ","):
        for op in ("!=", "==", "="):
            idx = _find_unescaped(part, op)
            if idx >= 0:
                field = part[:idx].strip()
                raw_value = part[idx + len(op) :]
                break
        else:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
        if field not in known:
            raise SelectorError(f"field label not supported: {field}")
        reqs.append(FieldRequirement(field, "!=" if op == "!=" else "=", _unescape(raw_value)))
        getters.append(known[field])
    return FieldSelector(tuple(reqs), tuple(getters))


def _find_unescaped(text: str, op: str) -> int:
    """Index of the first unescaped occurrence of operator ``op`` in ``text``."""
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text.startswith(op, i):
            return i
        i += 1
    return -1
