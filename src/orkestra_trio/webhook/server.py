"""Serve the admission and conversion webhooks over TLS, the only way kube-apiserver calls them.

One path per CRD and side, which the manifests' webhook configurations and
the CRD's ``spec.conversion`` point at (:func:`webhook_path`):
``/mutate/<group>/<plural>``, ``/validate/<group>/<plural>``,
``/convert/<group>/<plural>``; and a Katalog's ``security:`` webhooks
(:func:`protection_routes`): ``/deletion-protection``, ``/strict-mode``,
``/namespace-protection/<group>/<plural>``. Each takes a POSTed review and answers one
(:mod:`.reviews`); a rule that fails to render answers 500, which kube
turns into the webhook's failurePolicy (Fail: the write is refused), as the
embedded server answers a failing hook. ``unique`` needs the CRs of the
CRD: ``peers`` gives them (the runtime's informer).

The transport is :func:`orkestra_trio._h1serve.serve_h1` (HTTP/1.1 over
TLS; kube-apiserver speaks it to webhooks). The certificate is read from
files, reloaded when they change (cert-manager renews them in the mounted
Secret; :class:`CertificateFiles`), and a client CA, when given, makes the
server accept only clients with a certificate it signed (kube-apiserver
presents one when its AdmissionConfiguration says so).
"""

from __future__ import annotations

import json
import logging
import os
import ssl
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import attrs
import trio

from orkestra_trio._h1serve import serve_h1
from orkestra_trio.katalog import CrdEntry, KatalogSet
from orkestra_trio.katalog.admission import admitting_crds, converting_crds, uses_unique
from orkestra_trio.katalog.protection import (
    NamespaceGuard,
    deletion_protection,
    namespace_guards,
    protected_crd_names,
)
from orkestra_trio.katalog.security import (
    deletion_denial,
    namespace_denial,
    strict_mode_denial,
)
from orkestra_trio.katalog.template import TemplateRenderError

from .reviews import (
    ReviewError,
    admission_answer,
    conversion_answer,
    protection_answer,
    request_kind,
    request_object,
)

log = logging.getLogger(__name__)

#: The sides a CRD's webhook paths start with.
MUTATE, VALIDATE, CONVERT = "mutate", "validate", "convert"
#: A review bigger than this is refused (413): a ConversionReview holds a whole list.
MAX_REVIEW_BYTES = 32 << 20
#: How often the certificate files are checked for a renewal.
RELOAD_INTERVAL = 60.0
#: Seconds requests in flight may take to finish once the server stops.
GRACE_SECONDS = 2.0

Peers = Callable[[CrdEntry], Awaitable[Iterable[Mapping[str, Any]]]]
#: A protection webhook's decision on a review's request: the denial, or None.
Decide = Callable[[Mapping[str, Any]], "str | None"]

#: The paths of the ``security:`` webhooks (namespace protection: one per CRD, below it).
DELETION_PATH = "/deletion-protection"
STRICT_MODE_PATH = "/strict-mode"
NAMESPACE_SIDE = "namespace-protection"


def webhook_path(side: str, crd: CrdEntry) -> str:
    """The path kube-apiserver posts ``crd``'s reviews of ``side`` to."""
    return f"/{side}/{crd.api_types.group}/{crd.api_types.plural}"


def protection_routes(katalogs: KatalogSet) -> dict[str, Decide]:
    """The paths the Katalogs' ``security:`` needs answered, with their decisions."""
    routes: dict[str, Decide] = {}
    deletion = deletion_protection(katalogs)
    if deletion is not None:
        crd_names = protected_crd_names(katalogs)

        def on_delete(request: Mapping[str, Any]) -> str | None:
            # kube sends the object being deleted as oldObject (object is null).
            old = request_object(request, "oldObject")
            return deletion_denial(request_kind(request), old, crd_names)

        routes[DELETION_PATH] = on_delete
        if deletion.strict_mode:

            def on_update(request: Mapping[str, Any]) -> str | None:
                old = request_object(request, "oldObject")
                new = request_object(request, "object")
                return strict_mode_denial(request_kind(request), old, new)

            routes[STRICT_MODE_PATH] = on_update
    for guard in namespace_guards(katalogs):
        routes[webhook_path(NAMESPACE_SIDE, guard.crd)] = _namespace_decision(guard)
    return routes


