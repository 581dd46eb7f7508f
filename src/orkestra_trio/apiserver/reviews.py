"""Access and identity reviews: the embedded server authorizes every request.

The embedded server has no users and no RBAC: it serves loopback only and
lets every request through. Clients still ask (``kubectl auth can-i`` posts a
SelfSubjectAccessReview, ``kubectl auth whoami`` a SelfSubjectReview,
controllers check SubjectAccessReviews), so these create-only resources answer
truthfully for this server: allowed, and an anonymous-admin identity. Nothing
is stored, as on a real server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orkestra_trio.apiserver.kinds import ResourceKind

_CREATE_ONLY = ("create",)
_REASON = "the embedded API server authorizes every request"
USER = {"username": "orkestra-embedded-admin", "groups": ["system:masters", "system:authenticated"]}


def _create_only(group: str, version: str, kind: str) -> ResourceKind:
    return ResourceKind(
        group=group,
        version=version,
        kind=kind,
        plural=kind.lower() + "s",
        singular=kind.lower(),
        namespaced=False,
        verbs=_CREATE_ONLY,
    )


REVIEW_KINDS: tuple[ResourceKind, ...] = (
    _create_only("authorization.k8s.io", "v1", "SelfSubjectAccessReview"),
    _create_only("authorization.k8s.io", "v1", "SubjectAccessReview"),
    _create_only("authorization.k8s.io", "v1", "SelfSubjectRulesReview"),
    _create_only("authentication.k8s.io", "v1", "SelfSubjectReview"),
    # kubectl 1.27 (auth whoami) still asks the beta version.
    _create_only("authentication.k8s.io", "v1beta1", "SelfSubjectReview"),
)
_REVIEW_KEYS = frozenset((k.group, k.plural) for k in REVIEW_KINDS)


def is_review(kind: ResourceKind) -> bool:
    return (kind.group, kind.plural) in _REVIEW_KEYS


def answer(kind: ResourceKind, body: Mapping[str, Any]) -> dict[str, Any]:
    """The review as the server returns it: the request plus an allowing status."""
    result: dict[str, Any] = {
        "kind": kind.kind,
        "apiVersion": kind.api_version,
        "metadata": {"creationTimestamp": None},
    }
    if "spec" in body:
        result["spec"] = body["spec"]
    if kind.plural == "selfsubjectrulesreviews":
        result["status"] = {
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": False,
        }
    elif kind.plural == "selfsubjectreviews":
        result["status"] = {"userInfo": USER}
    else:
        result["status"] = {"allowed": True, "reason": _REASON}
    return result
