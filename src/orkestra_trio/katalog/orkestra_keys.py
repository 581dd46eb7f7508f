"""Orkestra's Katalog keys that this runtime knows but does not take as they are.

Two kinds, each reported at the key's ``file:line:col`` with a message that
says what to do, never "unknown key":

* **retired** keys: Orkestra renamed them and refuses the old name with a
  migration hint; so do we (ORKESTRA-LANGUAGE.md 1.0);
* **unsupported** keys: Orkestra features outside this runtime (the
  cloud providers...). Refusing them is deliberate: a Katalog that
  relies on one must not load and silently run without it. docs/katalog.md
  lists them with the same reasons.

Keys that are descriptive only (``metadata.author``, ``lifecycle``...) are
simply accepted by the loader and are not listed here.
"""

from __future__ import annotations

from collections.abc import Mapping


def _unsupported(what: str, why: str) -> str:
    return f"{what} is not supported by orkestra_trio: {why} (see docs/katalog.md)"


def _retired(old: str, new: str) -> str:
    return f"{old!r} was renamed: write {new} (Orkestra refuses the old name too)"


TOP_LEVEL: Mapping[str, str] = {
    "providers": _unsupported("providers", "cloud provider plugins are experimental in Orkestra"),
}

# Orkestra's other document kinds (ORKESTRA-LANGUAGE.md 1.1): files its CLI reads.
DOCUMENT_KINDS: Mapping[str, str] = {
    "E2E": _unsupported("kind: E2E", "Orkestra's CLI test suites; use orkestra_trio.testing"),
    "Simulate": _unsupported("kind: Simulate", "Orkestra's CLI simulations"),
}

SPEC: Mapping[str, str] = {}

CRD_ENTRY: Mapping[str, str] = {}

QUEUE: Mapping[str, str] = {
    "shared": _unsupported("queue.shared", "every box has its own queue, for isolation"),
}

EMIT: Mapping[str, str] = {
    "events": _unsupported(
        "emit.events",
        "the runtime posts its own Events (<Kind>Reconciled, <Kind>ReconcileError...)",
    ),
}

_OUTGOING = "a reconcile here makes no outgoing calls but cross: reads"

GROUP_BLOCK: Mapping[str, str] = {
    # Read in preReconcile and the onCreate/onReconcile blocks; refused elsewhere (onDelete,
    # a Motif's resources), where Orkestra makes none either.
    "external": "external calls are made in preReconcile, onCreate and onReconcile only "
    "(see docs/katalog.md)",
    "git": _unsupported("git: hooks", _OUTGOING),
    "docker": _unsupported("docker: hooks", _OUTGOING),
}

CROSS_SOURCE: Mapping[str, str] = {}

SECRET_ENTRY: Mapping[str, str] = {}

CONDITION_OPERATORS: Mapping[str, str] = {}

BOX: Mapping[str, str] = {
    "providers": _unsupported("providers", "cloud provider plugins are experimental in Orkestra"),
    "anyOf": _retired("anyOf", "or"),
}

RECONCILER: Mapping[str, str] = {
    "constructor": _unsupported("constructor", "typed Go constructors"),
}

#: ``hooks:`` keys other than ``external`` (HTTP hooks): Orkestra's typed Go hooks.
GO_HOOKS = _unsupported(
    "Go hooks",
    "they are compiled into Orkestra's binary; HTTP hooks (hooks.external), templates and "
    "external calls work",
)

OBSERVE: Mapping[str, str] = {}

CROSS_ENTRY: Mapping[str, str] = {
    "labels": _retired("labels", "labelSelector"),
}

ENVFROM_LIST = (
    "envFrom is a mapping now: write envFrom: {secretRef: [{name: ...}], "
    "configMapRef: [{name: ..., prefix: ...}]} (Orkestra refuses the old list form too)"
)
