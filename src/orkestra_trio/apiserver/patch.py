"""The four ways a client can change an object without sending all of it.

- JSON merge patch (RFC 7386, ``application/merge-patch+json``): maps merge,
  ``null`` deletes, lists are replaced.
- JSON patch (RFC 6902, ``application/json-patch+json``): a list of
  operations addressed by JSON pointers; a failed ``test`` answers 422.
- Strategic merge patch (``application/strategic-merge-patch+json``, built-in
  kinds only, 415 for custom resources as on a real server): like merge patch,
  but lists with a merge key (containers by name, ports by containerPort ...)
  merge element-wise, and ``$patch``/``$setElementOrder``/``$retainKeys``/
  ``$deleteFromPrimitiveList`` directives refine it.  kubectl's client-side
  apply sends these for built-ins.
- Server-side apply (``application/apply-patch+yaml``): the applied
  configuration is merged into the live object, field ownership per manager is
  recorded in ``metadata.managedFields`` (FieldsV1), fields a manager stops
  applying are removed, and changing a field someone else owns is a 409
  conflict unless ``force``.

Everything here is pure: functions take and return plain JSON-like values and
never mutate their inputs.  Results may share unchanged subtrees with the
inputs (copy-on-write), so callers must not mutate a result in place while
they still use the input, or the other way round.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping, Sequence
from json.encoder import encode_basestring as _encode_string
from typing import Any

import attrs

from orkestra_trio.apiserver.kinds import ResourceKind
from orkestra_trio.apiserver.schema import json_equal


class PatchError(Exception):
    """A patch the server refuses; ``code``/``reason`` become the Status body."""

    code: int = 400
    reason: str = "BadRequest"

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        reason: str | None = None,
        causes: Sequence[Mapping[str, str]] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if reason is not None:
            self.reason = reason
        # Status details.causes entries: {"type", "message", "field"}.
        self.causes: list[dict[str, str]] = [dict(c) for c in causes]


def _bad_request(message: str) -> PatchError:
    return PatchError(message, code=400, reason="BadRequest")


def _invalid(message: str) -> PatchError:
    return PatchError(message, code=422, reason="Invalid")


class ApplyConflict(PatchError):
    """Server-side apply touched fields another manager owns (409 Conflict)."""

    code = 409
    reason = "Conflict"


# ==========================================================================
# JSON merge patch (RFC 7386)


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7386 merge patch; returns a new value."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result: dict[str, Any] = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def create_merge_patch(original: Any, modified: Any) -> Any:
    """The merge patch that turns ``original`` into ``modified``.

    Only exact when ``modified`` holds no ``null`` values, since merge patch
    cannot express "set to null" (RFC 7386 section 1).
    """
    if not isinstance(original, Mapping) or not isinstance(modified, Mapping):
        return copy.deepcopy(modified)
    patch: dict[str, Any] = {}
    for key in original:
        if key not in modified:
            patch[key] = None
    for key, value in modified.items():
        if key not in original:
            patch[key] = copy.deepcopy(value)
        elif original[key] != value or type(original[key]) is not type(value):
            patch[key] = create_merge_patch(original[key], value)
    return patch


# ==========================================================================
# JSON patch (RFC 6902)


def _decode_pointer(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise _bad_request(f'invalid JSON pointer "{pointer}": must start with "/"')
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/")]


def _list_index(container: list[Any], token: str, *, allow_end: bool, path: str) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token[0] == "0"):
        raise _invalid(f'invalid array index "{token}" in path "{path}"')
    index = int(token)
    limit = len(container) if allow_end else len(container) - 1
    if index > limit:
        raise _invalid(f'array index {index} out of bounds in path "{path}"')
    return index


def _walk(doc: Any, parts: list[str], path: str) -> Any:
    cur = doc
    for token in parts:
        if isinstance(cur, dict):
            if token not in cur:
                raise _invalid(f'path "{path}" does not exist: missing key "{token}"')
            cur = cur[token]
        elif isinstance(cur, list):
            cur = cur[_list_index(cur, token, allow_end=False, path=path)]
        else:
            raise _invalid(f'path "{path}" does not exist: "{token}" is inside a scalar')
    return cur


def _jp_get(doc: Any, path: str) -> Any:
    return _walk(doc, _decode_pointer(path), path)


def _jp_add(doc: Any, path: str, value: Any) -> Any:
    parts = _decode_pointer(path)
    if not parts:
        return value
    parent = _walk(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_list_index(parent, last, allow_end=True, path=path), value)
    else:
        raise _invalid(f'cannot add "{path}": parent is not an object or array')
    return doc


def _jp_remove(doc: Any, path: str) -> tuple[Any, Any]:
    parts = _decode_pointer(path)
    if not parts:
        raise _invalid("cannot remove the whole document")
    parent = _walk(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _invalid(f'cannot remove "{path}": no such key')
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_list_index(parent, last, allow_end=False, path=path))
    raise _invalid(f'cannot remove "{path}": parent is not an object or array')


#: kube-apiserver's limit on operations in one JSON patch (413 beyond it).
MAX_JSON_PATCH_OPERATIONS = 10000
# What the ``copy`` operations of one patch may add together (kube bounds it by
# its request size): without it, a copy of a path into itself doubles the
# object each time and 30 operations exhaust memory.
MAX_PATCH_COPY_BYTES = 3 * 1024 * 1024


def _json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False))


def json_patch(target: Any, operations: Any) -> Any:
    """Apply an RFC 6902 patch; returns a new document.

    A malformed patch document is 400 BadRequest; an operation that cannot
    apply (missing path, failed ``test``) is 422 Invalid, as kube-apiserver
    answers.
    """
    if not isinstance(operations, list):
        raise _bad_request("json patch must be a list of operations")
    if len(operations) > MAX_JSON_PATCH_OPERATIONS:
        raise PatchError(
            f"The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, "
            f"got {len(operations)}",
            code=413,
            reason="RequestEntityTooLarge",
        )
    doc = copy.deepcopy(target)
    copied = 0
    for n, op in enumerate(operations):
        if not isinstance(op, Mapping) or not isinstance(op.get("op"), str):
            raise _bad_request(f'json patch operation {n} has no "op"')
        name = op["op"]
        path = op.get("path")
        if not isinstance(path, str):
            raise _bad_request(f'json patch operation {n} ("{name}") has no "path"')
        if name in ("add", "replace", "test") and "value" not in op:
            raise _bad_request(f'json patch operation {n} ("{name}") has no "value"')
        if name in ("move", "copy") and not isinstance(op.get("from"), str):
            raise _bad_request(f'json patch operation {n} ("{name}") has no "from"')
        if name == "add":
            doc = _jp_add(doc, path, copy.deepcopy(op["value"]))
        elif name == "remove":
            doc, _ = _jp_remove(doc, path)
        elif name == "replace":
            _jp_get(doc, path)  # must exist
            if _decode_pointer(path):
                doc, _ = _jp_remove(doc, path)
            doc = _jp_add(doc, path, copy.deepcopy(op["value"]))
        elif name == "move":
            source = op["from"]
            if path != source and path.startswith(source + "/"):
                raise _invalid(f'cannot move "{source}" into its own child "{path}"')
            doc, value = _jp_remove(doc, source)
            doc = _jp_add(doc, path, value)
        elif name == "copy":
            value = _jp_get(doc, op["from"])
            copied += _json_size(value)
            if copied > MAX_PATCH_COPY_BYTES:
                raise _invalid(
                    "Unable to complete the copy, the accumulated size increase of copy is "
                    f"{copied}, exceeding the limit {MAX_PATCH_COPY_BYTES}"
                )
            doc = _jp_add(doc, path, copy.deepcopy(value))
        elif name == "test":
            if not json_equal(_jp_get(doc, path), op["value"]):
                raise _invalid(f"testing value {path} failed: test failed")
        else:
            raise _bad_request(f'unexpected json patch operation "{name}"')
    return doc


# ==========================================================================
# Patch metadata for built-in kinds: which lists merge, and by which key.
#
# A node is either a ``_Struct`` (known fields, unknown ones are plain maps)
# or a ``_ListMeta`` for a list field.  Fields absent from a struct behave as
# in a merge patch: maps merge recursively, lists are replaced (atomic).


@attrs.frozen
class _ListMeta:
    # Associative list: elements are maps identified by ``merge_key``.
    # Set list: ``merge_key`` None and ``strategy`` "merge": primitives, union.
    # Atomic list: ``strategy`` "replace".
    merge_key: str | None
    strategy: str = "merge"
    item: _Struct | None = None


@attrs.frozen
class _Struct:
    fields: Mapping[str, _Struct | _ListMeta] = attrs.field(factory=dict)


_GENERIC = _Struct()


def _conditions() -> _ListMeta:
    return _ListMeta("type")


_CONTAINER = _Struct(
    {
        "ports": _ListMeta("containerPort"),
        "env": _ListMeta("name"),
        "volumeMounts": _ListMeta("mountPath"),
        "volumeDevices": _ListMeta("devicePath"),
    }
)

_POD_SPEC = _Struct(
    {
        "containers": _ListMeta("name", item=_CONTAINER),
        "initContainers": _ListMeta("name", item=_CONTAINER),
        "ephemeralContainers": _ListMeta("name", item=_CONTAINER),
        "volumes": _ListMeta("name"),
        "imagePullSecrets": _ListMeta("name"),
        "hostAliases": _ListMeta("ip"),
        "topologySpreadConstraints": _ListMeta("topologyKey"),
        "resourceClaims": _ListMeta("name"),
        "schedulingGates": _ListMeta("name"),
        # tolerations, readinessGates have no patch strategy: atomic.
    }
)

_POD_TEMPLATE = _Struct({"spec": _POD_SPEC})

_OBJECT_META = _Struct(
    {
        "finalizers": _ListMeta(None, "merge"),
        "ownerReferences": _ListMeta("uid"),
    }
)

_STATUS_WITH_CONDITIONS = _Struct({"conditions": _conditions()})

_KIND_SCHEMAS: dict[tuple[str, str], _Struct] = {
    ("", "pods"): _Struct(
        {
            "spec": _POD_SPEC,
            "status": _Struct({"conditions": _conditions(), "podIPs": _ListMeta("ip")}),
        }
    ),
    ("", "services"): _Struct(
        {"spec": _Struct({"ports": _ListMeta("port")}), "status": _STATUS_WITH_CONDITIONS}
    ),
    ("", "namespaces"): _Struct({"status": _STATUS_WITH_CONDITIONS}),
    ("apps", "deployments"): _Struct(
        {"spec": _Struct({"template": _POD_TEMPLATE}), "status": _STATUS_WITH_CONDITIONS}
    ),
    ("apps", "statefulsets"): _Struct(
        {"spec": _Struct({"template": _POD_TEMPLATE}), "status": _STATUS_WITH_CONDITIONS}
    ),
    ("apps", "replicasets"): _Struct(
        {"spec": _Struct({"template": _POD_TEMPLATE}), "status": _STATUS_WITH_CONDITIONS}
    ),
    ("batch", "jobs"): _Struct(
        {"spec": _Struct({"template": _POD_TEMPLATE}), "status": _STATUS_WITH_CONDITIONS}
    ),
    ("batch", "cronjobs"): _Struct(
        {"spec": _Struct({"jobTemplate": _Struct({"spec": _Struct({"template": _POD_TEMPLATE})})})}
    ),
    ("apiextensions.k8s.io", "customresourcedefinitions"): _Struct(
        {"status": _STATUS_WITH_CONDITIONS}
    ),
}


def _schema_for(kind: ResourceKind) -> _Struct:
    body = _KIND_SCHEMAS.get((kind.group, kind.plural), _GENERIC)
    return _Struct({**body.fields, "metadata": _OBJECT_META})


def _field_meta(node: _Struct | None, name: str) -> _Struct | _ListMeta | None:
    return node.fields.get(name) if node is not None else None


def _struct(node: _Struct | _ListMeta | None) -> _Struct | None:
    return node if isinstance(node, _Struct) else None


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
        raise _bad_request("strategic merge patch must be a JSON object")
    if not isinstance(target, Mapping):
        target = {}
    result = _smp_map(target, patch, _schema_for(kind), "")
    return {} if result is _DELETED else result


class _Deleted:
    """Marker: a ``$patch: delete`` asked to remove the enclosing map."""


_DELETED: Any = _Deleted()


def _smp_map(
    original: Mapping[str, Any], patch: Mapping[str, Any], node: _Struct | None, path: str
) -> Any:
    directive = patch.get(_DIRECTIVE)
    if directive is not None:
        if directive == "delete":
            return _DELETED
        if directive == "replace":
            return _strip_directives(patch)
        if directive != "merge":
            raise _bad_request(f"Unknown patch type: {directive} in map: {path or '<root>'}")
    # Copy-on-write: containers along the patched paths are new, untouched
    # subtrees are shared with the target (never mutated).
    result: dict[str, Any] = dict(original)
    retain = patch.get(_RETAIN_KEYS)
    if retain is not None:
        if not isinstance(retain, list):
            raise _bad_request(f"$retainKeys must be a list in {path or '<root>'}")
        for key in list(result):
            if key not in retain:
                del result[key]
        for key in patch:
            if not key.startswith("$") and key not in retain and patch[key] is not None:
                raise _invalid(
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
        meta = _field_meta(node, key)
        if value is None:
            result.pop(key, None)
        elif isinstance(value, Mapping):
            current = result.get(key)
            merged = _smp_map(
                current if isinstance(current, Mapping) else {}, value, _struct(meta), sub_path
            )
            if merged is _DELETED:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list) and isinstance(meta, _ListMeta) and meta.strategy == "merge":
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
        meta = _field_meta(node, key)
        if isinstance(result.get(key), list) and isinstance(meta, _ListMeta):
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


def _smp_list(original: list[Any], patch: list[Any], meta: _ListMeta, path: str) -> list[Any]:
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
            raise _bad_request(f"{path}: expected a map in a list merged by {key!r}, got {item!r}")
        if key not in item:
            raise _bad_request(f"map: {dict(item)} does not contain declared merge key: {key}")
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


def _identity(item: Any, meta: _ListMeta) -> str:
    """What identifies a list element (or a $setElementOrder entry) for ordering."""
    if meta.merge_key is not None and isinstance(item, Mapping):
        return _json_text(item.get(meta.merge_key))
    return _json_text(item)


def _apply_order(
    merged: list[Any], order: list[Any], original: list[Any], meta: _ListMeta
) -> list[Any]:
    """Order a merged list per ``$setElementOrder``.

    Elements named in the order come in that order; elements only the server
    has keep their place relative to the others by their original index.
    """
    rank = {_identity(e, meta): i for i, e in enumerate(order)}
    server_rank = {_identity(e, meta): i for i, e in enumerate(original)}
    ordered = sorted(
        (e for e in merged if _identity(e, meta) in rank), key=lambda e: rank[_identity(e, meta)]
    )
    server_only = [e for e in merged if _identity(e, meta) not in rank]
    out: list[Any] = []
    i = j = 0
    while i < len(ordered) and j < len(server_only):
        left = server_rank.get(_identity(ordered[i], meta))
        right = server_rank.get(_identity(server_only[j], meta), len(original))
        if left is None or left < right:
            out.append(ordered[i])
            i += 1
        else:
            out.append(server_only[j])
            j += 1
    out.extend(ordered[i:])
    out.extend(server_only[j:])
    return out


# ==========================================================================
# Server-side apply and managedFields (FieldsV1)
#
# A field set is a set of paths; a path is a tuple of FieldsV1 keys:
# "f:<name>" for a map field, "k:<json of merge keys>" for an element of an
# associative list, "v:<json value>" for an element of a set list.  A path
# ending in "." marks ownership of a map/element itself (FieldsV1's ".": {}).

Path = tuple[str, ...]

# Fields the server owns or identifies the object by: never part of a field set.
_IGNORED_ROOT = frozenset({"apiVersion", "kind"})
_IGNORED_META = frozenset(
    {
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "managedFields",
        "selfLink",
    }
)


def _json_text(value: Any) -> str:
    """Compact JSON for FieldsV1 keys, with fast paths for the usual scalars."""
    if type(value) is str:
        return _encode_string(value)
    if type(value) is int:
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _element_key(item: Any, meta: _ListMeta) -> str:
    if meta.merge_key is not None and isinstance(item, dict):
        return f'k:{{"{meta.merge_key}":{_json_text(item.get(meta.merge_key))}}}'
    return "v:" + _json_text(item)


# The value recorded for an element's "." marker (it has no value of its own).
_MARKER: Any = object()


def leaf_values(obj: Mapping[str, Any], kind: ResourceKind) -> dict[Path, Any]:
    """Every leaf path ``obj`` sets, with the value found there (one walk)."""
    out: dict[Path, Any] = {}
    root = _schema_for(kind)
    for key, value in obj.items():
        if key in _IGNORED_ROOT:
            continue
        if key == "metadata" and isinstance(value, Mapping):
            meta_fields = {k: v for k, v in value.items() if k not in _IGNORED_META}
            _collect(meta_fields, _struct(root.fields.get("metadata")), ("f:metadata",), out)
            continue
        _collect_value(value, root.fields.get(key), (f"f:{key}",), out)
    return out


def _collect(
    obj: Mapping[str, Any], node: _Struct | None, prefix: Path, out: dict[Path, Any]
) -> None:
    for key, value in obj.items():
        _collect_value(value, _field_meta(node, key), (*prefix, f"f:{key}"), out)


def _collect_value(
    value: Any, meta: _Struct | _ListMeta | None, path: Path, out: dict[Path, Any]
) -> None:
    if type(value) is dict and value:
        _collect(value, _struct(meta), path, out)
    elif type(value) is list and isinstance(meta, _ListMeta) and meta.strategy == "merge" and value:
        for item in value:
            element = (*path, _element_key(item, meta))
            if meta.merge_key is not None and type(item) is dict:
                out[(*element, ".")] = _MARKER
                _collect(item, meta.item, element, out)
            else:
                out[element] = item
    else:
        out[path] = value


def _strip_marker(path: Path) -> Path:
    return path[:-1] if path[-1:] == (".",) else path


class _PathIndex:
    """A path set answering "is any prefix of p in it" and "does anything lie
    under p" in O(len(p)) instead of scanning every path."""

    def __init__(self, paths: Iterable[Path]) -> None:
        self.exact: set[Path] = set()
        self.inner: set[Path] = set()  # strict prefixes of the (marker-free) paths
        self.leaves: set[Path] = set()  # paths without a "." marker
        for path in paths:
            self.add(path)

    def add(self, path: Path) -> None:
        self.exact.add(path)
        bare = _strip_marker(path)
        if bare is path:
            self.leaves.add(path)
        for n in range(1, len(bare)):
            self.inner.add(bare[:n])

    def covers(self, path: Path) -> bool:
        """Whether a leaf owned here is ``path`` or an ancestor of it."""
        if not self.exact:
            return False
        if path in self.exact:
            return True
        bare = _strip_marker(path)
        return any(bare[:n] in self.leaves for n in range(1, len(bare) + 1))

    def overlaps(self, path: Path) -> bool:
        """Whether some path here lies inside ``path`` or contains it."""
        bare = _strip_marker(path)
        if bare in self.inner or bare in self.exact or (*bare, ".") in self.exact:
            return True
        # A leaf above owns everything below it; an element's "." marker above
        # owns only the element's existence, not its fields.
        return any(bare[:n] in self.leaves for n in range(1, len(bare)))


