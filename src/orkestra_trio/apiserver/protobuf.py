"""Decoding Kubernetes protobuf request bodies for the few simple kinds kubectl sends them for.

kubectl 1.32 and later send ``kubectl create configmap|secret|namespace|
serviceaccount`` bodies as ``application/vnd.kubernetes.protobuf`` (typed
clients prefer protobuf), and client-go has no JSON fallback after a 415. A
full protobuf codec needs every built-in schema; these commands need only a
handful of small messages, so this module decodes exactly those (object
metadata, ConfigMap, Secret, Namespace, ServiceAccount) into the JSON shape and
answers 415 for anything else. Responses stay JSON, which clients accept
because they also list ``application/json`` in Accept.

Wire format: the ``k8s\\x00`` magic, then a ``runtime.Unknown`` message
(typeMeta = 1 {apiVersion = 1, kind = 2}, raw = 2, contentEncoding = 3,
contentType = 4) whose ``raw`` is the object's own message.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from orkestra_trio.apiserver.status import ApiError

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
_MAGIC = b"k8s\x00"

# message name -> field number -> (JSON name, type). Types: "string", "bytes"
# (base64 in JSON), "int", "bool", "time", "map_ss" (map<string,string>),
# "map_sb" (map<string,bytes>), "msg:<Name>", "rep_string", "rep_msg:<Name>".
_SCHEMAS: dict[str, dict[int, tuple[str, str]]] = {
    "ObjectMeta": {
        1: ("name", "string"),
        2: ("generateName", "string"),
        3: ("namespace", "string"),
        5: ("uid", "string"),
        6: ("resourceVersion", "string"),
        7: ("generation", "int"),
        8: ("creationTimestamp", "time"),
        10: ("deletionGracePeriodSeconds", "int"),
        11: ("labels", "map_ss"),
        12: ("annotations", "map_ss"),
        13: ("ownerReferences", "rep_msg:OwnerReference"),
        14: ("finalizers", "rep_string"),
    },
    "OwnerReference": {
        1: ("kind", "string"),
        3: ("name", "string"),
        4: ("uid", "string"),
        5: ("apiVersion", "string"),
        6: ("controller", "bool"),
        7: ("blockOwnerDeletion", "bool"),
    },
    "ConfigMap": {
        1: ("metadata", "msg:ObjectMeta"),
        2: ("data", "map_ss"),
        3: ("binaryData", "map_sb"),
        4: ("immutable", "bool"),
    },
    "Secret": {
        1: ("metadata", "msg:ObjectMeta"),
        2: ("data", "map_sb"),
        3: ("type", "string"),
        4: ("stringData", "map_ss"),
        5: ("immutable", "bool"),
    },
    "Namespace": {
        1: ("metadata", "msg:ObjectMeta"),
        2: ("spec", "msg:NamespaceSpec"),
    },
    "NamespaceSpec": {1: ("finalizers", "rep_string")},
    "ServiceAccount": {
        1: ("metadata", "msg:ObjectMeta"),
        3: ("imagePullSecrets", "rep_msg:LocalObjectReference"),
        4: ("automountServiceAccountToken", "bool"),
    },
    "LocalObjectReference": {1: ("name", "string")},
}

#: The (apiVersion, kind) pairs whose protobuf bodies are understood.
SUPPORTED = frozenset(
    {("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "Namespace"), ("v1", "ServiceAccount")}
)


# Kinds whose body content the server does not need: access and identity reviews.
_TYPE_ONLY = frozenset(
    {
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview"),
        ("authorization.k8s.io/v1", "SelfSubjectRulesReview"),
        ("authorization.k8s.io/v1", "SubjectAccessReview"),
        ("authentication.k8s.io/v1", "SelfSubjectReview"),
        ("authentication.k8s.io/v1beta1", "SelfSubjectReview"),
    }
)


class _Malformed(ValueError):
    pass


def _fields(data: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, value) triples of one message."""
    out: list[tuple[int, int, Any]] = []
    pos = 0
    end = len(data)

    def varint() -> int:
        nonlocal pos
        shift = 0
        result = 0
        while True:
            if pos >= end:
                raise _Malformed("truncated varint")
            byte = data[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7
            if shift > 63:
                raise _Malformed("varint too long")

    while pos < end:
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            out.append((number, wire, varint()))
        elif wire == 2:
            length = varint()
            if pos + length > end:
                raise _Malformed("truncated field")
            out.append((number, wire, data[pos : pos + length]))
            pos += length
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise _Malformed(f"unsupported wire type {wire}")
    if pos != end:
        raise _Malformed("trailing bytes")
    return out


def _time(data: bytes) -> str:
    seconds = 0
    for number, _wire, value in _fields(data):
        if number == 1:
            seconds = int(value)
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _map_entry(data: bytes) -> tuple[str, bytes]:
    key = b""
    value = b""
    for number, _wire, raw in _fields(data):
        if number == 1:
            key = raw
        elif number == 2:
            value = raw
    return key.decode(), value


def _message(data: bytes, name: str) -> dict[str, Any]:
    schema = _SCHEMAS[name]
    result: dict[str, Any] = {}
    for number, _wire, raw in _fields(data):
        spec = schema.get(number)
        if spec is None:
            continue  # a field this subset does not model
        field, kind = spec
        if raw in (b"", 0) and kind in ("string", "bytes", "int", "bool", "time"):
            continue  # Go writes zero values; JSON omits them (omitempty)
        if kind == "string":
            result[field] = raw.decode()
        elif kind == "bytes":
            result[field] = base64.b64encode(raw).decode()
        elif kind == "int":
            result[field] = raw - (1 << 64) if raw >= 1 << 63 else raw
        elif kind == "bool":
            result[field] = bool(raw)
        elif kind == "time":
            result[field] = _time(raw)
        elif kind in ("map_ss", "map_sb"):
            key, value = _map_entry(raw)
            text = value.decode() if kind == "map_ss" else base64.b64encode(value).decode()
            result.setdefault(field, {})[key] = text
        elif kind == "rep_string":
            result.setdefault(field, []).append(raw.decode())
        elif kind.startswith("msg:"):
            result[field] = _message(raw, kind[4:])
        elif kind.startswith("rep_msg:"):
            result.setdefault(field, []).append(_message(raw, kind[8:]))
    return result


def decode_body(body: bytes) -> dict[str, Any]:
    """A protobuf request body as the JSON object it stands for (415 if unsupported)."""
    try:
        if not body.startswith(_MAGIC):
            raise _Malformed("missing the k8s protobuf magic prefix")
        api_version = kind = ""
        raw = b""
        for number, _wire, value in _fields(body[len(_MAGIC) :]):
            if number == 1:
                for sub, _w, text in _fields(value):
                    if sub == 1:
                        api_version = text.decode()
                    elif sub == 2:
                        kind = text.decode()
            elif number == 2:
                raw = value
        if (api_version, kind) in _TYPE_ONLY:
            # Reviews are answered from nothing but their type (reviews.py).
            return {"apiVersion": api_version, "kind": kind}
        if (api_version, kind) not in SUPPORTED:
            raise ApiError(
                415,
                f"the body of the request was in an unknown format - this server decodes "
                f"application/vnd.kubernetes.protobuf only for ConfigMap, Secret, Namespace "
                f"and ServiceAccount (got {api_version} {kind}); accepted media types include: "
                f"application/json, application/yaml",
                reason="UnsupportedMediaType",
            )
        obj = _message(raw, kind)
    except (_Malformed, UnicodeDecodeError, OverflowError, ValueError) as exc:
        raise ApiError(
            400, f"the protobuf body could not be decoded: {exc}", reason="BadRequest"
        ) from exc
    return {"apiVersion": api_version, "kind": kind, **obj}
