"""Self-signed certificates for Secrets with ``tls``: the effect the plan leaves to the runtime.

The plan decides *when* a certificate is made (``katalog/secrets.py``: once,
then again when its ``tls`` block changes, it expires or ``rotateAfter``
passes) and carries a :class:`~orkestra_trio.katalog.secrets.TlsRequest`;
here the key and the certificate are made, just before the child is applied.

The key is ECDSA P-256: making one takes well under a millisecond, so it can
run on the Trio loop (an RSA key takes tens of milliseconds, and the loop is
every box's). The certificate names the request's ``commonName`` as subject
and issuer, its DNS names as subjectAltNames (clients check those), and is
valid from the plan's clock for ``validFor``.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable

import attrs

from orkestra_trio.katalog.render import RenderedChild
from orkestra_trio.katalog.secrets import TlsRequest


def self_signed(request: TlsRequest) -> dict[str, bytes]:
    """``tls.crt`` and ``tls.key`` (PEM) of a new key and its self-signed certificate."""
    # Imported here: cryptography adds about 18 MiB to the process, and only a box
    # with a Secret ``tls`` entry ever needs it.
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, request.common_name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(request.not_before)
        .not_valid_after(request.not_after)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(dns) for dns in request.dns_names]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return {
        "tls.crt": certificate.public_bytes(serialization.Encoding.PEM),
        "tls.key": key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    }


def with_certificates(children: Iterable[RenderedChild]) -> list[RenderedChild]:
    """The children, each Secret that asks for a certificate given a new one in its data.

    ``toNamespaces`` copies carry their original's request: one certificate for all.
    """
    out = []
    made_for: dict[int, dict[str, str]] = {}
    for child in children:
        if child.generate is None or child.manifest is None:
            out.append(child)
            continue
        made = made_for.get(id(child.generate))
        if made is None:
            made = {
                key: base64.b64encode(value).decode("ascii")
                for key, value in self_signed(child.generate).items()
            }
            made_for[id(child.generate)] = made
        manifest = {**child.manifest, "data": {**(child.manifest.get("data") or {}), **made}}
        out.append(attrs.evolve(child, manifest=manifest))
    return out
