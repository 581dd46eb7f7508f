"""RBAC, decided as kube-apiserver's RBAC authorizer decides it (pure functions).

A request is allowed when some rule of some role bound to the user (by
name, by group, or as a ServiceAccount) covers its verb, API group, resource
(``plural`` or ``plural/subresource``) and name, or its non-resource path:

* ClusterRoleBindings grant their ClusterRole everywhere;
* RoleBindings grant their Role, or a ClusterRole, in their namespace only;
* ``system:masters`` is allowed everything (kube short-circuits it too);
* the bootstrap roles every cluster has are built in: discovery, version and
  health paths for everyone authenticated (``system:discovery``,
  ``system:public-info-viewer``) and the self reviews (``system:basic-user``).

Aggregated ClusterRoles are not evaluated. The stored objects come through a
:class:`PolicySource`, so this module never touches the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import attrs

from orkestra_trio.auth import AUTHENTICATED_GROUP, UserInfo

MASTERS_GROUP = "system:masters"
SERVICEACCOUNT_PREFIX = "system:serviceaccount:"
SERVICEACCOUNTS_GROUP = "system:serviceaccounts"

Obj = Mapping[str, Any]


@attrs.frozen
class Attributes:
    """What a request does, as kube's authorizer.Attributes (from the URL alone)."""

    verb: str
    resource_request: bool = True
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""

    @property
    def full_resource(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


@attrs.frozen
class Decision:
    allowed: bool
    reason: str = ""


class PolicySource(Protocol):
    """The stored RBAC objects an authorizer reads."""

    def cluster_role_bindings(self) -> Iterable[Obj]: ...

    def role_bindings(self, namespace: str) -> Iterable[Obj]: ...

    def cluster_role(self, name: str) -> Obj | None: ...

    def role(self, namespace: str, name: str) -> Obj | None: ...


_DISCOVERY_PATHS = (
    "/api",
    "/api/*",
    "/apis",
    "/apis/*",
    "/openapi",
    "/openapi/*",
    "/version",
    "/version/",
    "/healthz",
    "/readyz",
    "/livez",
)
_SELF_REVIEWS = (
    ("authorization.k8s.io", "selfsubjectaccessreviews"),
    ("authorization.k8s.io", "selfsubjectrulesreviews"),
    ("authentication.k8s.io", "selfsubjectreviews"),
)
#: The bootstrap rules every authenticated user has (kube's default ClusterRoleBindings).
BOOTSTRAP_RULES: tuple[Obj, ...] = (
    {"verbs": ["get"], "nonResourceURLs": list(_DISCOVERY_PATHS)},
    *(
        {"verbs": ["create"], "apiGroups": [group], "resources": [resource]}
        for group, resource in _SELF_REVIEWS
    ),
)


def service_account_of(user: UserInfo) -> tuple[str, str] | None:
    """(namespace, name) when ``user`` is a ServiceAccount."""
    if not user.name.startswith(SERVICEACCOUNT_PREFIX):
        return None
    namespace, sep, name = user.name[len(SERVICEACCOUNT_PREFIX) :].partition(":")
    return (namespace, name) if sep and namespace and name else None


def _subject_matches(subject: Obj, user: UserInfo, binding_namespace: str) -> bool:
    kind = subject.get("kind")
    name = str(subject.get("name") or "")
    if kind == "User":
        return name == user.name
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        account = service_account_of(user)
        namespace = str(subject.get("namespace") or binding_namespace)
        return account == (namespace, name)
    return False


def _binds(binding: Obj, user: UserInfo, binding_namespace: str) -> bool:
    return any(
        _subject_matches(s, user, binding_namespace)
        for s in binding.get("subjects") or ()
        if isinstance(s, Mapping)
    )


def _matches(values: Sequence[str] | None, wanted: str) -> bool:
    return bool(values) and ("*" in values or wanted in values)  # type: ignore[operator]


def _path_matches(patterns: Sequence[str], path: str) -> bool:
    for pattern in patterns:
        if pattern == "*" or pattern == path:
            return True
        if pattern.endswith("*") and path.startswith(pattern[:-1]):
            return True
    return False


def rule_allows(rule: Obj, attributes: Attributes) -> bool:
    """Whether one PolicyRule covers the request."""
    verbs = rule.get("verbs") or ()
    if not _matches(verbs, attributes.verb):
        return False
    if not attributes.resource_request:
        return _path_matches(rule.get("nonResourceURLs") or (), attributes.path)
    if not _matches(rule.get("apiGroups"), attributes.api_group):
        return False
    resources = rule.get("resources") or ()
    if not _matches(resources, attributes.full_resource):
        # "*/status" style wildcards name every resource's subresource.
        wildcard = f"*/{attributes.subresource}" if attributes.subresource else ""
        if not (wildcard and wildcard in resources):
            return False
    names = rule.get("resourceNames") or ()
    return not names or attributes.name in names


def _role_rules(ref: Obj, namespace: str, policy: PolicySource) -> Sequence[Obj]:
    kind, name = ref.get("kind"), str(ref.get("name") or "")
    role = policy.cluster_role(name) if kind == "ClusterRole" else policy.role(namespace, name)
    rules = (role or {}).get("rules") or ()
    return [r for r in rules if isinstance(r, Mapping)]


def applicable_rules(user: UserInfo, namespace: str, policy: PolicySource) -> list[Obj]:
    """Every rule that applies to ``user`` for requests in ``namespace`` ("" = cluster scope)."""
    rules: list[Obj] = []
    if AUTHENTICATED_GROUP in user.groups:
        rules.extend(BOOTSTRAP_RULES)
    for binding in policy.cluster_role_bindings():
        if _binds(binding, user, ""):
            rules.extend(_role_rules(binding.get("roleRef") or {}, "", policy))
    if namespace:
        for binding in policy.role_bindings(namespace):
            if _binds(binding, user, namespace):
                rules.extend(_role_rules(binding.get("roleRef") or {}, namespace, policy))
    return rules


def authorize(user: UserInfo, attributes: Attributes, policy: PolicySource) -> Decision:
    """Allow or deny one request of ``user``."""
    if MASTERS_GROUP in user.groups:
        return Decision(True, "system:masters")
    return decide_by_rules(attributes, applicable_rules(user, attributes.namespace, policy))


def decide_by_rules(attributes: Attributes, rules: Iterable[Obj]) -> Decision:
    """Allow when one of ``rules`` (those that apply to the user there) covers the request."""
    for rule in rules:
        if rule_allows(rule, attributes):
            return Decision(True, "RBAC: allowed by a bound role")
    return Decision(False, "")


def qualified_resource(attributes: Attributes) -> str:
    """``deployments.apps``, or ``pods`` for the core group (kube's GroupResource string)."""
    if attributes.api_group:
        return f"{attributes.resource}.{attributes.api_group}"
    return attributes.resource


def denial(user: UserInfo, attributes: Attributes) -> str:
    """``User "u" cannot <verb> resource "<r>" in API group "<g>" ...``: kube's reason text."""
    if not attributes.resource_request:
        return f'User "{user.name}" cannot {attributes.verb} path "{attributes.path}"'
    where = (
        f'in the namespace "{attributes.namespace}"'
        if attributes.namespace
        else "at the cluster scope"
    )
    return (
        f'User "{user.name}" cannot {attributes.verb} resource "{attributes.full_resource}" '
        f'in API group "{attributes.api_group}" {where}'
    )


def forbidden_message(user: UserInfo, attributes: Attributes) -> str:
    """kube-apiserver's wording for a denied request, word for word."""
    if not attributes.resource_request:
        return f"forbidden: {denial(user, attributes)}"
    what = qualified_resource(attributes)
    head = f'{what} "{attributes.name}"' if attributes.name else what
    return f"{head} is forbidden: {denial(user, attributes)}"


def rules_review(user: UserInfo, namespace: str, policy: PolicySource) -> dict[str, Any]:
    """A SelfSubjectRulesReview status: the rules ``user`` has in ``namespace``."""
    if MASTERS_GROUP in user.groups:
        return {
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": False,
        }
    resource_rules: list[dict[str, Any]] = []
    non_resource_rules: list[dict[str, Any]] = []
    for rule in applicable_rules(user, namespace, policy):
        if rule.get("nonResourceURLs"):
            non_resource_rules.append(
                {"verbs": list(rule["verbs"]), "nonResourceURLs": list(rule["nonResourceURLs"])}
            )
        else:
            shaped = {
                key: list(rule[key])
                for key in ("verbs", "apiGroups", "resources", "resourceNames")
                if rule.get(key)
            }
            resource_rules.append(shaped)
    return {
        "resourceRules": resource_rules,
        "nonResourceRules": non_resource_rules,
        "incomplete": False,
    }
