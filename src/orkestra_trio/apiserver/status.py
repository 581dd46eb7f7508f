"""Kubernetes ``Status`` error bodies, raised as exceptions anywhere in the server.

Every client (kubectl, client-go, the Python clients, our own ``kube`` layer)
turns an error response into a typed error by reading a ``kind: Status`` body:
``reason`` picks the error class, ``details`` names the object, ``causes``
carry per-field validation messages. So every failure path in the store and
the HTTP app raises an :class:`ApiError` and the app renders it the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

# HTTP code -> the reason a real kube-apiserver puts in the Status body.
_REASONS: dict[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class ApiError(Exception):
    """An error answered to the client as a Status body with an HTTP code."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        reason: str | None = None,
        name: str | None = None,
        group: str | None = None,
        kind: str | None = None,
        causes: Iterable[Mapping[str, Any]] = (),
        retry_after: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or _REASONS.get(code, "Unknown")
        self.name = name
        self.group = group
        self.kind = kind
        self.causes = [dict(c) for c in causes]
        self.retry_after = retry_after
        self.headers = dict(headers or {})

    def to_status(self) -> dict[str, Any]:
        """The failure ``Status`` body, shaped exactly like kube-apiserver's."""
        details: dict[str, Any] = {}
        if self.name is not None:
            details["name"] = self.name
        if self.group is not None:
            details["group"] = self.group
        if self.kind is not None:
            details["kind"] = self.kind
        if self.causes:
            details["causes"] = [dict(c) for c in self.causes]
        if self.retry_after is not None:
            details["retryAfterSeconds"] = self.retry_after
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if details:
            body["details"] = details
        return body

    def body(self) -> bytes:
        return json.dumps(self.to_status(), separators=(",", ":")).encode()


def success_status(*, name: str, group: str, kind: str, uid: str | None = None) -> dict[str, Any]:
    """The ``Status: Success`` body DELETE answers when the object is gone at once."""
    details: dict[str, Any] = {"name": name, "group": group, "kind": kind}
    if uid:
        details["uid"] = uid
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    }


def resource_label(plural: str, group: str) -> str:
    """``deployments.apps`` / ``configmaps``: how kube names a resource in messages."""
    return f"{plural}.{group}" if group else plural


def not_found(plural: str, group: str, name: str) -> ApiError:
    return ApiError(
        404,
        f'{resource_label(plural, group)} "{name}" not found',
        name=name,
        group=group,
        kind=plural,
    )


def already_exists(plural: str, group: str, name: str) -> ApiError:
    return ApiError(
        409,
        f'{resource_label(plural, group)} "{name}" already exists',
        reason="AlreadyExists",
        name=name,
        group=group,
        kind=plural,
    )


def conflict(plural: str, group: str, name: str, detail: str) -> ApiError:
    return ApiError(
        409,
        f'Operation cannot be fulfilled on {resource_label(plural, group)} "{name}": {detail}',
        reason="Conflict",
        name=name,
        group=group,
        kind=plural,
    )


def invalid(kind: str, group: str, name: str, causes: Iterable[Mapping[str, Any]]) -> ApiError:
    """422 Invalid, with the message kube builds from the causes."""
    cause_list = [dict(c) for c in causes]
    parts = []
    for c in cause_list:
        field = c.get("field", "")
        msg = c.get("message", "")
        parts.append(f"{field}: {msg}" if field else str(msg))
    if len(parts) == 1:
        summary = parts[0]
    else:
        summary = "[" + ", ".join(parts) + "]"
    return ApiError(
        422,
        f'{kind}.{group} "{name}" is invalid: {summary}'
        if group
        else f'{kind} "{name}" is invalid: {summary}',
        reason="Invalid",
        name=name,
        group=group,
        kind=kind,
        causes=cause_list,
    )


def expired(message: str) -> ApiError:
    return ApiError(410, message, reason="Expired")


def bad_request(message: str) -> ApiError:
    return ApiError(400, message, reason="BadRequest")
