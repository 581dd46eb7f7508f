"""A kubeconfig for the embedded server, so kubectl and other clients work as is.

The server speaks plain HTTP on loopback and accepts unauthenticated
requests (kubectl sends no token over http), so the file names a cluster by
URL, an empty user, and one context, ``orkestra-embedded``, whose namespace
is ``default``.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

CONTEXT = "orkestra-embedded"


def kubeconfig_dict(url: str, *, namespace: str = "default") -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": CONTEXT, "cluster": {"server": url}}],
        "users": [{"name": CONTEXT, "user": {}}],
        "contexts": [
            {
                "name": CONTEXT,
                "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace},
            }
        ],
        "current-context": CONTEXT,
    }


def write_kubeconfig(path: str | os.PathLike[str], url: str, *, namespace: str = "default") -> Path:
    """Write the kubeconfig atomically (a reader never sees half a file)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(yaml.safe_dump(kubeconfig_dict(url, namespace=namespace), sort_keys=False))
    os.replace(tmp, target)
    return target
