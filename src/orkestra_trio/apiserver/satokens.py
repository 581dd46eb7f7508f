"""ServiceAccount tokens: issued through TokenRequest, verified as bearer tokens.

``kubectl create token SA`` posts a TokenRequest to
``/api/v1/namespaces/<ns>/serviceaccounts/<name>/token``; the answer's
``status.token`` is a JWT whose claims name the account (``sub``
``system:serviceaccount:<ns>:<name>``, and the ``kubernetes.io`` claim with the
namespace and the account's uid), its audiences and expiry, as kube issues
them. Here it is signed with HMAC-SHA256 under a key made when the server
starts: only this server reads it, so nothing needs a public key, and a
restart invalidates every token (as rotating kube's signing key would).

Verification checks the signature, the time window, the audience, and that
the ServiceAccount still exists with the same uid: deleting the account
revokes its tokens, as kube's legacy-token and bound-token checks do.
:class:`ServiceAccountTokens` is a :class:`~orkestra_trio.auth.TokenAuthenticator`,
so it joins the server's authentication chain beside the static tokens.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any

from orkestra_trio.apiserver.status import ApiError, bad_request
from orkestra_trio.apiserver.store import Store
from orkestra_trio.auth import UserInfo

ISSUER = "https://kubernetes.default.svc.cluster.local"
DEFAULT_AUDIENCES = (ISSUER,)
DEFAULT_EXPIRATION = 3600
MIN_EXPIRATION = 600  # kube refuses shorter tokens
MAX_EXPIRATION = 2**32
SERVICEACCOUNTS = ("", "serviceaccounts")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def account_user(namespace: str, name: str, uid: str) -> UserInfo:
    """The user a ServiceAccount authenticates as (kube's names and groups)."""
    return UserInfo(
        f"system:serviceaccount:{namespace}:{name}",
        uid=uid,
        groups=("system:serviceaccounts", f"system:serviceaccounts:{namespace}"),
    ).authenticated()


class ServiceAccountTokens:
    """Issues and verifies the tokens of one server's ServiceAccounts."""

    def __init__(self, store: Store, *, key: bytes | None = None, clock: Any = time.time) -> None:
        self.store = store
        self._key = key or secrets.token_bytes(32)
        self._clock = clock

    # ------------------------------------------------------------------ issue

    def _sign(self, claims: Mapping[str, Any]) -> str:
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        signature = hmac.new(self._key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64(signature)}"

    def token_request(self, namespace: str, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """The TokenRequest answer for ServiceAccount ``namespace/name`` (404 when absent)."""
        account = self.store.find(SERVICEACCOUNTS, namespace, name)
        if account is None:
            raise ApiError(
                404,
                f'serviceaccounts "{name}" not found',
                name=name,
                kind="serviceaccounts",
            )
        spec = body.get("spec") if isinstance(body, Mapping) else None
        spec = spec if isinstance(spec, Mapping) else {}
        audiences = spec.get("audiences") or list(DEFAULT_AUDIENCES)
        if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
            raise bad_request("spec.audiences: must be a list of strings")
        seconds = spec.get("expirationSeconds", DEFAULT_EXPIRATION)
        if not isinstance(seconds, int) or isinstance(seconds, bool):
            raise bad_request("spec.expirationSeconds: must be an integer")
        if seconds < MIN_EXPIRATION or seconds > MAX_EXPIRATION:
            raise ApiError(
                422,
                f'TokenRequest.authentication.k8s.io "{name}" is invalid: spec.expirationSeconds: '
                f"Invalid value: {seconds}: may not specify a duration less than 10 minutes",
                reason="Invalid",
                name=name,
                group="authentication.k8s.io",
                kind="TokenRequest",
            )
        now = int(self._clock())
        uid = str(account.obj["metadata"].get("uid") or "")
        claims = {
            "iss": ISSUER,
            "sub": f"system:serviceaccount:{namespace}:{name}",
            "aud": audiences,
            "iat": now,
            "nbf": now,
            "exp": now + seconds,
            "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": name, "uid": uid}},
        }
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + seconds))
        return {
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None},
            "spec": {"audiences": audiences, "expirationSeconds": seconds, "boundObjectRef": None},
            "status": {"token": self._sign(claims), "expirationTimestamp": expires},
        }

    # ----------------------------------------------------------------- verify

    def _claims(self, token: str) -> dict[str, Any] | None:
        parts = token.split(".")
        if len(parts) != 3:
            return None
        header, payload, signature = parts
        expected = hmac.new(self._key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        try:
            if not hmac.compare_digest(_unb64(signature), expected):
                return None
            claims = json.loads(_unb64(payload))
        except (binascii.Error, ValueError):
            return None
        return claims if isinstance(claims, dict) else None

    def review(
        self, token: str, audiences: Sequence[str] = ()
    ) -> tuple[UserInfo, list[str]] | None:
        """(user, audiences) when ``token`` is a live token of an existing account, else None.

        ``audiences``: the ones the caller accepts (default: the server's own).
        """
        claims = self._claims(token)
        if claims is None:
            return None
        now = self._clock()
        if not (claims.get("nbf", 0) <= now < claims.get("exp", 0)):
            return None
        token_audiences = [str(a) for a in claims.get("aud") or ()]
        wanted = list(audiences) or list(DEFAULT_AUDIENCES)
        matched = [a for a in wanted if a in token_audiences]
        if not matched:
            return None
        info = claims.get("kubernetes.io") or {}
        namespace = str(info.get("namespace") or "")
        account = info.get("serviceaccount") or {}
        name, uid = str(account.get("name") or ""), str(account.get("uid") or "")
        stored = self.store.find(SERVICEACCOUNTS, namespace, name)
        if stored is None or str(stored.obj["metadata"].get("uid") or "") != uid:
            return None  # deleted (or deleted and made again): revoked
        return account_user(namespace, name, uid), matched

    async def authenticate_token(self, token: str) -> UserInfo | None:
        reviewed = self.review(token)
        return None if reviewed is None else reviewed[0]
