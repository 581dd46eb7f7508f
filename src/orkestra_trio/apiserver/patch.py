"""Patches a client sends to change an object without sending all of it: errors,
JSON merge patch and JSON patch.

- JSON merge patch (RFC 7386, ``application/merge-patch+json``): maps merge,
  ``null`` deletes, lists are replaced.
- JSON patch (RFC 6902, ``application/json-patch+json``): a list of
  operations addressed by JSON pointers; a failed ``test`` answers 422.

The two other ways live beside this module: strategic merge patch in
strategicmerge.py, server-side apply and managedFields in fieldmanager.py. They
share ``PatchError``, the refusal every patch answers with.

Everything here is pure: functions take and return plain JSON-like values and
never mutate their inputs.  Results may share unchanged subtrees with the
inputs (copy-on-write), so callers must not mutate a result in place while
they still use the input, or the other way round.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any

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


def bad_patch(message: str) -> PatchError:
    return PatchError(message, code=400, reason="BadRequest")


def invalid_patch(message: str) -> PatchError:
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
        raise bad_patch(f'invalid JSON pointer "{pointer}": must start with "/"')
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/")]


def _list_index(container: list[Any], token: str, *, allow_end: bool, path: str) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token[0] == "0"):
        raise invalid_patch(f'invalid array index "{token}" in path "{path}"')
    index = int(token)
    limit = len(container) if allow_end else len(container) - 1
    if index > limit:
        raise invalid_patch(f'array index {index} out of bounds in path "{path}"')
    return index


def _walk(doc: Any, parts: list[str], path: str) -> Any:
    cur = doc
    for token in parts:
        if isinstance(cur, dict):
            if token not in cur:
                raise invalid_patch(f'path "{path}" does not exist: missing key "{token}"')
            cur = cur[token]
        elif isinstance(cur, list):
            cur = cur[_list_index(cur, token, allow_end=False, path=path)]
        else:
            raise invalid_patch(f'path "{path}" does not exist: "{token}" is inside a scalar')
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
        raise invalid_patch(f'cannot add "{path}": parent is not an object or array')
    return doc


def _jp_remove(doc: Any, path: str) -> tuple[Any, Any]:
    parts = _decode_pointer(path)
    if not parts:
        raise invalid_patch("cannot remove the whole document")
    parent = _walk(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise invalid_patch(f'cannot remove "{path}": no such key')
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_list_index(parent, last, allow_end=False, path=path))
    raise invalid_patch(f'cannot remove "{path}": parent is not an object or array')


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
        raise bad_patch("json patch must be a list of operations")
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
            raise bad_patch(f'json patch operation {n} has no "op"')
        name = op["op"]
        path = op.get("path")
        if not isinstance(path, str):
            raise bad_patch(f'json patch operation {n} ("{name}") has no "path"')
        if name in ("add", "replace", "test") and "value" not in op:
            raise bad_patch(f'json patch operation {n} ("{name}") has no "value"')
        if name in ("move", "copy") and not isinstance(op.get("from"), str):
            raise bad_patch(f'json patch operation {n} ("{name}") has no "from"')
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
                raise invalid_patch(f'cannot move "{source}" into its own child "{path}"')
            doc, value = _jp_remove(doc, source)
            doc = _jp_add(doc, path, value)
        elif name == "copy":
            value = _jp_get(doc, op["from"])
            copied += _json_size(value)
            if copied > MAX_PATCH_COPY_BYTES:
                raise invalid_patch(
                    "Unable to complete the copy, the accumulated size increase of copy is "
                    f"{copied}, exceeding the limit {MAX_PATCH_COPY_BYTES}"
                )
            doc = _jp_add(doc, path, copy.deepcopy(value))
        elif name == "test":
            if not json_equal(_jp_get(doc, path), op["value"]):
                raise invalid_patch(f"testing value {path} failed: test failed")
        else:
            raise bad_patch(f'unexpected json patch operation "{name}"')
    return doc
