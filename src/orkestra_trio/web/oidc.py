"""The gateway's OIDC callers: ID tokens checked against their issuer's published keys.

For each ``githubOIDC``/``gitlabOIDC``/``vaultOIDC``/``oidc`` token entry the
issuer's key set is found by OIDC discovery (``<issuer>/.well-known/
openid-configuration`` names ``jwks_uri``) and kept. A token signed with a
key the set does not hold makes one new fetch (the issuer rotated its keys),
at most once per :data:`MIN_REFRESH` seconds per issuer, so that a stream of
forged ``kid`` values cannot turn the gateway into a fetching loop. The
verification itself is :func:`orkestra_trio.auth.jwt.verify_jwt`'s.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

import httpx
import trio

from orkestra_trio.auth.jwt import JwtError, claims_match, unverified_claims, verify_jwt
from orkestra_trio.katalog.model import GatewayToken

log = logging.getLogger(__name__)

#: Seconds between two fetches of one issuer's keys prompted by an unknown key.
MIN_REFRESH = 30.0
#: Seconds a discovery or key-set request may take.
FETCH_TIMEOUT = 5.0


class OidcVerifier:
    """Which OIDC token entry an ID token satisfies, and its subject."""

    def __init__(self, tokens: Iterable[GatewayToken], client: httpx.AsyncClient) -> None:
        self.entries = [t for t in tokens if t.oidc_issuer]
        self.client = client
        self._keys: dict[str, list[Mapping[str, Any]]] = {}
        self._fetched_at: dict[str, float] = {}
        self._lock = trio.Lock()

    async def identify(self, token: str) -> tuple[str, str] | None:
        """(token entry name, ``sub``) for a valid ID token that an entry allows; else None."""
        try:
            header, unverified = unverified_claims(token)
        except JwtError:
            return None
        issuer = unverified.get("iss")
        entries = [e for e in self.entries if e.oidc_issuer == issuer]
        if not entries:
            return None
        keys = await self._issuer_keys(entries[0].oidc_issuer, header.get("kid"))
        for entry in entries:
            try:
                claims = verify_jwt(
                    token,
                    keys,
                    issuer=entry.oidc_issuer,
                    audience=entry.oidc_audience,
                    now=time.time(),
                )
            except JwtError as exc:
                log.info("gateway: OIDC token for %s refused: %s", entry.name, exc)
                continue
            if claims_match(claims, entry.oidc_allow):
                return entry.name, str(claims.get("sub") or "")
        return None

    async def _issuer_keys(self, issuer: str, kid: Any) -> list[Mapping[str, Any]]:
        async with self._lock:
            keys = self._keys.get(issuer)
            known = keys is not None and any(k.get("kid") == kid for k in keys)
            recent = time.monotonic() - self._fetched_at.get(issuer, -MIN_REFRESH) < MIN_REFRESH
            if keys is None or (not known and not recent):
                self._fetched_at[issuer] = time.monotonic()
                try:
                    keys = await self._fetch(issuer)
                except (httpx.HTTPError, ValueError) as exc:
                    log.warning("gateway: the keys of %s could not be read: %s", issuer, exc)
                    keys = keys or []
                self._keys[issuer] = keys
            return keys

    async def _fetch(self, issuer: str) -> list[Mapping[str, Any]]:
        discovery = await self.client.get(
            f"{issuer}/.well-known/openid-configuration", timeout=FETCH_TIMEOUT
        )
        discovery.raise_for_status()
        jwks_uri = discovery.json().get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise ValueError("the discovery document names no jwks_uri")
        found = await self.client.get(jwks_uri, timeout=FETCH_TIMEOUT)
        found.raise_for_status()
        keys = found.json().get("keys")
        if not isinstance(keys, list):
            raise ValueError("the key set has no keys list")
        return [k for k in keys if isinstance(k, dict)]