def fields_v1(paths: Iterable[Path]) -> dict[str, Any]:
    """Nest a path set into the FieldsV1 JSON form."""
    tree: dict[str, Any] = {}
    for path in paths:
        cur = tree
        for part in path:
            cur = cur.setdefault(part, {})
    return tree


def paths_from_fields_v1(tree: Mapping[str, Any], prefix: Path = ()) -> set[Path]:
    """Flatten FieldsV1 JSON into leaf paths (inverse of ``fields_v1``)."""
    out: set[Path] = set()
    for key, sub in tree.items():
        path = (*prefix, key)
        if isinstance(sub, Mapping) and sub:
            out |= paths_from_fields_v1(sub, path)
        else:
            out.add(path)
    return out


def _without_path(node: Any, path: Path) -> Any:
    """``node`` without the field/element a leaf path names (copy-on-write).

    Containers along the path are copied, everything else is shared.  A map
    or list the removal leaves empty is removed as well (it held the removed
    field, so it was not empty before).
    """
    if path and path[-1] == ".":
        path = path[:-1]
    if not path:
        return node
    part, rest = path[0], path[1:]
    if part.startswith("f:"):
        key = part[2:]
        if not isinstance(node, Mapping) or key not in node:
            return node
        out = dict(node)
        if rest:
            child = _without_path(node[key], rest)
            if isinstance(child, (dict, list)) and not child and node[key]:
                del out[key]
            else:
                out[key] = child
        else:
            del out[key]
        return out
    if not isinstance(node, list):
        return node
    items: list[Any] = []
    for element in node:
        if not _element_matches(element, part):
            items.append(element)
        elif rest:
            child = _without_path(element, rest)
            if not (isinstance(child, (dict, list)) and not child and element):
                items.append(child)
    return items


