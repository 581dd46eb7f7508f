"""Kubernetes objects several test folders create, built in one place.

Importable from any test: pytest puts ``tests/`` on ``sys.path`` for its conftest.
"""

from __future__ import annotations

from typing import Any


def any_fields() -> dict[str, Any]:
    """A schema that keeps whatever it is given."""
    return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def spec_schema(spec: dict[str, Any]) -> dict[str, Any]:
    """An object schema: ``spec`` as given, ``status`` anything."""
    return {"type": "object", "properties": {"spec": spec, "status": any_fields()}}


def crd(
    plural: str,
    kind: str,
    *,
    group: str = "example.com",
    scope: str = "Namespaced",
    schema: dict[str, Any] | None = None,
    status: bool = False,
    short_names: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A CRD with one version, v1: ``schema`` (default: any field), ``status`` a subresource."""
    names: dict[str, Any] = {"plural": plural, "singular": kind.lower(), "kind": kind}
    if short_names:
        names["shortNames"] = list(short_names)
    version: dict[str, Any] = {"name": "v1", "served": True, "storage": True}
    if status:
        version["subresources"] = {"status": {}}
    version["schema"] = {"openAPIV3Schema": schema if schema is not None else any_fields()}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {"group": group, "scope": scope, "names": names, "versions": [version]},
    }


def deployment(
    name: str, replicas: int = 1, image: str = "nginx:1.27", *, container: str = "web"
) -> dict[str, Any]:
    """A Deployment of one container whose Pods carry ``app: <name>``."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": container, "image": image}]},
            },
        },
    }