def has_webhooks(katalogs: KatalogSet) -> bool:
    """Is there anything for the webhook server to answer (rules at admission,
    conversion, or a ``security:`` webhook)?"""
    return bool(
        admitting_crds(katalogs) or converting_crds(katalogs) or protection_routes(katalogs)
    )


def _namespace_decision(guard: NamespaceGuard) -> Decide:
    def decide(request: Mapping[str, Any]) -> str | None:
        namespace = request.get("namespace")
        if not isinstance(namespace, str):
            obj = request_object(request, "object") or {}
            namespace = str((obj.get("metadata") or {}).get("namespace") or "")
        kind = guard.crd.api_types.kind
        return namespace_denial(kind, namespace, guard.restricted, guard.allowed)

    return decide


class TlsFileError(ValueError):
    """A certificate, key or client CA file that cannot serve TLS; ``role`` says which."""

    def __init__(self, role: str, path: str, reason: str) -> None:
        self.role = role  # "cert", "key" or "client-ca"
        self.path = path
        self.reason = reason
        super().__init__(f"{role} {path}: {reason}")


@attrs.define
class CertificateFiles:
    """The serving certificate and key files, and the context that serves them.

    :meth:`reload_if_changed` loads them again into the same context when
    either file changed (new connections get the new pair; open ones keep
    theirs), so a renewed certificate is served without a restart.
    """

    cert_file: str
    key_file: str
    context: ssl.SSLContext
    _stamp: tuple[Any, ...] = ()

    @classmethod
    def load(
        cls, cert_file: str, key_file: str, client_ca_file: str | None = None
    ) -> CertificateFiles:
        """Raises TlsFileError naming the file that is missing or wrong."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if client_ca_file is not None:
            _readable("client-ca", client_ca_file)
            try:
                context.load_verify_locations(cafile=client_ca_file)
            except ssl.SSLError as exc:
                raise TlsFileError("client-ca", client_ca_file, _reason(exc)) from None
            context.verify_mode = ssl.CERT_REQUIRED
        files = cls(cert_file, key_file, context)
        files._load()
        return files

    def _load(self) -> None:
        _readable("cert", self.cert_file)
        _readable("key", self.key_file)
        stamp = _stamp(self.cert_file, self.key_file)
        try:
            self.context.load_cert_chain(self.cert_file, self.key_file)
        except ssl.SSLError as exc:
            role, path = _culprit(self.cert_file, self.key_file, exc)
            raise TlsFileError(role, path, _reason(exc)) from None
        self._stamp = stamp

    def reload_if_changed(self) -> bool:
        """Load the pair again if a file changed since; True when it did.

        A pair caught half-written (the key renewed, the certificate not yet)
        is skipped with a warning and tried again next time; the old pair
        keeps serving.
        """
        try:
            stamp = _stamp(self.cert_file, self.key_file)
        except OSError:
            return False
        if stamp == self._stamp:
            return False
        try:
            self._load()
        except (TlsFileError, OSError) as exc:
            log.warning("webhook certificate not reloaded: %s", exc)
            return False
        log.info("webhook certificate reloaded from %s", self.cert_file)
        return True

    async def follow(self, interval: float = RELOAD_INTERVAL) -> None:
        """Check the files every ``interval`` seconds, forever."""
        while True:
            await trio.sleep(interval)
            self.reload_if_changed()


def _stamp(*paths: str) -> tuple[Any, ...]:
    # A mounted Secret is renewed by swapping a symlink: the target's inode changes.
    return tuple(
        (st.st_ino, st.st_mtime_ns, st.st_size) for st in (os.stat(path) for path in paths)
    )


def _readable(role: str, path: str) -> None:
    try:
        with open(path, "rb") as handle:
            text = handle.read(1 << 20)
    except OSError as exc:
        raise TlsFileError(role, path, exc.strerror or str(exc)) from None
    marker = b"PRIVATE KEY-----" if role == "key" else b"-----BEGIN CERTIFICATE-----"
    if marker not in text:
        what = "a PEM private key" if role == "key" else "a PEM certificate"
        raise TlsFileError(role, path, f"not {what}")


def _culprit(cert_file: str, key_file: str, exc: ssl.SSLError) -> tuple[str, str]:
    """Which file an OpenSSL error is about: a mismatch is the key's (it does not match)."""
    text = f"{exc.reason or ''} {exc}".upper()
    if "CERT" in text and "MISMATCH" not in text:
        return "cert", cert_file
    return "key", key_file


