"""Typed errors for everything the Kubernetes client can fail with.

Callers decide by type, not by parsing text: a reconcile treats ``Conflict`` as
"re-read and try again", ``NotFound`` on delete as success, ``Invalid`` as a
user mistake worth an Event, ``TooManyRequests``/``ServerError`` as transient.
The API server explains every failure in a ``Status`` body (kind, reason, code,
message, details.causes); this module turns that body into one of these
classes, and every message names the verb and the object it concerned, e.g.
``patch apps/v1 Deployment default/web: ...``, because a bare "not found" in a
log of a hundred reconciles tells nobody anything.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Mapping
from typing import Any

import attrs


class KubeError(Exception):
    """Base class of every error raised by ``orkestra_trio.kube``."""


class ConfigError(KubeError):
    """The client configuration (kubeconfig, in-cluster files, exec plugin) is unusable."""


class TransportError(KubeError):
    """The request failed below HTTP: connect refused, reset, TLS, timeout.

    ``reached_server`` is False when the request provably never left this
    process (connect failure, pool timeout), which is what makes retrying a
    create safe.
    """

    def __init__(self, verb: str, target: str, cause: BaseException, *, reached_server: bool):
        self.verb = verb
        self.target = target
        self.cause = cause
        self.reached_server = reached_server
        detail = str(cause) or type(cause).__name__
        super().__init__(f"{verb} {target}: {type(cause).__name__}: {detail}")

    @property
    def tls_failure(self) -> bool:
        """The TLS handshake failed (a certificate rejected, either way): retrying cannot help."""
        return is_tls_failure(self.cause)


def is_tls_failure(exc: BaseException) -> bool:
    """Whether ``exc`` or what caused it is an :class:`ssl.SSLError`."""
    seen: BaseException | None = exc
    for _ in range(10):  # the chain is short; bound it anyway
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


@attrs.frozen
class Cause:
    """One entry of ``Status.details.causes``: which field is wrong and why."""

    type: str
    field: str
    message: str


class ApiError(KubeError):
    """The API server answered with an error status.

    ``code`` is the HTTP status, ``reason`` the Status reason (``NotFound``,
    ``Conflict``...), ``message`` the server's own explanation, ``details`` the
    raw Status details mapping (may be empty).
    """

    def __init__(
        self,
        verb: str,
        target: str,
        *,
        code: int,
        reason: str,
        message: str,
        details: Mapping[str, Any] | None = None,
        causes: tuple[Cause, ...] = (),
        retry_after: float | None = None,
    ):
        self.verb = verb
        self.target = target
        self.code = code
        self.reason = reason
        self.message = message
        self.details: Mapping[str, Any] = details or {}
        self.causes = causes
        self.retry_after = retry_after
        text = f"{verb} {target}: {message or reason} ({code} {reason})"
        # The API server's message usually lists its causes already ("... is
        # invalid: spec.x: Invalid value: ..."): add only those it left out.
        extra = [
            said
            for said in (f"{c.field}: {c.message}" if c.field else c.message for c in causes)
            if said and said not in message
        ]
        if extra:
            text += "; " + "; ".join(extra)
        super().__init__(text)


class BadRequest(ApiError):
    """400: the request itself is malformed (bad selector, bad patch)."""


class Unauthorized(ApiError):
    """401: credentials missing, wrong or expired."""


class Forbidden(ApiError):
    """403: authenticated but not allowed (RBAC).

    Said first, as ``forbidden: <verb> <object>: <the server's explanation>``:
    in a box's health or an Event, a missing RBAC rule must read as one at a
    glance, not as one more failed request.
    """

    def __init__(self, verb: str, target: str, **kwargs: Any) -> None:
        super().__init__(verb, target, **kwargs)
        explanation = self.message or self.reason
        self.args = (f"forbidden: {verb} {target}: {explanation}",)


class NotFound(ApiError):
    """404: the object (or the resource type) does not exist."""


class Conflict(ApiError):
    """409 other than AlreadyExists: stale resourceVersion, apply field conflict."""


class AlreadyExists(Conflict):
    """409 AlreadyExists: a create found an object of that name."""


class Gone(ApiError):
    """410: the resourceVersion (or continue token) is older than the server keeps."""


class Invalid(ApiError):
    """422: the object failed validation; ``causes`` says which fields."""


class TooManyRequests(ApiError):
    """429: the server sheds load; ``retry_after`` is its advice in seconds."""


class ServerError(ApiError):
    """5xx: the server failed; transient as far as the client can tell."""


_BY_CODE: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
    422: Invalid,
    429: TooManyRequests,
}

# Reasons that pick the class when the code alone is ambiguous or when the
# Status arrives inside a watch stream (where only the body carries the code).
_BY_REASON: dict[str, type[ApiError]] = {
    "AlreadyExists": AlreadyExists,
    "Expired": Gone,
    "Gone": Gone,
}


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (the API server sends integer seconds; HTTP dates are ignored)."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(0.0, seconds)


def error_from_status(
    verb: str,
    target: str,
    code: int,
    status: Mapping[str, Any] | None,
    *,
    retry_after: float | None = None,
) -> ApiError:
    """Build the typed error for an HTTP ``code`` and a (possibly absent) Status body."""
    status = status if isinstance(status, Mapping) else {}
    body_code = status.get("code")
    if isinstance(body_code, int) and body_code >= 400 and code < 400:
        code = body_code  # a Status carried in a watch ERROR event
    reason = str(status.get("reason") or _default_reason(code))
    message = str(status.get("message") or "")
    details = status.get("details")
    details = details if isinstance(details, Mapping) else {}
    causes = tuple(
        Cause(
            type=str(c.get("reason", "")),
            field=str(c.get("field", "")),
            message=str(c.get("message", "")),
        )
        for c in details.get("causes") or ()
        if isinstance(c, Mapping)
    )
    if retry_after is None and isinstance(details.get("retryAfterSeconds"), int | float):
        retry_after = float(details["retryAfterSeconds"])
    cls = _BY_REASON.get(reason) or _BY_CODE.get(code)
    if cls is None:
        cls = ServerError if code >= 500 else ApiError
    return cls(
        verb,
        target,
        code=code,
        reason=reason,
        message=message,
        details=details,
        causes=causes,
        retry_after=retry_after,
    )


def error_from_response(
    verb: str, target: str, code: int, body: bytes, headers: Mapping[str, str]
) -> ApiError:
    """Build the typed error for an HTTP error response (body may be a Status or anything)."""
    status: Mapping[str, Any] | None = None
    try:
        decoded = json.loads(body) if body else None
    except ValueError:
        decoded = None
    if isinstance(decoded, Mapping):
        status = decoded
    elif body:
        # Proxies and load balancers answer with HTML or plain text: keep a short excerpt.
        status = {"message": body[:200].decode("utf-8", "replace").strip()}
    return error_from_status(
        verb, target, code, status, retry_after=parse_retry_after(headers.get("retry-after"))
    )


def _default_reason(code: int) -> str:
    return {
        400: "BadRequest",
        401: "Unauthorized",
        403: "Forbidden",
        404: "NotFound",
        405: "MethodNotAllowed",
        409: "Conflict",
        410: "Gone",
        415: "UnsupportedMediaType",
        422: "Invalid",
        429: "TooManyRequests",
        500: "InternalError",
        503: "ServiceUnavailable",
        504: "Timeout",
    }.get(code, "Unknown" if code < 500 else "InternalError")
