"""orkestra_trio: a runtime for declarative Kubernetes operators, on Trio.

A Katalog (YAML) lists CRDs; each gets an operatorBox, an isolated operator
with its own queue, workers, reconciler, health and failure domain. Boxes
observe each other only through explicit ``cross:`` declarations.

The public API is re-exported here; everything else lives in private layers:
``katalog`` (the language), ``kube`` (the client), ``apiserver`` (the embedded
Kubernetes API server), ``runtime``, ``oncop``, ``web`` and ``testing``.

The names load on first use, so that ``python -m orkestra_trio --help`` (which
imports this package) does not pay for the runtime's imports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from orkestra_trio._version import __version__

if TYPE_CHECKING:
    from orkestra_trio.katalog import KatalogError, load_katalog, load_katalogs
    from orkestra_trio.runtime.runtime import Runtime, open_runtime

__all__ = [
    "KatalogError",
    "Runtime",
    "__version__",
    "load_katalog",
    "load_katalogs",
    "open_runtime",
]

_WHERE = {
    "KatalogError": "orkestra_trio.katalog",
    "load_katalog": "orkestra_trio.katalog",
    "load_katalogs": "orkestra_trio.katalog",
    "Runtime": "orkestra_trio.runtime.runtime",
    "open_runtime": "orkestra_trio.runtime.runtime",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'orkestra_trio' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
