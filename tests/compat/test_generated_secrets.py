"""Generated Secrets on the embedded server: Secret ``tls`` and ``rotateAfter`` (1.6).

Katalog: katalogs/generated-secrets.yaml. The certificate is parsed with
``cryptography`` and checked field by field (subject, subjectAltNames,
validity, the key that signs it). Time is Trio's MockClock, which the
runtime's clock follows: half an hour and two hours pass at once.
"""

import base64
import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from orkestra_trio.katalog.secrets import GENERATED_AT_ANNOTATION, TLS_SPEC_ANNOTATION
from orkestra_trio.testing import open_test_cluster, run_katalog

KATALOG = Path(__file__).parent / "katalogs" / "generated-secrets.yaml"


async def mirrored(kat, name: str, namespace: str = "edge") -> dict:
    """The toNamespaces copy (tracked by label, so read from the server)."""
    return await kat.kube.get(("v1", "Secret"), name, namespace=namespace)


async def namespace(kat, name: str) -> None:
    await kat.kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


async def patch_site(cluster, patch: dict) -> None:
    await cluster.kube.merge_patch(
        ("sites.example.com/v1", "Site"), "shop", patch, namespace="default"
    )


def certificate(secret: dict) -> x509.Certificate:
    return x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))


def check_tls(secret: dict, host: str) -> x509.Certificate:
    assert secret["type"] == "kubernetes.io/tls"
    assert sorted(secret["data"]) == ["tls.crt", "tls.key"]
    cert = certificate(secret)
    [cn] = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    assert cn.value == host
    assert cert.issuer == cert.subject  # self-signed
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == [host, f"www.{host}"]
    before, after = cert.not_valid_before_utc, cert.not_valid_after_utc
    assert after - before == datetime.timedelta(hours=2)
    made = secret["metadata"]["annotations"][GENERATED_AT_ANNOTATION]
    assert datetime.datetime.fromisoformat(made.replace("Z", "+00:00")) == before
    # The key in the Secret is the certificate's.
    key = serialization.load_pem_private_key(base64.b64decode(secret["data"]["tls.key"]), None)
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()
    return cert


async def test_tls_is_made_once_kept_and_made_again_on_change_or_expiry(autojump_clock):
    async with open_test_cluster() as cluster, run_katalog(KATALOG, cluster) as kat:
        await namespace(kat, "edge")
        spec = {"host": "shop.example.com", "mirror": "edge"}
        await kat.apply(kat.manifest("site", "shop", spec))
        await kat.wait_steady()
        assert kat.ready("site", "shop"), kat.status("site", "shop")
        secret = kat.child("site", "shop", "Secret", "shop-tls")
        first = check_tls(secret, "shop.example.com")
        assert secret["metadata"]["annotations"][TLS_SPEC_ANNOTATION]
        # The copy in edge is the same certificate and key, made once.
        assert (await mirrored(kat, "shop-tls"))["data"] == secret["data"]

        # Kept: reconciles (a resync's worth of time, a CR label change) write nothing.
        writes = cluster.write_count("secrets")
        await kat.advance(600)
        await patch_site(cluster, {"metadata": {"labels": {"touched": "yes"}}})
        await kat.wait_steady()
        assert cluster.write_count("secrets") == writes
        assert certificate(kat.child("site", "shop", "Secret", "shop-tls")) == first

        # The tls block changed (its commonName is a template over the spec): made again.
        await patch_site(cluster, {"spec": {"host": "store.example.com"}})
        await kat.wait_steady()
        secret = kat.child("site", "shop", "Secret", "shop-tls")
        second = check_tls(secret, "store.example.com")
        assert second.serial_number != first.serial_number
        assert (await mirrored(kat, "shop-tls"))["data"] == secret["data"]

        # Expired (validFor 2h): made again with no event, by the plan's requeue.
        await kat.advance(2 * 3600 + 5)
        third = check_tls(kat.child("site", "shop", "Secret", "shop-tls"), "store.example.com")
        assert third.serial_number != second.serial_number
        assert third.not_valid_before_utc >= second.not_valid_after_utc


async def test_rotate_after_makes_a_once_secret_again(autojump_clock):
    async with open_test_cluster() as cluster, run_katalog(KATALOG, cluster) as kat:
        await namespace(kat, "vault")
        spec = {"host": "shop.example.com", "mirror": "vault"}
        await kat.apply(kat.manifest("site", "shop", spec))
        await kat.wait_steady()
        creds = kat.child("site", "shop", "Secret", "shop-creds")
        # The copy is the same Secret: one generated password, not one per namespace.
        assert (await mirrored(kat, "shop-creds", "vault"))["data"] == creds["data"]
        password = base64.b64decode(creds["data"]["password"]).decode()
        assert len(password) == 24 and password.isalnum()
        made = creds["metadata"]["annotations"][GENERATED_AT_ANNOTATION]

        # once: kept across reconciles before rotateAfter (30m)...
        await kat.advance(29 * 60)
        assert kat.child("site", "shop", "Secret", "shop-creds")["data"] == creds["data"]
        # ... and generated again after it, with no event on the CR.
        await kat.advance(2 * 60)
        rotated = kat.child("site", "shop", "Secret", "shop-creds")
        assert rotated["data"]["password"] != creds["data"]["password"]
        assert (await mirrored(kat, "shop-creds", "vault"))["data"] == rotated["data"]
        stamp = rotated["metadata"]["annotations"][GENERATED_AT_ANNOTATION]
        elapsed = datetime.datetime.fromisoformat(
            stamp.replace("Z", "+00:00")
        ) - datetime.datetime.fromisoformat(made.replace("Z", "+00:00"))
        assert datetime.timedelta(minutes=30) <= elapsed <= datetime.timedelta(minutes=31)
