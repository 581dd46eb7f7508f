"""auth/jwt.py: an ID token is accepted only with a good signature, issuer, audience and times."""

from __future__ import annotations

import json

import pytest

from jwt_keys import SigningKey, b64
from orkestra_trio.auth.jwt import JwtError, claims_match, verify_jwt

ISSUER = "https://issuer.example"
NOW = 1_800_000_000.0
RSA_KEY = SigningKey("r1")
EC_KEY = SigningKey("e1", "ES256")
KEYS = [RSA_KEY.jwk(), EC_KEY.jwk()]


def claims(**extra):
    return {"iss": ISSUER, "sub": "repo:org/app", "aud": "gateway", "exp": NOW + 300, **extra}


def verify(token, audience="gateway"):
    return verify_jwt(token, KEYS, issuer=ISSUER, audience=audience, now=NOW)


@pytest.mark.parametrize("key", [RSA_KEY, EC_KEY], ids=["RS256", "ES256"])
def test_a_well_signed_token_gives_its_claims(key):
    assert verify(key.sign(claims()))["sub"] == "repo:org/app"
    # aud as a list; audience not checked when none is expected
    assert verify(key.sign(claims(aud=["x", "gateway"])))["sub"]
    assert verify(key.sign(claims(aud="other")), audience="")["sub"]


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (RSA_KEY.sign(claims(exp=NOW - 120)), "expired"),
        (RSA_KEY.sign(claims(nbf=NOW + 120)), "not valid yet"),
        (RSA_KEY.sign({k: v for k, v in claims().items() if k != "exp"}), "no exp"),
        (RSA_KEY.sign(claims(iss="https://evil.example")), "issuer"),
        (RSA_KEY.sign(claims(aud="other")), "audience"),
        (SigningKey("r1").sign(claims()), "bad signature"),  # same kid, another key
        (SigningKey("zz").sign(claims()), "no key 'zz'"),
        (RSA_KEY.sign(claims(), header={"alg": "HS256"}), "not accepted"),
        (EC_KEY.sign(claims(), header={"kid": "r1"}), "does not fit"),
        ("a.b", "compact JWT"),
    ],
)
def test_what_is_refused(token, reason):
    with pytest.raises(JwtError, match=reason):
        verify(token)


def test_alg_none_and_a_changed_payload_are_refused():
    good = RSA_KEY.sign(claims())
    head, _, signature = good.split(".")
    forged = b64(json.dumps(claims(sub="admin")).encode())
    with pytest.raises(JwtError, match="bad signature"):
        verify(f"{head}.{forged}.{signature}")
    unsigned = b64(json.dumps({"alg": "none"}).encode())
    with pytest.raises(JwtError, match="not accepted"):
        verify(f"{unsigned}.{forged}.")


def test_allow_claims_compare_as_text():
    assert claims_match({"ref_protected": True, "repository": "org/app"}, {"ref_protected": "true"})
    assert not claims_match({"repository": "org/other"}, {"repository": "org/app"})
    assert not claims_match({}, {"environment": "prod"})
    assert claims_match({"any": 1}, {})
