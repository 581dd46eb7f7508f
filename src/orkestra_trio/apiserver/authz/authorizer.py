"""The RBAC authorizer of a running server: the pure decision over the stored objects."""

from __future__ import annotations

from collections.abc import Iterator

from orkestra_trio.apiserver.status import ApiError
from orkestra_trio.apiserver.store import Store
from orkestra_trio.auth import UserInfo

from .rbac import Attributes, Decision, Obj, authorize, forbidden_message, rules_review

RBAC = "rbac.authorization.k8s.io"


class StorePolicy:
    """Roles and bindings as the store holds them right now (a PolicySource)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def cluster_role_bindings(self) -> Iterator[Obj]:
        for _key, stored in self.store.iter_objects((RBAC, "clusterrolebindings")):
            yield stored.obj

    def role_bindings(self, namespace: str) -> Iterator[Obj]:
        for _key, stored in self.store.iter_objects((RBAC, "rolebindings"), namespace):
            yield stored.obj

    def cluster_role(self, name: str) -> Obj | None:
        stored = self.store.find((RBAC, "clusterroles"), "", name)
        return None if stored is None else stored.obj

    def role(self, namespace: str, name: str) -> Obj | None:
        stored = self.store.find((RBAC, "roles"), namespace, name)
        return None if stored is None else stored.obj


class RbacAuthorizer:
    """Decides requests of authenticated users; ``check`` raises kube's 403."""

    def __init__(self, store: Store) -> None:
        self.policy = StorePolicy(store)

    def decide(self, user: UserInfo, attributes: Attributes) -> Decision:
        return authorize(user, attributes, self.policy)

    def check(self, user: UserInfo, attributes: Attributes) -> None:
        if self.decide(user, attributes).allowed:
            return
        if not attributes.resource_request:
            raise ApiError(403, forbidden_message(user, attributes))
        # Details as kube fills them (empty fields omitted): the name, group and plural.
        raise ApiError(
            403,
            forbidden_message(user, attributes),
            name=attributes.name or None,
            group=attributes.api_group or None,
            kind=attributes.resource,
        )

    def rules(self, user: UserInfo, namespace: str) -> dict[str, object]:
        return rules_review(user, namespace, self.policy)