def _element_matches(element: Any, part: str) -> bool:
    want = json.loads(part[2:])
    if part.startswith("k:"):
        return isinstance(element, Mapping) and all(element.get(k) == v for k, v in want.items())
    return bool(element == want)


_NO_KIND = ResourceKind(group="", version="", kind="", plural="", singular="", namespaced=True)


def _managed_entries(obj: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    if not obj:
        return []
    return [dict(e) for e in ((obj.get("metadata") or {}).get("managedFields") or [])]


def _entry_paths(entry: Mapping[str, Any]) -> set[Path]:
    return paths_from_fields_v1(entry.get("fieldsV1") or {})


def _describe_path(path: Path) -> str:
    """A path as kube prints it in conflicts: ``.spec.containers[name="app"].image``."""
    parts: list[str] = []
    for p in path:
        if p == ".":
            continue
        if p.startswith("f:"):
            parts.append("." + p[2:])
        elif p.startswith("k:"):
            keys = json.loads(p[2:])
            inner = ",".join(f"{k}={json.dumps(v)}" for k, v in keys.items())
            parts.append(f"[{inner}]")
        else:
            parts.append(f"[={p[2:]}]")
    return "".join(parts)


def _make_entry(
    manager: str, operation: str, api_version: str, now: str, paths: set[Path], subresource: str
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": now,
        "fieldsType": "FieldsV1",
        "fieldsV1": fields_v1(paths),
    }
    if subresource:
        entry["subresource"] = subresource
    return entry


def _merge_applied(live: Any, applied: Any, node: _Struct | _ListMeta | None) -> Any:
    """Structural merge of an applied configuration into the live value.

    Containers are copied only along the applied paths; untouched live
    subtrees are shared (the caller passes its own copy of the live object).
    """
    if isinstance(applied, Mapping) and isinstance(live, Mapping):
        out = dict(live)
        struct = _struct(node)
        for key, value in applied.items():
            out[key] = _merge_applied(live.get(key), value, _field_meta(struct, key))
        return out
    if (
        isinstance(applied, list)
        and isinstance(live, list)
        and isinstance(node, _ListMeta)
        and node.strategy == "merge"
    ):
        out_list = list(live)
        where = {_element_key(e, node): i for i, e in enumerate(out_list)}
        for item in applied:
            key = _element_key(item, node)
            idx = where.get(key)
            if idx is None:
                where[key] = len(out_list)
                out_list.append(copy.deepcopy(item))
            elif node.merge_key is not None:
                out_list[idx] = _merge_applied(out_list[idx], item, node.item)
        return _applied_order(out_list, applied, live, node)
    return copy.deepcopy(applied)


def _conflict_message(causes: Sequence[Mapping[str, str]]) -> str:
    """The 409 message in the server's words (kubectl prints it verbatim).

    One conflict: ``Apply failed with 1 conflict: conflict with "m" using
    apps/v1: .spec.replicas``; several are grouped per manager, one field per
    line.
    """
    count = len(causes)
    head = f"Apply failed with {count} conflict{'s' if count > 1 else ''}: "
    if count == 1:
        return head + f"{causes[0]['message']}: {causes[0]['field']}"
    by_manager: dict[str, list[str]] = {}
    for cause in causes:
        who = cause["message"].removeprefix("conflict with ")
        by_manager.setdefault(who, []).append(cause["field"])
    lines: list[str] = []
    for who in sorted(by_manager):
        lines.append(f"conflicts with {who}:")
        lines.extend(f"- {field}" for field in by_manager[who])
    return head + "\n".join(lines)


def managed_fields_equivalent(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether two objects record the same ownership (timestamps aside).

    A write whose only difference is managedFields ``time`` is a no-op; one
    that adds a manager or moves fields between managers is not (a real
    server persists it, so later conflicts name the right owners).
    """

    def key(obj: Mapping[str, Any]) -> list[Any]:
        entries = (obj.get("metadata") or {}).get("managedFields") or []
        return [{k: v for k, v in e.items() if k != "time"} for e in entries]

    return key(old) == key(new)


def _applied_order(
    merged: list[Any], applied: list[Any], live: list[Any], node: _ListMeta
) -> list[Any]:
    """Order an applied list: applied elements in the applied order, each
    element only the live object has right after its predecessor in the live
    list (at the front when it has none)."""
    by_id = {_identity(e, node): e for e in merged}
    order = [i for i in dict.fromkeys(_identity(e, node) for e in applied) if i in by_id]
    placed = set(order)
    previous: str | None = None
    for element in live:
        ident = _identity(element, node)
        if ident not in placed:
            order.insert(0 if previous is None else order.index(previous) + 1, ident)
            placed.add(ident)
        previous = ident
    return [by_id[i] for i in order]


def server_side_apply(
    live: Mapping[str, Any] | None,
    applied: Mapping[str, Any],
    *,
    manager: str,
    force: bool,
    kind: ResourceKind,
    now: str,
    subresource: str = "",
) -> dict[str, Any]:
    """Merge an applied configuration into ``live`` (None: create) with ownership.

    - fields in ``applied`` are set; this manager becomes (co-)owner;
    - fields this manager applied before and no longer applies are removed,
      unless another manager also owns them;
    - a field owned by another manager whose live value differs from the
      applied one is a conflict: ``ApplyConflict`` (409) listing each field
      and owner, unless ``force``, which takes the field over.
    """
    if not manager:
        raise _bad_request("PATCH requests of type apply require a fieldManager")
    if not isinstance(applied, Mapping):
        raise _bad_request("the applied configuration must be an object")
    root = _schema_for(kind)
    entries = _managed_entries(live)
    mine_before: set[Path] = set()
    others: list[tuple[dict[str, Any], set[Path]]] = []
    for entry in entries:
        paths = _entry_paths(entry)
        if _is_own_apply(entry, manager, subresource):
            mine_before = paths
        else:
            others.append((entry, paths))

    # Read-only: the merge below copies containers along the paths it changes.
    base: Mapping[str, Any] = live or {}
    live_leaves = leaf_values(base, kind)
    applied_leaves = leaf_values(applied, kind)
    new_paths = set(applied_leaves)
    taken, causes = _apply_conflicts(live_leaves, applied_leaves, others)
    if causes and not force:
        raise ApplyConflict(_conflict_message(causes), causes=causes)
    # Force (or no conflict): the other managers lose the fields we take.
    for n, path in taken:
        entry, paths = others[n]
        taken_index = _PathIndex([path])
        others[n] = (entry, {p for p in paths if p != path and not taken_index.covers(p)})

    result: dict[str, Any] = _merge_applied(base, _without_ignored(applied), root)
    for key in ("apiVersion", "kind"):
        if key in applied:
            result[key] = applied[key]
    # A fresh metadata map: the merge may have left the live one shared.
    result["metadata"] = meta = dict(result.get("metadata") or {})
    for key in ("name", "namespace"):
        if key in (applied.get("metadata") or {}):
            meta[key] = applied["metadata"][key]

    # Fields this manager dropped from its configuration, and nobody else owns.
    # Outer paths first: a removed list element takes its fields with it
    # (removing its key field first would make the element unfindable).
    keep = _PathIndex(new_paths.union(*(paths for _, paths in others)))
    removed = _PathIndex(())
    for path in sorted(mine_before - new_paths, key=_removal_order):
        if keep.overlaps(path) or removed.overlaps(path):
            continue
        removed.add(path)
        result = _without_path(result, path)

    new_entries: list[dict[str, Any]] = []
    placed = False
    api_version = str(applied.get("apiVersion") or kind.api_version)
    for entry in entries:
        if _is_own_apply(entry, manager, subresource):
            new_entries.append(
                _make_entry(manager, "Apply", api_version, now, new_paths, subresource)
            )
            placed = True
            continue
        for other, paths in others:
            if other is entry:
                if paths:
                    kept = dict(entry)
                    kept["fieldsV1"] = fields_v1(paths)
                    new_entries.append(kept)
                break
    if not placed:
        new_entries.append(_make_entry(manager, "Apply", api_version, now, new_paths, subresource))
    result["metadata"] = {**(result.get("metadata") or {}), "managedFields": new_entries}
    return result


def _is_own_apply(entry: Mapping[str, Any], manager: str, subresource: str) -> bool:
    """Whether a managedFields entry is this manager's earlier apply (to this subresource)."""
    return (
        entry.get("manager") == manager
        and entry.get("operation") == "Apply"
        and entry.get("subresource", "") == subresource
    )


def _apply_conflicts(
    live_leaves: Mapping[Path, Any],
    applied_leaves: Mapping[Path, Any],
    others: Sequence[tuple[Mapping[str, Any], set[Path]]],
) -> tuple[list[tuple[int, Path]], list[dict[str, str]]]:
    """The leaves another manager owns whose value this apply changes.

    Returns them as ``(index into others, path)`` pairs, to take over on
    force, and as the Status causes of the 409 otherwise.
    """
    indexes = [_PathIndex(paths) for _, paths in others]
    causes: list[dict[str, str]] = []
    taken: list[tuple[int, Path]] = []
    for path in sorted(applied_leaves):
        if path[-1:] == (".",):
            continue
        if path in live_leaves and json_equal(live_leaves[path], applied_leaves[path]):
            continue
        for n, index in enumerate(indexes):
            if index.covers(path):
                entry = others[n][0]
                taken.append((n, path))
                causes.append(
                    {
                        "type": "FieldManagerConflict",
                        "message": f'conflict with "{entry.get("manager")}"'
                        + (f" using {entry.get('apiVersion')}" if entry.get("apiVersion") else ""),
                        "field": _describe_path(path),
                    }
                )
    return taken, causes


def _removal_order(path: Path) -> tuple[int, bool, Path]:
    """Outer fields first, and an element's "." marker before its own fields."""
    is_marker = path[-1:] == (".",)
    return (len(path) - is_marker, not is_marker, path)


def _without_ignored(applied: Mapping[str, Any]) -> dict[str, Any]:
    # Shallow: _merge_applied copies every value it takes from the configuration.
    out = {k: v for k, v in applied.items() if k not in _IGNORED_ROOT}
    meta = applied.get("metadata")
    if isinstance(meta, Mapping):
        out["metadata"] = {k: v for k, v in meta.items() if k not in _IGNORED_META}
    return out


def _trimmed(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The object without the fields no manager owns (shallow)."""
    out = {k: v for k, v in obj.items() if k not in _IGNORED_ROOT}
    meta = out.pop("metadata", None)
    if isinstance(meta, Mapping):
        kept = {k: v for k, v in meta.items() if k not in _IGNORED_META}
        if kept:  # metadata holding only server fields is nobody's
            out["metadata"] = kept
    return out


def _diff(
    old: Any,
    new: Any,
    meta: _Struct | _ListMeta | None,
    path: Path,
    changed: set[Path],
    removed: set[Path],
) -> None:
    """Collect the leaf paths that differ between ``old`` and ``new``.

    Equal subtrees are skipped with one (C-speed) comparison, so the cost
    follows the size of the change, not of the object.  That comparison is
    Python's, for which 1 == true: a field changing between those two keeps
    its owner (harmless: schemas reject one of the two anyway).
    """
    if type(old) is type(new) and old == new:
        return
    # An empty map is itself a leaf, except at the root.
    if type(old) is dict and type(new) is dict and ((old and new) or not path):
        struct = _struct(meta)
        for key, value in new.items():
            sub = (*path, f"f:{key}")
            if key in old:
                _diff(old[key], value, _field_meta(struct, key), sub, changed, removed)
            else:
                _collect_value(value, _field_meta(struct, key), sub, _Sink(changed))
        for key, value in old.items():
            if key not in new:
                _collect_value(value, _field_meta(struct, key), (*path, f"f:{key}"), _Sink(removed))
        return
    if (
        type(old) is list
        and type(new) is list
        and isinstance(meta, _ListMeta)
        and meta.strategy == "merge"
        and meta.merge_key is not None
        and old
        and new
    ):
        old_by_key = {_element_key(e, meta): e for e in old}
        new_keys = set()
        for element in new:
            key = _element_key(element, meta)
            new_keys.add(key)
            sub = (*path, key)
            if key in old_by_key and type(element) is dict:
                _diff(old_by_key[key], element, meta.item, sub, changed, removed)
            else:
                _collect_value([element], meta, path, _Sink(changed))
        for key, element in old_by_key.items():
            if key not in new_keys:
                _collect_value([element], meta, path, _Sink(removed))
        return
    before: dict[Path, Any] = {}
    after: dict[Path, Any] = {}
    _collect_value(old, meta, path, before)
    _collect_value(new, meta, path, after)
    changed.update(p for p, v in after.items() if p not in before or not json_equal(before[p], v))
    removed.update(p for p in before if p not in after)


class _Sink(dict[Path, Any]):
    """A leaf collector that records only the paths, into a set."""

    def __init__(self, target: set[Path]) -> None:
        super().__init__()
        self._target = target

    def __setitem__(self, key: Path, value: Any) -> None:
        self._target.add(key)


def _changed_paths(old: Any, new: Any, kind: ResourceKind) -> tuple[set[Path], set[Path]]:
    """Leaf paths of ``new`` whose value differs from ``old``, and leaf paths gone."""
    changed: set[Path] = set()
    removed: set[Path] = set()
    old_obj = _trimmed(old) if isinstance(old, Mapping) else {}
    new_obj = _trimmed(new) if isinstance(new, Mapping) else {}
    _diff(old_obj, new_obj, _schema_for(kind), (), changed, removed)
    return changed, removed


def record_update_manager(
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any],
    *,
    manager: str,
    operation: str = "Update",
    now: str,
    kind: ResourceKind | None = None,
    subresource: str = "",
) -> dict[str, Any]:
    """Record a non-apply write (create/update/patch) in ``managedFields``.

    The writer takes ownership of every field it changed or added (other
    managers lose those fields), removed fields leave every set, and a
    manager left owning nothing is dropped, as on a real server.  Fields that
    did not change keep their owners.  Returns a new root and metadata map;
    everything else is shared with ``new`` (which is not modified).
    """
    kind = kind or _NO_KIND
    # Only metadata.managedFields changes: copy the root and metadata, share the rest.
    result: dict[str, Any] = dict(new)
    result["metadata"] = dict(new.get("metadata") or {})
    changed, removed = _changed_paths(old, new, kind)
    if not changed and not removed and old is not None:
        # Nothing owned changed hands: keep the old record as it is.
        if "managedFields" in (old.get("metadata") or {}):
            result["metadata"]["managedFields"] = old["metadata"]["managedFields"]
        else:
            result["metadata"].pop("managedFields", None)
        return result
    changed_index = _PathIndex(changed)
    removed_index = _PathIndex(removed)

    def still_valid(path: Path) -> bool:
        # Dropped when the path itself changed hands, a leaf above it changed,
        # or it (or something above it) was removed.
        if path in changed_index.exact or (path[-1:] != (".",) and path in changed_index.inner):
            return False
        return not removed_index.covers(path)

    entries = _managed_entries(old)
    new_entries: list[dict[str, Any]] = []
    mine: set[Path] = set()
    mine_entry: dict[str, Any] | None = None
    for entry in entries:
        paths = _entry_paths(entry)
        if (
            entry.get("manager") == manager
            and entry.get("operation") == operation
            and entry.get("subresource", "") == subresource
        ):
            mine = paths
            mine_entry = entry
            continue
        kept_paths = {p for p in paths if still_valid(p)}
        if kept_paths == paths:
            new_entries.append(entry)
        elif kept_paths:
            kept = dict(entry)
            kept["fieldsV1"] = fields_v1(kept_paths)
            new_entries.append(kept)
    mine = {p for p in mine if not removed_index.covers(p)} | changed
    if mine:
        api_version = str(new.get("apiVersion") or kind.api_version or "v1")
        made = _make_entry(manager, operation, api_version, now, mine, subresource)
        if mine_entry is not None and not changed:
            made["time"] = mine_entry.get("time", now)
        new_entries.append(made)
    meta = result.setdefault("metadata", {})
    if new_entries:
        meta["managedFields"] = new_entries
    else:
        meta.pop("managedFields", None)
    return result
