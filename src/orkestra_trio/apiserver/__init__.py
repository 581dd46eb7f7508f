"""The embedded Kubernetes API server.

``open_apiserver`` starts a store and an HTTP server that speaks the
Kubernetes REST API faithfully enough for kubectl, the official clients and
our own ``kube`` layer (see KUBE-API.md for what is covered). This package
knows nothing of the runtime or the kube client.

The public names are loaded on first use, so that importing a pure module
(``orkestra_trio.apiserver.kinds``) does not pull in hypercorn and starlette.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orkestra_trio.apiserver.faults import FaultInjector
    from orkestra_trio.apiserver.kubeconfig import write_kubeconfig
    from orkestra_trio.apiserver.server import ApiServer, open_apiserver
    from orkestra_trio.apiserver.store import Store

__all__ = ["ApiServer", "FaultInjector", "Store", "open_apiserver", "write_kubeconfig"]

_WHERE = {
    "ApiServer": "server",
    "open_apiserver": "server",
    "FaultInjector": "faults",
    "Store": "store",
    "write_kubeconfig": "kubeconfig",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'orkestra_trio.apiserver' has no attribute {name!r}")
    return getattr(importlib.import_module(f"orkestra_trio.apiserver.{module}"), name)
