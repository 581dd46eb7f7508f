"""What a set of Katalogs asks of the admission webhooks through their ``security:``.

The settings and the decisions are :mod:`orkestra_trio.katalog.security`'s;
this module reads them across the Katalogs of one runtime: whether deletion
protection is on (and how), which CRDs it protects, which CRDs are under
namespace protection with which merged lists.
"""

from __future__ import annotations

import attrs

from orkestra_trio.katalog.model import CrdEntry, KatalogSet
from orkestra_trio.katalog.security import (
    NAMESPACE_WEBHOOK,
    DeletionProtection,
    NamespaceProtection,
)


def namespace_webhook_name(crd: CrdEntry) -> str:
    """The namespace protection webhook of ``crd`` (one per CRD: its names are unique)."""
    return f"{crd.key}.{NAMESPACE_WEBHOOK}"


def deletion_protection(katalogs: KatalogSet) -> DeletionProtection | None:
    """The set's deletion protection (None: no Katalog turns it on).

    The label protects whichever Katalog's CR it is on, so the webhooks are
    the set's: strict when any Katalog asks for strictMode, failing closed
    when any asks for Fail.
    """
    on = [k.security.deletion for k in katalogs.katalogs if k.security.deletion.enabled]
    if not on:
        return None
    return attrs.evolve(
        on[0],
        strict_mode=any(d.strict_mode for d in on),
        failure_policy="Fail" if any(d.failure_policy == "Fail" for d in on) else "Ignore",
    )


def protected_crd_names(katalogs: KatalogSet) -> frozenset[str]:
    """``<plural>.<group>`` of the CRDs whose Katalog has deletion protection on."""
    return frozenset(
        f"{crd.api_types.plural}.{crd.api_types.group}"
        for katalog in katalogs.katalogs
        if katalog.security.deletion.enabled
        for crd in katalog.crds.values()
        if not crd.builtin
    )


@attrs.frozen
class NamespaceGuard:
    """One CRD under its Katalog's namespace protection, with the merged lists."""

    crd: CrdEntry
    restricted: tuple[str, ...]
    allowed: tuple[str, ...]
    settings: NamespaceProtection


def namespace_guards(katalogs: KatalogSet) -> tuple[NamespaceGuard, ...]:
    """The namespaced, enabled CRDs whose Katalog has namespace protection on: the
    CRD's ``restrictedNamespaces``/``allowedNamespaces`` added to the block's."""
    return tuple(
        NamespaceGuard(
            crd,
            tuple(
                dict.fromkeys((*katalog.security.namespaces.restricted, *crd.restricted_namespaces))
            ),
            tuple(dict.fromkeys((*katalog.security.namespaces.allowed, *crd.allowed_namespaces))),
            katalog.security.namespaces,
        )
        for katalog in katalogs.katalogs
        if katalog.security.namespaces.enabled
        for crd in katalog.crds.values()
        if crd.enabled and crd.namespaced
    )
