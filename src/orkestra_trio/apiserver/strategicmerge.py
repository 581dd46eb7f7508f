"""Strategic merge patch (``application/strategic-merge-patch+json``).

Built-in kinds only (415 for custom resources, as on a real server): like a
merge patch, but lists with a merge key (containers by name, ports by
containerPort ...) merge element-wise, and ``$patch``/``$setElementOrder``/
``$retainKeys``/``$deleteFromPrimitiveList`` directives refine it. kubectl's
client-side apply sends these for built-ins. The patch metadata of built-in
kinds (which lists merge, by which key) is here too; server-side apply
(fieldmanager.py) walks the same metadata.

Pure, copy-on-write, like patch.py.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from json.encoder import encode_basestring as _encode_string
from typing import Any

import attrs

from orkestra_trio.apiserver.kinds import ResourceKind
from orkestra_trio.apiserver.patch import PatchError, bad_patch, invalid_patch

# ==========================================================================
# Patch metadata for built-in kinds: which lists merge, and by which key.
#
# A node is either a ``Struct`` (known fields, unknown ones are plain maps)
# or a ``ListMeta`` for a list field.  Fields absent from a struct behave as
# in a merge patch: maps merge recursively, lists are replaced (atomic).


@attrs.frozen
class ListMeta:
    # Associative list: elements are maps identified by ``merge_key``.
    # Set list: ``merge_key`` None and ``strategy`` "merge": primitives, union.
    # Atomic list: ``strategy`` "replace".
    merge_key: str | None
    strategy: str = "merge"
    item: Struct | None = None


@attrs.frozen
class Struct:
    fields: Mapping[str, Struct | ListMeta] = attrs.field(factory=dict)


_GENERIC = Struct()


def _conditions() -> ListMeta:
    return ListMeta("type")


_CONTAINER = Struct(
    {
        "ports": ListMeta("containerPort"),
        "env": ListMeta("name"),
        "volumeMounts": ListMeta("mountPath"),
        "volumeDevices": ListMeta("devicePath"),
    }
)

_POD_SPEC = Struct(
    {
        "containers": ListMeta("name", item=_CONTAINER),
        "initContainers": ListMeta("name", item=_CONTAINER),
        "ephemeralContainers": ListMeta("name", item=_CONTAINER),
        "volumes": ListMeta("name"),
        "imagePullSecrets": ListMeta("name"),
        "hostAliases": ListMeta("ip"),
        "topologySpreadConstraints": ListMeta("topologyKey"),
        "resourceClaims": ListMeta("name"),
        "schedulingGates": ListMeta("name"),
        # tolerations, readinessGates have no patch strategy: atomic.
    }
)

_POD_TEMPLATE = Struct({"spec": _POD_SPEC})

_OBJECT_META = Struct(
    {
        "finalizers": ListMeta(None, "merge"),
        "ownerReferences": ListMeta("uid"),
    }
)

_STATUS_WITH_CONDITIONS = Struct({"conditions": _conditions()})

_KIND_SCHEMAS: dict[tuple[str, str], Struct] = {
    ("", "pods"): Struct(
        {
            "spec": _POD_SPEC,
            "status": Struct({"conditions": _conditions(), "podIPs": ListMeta("ip")}),
        }
    ),
    ("", "services"): Struct(
        {"spec": Struct({"ports": ListMeta("port")}), "status": _STATUS_WITH_CONDITIONS}
    ),
    ("", "namespaces"): Struct({"status": _STATUS_WITH_CONDITIONS}),
    ("apps", "deployments"): Struct(
        {"spec": Struct({"template": _POD_TEMPLATE}), "status": _STATUS_WITH_CONDITIONS}
    ),
    ("apps", "statefulsets"): Struct(
        {"spec": Struct({"template": _POD_TEMPLATE}), "status": _STATUS_WITH_CONDITIONS}
    ),
    ("apps", "replicasets"): Struct(
        {"spec": Struct({"template": _POD_TEMPLATE}), "status": _STATUS_WITH_CONDITIONS}
    ),
    ("batch", "jobs"): Struct(
        {"spec": Struct({"template": _POD_TEMPLATE}), "status": _STATUS_WITH_CONDITIONS}
    ),
    ("batch", "cronjobs"): Struct(
        {"spec": Struct({"jobTemplate": Struct({"spec": Struct({"template": _POD_TEMPLATE})})})}
    ),
    ("apiextensions.k8s.io", "customresourcedefinitions"): Struct(
        {"status": _STATUS_WITH_CONDITIONS}
    ),
}


def schema_for(kind: ResourceKind) -> Struct:
    body = _KIND_SCHEMAS.get((kind.group, kind.plural), _GENERIC)
    return Struct({**body.fields, "metadata": _OBJECT_META})


def field_meta(node: Struct | None, name: str) -> Struct | ListMeta | None:
    return node.fields.get(name) if node is not None else None


def struct_of(node: Struct | ListMeta | None) -> Struct | None:
    return node if isinstance(node, Struct) else None


# ==========================================================================
# Strategic merge patch

_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_SET_ORDER = "$setElementOrder/"
_DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"


def strategic_merge_patch(target: Any, patch: Any, kind: ResourceKind) -> Any:
    """Apply a strategic merge patch to an object of a built-in ``kind``.

    Custom resources have no patch metadata; like kube-apiserver this answers
    415 UnsupportedMediaType for them.
    """
    if kind.is_custom:
        raise PatchError(
            "the body of the request was in an unknown format - accepted media types include: "
            "application/json-patch+json, application/merge-patch+json, "
            "application/apply-patch+yaml",
            code=415,
            reason="UnsupportedMediaType",
        )
    if not isinstance(patch, Mapping):
        raise bad_patch("strategic merge patch must be a JSON object")
    if not isinstance(target, Mapping):
        target = {}
    result = _smp_map(target, patch, schema_for(kind), "")
    return {} if result is _DELETED else result


class _Deleted:
    """Marker: a ``$patch: delete`` asked to remove the enclosing map."""


_DELETED: Any = _Deleted()


def _smp_map(
    original: Mapping[str, Any], patch: Mapping[str, Any], node: Struct | None, path: str
) -> Any:
    directive = patch.get(_DIRECTIVE)
    if directive is not None:
        if directive == "delete":
            return _DELETED
        if directive == "replace":
            return _strip_directives(patch)
        if directive != "merge":
            raise bad_patch(f"Unknown patch type: {directive} in map: {path or '<root>'}")
    # Copy-on-write: containers along the patched paths are new, untouched
    # subtrees are shared with the target (never mutated).
    result: dict[str, Any] = dict(original)
    retain = patch.get(_RETAIN_KEYS)
    if retain is not None:
        if not isinstance(retain, list):
            raise bad_patch(f"$retainKeys must be a list in {path or '<root>'}")
        for key in list(result):
            if key not in retain:
                del result[key]
        for key in patch:
            if not key.startswith("$") and key not in retain and patch[key] is not None:
                raise invalid_patch(
                    f"the patch has a key {key!r} that is not in $retainKeys at {path or '<root>'}"
                )
    orders: dict[str, list[Any]] = {}
    deletions: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key.startswith(_SET_ORDER):
            orders[key[len(_SET_ORDER) :]] = list(value or [])
        elif key.startswith(_DELETE_PRIMITIVE):
            deletions[key[len(_DELETE_PRIMITIVE) :]] = list(value or [])
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        sub_path = f"{path}.{key}" if path else key
        meta = field_meta(node, key)
        if value is None:
            result.pop(key, None)
        elif isinstance(value, Mapping):
            current = result.get(key)
            merged = _smp_map(
                current if isinstance(current, Mapping) else {}, value, struct_of(meta), sub_path
            )
            if merged is _DELETED:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list) and isinstance(meta, ListMeta) and meta.strategy == "merge":
            current = result.get(key)
            result[key] = _smp_list(
                current if isinstance(current, list) else [], value, meta, sub_path
            )
        else:
            result[key] = copy.deepcopy(value)
    for key, values in deletions.items():
        if isinstance(result.get(key), list):
            result[key] = [v for v in result[key] if v not in values]
    for key, order in orders.items():
        meta = field_meta(node, key)
        if isinstance(result.get(key), list) and isinstance(meta, ListMeta):
            result[key] = _apply_order(result[key], order, dict(original).get(key) or [], meta)
    return result


def _strip_directives(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            k: _strip_directives(v)
            for k, v in value.items()
            if k != _DIRECTIVE
            and not k.startswith(_SET_ORDER)
            and k != _RETAIN_KEYS
            and not k.startswith(_DELETE_PRIMITIVE)
        }
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return copy.deepcopy(value)


def _smp_list(original: list[Any], patch: list[Any], meta: ListMeta, path: str) -> list[Any]:
    key = meta.merge_key
    if key is None:
        # Primitive set-like list (finalizers): union, originals first.
        for item in patch:
            if isinstance(item, Mapping) and item.get(_DIRECTIVE) == "replace":
                return [i for i in patch if not isinstance(i, Mapping)]
        result = list(original)
        for item in patch:
            if item not in result:
                result.append(copy.deepcopy(item))
        return result
    # A "$patch: replace" element replaces the whole list with the rest of the patch.
    for item in patch:
        if isinstance(item, Mapping) and item.get(_DIRECTIVE) == "replace":
            return [
                _strip_directives(i)
                for i in patch
                if not (isinstance(i, Mapping) and i.get(_DIRECTIVE) == "replace")
            ]
    result = list(original)
    for item in patch:
        if not isinstance(item, Mapping):
            raise bad_patch(f"{path}: expected a map in a list merged by {key!r}, got {item!r}")
        if key not in item:
            raise bad_patch(f"map: {dict(item)} does not contain declared merge key: {key}")
        idx = next(
            (
                i
                for i, cur in enumerate(result)
                if isinstance(cur, Mapping) and cur.get(key) == item[key]
            ),
            None,
        )
        if item.get(_DIRECTIVE) == "delete":
            if idx is not None:
                result.pop(idx)
            continue
        if idx is None:
            result.append(_strip_directives(item))
        else:
            merged = _smp_map(result[idx], item, meta.item, f"{path}[{key}={item[key]}]")
            if merged is _DELETED:
                result.pop(idx)
            else:
                result[idx] = merged
    return result


def element_identity(item: Any, meta: ListMeta) -> str:
    """What identifies a list element (or a $setElementOrder entry) for ordering."""
    if meta.merge_key is not None and isinstance(item, Mapping):
        return json_text(item.get(meta.merge_key))
    return json_text(item)


def _apply_order(
    merged: list[Any], order: list[Any], original: list[Any], meta: ListMeta
) -> list[Any]:
    """Order a merged list per ``$setElementOrder``.

    Elements named in the order come in that order; elements only the server
    has keep their place relative to the others by their original index.
    """
    rank = {element_identity(e, meta): i for i, e in enumerate(order)}
    server_rank = {element_identity(e, meta): i for i, e in enumerate(original)}
    ordered = sorted(
        (e for e in merged if element_identity(e, meta) in rank),
        key=lambda e: rank[element_identity(e, meta)],
    )
    server_only = [e for e in merged if element_identity(e, meta) not in rank]
    out: list[Any] = []
    i = j = 0
    while i < len(ordered) and j < len(server_only):
        left = server_rank.get(element_identity(ordered[i], meta))
        right = server_rank.get(element_identity(server_only[j], meta), len(original))
        if left is None or left < right:
            out.append(ordered[i])
            i += 1
        else:
            out.append(server_only[j])
            j += 1
    out.extend(ordered[i:])
    out.extend(server_only[j:])
    return out


def json_text(value: Any) -> str:
    """Compact JSON for FieldsV1 keys, with fast paths for the usual scalars."""
    if type(value) is str:
        return _encode_string(value)
    if type(value) is int:
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
