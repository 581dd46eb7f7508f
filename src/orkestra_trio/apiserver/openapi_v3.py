"""OpenAPI v3 documents for custom resources, so ``kubectl explain`` works on them.

kubectl (1.27+) explains a resource by resolving it to a group/version/kind
through discovery, fetching ``/openapi/v3`` (a map from ``apis/<group>/<version>``
to a document URL) and then the group-version document, in which it looks for
the schema carrying the matching ``x-kubernetes-group-version-kind``. The
embedded server knows the schemas of custom resources (their CRDs carry them),
so it publishes those; built-in kinds have no schemas here and stay
unexplainable.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from orkestra_trio.apiserver.kinds import ResourceKind

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
    return f"/apis/{kind.group}/{kind.version}/{scope}{kind.plural}/{{name}}"


def _get_operation(kind: ResourceKind) -> dict[str, Any]:
    """The read operation kubectl explain follows from the resource to its schema."""
    ref = {"$ref": f"#/components/schemas/{_schema_name(kind)}"}
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
    """The OpenAPI v3 document of one custom group/version, or None."""
    schemas: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    for kind in kinds:
        if kind.group != group or kind.version != version or not kind.is_custom:
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
        paths[_item_path(kind)] = {"get": _get_operation(kind)}
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
    """``/openapi/v3``: one entry per custom group/version, its URL carrying a content hash."""
    kind_list = list(kinds)
    paths: dict[str, Any] = {}
    for group, version in sorted({(k.group, k.version) for k in kind_list if k.is_custom}):
        document = group_version_document(kind_list, group, version)
        if document is None:
            continue
        path = f"apis/{group}/{version}"
        paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={_hash(document)}"}
    return {"paths": paths}
