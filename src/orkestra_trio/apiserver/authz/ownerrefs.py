"""OwnerReferencesPermissionEnforcement: who may block an owner's deletion.

An ownerReference with ``blockOwnerDeletion: true`` makes foreground
deletion of the owner wait for the dependent. kube-apiserver's admission
plugin of that name lets a user set it only if the user may ``update`` the
owner's ``finalizers`` subresource; many clusters run it, so the embedded
server checks it too when RBAC is on. That is why the runtime's generated
rights include ``update`` on ``<plural>/finalizers`` of every CR kind with
children. A pure function: the caller resolves kinds and authorizes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .rbac import Attributes

#: (group, version, kind) -> plural, or None when the server does not serve it.
Resolve = Callable[[str, str, str], str | None]


def _blocking(obj: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    refs = ((obj or {}).get("metadata") or {}).get("ownerReferences") or ()
    return [r for r in refs if isinstance(r, Mapping) and r.get("blockOwnerDeletion") is True]


def _key(ref: Mapping[str, Any]) -> tuple[str, str, str]:
    return str(ref.get("apiVersion") or ""), str(ref.get("kind") or ""), str(ref.get("uid") or "")


def finalizer_checks(
    namespace: str,
    new: Mapping[str, Any],
    old: Mapping[str, Any] | None,
    resolve: Resolve,
) -> list[Attributes | str]:
    """What the writer must be allowed, per ownerReference that newly blocks its owner's deletion.

    Each item is the ``update <plural>/finalizers`` request to authorize, or a
    message when the owner's kind is not served (kube refuses those as well).
    """
    before = {_key(ref) for ref in _blocking(old)}
    checks: list[Attributes | str] = []
    for ref in _blocking(new):
        if _key(ref) in before:
            continue  # already there: only a change that adds the block is checked
        api_version, kind, _ = _key(ref)
        group, _, version = api_version.rpartition("/")
        plural = resolve(group, version, kind)
        if plural is None:
            checks.append(
                "cannot set blockOwnerDeletion in this case because cannot find RESTMapping "
                f"for APIVersion {api_version} Kind {kind}"
            )
            continue
        checks.append(
            Attributes(
                verb="update",
                api_group=group,
                resource=plural,
                subresource="finalizers",
                namespace=namespace,
                name=str(ref.get("name") or ""),
            )
        )
    return checks
