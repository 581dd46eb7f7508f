"""Verifying a JWT (an OIDC ID token) against the issuer's JSON Web Key Set: pure.

Only what OIDC providers sign CI tokens with is accepted: RS256 (RSA,
PKCS#1 v1.5, SHA-256) and ES256 (ECDSA P-256, SHA-256). ``alg: none`` and
the HMAC algorithms are refused outright, whatever the header says: a
public key must never serve as an HMAC secret. The claims checked here are
the ones every token has (``iss``, ``aud``, ``exp``, ``nbf``); what a
particular caller may do is decided by whoever reads the claims.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

ALGORITHMS = ("RS256", "ES256")
#: Seconds of clock difference tolerated on ``exp`` and ``nbf``.
LEEWAY = 60.0


class JwtError(ValueError):
    """The token is malformed, badly signed, expired or not for us."""


def _b64(part: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError) as exc:
        raise JwtError("not base64url") from exc


def _json_part(part: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64(part))
    except ValueError as exc:
        raise JwtError("not JSON") from exc
    if not isinstance(value, dict):
        raise JwtError("not a JSON object")
    return value


def unverified_claims(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) of a compact JWT, *not* verified: to pick the issuer and key only."""
    parts = token.split(".")
    if len(parts) != 3:
        raise JwtError("not a compact JWT (header.payload.signature)")
    return _json_part(parts[0]), _json_part(parts[1])


def _int(value: Any) -> int:
    return int.from_bytes(_b64(str(value)), "big")


def _public_key(jwk: Mapping[str, Any], alg: str) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
    kty = jwk.get("kty")
    if alg == "RS256" and kty == "RSA":
        return rsa.RSAPublicNumbers(_int(jwk.get("e")), _int(jwk.get("n"))).public_key()
    if alg == "ES256" and kty == "EC" and jwk.get("crv") == "P-256":
        numbers = ec.EllipticCurvePublicNumbers(
            _int(jwk.get("x")), _int(jwk.get("y")), ec.SECP256R1()
        )
        try:
            return numbers.public_key()
        except ValueError as exc:
            raise JwtError("the key is not a point of P-256") from exc
    raise JwtError(f"key {jwk.get('kid')!r} does not fit {alg}")


def _check_signature(key: Any, alg: str, signed: bytes, signature: bytes) -> None:
    try:
        if alg == "RS256":
            key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
        else:
            if len(signature) != 64:
                raise JwtError("an ES256 signature is 64 bytes")
            r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            key.verify(encode_dss_signature(r, s), signed, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise JwtError("bad signature") from exc


def _number(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise JwtError(f"claim {name} is not a number")
    return float(value)


def verify_jwt(
    token: str, keys: Iterable[Mapping[str, Any]], *, issuer: str, audience: str, now: float
) -> dict[str, Any]:
    """The claims of ``token`` once its signature, issuer, audience and times hold.

    ``keys``: the issuer's JWKS ``keys``; the header's ``kid`` picks one (without
    a ``kid``, each key that fits the algorithm is tried). ``audience`` "": not checked.
    """
    header, claims = unverified_claims(token)
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise JwtError(f"algorithm {alg!r} is not accepted (only {', '.join(ALGORITHMS)})")
    head, payload, signature = token.split(".")
    kid = header.get("kid")
    candidates = [k for k in keys if kid is None or k.get("kid") == kid]
    if not candidates:
        raise JwtError(f"no key {kid!r} in the issuer's key set")
    signed, raw = f"{head}.{payload}".encode(), _b64(signature)
    last: JwtError | None = None
    for jwk in candidates:
        try:
            _check_signature(_public_key(jwk, str(alg)), str(alg), signed, raw)
            break
        except JwtError as exc:
            last = exc
    else:
        raise last or JwtError("bad signature")
    if claims.get("iss") != issuer:
        raise JwtError(f"issuer {claims.get('iss')!r} is not {issuer!r}")
    if audience:
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if audience not in audiences:
            raise JwtError(f"audience {aud!r} does not include {audience!r}")
    expires = _number(claims, "exp")
    if expires is None:
        raise JwtError("the token has no exp")
    if now > expires + LEEWAY:
        raise JwtError("the token has expired")
    not_before = _number(claims, "nbf")
    if not_before is not None and now + LEEWAY < not_before:
        raise JwtError("the token is not valid yet")
    return claims


def claims_match(claims: Mapping[str, Any], allow: Mapping[str, str]) -> bool:
    """Every declared claim has the declared value (as text: ``true`` matches true)."""
    for name, wanted in allow.items():
        got = claims.get(name)
        text = ("true" if got else "false") if isinstance(got, bool) else got
        if text is None or str(text) != wanted:
            return False
    return True
