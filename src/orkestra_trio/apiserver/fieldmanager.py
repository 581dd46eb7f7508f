"""Server-side apply (``application/apply-patch+yaml``) and managedFields (FieldsV1).

The applied configuration is merged into the live object, field ownership
per manager is recorded in ``metadata.managedFields``, fields a manager stops
applying are removed, and changing a field someone else owns is a 409
conflict unless ``force``. Ordinary writes record their manager here too.

Pure, copy-on-write, like patch.py.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from orkestra_trio.apiserver.kinds import ResourceKind
from orkestra_trio.apiserver.patch import ApplyConflict, bad_patch
from orkestra_trio.apiserver.schema import json_equal
from orkestra_trio.apiserver.strategicmerge import (
    ListMeta,
    Struct,
    element_identity,
    field_meta,
    json_text,
    schema_for,
    struct_of,
)

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


def _element_key(item: Any, meta: ListMeta) -> str:
    if meta.merge_key is not None and isinstance(item, dict):
        return f'k:{{"{meta.merge_key}":{json_text(item.get(meta.merge_key))}}}'
    return "v:" + json_text(item)


# The value recorded for an element's "." marker (it has no value of its own).
_MARKER: Any = object()


def leaf_values(obj: Mapping[str, Any], kind: ResourceKind) -> dict[Path, Any]:
    """Every leaf path ``obj`` sets, with the value found there (one walk)."""
    out: dict[Path, Any] = {}
    root = schema_for(kind)
    for key, value in obj.items():
        if key in _IGNORED_ROOT:
            continue
        if key == "metadata" and isinstance(value, Mapping):
            meta_fields = {k: v for k, v in value.items() if k not in _IGNORED_META}
            _collect(meta_fields, struct_of(root.fields.get("metadata")), ("f:metadata",), out)
            continue
        _collect_value(value, root.fields.get(key), (f"f:{key}",), out)
    return out


def _collect(
    obj: Mapping[str, Any], node: Struct | None, prefix: Path, out: dict[Path, Any]
) -> None:
    for key, value in obj.items():
        _collect_value(value, field_meta(node, key), (*prefix, f"f:{key}"), out)


def _collect_value(
    value: Any, meta: Struct | ListMeta | None, path: Path, out: dict[Path, Any]
) -> None:
    if type(value) is dict and value:
        _collect(value, struct_of(meta), path, out)
    elif type(value) is list and isinstance(meta, ListMeta) and meta.strategy == "merge" and value:
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


def _merge_applied(live: Any, applied: Any, node: Struct | ListMeta | None) -> Any:
    """Structural merge of an applied configuration into the live value.

    Containers are copied only along the applied paths; untouched live
    subtrees are shared (the caller passes its own copy of the live object).
    """
    if isinstance(applied, Mapping) and isinstance(live, Mapping):
        out = dict(live)
        struct = struct_of(node)
        for key, value in applied.items():
            out[key] = _merge_applied(live.get(key), value, field_meta(struct, key))
        return out
    if (
        isinstance(applied, list)
        and isinstance(live, list)
        and isinstance(node, ListMeta)
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
    merged: list[Any], applied: list[Any], live: list[Any], node: ListMeta
) -> list[Any]:
    """Order an applied list: applied elements in the applied order, each
    element only the live object has right after its predecessor in the live
    list (at the front when it has none)."""
    by_id = {element_identity(e, node): e for e in merged}
    order = [i for i in dict.fromkeys(element_identity(e, node) for e in applied) if i in by_id]
    placed = set(order)
    previous: str | None = None
    for element in live:
        ident = element_identity(element, node)
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
        raise bad_patch("PATCH requests of type apply require a fieldManager")
    if not isinstance(applied, Mapping):
        raise bad_patch("the applied configuration must be an object")
    root = schema_for(kind)
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
    meta: Struct | ListMeta | None,
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
        struct = struct_of(meta)
        for key, value in new.items():
            sub = (*path, f"f:{key}")
            if key in old:
                _diff(old[key], value, field_meta(struct, key), sub, changed, removed)
            else:
                _collect_value(value, field_meta(struct, key), sub, _Sink(changed))
        for key, value in old.items():
            if key not in new:
                _collect_value(value, field_meta(struct, key), (*path, f"f:{key}"), _Sink(removed))
        return
    if (
        type(old) is list
        and type(new) is list
        and isinstance(meta, ListMeta)
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
    _diff(old_obj, new_obj, schema_for(kind), (), changed, removed)
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
