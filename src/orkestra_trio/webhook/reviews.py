"""AdmissionReview and ConversionReview answers, as pure functions of the request body.

``admission.k8s.io/v1`` AdmissionReview: the request's ``uid``,
``operation`` and ``object`` in; ``allowed``, a ``status`` saying why not,
the mutation as a base64 JSONPatch (``patchType: JSONPatch``) and
``warnings`` out. ``apiextensions.k8s.io/v1`` ConversionReview:
``desiredAPIVersion`` and ``objects`` in; ``convertedObjects`` and a
``result`` out. The decisions are the Katalog's
(:mod:`orkestra_trio.katalog.admission`), the same the embedded API server's
in-process hooks take.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from orkestra_trio.katalog import CrdEntry
from orkestra_trio.katalog.admission import ConversionError, admission_decision, convert
from orkestra_trio.katalog.template import TemplateRenderError

ADMISSION_API = "admission.k8s.io/v1"
CONVERSION_API = "apiextensions.k8s.io/v1"


class ReviewError(ValueError):
    """The body is not a review this server answers (HTTP 400)."""


def admission_answer(
    crd: CrdEntry,
    review: Any,
    *,
    mutate: bool,
    validate: bool,
    peers: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The AdmissionReview answering ``review`` with ``crd``'s rules (one side or both).

    A denial carries code 400 and the joined messages of the rules, which kube
    quotes as ``admission webhook "<name>" denied the request: <message>``;
    the embedded server answers the same. Raises ReviewError for a body that
    is not an AdmissionReview request.
    """
    request = _request(review, ADMISSION_API, "AdmissionReview")
    uid = _text(request, "uid")
    operation = _text(request, "operation")
    obj = request.get("object")
    if not isinstance(obj, Mapping):
        raise ReviewError(f"request.object: expected an object for {operation}")
    response: dict[str, Any] = {"uid": uid, "allowed": True}
    outcome = admission_decision(
        crd.admission, operation, obj, peers=peers, mutate=mutate, validate=validate
    )
    if outcome is not None:
        if outcome.warnings:
            response["warnings"] = list(outcome.warnings)
        if outcome.denials:
            response["allowed"] = False
            response["status"] = {
                "status": "Failure",
                "message": "; ".join(outcome.denials),
                "reason": "BadRequest",
                "code": 400,
            }
        elif outcome.patch is not None:
            operations = json_patch(obj, outcome.cr)
            if operations:
                response["patchType"] = "JSONPatch"
                response["patch"] = base64.b64encode(
                    json.dumps(operations, separators=(",", ":")).encode()
                ).decode()
    return {"apiVersion": ADMISSION_API, "kind": "AdmissionReview", "response": response}


def protection_answer(
    review: Any, decide: Callable[[Mapping[str, Any]], str | None]
) -> dict[str, Any]:
    """The AdmissionReview answering ``review`` with ``decide(request)``: allowed when it
    returns None, else denied with its message (code 400, as the embedded server answers).

    The deletion and namespace protection webhooks: they only allow or deny.
    """
    request = _request(review, ADMISSION_API, "AdmissionReview")
    uid = _text(request, "uid")
    _text(request, "operation")
    message = decide(request)
    response: dict[str, Any] = {"uid": uid, "allowed": message is None}
    if message is not None:
        response["status"] = {
            "status": "Failure",
            "message": message,
            "reason": "BadRequest",
            "code": 400,
        }
    return {"apiVersion": ADMISSION_API, "kind": "AdmissionReview", "response": response}


def request_kind(request: Mapping[str, Any]) -> str:
    """The kind a review's request is about (``request.kind.kind``)."""
    kind = request.get("kind")
    value = kind.get("kind") if isinstance(kind, Mapping) else None
    if not isinstance(value, str) or not value:
        raise ReviewError("request.kind.kind: expected a string")
    return value


def request_object(request: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    """``request.object`` or ``request.oldObject``: a mapping, or None when absent."""
    value = request.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ReviewError(f"request.{key}: expected an object")
    return value


def conversion_answer(crd: CrdEntry, review: Any) -> dict[str, Any]:
    """The ConversionReview answering ``review`` through ``crd``'s ``conversion.paths``.

    A version no path leads to (or a template that fails) answers
    ``result.status: Failure`` with the reason; kube then fails the read or
    write that needed it, as the embedded server does (500).
    """
    request = _request(review, CONVERSION_API, "ConversionReview")
    uid = _text(request, "uid")
    desired = _text(request, "desiredAPIVersion")
    objects = request.get("objects")
    if not isinstance(objects, list) or not all(isinstance(o, Mapping) for o in objects):
        raise ReviewError("request.objects: expected a list of objects")
    response: dict[str, Any] = {"uid": uid}
    group, _, version = desired.rpartition("/")
    conversion = crd.admission.conversion
    try:
        if group != crd.api_types.group or conversion is None:
            raise ConversionError(f"conversion: {desired} is not a version of {crd.key}")
        response["convertedObjects"] = [dict(convert(conversion, o, version)) for o in objects]
        response["result"] = {"status": "Success"}
    except (ConversionError, TemplateRenderError) as exc:
        response["result"] = {"status": "Failure", "message": str(exc)}
    return {"apiVersion": CONVERSION_API, "kind": "ConversionReview", "response": response}


def json_patch(before: Any, after: Any, path: str = "") -> list[dict[str, Any]]:
    """The RFC 6902 operations that turn ``before`` into ``after`` (objects key by key,
    anything else replaced whole)."""
    if before == after:
        return []
    if not (isinstance(before, Mapping) and isinstance(after, Mapping)):
        return [{"op": "replace", "path": path, "value": after}]
    operations: list[dict[str, Any]] = []
    for key in before:
        if key not in after:
            operations.append({"op": "remove", "path": f"{path}/{_pointer(key)}"})
    for key, value in after.items():
        here = f"{path}/{_pointer(key)}"
        if key not in before:
            operations.append({"op": "add", "path": here, "value": value})
        else:
            operations.extend(json_patch(before[key], value, here))
    return operations


def _pointer(key: str) -> str:
    """One JSON Pointer token (RFC 6901): a label key's ``/`` becomes ``~1``."""
    return str(key).replace("~", "~0").replace("/", "~1")


def _request(review: Any, api_version: str, kind: str) -> Mapping[str, Any]:
    if not isinstance(review, Mapping) or review.get("kind") != kind:
        raise ReviewError(f"expected a {kind} ({api_version})")
    if review.get("apiVersion") != api_version:
        raise ReviewError(
            f"{kind} {review.get('apiVersion')!r}: this server answers {api_version} only"
        )
    request = review.get("request")
    if not isinstance(request, Mapping):
        raise ReviewError(f"{kind}: no request")
    return request


def _text(request: Mapping[str, Any], key: str) -> str:
    value = request.get(key)
    if not isinstance(value, str) or not value:
        raise ReviewError(f"request.{key}: expected a string")
    return value
