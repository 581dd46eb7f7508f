"""orkestra_trio: a runtime for declarative Kubernetes operators, on Trio.

A Katalog (YAML) lists CRDs; each gets an operatorBox, an isolated operator
with its own queue, workers, reconciler, health and failure domain. Boxes
observe each other only through explicit ``cross:`` declarations.

The public API is re-exported here; everything else lives in private layers:
``katalog`` (the language), ``kube`` (the client), ``apiserver`` (the embedded
Kubernetes API server), ``runtime``, ``oncop``, ``web`` and ``testing``.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
