"""OpenAPI v3 schemas of the built-in kinds, for ``kubectl explain deployment.spec.replicas``.

The schemas come from ``builtin_openapi.json`` beside this module, generated
by ``tools/gen_builtin_openapi.py`` from the official Kubernetes Python
client's models, which the Kubernetes project generates from the API server's
own OpenAPI document: the same field names, types and descriptions ``kubectl
explain`` prints on a cluster. Each group/version document carries the kinds
it serves and every schema they refer to, as kube's ``/openapi/v3/apis/<g>/<v>``
documents do.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

_DATA = "builtin_openapi.json"
_REF = "#/components/schemas/"


@functools.cache
def _data() -> Mapping[str, Any]:
    text = resources.files(__package__).joinpath(_DATA).read_text(encoding="utf-8")
    loaded: Mapping[str, Any] = json.loads(text)
    return loaded


def schema_for(group: str, version: str, kind: str) -> str | None:
    """The schema name of a built-in kind (None: no schema known)."""
    found = _data()["kinds"].get(f"{group}/{version}/{kind}")
    return None if found is None else str(found)


def _refs(value: Any, found: set[str]) -> None:
    if isinstance(value, Mapping):
        ref = value.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF):
            found.add(ref[len(_REF) :])
        for item in value.values():
            _refs(item, found)
    elif isinstance(value, list):
        for item in value:
            _refs(item, found)


@functools.cache
def _closure(names: tuple[str, ...]) -> tuple[str, ...]:
    """``names`` and every schema they refer to, directly or not."""
    schemas = _data()["schemas"]
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen or name not in schemas:
            continue
        seen.add(name)
        found: set[str] = set()
        _refs(schemas[name], found)
        todo.extend(found - seen)
    return tuple(sorted(seen))


def schemas_for(kinds: Mapping[str, tuple[str, str, str]]) -> dict[str, Any]:
    """The ``components.schemas`` for kinds given as {schema name: (group, version, kind)}.

    Each kind's own schema gets its ``x-kubernetes-group-version-kind``, which
    is how kubectl finds the schema of the kind it explains.
    """
    schemas = _data()["schemas"]
    result: dict[str, Any] = {}
    for name in _closure(tuple(sorted(kinds))):
        result[name] = schemas[name]
    for name, (group, version, kind) in kinds.items():
        if name in result:
            schema = copy.copy(result[name])
            schema["x-kubernetes-group-version-kind"] = [
                {"group": group, "kind": kind, "version": version}
            ]
            result[name] = schema
    return result
