"""ServiceAccount tokens on the runtime's HTTP surface, verified by the cluster (TokenReview).

In a cluster, runtimes reading each other over ONCOP should not need a shared
secret: each sends its own ServiceAccount token and the one answering asks
the API server whether the token is valid (``authentication.k8s.io/v1``
TokenReview, the same check kube-apiserver's webhook token authenticators
make). Answers are cached for a short time, keyed by a hash of the token, so
a busy reader costs one review per ``ttl``; a review that fails (the API
server unreachable) refuses the request and is not cached.
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING, Any

import trio

from orkestra_trio.auth import UserInfo

if TYPE_CHECKING:
    from orkestra_trio.kube import KubeClient

logger = logging.getLogger(__name__)

TOKEN_REVIEW = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview"}


class TokenReviewAuthenticator:
    """A token authenticator (:mod:`orkestra_trio.auth`) that asks the cluster."""

    def __init__(
        self,
        kube: KubeClient,
        *,
        audiences: tuple[str, ...] = (),
        ttl: float = 10.0,
        max_entries: int = 1024,
    ) -> None:
        self.kube = kube
        self.audiences = audiences
        self.ttl = ttl
        self.max_entries = max_entries
        self.reviews = 0  # TokenReviews sent, for tests and metrics
        self._cache: dict[bytes, tuple[float, UserInfo | None]] = {}

    async def authenticate_token(self, token: str) -> UserInfo | None:
        if not token:
            return None
        key = hashlib.sha256(token.encode()).digest()
        now = trio.current_time()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        spec: dict[str, Any] = {"token": token}
        if self.audiences:
            spec["audiences"] = list(self.audiences)
        self.reviews += 1
        try:
            answer = await self.kube.create({**TOKEN_REVIEW, "spec": spec})
        except Exception as exc:  # fail closed: no answer is no identity
            logger.warning("TokenReview failed: %s", exc)
            return None
        user = _user_of(answer.get("status") or {})
        if len(self._cache) >= self.max_entries:
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            if len(self._cache) >= self.max_entries:
                self._cache.clear()
        self._cache[key] = (now + self.ttl, user)
        return user


def _user_of(status: dict[str, Any]) -> UserInfo | None:
    if status.get("authenticated") is not True:
        return None
    user = status.get("user") or {}
    name = str(user.get("username") or "")
    if not name:
        return None
    groups = tuple(str(g) for g in user.get("groups") or ())
    return UserInfo(name, uid=str(user.get("uid") or ""), groups=groups).authenticated()
