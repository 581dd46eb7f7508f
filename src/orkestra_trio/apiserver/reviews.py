"""Access and identity reviews, answered truthfully for this server.

Clients ask before they act (``kubectl auth can-i`` posts a
SelfSubjectAccessReview, ``kubectl auth whoami`` a SelfSubjectReview,
controllers and webhooks SubjectAccessReviews and TokenReviews). Without
``--authorization rbac`` the server lets every request through, so every
access review says allowed, and the rules review says everything. With RBAC
on, the reviews ask the same authorizer that guards the requests. A
TokenReview verifies ServiceAccount tokens. Nothing is stored, as on a real
server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import attrs

from orkestra_trio.apiserver.authz.rbac import Attributes, Decision
from orkestra_trio.apiserver.kinds import ResourceKind
from orkestra_trio.auth import UserInfo

_CREATE_ONLY = ("create",)
_REASON = "the embedded API server authorizes every request"
USER = {"username": "orkestra-embedded-admin", "groups": ["system:masters", "system:authenticated"]}


def _create_only(group: str, version: str, kind: str, *, namespaced: bool = False) -> ResourceKind:
    return ResourceKind(
        group=group,
        version=version,
        kind=kind,
        plural=kind.lower() + "s",
        singular=kind.lower(),
        namespaced=namespaced,
        verbs=_CREATE_ONLY,
    )


REVIEW_KINDS: tuple[ResourceKind, ...] = (
    _create_only("authorization.k8s.io", "v1", "SelfSubjectAccessReview"),
    _create_only("authorization.k8s.io", "v1", "SubjectAccessReview"),
    _create_only("authorization.k8s.io", "v1", "LocalSubjectAccessReview", namespaced=True),
    _create_only("authorization.k8s.io", "v1", "SelfSubjectRulesReview"),
    _create_only("authentication.k8s.io", "v1", "SelfSubjectReview"),
    _create_only("authentication.k8s.io", "v1", "TokenReview"),
    # kubectl 1.27 (auth whoami) still asks the beta version.
    _create_only("authentication.k8s.io", "v1beta1", "SelfSubjectReview"),
)
_REVIEW_KEYS = frozenset((k.group, k.plural) for k in REVIEW_KINDS)


def is_review(kind: ResourceKind) -> bool:
    return (kind.group, kind.plural) in _REVIEW_KEYS


class Authorizer(Protocol):
    """Who decides access reviews (the RBAC authorizer). A Protocol because the
    authorizer reads the store, which serves the review kinds listed here."""

    def decide(self, user: UserInfo, attributes: Attributes) -> Decision: ...

    def rules(self, user: UserInfo, namespace: str) -> dict[str, object]: ...


class TokenReviewer(Protocol):
    """Who answers TokenReviews (the ServiceAccount tokens; a store reader too)."""

    def review(
        self, token: str, audiences: Sequence[str] = ()
    ) -> tuple[UserInfo, list[str]] | None: ...


@attrs.frozen
class ReviewContext:
    """Who asks, where (a LocalSubjectAccessReview's namespace), and who decides."""

    user: UserInfo | None = None
    namespace: str = ""
    authorizer: Authorizer | None = None
    tokens: TokenReviewer | None = None


def user_json(user: UserInfo) -> dict[str, Any]:
    out: dict[str, Any] = {"username": user.name, "groups": list(user.groups)}
    if user.uid:
        out["uid"] = user.uid
    if user.extra:
        out["extra"] = {key: list(values) for key, values in user.extra}
    return out


def _attributes(spec: Mapping[str, Any], namespace: str) -> Attributes:
    resource = spec.get("resourceAttributes")
    if isinstance(resource, Mapping):
        return Attributes(
            verb=str(resource.get("verb") or ""),
            api_group=str(resource.get("group") or ""),
            resource=str(resource.get("resource") or ""),
            subresource=str(resource.get("subresource") or ""),
            namespace=namespace or str(resource.get("namespace") or ""),
            name=str(resource.get("name") or ""),
        )
    other = spec.get("nonResourceAttributes")
    other = other if isinstance(other, Mapping) else {}
    return Attributes(
        verb=str(other.get("verb") or ""), resource_request=False, path=str(other.get("path") or "")
    )


def _access_status(
    kind: ResourceKind, spec: Mapping[str, Any], context: ReviewContext
) -> dict[str, Any]:
    if context.authorizer is None:
        return {"allowed": True, "reason": _REASON}
    if kind.plural == "selfsubjectaccessreviews":
        if context.user is None:  # the in-process (loopback) client: all-powerful
            return {"allowed": True, "reason": "the loopback client is not authorized"}
        subject = context.user
    else:
        extra = spec.get("extra") if isinstance(spec.get("extra"), Mapping) else {}
        subject = UserInfo(
            str(spec.get("user") or ""),
            uid=str(spec.get("uid") or ""),
            groups=tuple(str(g) for g in spec.get("groups") or ()),
            extra=tuple((str(k), tuple(v)) for k, v in (extra or {}).items()),
        )
    decision = context.authorizer.decide(subject, _attributes(spec, context.namespace))
    status: dict[str, Any] = {"allowed": decision.allowed}
    if decision.reason:
        status["reason"] = decision.reason
    return status


def _token_status(spec: Mapping[str, Any], context: ReviewContext) -> dict[str, Any]:
    token = str(spec.get("token") or "")
    audiences = [str(a) for a in spec.get("audiences") or ()]
    reviewed = None if context.tokens is None else context.tokens.review(token, audiences)
    if reviewed is None:
        return {"authenticated": False, "user": {}, "error": "invalid bearer token"}
    user, matched = reviewed
    return {"authenticated": True, "user": user_json(user), "audiences": matched}


def answer(
    kind: ResourceKind, body: Mapping[str, Any], context: ReviewContext | None = None
) -> dict[str, Any]:
    """The review as the server returns it: the request plus the answer in ``status``."""
    context = context or ReviewContext()
    result: dict[str, Any] = {
        "kind": kind.kind,
        "apiVersion": kind.api_version,
        "metadata": {"creationTimestamp": None},
    }
    raw_spec = body.get("spec")
    spec: Mapping[str, Any] = raw_spec if isinstance(raw_spec, Mapping) else {}
    if "spec" in body:
        result["spec"] = body["spec"]
    if kind.plural == "selfsubjectrulesreviews":
        if context.authorizer is None or context.user is None:
            result["status"] = {
                "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                "incomplete": False,
            }
        else:
            namespace = str(spec.get("namespace") or "")
            result["status"] = context.authorizer.rules(context.user, namespace)
    elif kind.plural == "selfsubjectreviews":
        user = USER if context.user is None else user_json(context.user)
        result["status"] = {"userInfo": user}
    elif kind.plural == "tokenreviews":
        result["status"] = _token_status(spec, context)
    else:
        result["status"] = _access_status(kind, spec, context)
    return result
