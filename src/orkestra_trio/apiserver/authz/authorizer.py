"""The RBAC authorizer of a running server: the pure decision over the stored objects."""

from __future__ import annotations

from collections.abc import Iterator

from orkestra_trio.apiserver.status import ApiError
from orkestra_trio.apiserver.store import Store
from orkestra_trio.apiserver.watch import Change
from orkestra_trio.auth import UserInfo

from .rbac import (
    MASTERS_GROUP,
    Attributes,
    Decision,
    Obj,
    applicable_rules,
    decide_by_rules,
    forbidden_message,
    rules_review,
)

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


#: Users x namespaces whose applicable rules are kept between RBAC changes.
_CACHE_LIMIT = 4096


class RbacAuthorizer:
    """Decides requests of authenticated users; ``check`` raises kube's 403.

    Scanning every binding per request costs about a millisecond with a few
    hundred bindings (``bench/rbac_authorize.py``), more than a whole GET.
    So the rules that apply to a (user, namespace) are worked out once and
    kept until any Role, ClusterRole or binding changes.
    """

    def __init__(self, store: Store) -> None:
        self.policy = StorePolicy(store)
        self._rules: dict[tuple[str, tuple[str, ...], str], list[Obj]] = {}
        store.listeners.append(self._on_change)

    def _on_change(self, change: Change) -> None:
        if change.resource[0] == RBAC:
            self.forget()

    def forget(self) -> None:
        """Work the rules out again on the next request (an RBAC object changed)."""
        self._rules.clear()

    def _applicable(self, user: UserInfo, namespace: str) -> list[Obj]:
        key = (user.name, user.groups, namespace)
        rules = self._rules.get(key)
        if rules is None:
            if len(self._rules) >= _CACHE_LIMIT:
                self._rules.clear()
            rules = self._rules[key] = applicable_rules(user, namespace, self.policy)
        return rules

    def decide(self, user: UserInfo, attributes: Attributes) -> Decision:
        if MASTERS_GROUP in user.groups:
            return Decision(True, "system:masters")
        return decide_by_rules(attributes, self._applicable(user, attributes.namespace))

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