def _reason(exc: ssl.SSLError) -> str:
    reason = str(exc.reason or exc).replace("_", " ").lower()
    if "mismatch" in reason:
        return "does not match the certificate"
    return reason


class WebhookApp:
    """The ASGI app answering the reviews of the Katalogs' webhooks and conversions."""

    def __init__(self, katalogs: KatalogSet, peers: Peers | None = None) -> None:
        self.peers = peers
        self.routes: dict[str, tuple[str, CrdEntry]] = {}
        for crd in admitting_crds(katalogs):
            webhooks = crd.admission.webhooks
            if webhooks.mutation:
                self.routes[webhook_path(MUTATE, crd)] = (MUTATE, crd)
            if webhooks.validation:
                self.routes[webhook_path(VALIDATE, crd)] = (VALIDATE, crd)
        for crd in converting_crds(katalogs):
            self.routes[webhook_path(CONVERT, crd)] = (CONVERT, crd)
        self.protections = protection_routes(katalogs)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        route = self.routes.get(scope["path"])
        protection = self.protections.get(scope["path"])
        if route is None and protection is None:
            await _send(send, 404, {"message": f"no webhook at {scope['path']}"})
            return
        if scope["method"] != "POST":
            await _send(send, 405, {"message": "reviews are POSTed"})
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length", b"0")
        if length.isdigit() and int(length) > MAX_REVIEW_BYTES:
            await _send(send, 413, {"message": f"a review holds at most {MAX_REVIEW_BYTES} bytes"})
            return
        body = await _body(receive)
        what = scope["path"] if route is None else f"{route[0]} {route[1].key}"
        try:
            review = json.loads(body)
            if route is None:
                assert protection is not None
                answer = protection_answer(review, protection)
            else:
                answer = await self._answer(route[0], route[1], review)
        except (ValueError, ReviewError) as exc:  # json's errors are ValueErrors
            await _send(send, 400, {"message": str(exc)})
            return
        except TemplateRenderError as exc:  # the Katalog's mistake: one line, no traceback
            log.warning("webhook %s: %s", what, exc)
            await _send(send, 500, {"message": f"{what}: {exc}"})
            return
        except Exception as exc:  # a bug; kube applies failurePolicy (Fail: the write is refused)
            log.exception("webhook %s failed", what)
            await _send(send, 500, {"message": f"{what}: {exc}"})
            return
        await _send(send, 200, answer)

    async def _answer(self, side: str, crd: CrdEntry, review: Any) -> dict[str, Any]:
        if side == CONVERT:
            return conversion_answer(crd, review)
        peers: Iterable[Mapping[str, Any]] = ()
        if self.peers is not None and uses_unique(crd):
            peers = await self.peers(crd)
        return admission_answer(
            crd, review, mutate=side == MUTATE, validate=side == VALIDATE, peers=peers
        )


async def _body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _send(send: Any, status: int, payload: Mapping[str, Any]) -> None:
    body = json.dumps(payload, separators=(",", ":")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def serve_webhooks(
    app: WebhookApp,
    host: str,
    port: int,
    certificates: CertificateFiles,
    stop: trio.Event,
    *,
    reload_interval: float = RELOAD_INTERVAL,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` over TLS on ``host:port`` until ``stop`` is set; ``nursery.start``
    returns the bound URLs. The certificate files are checked for renewal meanwhile."""
    async with trio.open_nursery() as nursery:

        async def serve(*, task_status: trio.TaskStatus[list[str]]) -> None:
            try:
                await serve_h1(
                    app,
                    host,
                    port,
                    stop,
                    ssl_context=certificates.context,
                    grace=GRACE_SECONDS,
                    max_body=MAX_REVIEW_BYTES,
                    task_status=task_status,
                )
            finally:
                nursery.cancel_scope.cancel()  # the certificate follower

        nursery.start_soon(certificates.follow, reload_interval)
        task_status.started(await nursery.start(serve))
