"""OpenAPI v3 documents for every kind served, so ``kubectl explain`` works on them.

kubectl (1.27+) explains a resource by resolving it to a group/version/kind
through discovery, fetching ``/openapi/v3`` (a map from ``api/v1`` and
``apis/<group>/<version>`` to a document URL) and then the group-version
document, in which it looks for the schema carrying the matching
``x-kubernetes-group-version-kind``. Custom resources bring their schemas in
their CRDs; the built-in kinds' schemas come from ``registry/builtin_openapi``.

Each kind gets only a ``get`` operation: kubectl ≥1.28 computes apply patches
from OpenAPI v3 only for kinds whose ``patch`` operation accepts strategic
merge patches, and the embedded server keeps it on its built-in tables.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from orkestra_trio.apiserver.kinds import ResourceKind
from orkestra_trio.apiserver.registry import builtin_openapi

_TYPE_META = {
    "apiVersion": {
        "description": "APIVersion defines the versioned schema of this representation of an object.",
        "type": "string",
    },
    "kind": {
        "description": "Kind is a string value representing the REST resource this object represents.",
        "type": "string",
    },
    "metadata": {
        "description": "Standard object's metadata.",
        "type": "object",
    },
}


def _schema_name(kind: ResourceKind) -> str:
    """``com.example.v1.Widget``: kube's reversed-group naming of a CRD schema."""
    reversed_group = ".".join(reversed(kind.group.split(".")))
    return f"{reversed_group}.{kind.version}.{kind.kind}"


def _item_path(kind: ResourceKind) -> str:
    scope = "namespaces/{namespace}/" if kind.namespaced else ""
    return f"{kind.url_prefix}/{scope}{kind.plural}/{{name}}"


def _get_operation(kind: ResourceKind, schema_name: str) -> dict[str, Any]:
    """The read operation kubectl explain follows from the resource to its schema."""
    ref = {"$ref": f"#/components/schemas/{schema_name}"}
    return {
        "description": f"read the specified {kind.kind}",
        "operationId": f"read{kind.kind}",
        "responses": {
            "200": {
                "description": "OK",
                "content": {"application/json": {"schema": ref}},
            }
        },
        "x-kubernetes-action": "get",
        "x-kubernetes-group-version-kind": {
            "group": kind.group,
            "version": kind.version,
            "kind": kind.kind,
        },
    }


def group_version_document(
    kinds: Iterable[ResourceKind], group: str, version: str
) -> dict[str, Any] | None:
    """The OpenAPI v3 document of one group/version, or None."""
    schemas: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    builtins: dict[str, tuple[str, str, str]] = {}
    for kind in kinds:
        if kind.group != group or kind.version != version:
            continue
        if not kind.is_custom:
            name = builtin_openapi.schema_for(kind.group, kind.version, kind.kind)
            if name is not None:
                builtins[name] = (kind.group, kind.version, kind.kind)
                paths[_item_path(kind)] = {"get": _get_operation(kind, name)}
            continue
        schema: dict[str, Any] = dict(kind.schema or {"type": "object"})
        properties = dict(schema.get("properties") or {})
        for name, prop in _TYPE_META.items():
            properties.setdefault(name, prop)
        schema["properties"] = properties
        schema["x-kubernetes-group-version-kind"] = [
            {"group": kind.group, "kind": kind.kind, "version": kind.version}
        ]
        schemas[_schema_name(kind)] = schema
        paths[_item_path(kind)] = {"get": _get_operation(kind, _schema_name(kind))}
    schemas.update(builtin_openapi.schemas_for(builtins))
    if not schemas:
        return None
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes CRD Swagger", "version": "v0.1.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def _hash(document: Mapping[str, Any]) -> str:
    raw = json.dumps(document, sort_keys=True).encode()
    return hashlib.sha512(raw).hexdigest()[:128].upper()


def root_document(kinds: Iterable[ResourceKind]) -> dict[str, Any]:
    """``/openapi/v3``: one entry per group/version, its URL carrying a content hash."""
    kind_list = list(kinds)
    paths: dict[str, Any] = {}
    for group, version in sorted({(k.group, k.version) for k in kind_list}):
        document = group_version_document(kind_list, group, version)
        if document is None:
            continue
        path = f"apis/{group}/{version}" if group else f"api/{version}"
        paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={_hash(document)}"}
    return {"paths": paths}
