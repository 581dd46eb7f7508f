"""Who may talk to the embedded server, and over what: token authentication and TLS.

On loopback the server may serve plain HTTP to anyone on the machine (the
default, as before). Anything else needs authentication: the token file of
``--token-auth-file`` (kube-apiserver's format) plus a generated admin token
that the server writes into its own kubeconfig, and TLS, from given files or
a self-signed pair generated at start whose certificate also goes into the
kubeconfig. More token authenticators (ServiceAccount tokens) are added to
``Authentication.chain``.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import secrets
import socket
import tempfile
from collections.abc import Iterable
from pathlib import Path

import attrs

from orkestra_trio.auth import (
    StaticToken,
    TokenChain,
    UserInfo,
    load_token_file,
)

# The identity behind the generated token: kube's loopback client is the same
# kind of superuser (system:masters bypasses authorization).
ADMIN_USER = UserInfo(
    "orkestra-embedded-admin", uid="orkestra-embedded-admin", groups=("system:masters",)
)
# Paths kube's system:public-info-viewer role opens to anonymous clients.
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/livez", "/version", "/version/"})


class SecurityError(ValueError):
    """A setting that cannot be served (one line, naming the flag)."""


@attrs.define
class Authentication:
    """The token authenticators of one server, and the admin token it hands to its own kubeconfig."""

    chain: TokenChain
    admin_token: str

    @classmethod
    def create(cls, token_auth_file: str | os.PathLike[str] | None = None) -> Authentication:
        admin_token = secrets.token_urlsafe(32)
        chain = TokenChain([StaticToken.single(admin_token, ADMIN_USER)])
        if token_auth_file is not None:
            chain.add(load_token_file(token_auth_file))
        return cls(chain, admin_token)


@attrs.frozen
class TlsFiles:
    """The serving certificate and key, and the CA a client should trust (the cert itself when self-signed)."""

    cert_file: str
    key_file: str
    ca_pem: bytes | None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(
    host: str, authentication: Authentication | None, flag: str = "--listen", prefix: str = "--"
) -> None:
    """Refuse to serve beyond loopback without authentication.

    ``prefix`` spells the security flags in the message (``run`` says ``--apiserver-``).
    """
    if not is_loopback(host) and authentication is None:
        raise SecurityError(
            f"{flag} {host}: serving beyond loopback needs authentication: give "
            f"{prefix}token-auth-file (TLS is then on, with a generated self-signed certificate "
            f"unless {prefix}tls-cert-file and {prefix}tls-private-key-file are given)"
        )


def given_tls(cert_file: str | None, key_file: str | None, prefix: str = "--") -> TlsFiles | None:
    """TLS from ``--tls-cert-file``/``--tls-private-key-file`` (both or neither)."""
    if cert_file is None and key_file is None:
        return None
    cert_flag, key_flag = f"{prefix}tls-cert-file", f"{prefix}tls-private-key-file"
    if cert_file is None or key_file is None:
        raise SecurityError(f"{cert_flag} and {key_flag} go together: give both")
    for flag, path in ((cert_flag, cert_file), (key_flag, key_file)):
        if not Path(path).is_file():
            raise SecurityError(f"{flag} {path}: no such file")
    return TlsFiles(os.fspath(cert_file), os.fspath(key_file), Path(cert_file).read_bytes())


def generate_self_signed(hosts: Iterable[str], folder: str | os.PathLike[str]) -> TlsFiles:
    """A self-signed serving pair for ``hosts`` (and loopback), written into ``folder``."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        raise SecurityError(
            "generating a TLS certificate needs the 'cryptography' package "
            "(pip install 'orkestra_trio[tls]'), or give --tls-cert-file and --tls-private-key-file"
        ) from None
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    seen: set[str] = {"localhost"}
    # A wildcard bind is reached by this machine's name as well.
    for host in ["127.0.0.1", "::1", socket.gethostname(), *hosts]:
        host = host.strip("[]")
        if host in seen or host in ("", "0.0.0.0", "::"):
            continue
        seen.add(host)
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "orkestra-embedded-apiserver")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    base = Path(folder)
    cert_path, key_path = base / "apiserver.crt", base / "apiserver.key"
    cert_path.write_bytes(cert_pem)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key_pem)
    return TlsFiles(str(cert_path), str(key_path), cert_pem)


def private_folder() -> tempfile.TemporaryDirectory[str]:
    """A folder only this user can read, for a generated key."""
    return tempfile.TemporaryDirectory(prefix="orkestra-apiserver-tls-")
