"""Decoding Kubernetes protobuf request bodies for the kinds kubectl's generators create.

kubectl 1.32 and later send the bodies of its typed generators (``kubectl
create configmap|secret|namespace|serviceaccount|deployment|service|job``) as
``application/vnd.kubernetes.protobuf`` (typed clients prefer protobuf), and
client-go has no JSON fallback after a 415. A full protobuf codec needs every
built-in schema; these commands need only a known set of messages, so this
module decodes exactly those into the JSON shape and answers 415 for any other
kind. Responses stay JSON, which clients accept because they also list
``application/json`` in Accept.

Wire format: the ``k8s\\x00`` magic, then a ``runtime.Unknown`` message
(typeMeta = 1 {apiVersion = 1, kind = 2}, raw = 2, contentEncoding = 3,
contentType = 4) whose ``raw`` is the object's own message. Field numbers
below are those of Kubernetes' generated.proto files (k8s.io/api core/v1,
apps/v1, batch/v1; apimachinery meta/v1, intstr, resource).

Go's generated marshaller writes every non-pointer field, zero or not, so a
body carries many fields the JSON form would omit. A field this module does
not model is skipped only when its value is zero all the way down; one that
carries data makes the request fail with 415 naming the field, rather than
the server silently storing less than the client sent.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from orkestra_trio.apiserver.status import ApiError

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
_MAGIC = b"k8s\x00"

# message name -> field number -> (JSON name, type). Types:
#   "string", "bytes" (base64 in JSON), "int", "bool", "time": omitted when zero
#     (non-pointer Go fields, which JSON marks omitempty);
#   "int_ptr", "bool_ptr": pointer fields, written only when set, so a zero counts;
#   "intorstr" (intstr.IntOrString), "map_ss" (map<string,string>),
#   "map_sb" (map<string,bytes>), "map_quantity" (map<string,Quantity>),
#   "rep_string", "msg:<Name>", "rep_msg:<Name>".
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
        6: ("controller", "bool_ptr"),
        7: ("blockOwnerDeletion", "bool_ptr"),
    },
    "ConfigMap": {
        1: ("metadata", "msg:ObjectMeta"),
        2: ("data", "map_ss"),
        3: ("binaryData", "map_sb"),
        4: ("immutable", "bool_ptr"),
    },
    "Secret": {
        1: ("metadata", "msg:ObjectMeta"),
        2: ("data", "map_sb"),
        3: ("type", "string"),
        4: ("stringData", "map_ss"),
        5: ("immutable", "bool_ptr"),
    },
    "Namespace": {
        1: ("metadata", "msg:ObjectMeta"),
        2: ("spec", "msg:NamespaceSpec"),
    },
    "NamespaceSpec": {1: ("finalizers", "rep_string")},
    "ServiceAccount": {
        1: ("metadata", "msg:ObjectMeta"),
        3: ("imagePullSecrets", "rep_msg:LocalObjectReference"),
        4: ("automountServiceAccountToken", "bool_ptr"),
    },
    "LocalObjectReference": {1: ("name", "string")},
    # authentication/v1 and authorization/v1: what kubectl sends for `create token`
    # and `auth can-i` (the answers go back as JSON).
    "TokenRequest": {1: ("metadata", "msg:ObjectMeta"), 2: ("spec", "msg:TokenRequestSpec")},
    "TokenRequestSpec": {
        1: ("audiences", "rep_string"),
        3: ("boundObjectRef", "msg:BoundObjectReference"),
        4: ("expirationSeconds", "int_ptr"),
    },
    "BoundObjectReference": {
        1: ("kind", "string"),
        2: ("apiVersion", "string"),
        3: ("name", "string"),
        4: ("uid", "string"),
    },
    "TokenReview": {1: ("metadata", "msg:ObjectMeta"), 2: ("spec", "msg:TokenReviewSpec")},
    "TokenReviewSpec": {1: ("token", "string"), 2: ("audiences", "rep_string")},
    "SubjectAccessReview": {
        1: ("metadata", "msg:ObjectMeta"),
        2: ("spec", "msg:SubjectAccessReviewSpec"),
    },
    "LocalSubjectAccessReview": {
        1: ("metadata", "msg:ObjectMeta"),
        2: ("spec", "msg:SubjectAccessReviewSpec"),
    },
    "SubjectAccessReviewSpec": {
        1: ("resourceAttributes", "msg:ResourceAttributes"),
        2: ("nonResourceAttributes", "msg:NonResourceAttributes"),
        3: ("user", "string"),
        4: ("groups", "rep_string"),
        6: ("uid", "string"),
    },
    "SelfSubjectAccessReview": {
        1: ("metadata", "msg:ObjectMeta"),
        2: ("spec", "msg:SelfSubjectAccessReviewSpec"),
    },
    "SelfSubjectAccessReviewSpec": {
        1: ("resourceAttributes", "msg:ResourceAttributes"),
        2: ("nonResourceAttributes", "msg:NonResourceAttributes"),
    },
    "ResourceAttributes": {
        1: ("namespace", "string"),
        2: ("verb", "string"),
        3: ("group", "string"),
        4: ("version", "string"),
        5: ("resource", "string"),
        6: ("subresource", "string"),
        7: ("name", "string"),
    },
    "NonResourceAttributes": {1: ("path", "string"), 2: ("verb", "string")},
    "SelfSubjectRulesReview": {
        1: ("metadata", "msg:ObjectMeta"),
        2: ("spec", "msg:SelfSubjectRulesReviewSpec"),
    },
    "SelfSubjectRulesReviewSpec": {1: ("namespace", "string")},
    # meta/v1
    "LabelSelector": {
        1: ("matchLabels", "map_ss"),
        2: ("matchExpressions", "rep_msg:LabelSelectorRequirement"),
    },
    "LabelSelectorRequirement": {
        1: ("key", "string"),
        2: ("operator", "string"),
        3: ("values", "rep_string"),
    },
    # apps/v1
    "Deployment": {
        1: ("metadata", "msg:ObjectMeta"),
        2: ("spec", "msg:DeploymentSpec"),
    },
    "DeploymentSpec": {
        1: ("replicas", "int_ptr"),
        2: ("selector", "msg:LabelSelector"),
        3: ("template", "msg:PodTemplateSpec"),
        4: ("strategy", "msg:DeploymentStrategy"),
        5: ("minReadySeconds", "int"),
        6: ("revisionHistoryLimit", "int_ptr"),
        7: ("paused", "bool"),
        9: ("progressDeadlineSeconds", "int_ptr"),
    },
    "DeploymentStrategy": {
        1: ("type", "string"),
        2: ("rollingUpdate", "msg:RollingUpdateDeployment"),
    },
    "RollingUpdateDeployment": {
        1: ("maxUnavailable", "intorstr"),
        2: ("maxSurge", "intorstr"),
    },
    # batch/v1
    "Job": {
        1: ("metadata", "msg:ObjectMeta"),
        2: ("spec", "msg:JobSpec"),
    },
    "JobSpec": {
        1: ("parallelism", "int_ptr"),
        2: ("completions", "int_ptr"),
        3: ("activeDeadlineSeconds", "int_ptr"),
        4: ("selector", "msg:LabelSelector"),
        5: ("manualSelector", "bool_ptr"),
        6: ("template", "msg:PodTemplateSpec"),
        7: ("backoffLimit", "int_ptr"),
        8: ("ttlSecondsAfterFinished", "int_ptr"),
        9: ("completionMode", "string"),
        10: ("suspend", "bool_ptr"),
    },
    # core/v1 pods
    "PodTemplateSpec": {
        1: ("metadata", "msg:ObjectMeta"),
        2: ("spec", "msg:PodSpec"),
    },
    "PodSpec": {
        2: ("containers", "rep_msg:Container"),
        3: ("restartPolicy", "string"),
        4: ("terminationGracePeriodSeconds", "int_ptr"),
        7: ("nodeSelector", "map_ss"),
        8: ("serviceAccountName", "string"),
        20: ("initContainers", "rep_msg:Container"),
    },
    "Container": {
        1: ("name", "string"),
        2: ("image", "string"),
        3: ("command", "rep_string"),
        4: ("args", "rep_string"),
        5: ("workingDir", "string"),
        6: ("ports", "rep_msg:ContainerPort"),
        7: ("env", "rep_msg:EnvVar"),
        8: ("resources", "msg:ResourceRequirements"),
        14: ("imagePullPolicy", "string"),
    },
    "ContainerPort": {
        1: ("name", "string"),
        2: ("hostPort", "int"),
        3: ("containerPort", "int"),
        4: ("protocol", "string"),
        5: ("hostIP", "string"),
    },
    "EnvVar": {1: ("name", "string"), 2: ("value", "string")},
    "ResourceRequirements": {
        1: ("limits", "map_quantity"),
        2: ("requests", "map_quantity"),
    },
    # core/v1 services
    "Service": {
        1: ("metadata", "msg:ObjectMeta"),
        2: ("spec", "msg:ServiceSpec"),
    },
    "ServiceSpec": {
        1: ("ports", "rep_msg:ServicePort"),
        2: ("selector", "map_ss"),
        3: ("clusterIP", "string"),
        4: ("type", "string"),
        10: ("externalName", "string"),
    },
    "ServicePort": {
        1: ("name", "string"),
        2: ("protocol", "string"),
        3: ("port", "int"),
        4: ("targetPort", "intorstr"),
        5: ("nodePort", "int"),
    },
}

#: The (apiVersion, kind) pairs whose protobuf bodies are understood.
SUPPORTED = frozenset(
    {
        ("v1", "ConfigMap"),
        ("v1", "Secret"),
        ("v1", "Namespace"),
        ("v1", "ServiceAccount"),
        ("v1", "Service"),
        ("apps/v1", "Deployment"),
        ("batch/v1", "Job"),
        ("authentication.k8s.io/v1", "TokenRequest"),
        ("authentication.k8s.io/v1", "TokenReview"),
        ("authorization.k8s.io/v1", "SubjectAccessReview"),
        ("authorization.k8s.io/v1", "LocalSubjectAccessReview"),
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview"),
        ("authorization.k8s.io/v1", "SelfSubjectRulesReview"),
    }
)

_SUPPORTED_TEXT = ", ".join(f"{kind} ({version})" for version, kind in sorted(SUPPORTED))


# Kinds whose body content the server does not need: identity reviews (who am I).
_TYPE_ONLY = frozenset(
    {
        ("authentication.k8s.io/v1", "SelfSubjectReview"),
        ("authentication.k8s.io/v1beta1", "SelfSubjectReview"),
    }
)


class _Malformed(ValueError):
    pass


class _Unmodelled(Exception):
    """A field carrying data that this decoder has no JSON name for."""


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

    def fixed(size: int) -> int:
        nonlocal pos
        if pos + size > end:
            raise _Malformed("truncated fixed-size field")
        value = int.from_bytes(data[pos : pos + size], "little")
        pos += size
        return value

    while pos < end:
        key = varint()
        number, wire = key >> 3, key & 7
        if number == 0:
            raise _Malformed("field number 0")
        if wire == 0:
            out.append((number, wire, varint()))
        elif wire == 2:
            length = varint()
            if pos + length > end:
                raise _Malformed("truncated field")
            out.append((number, wire, data[pos : pos + length]))
            pos += length
        elif wire == 1:
            out.append((number, wire, fixed(8)))
        elif wire == 5:
            out.append((number, wire, fixed(4)))
        else:
            raise _Malformed(f"unsupported wire type {wire}")
    return out


def _is_zero(wire: int, value: Any, depth: int = 0) -> bool:
    """True when a field carries nothing: 0, empty, or a message of zero fields only.

    A non-empty length-delimited value is read as a message; a string or bytes
    value that happened to parse as one made of zeros only would be mistaken
    for empty, which no printable text does.
    """
    if wire != 2:
        return bool(value == 0)
    if not value:
        return True
    if depth > 32:
        return False
    try:
        return all(_is_zero(w, v, depth + 1) for _n, w, v in _fields(value))
    except _Malformed:
        return False


def _time(data: bytes) -> str | None:
    seconds = 0
    for number, _wire, value in _fields(data):
        if number == 1:
            seconds = int(value)
    if seconds == 0:
        return None
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


def _quantity(data: bytes) -> str:
    """resource.Quantity: {string = 1}."""
    text = b""
    for number, _wire, raw in _fields(data):
        if number == 1:
            text = raw
    return text.decode()


def _int_or_string(data: bytes) -> int | str:
    """intstr.IntOrString: {type = 1 (0 int, 1 string), intVal = 2, strVal = 3}."""
    kind = int_value = 0
    text = b""
    for number, _wire, raw in _fields(data):
        if number == 1:
            kind = raw
        elif number == 2:
            int_value = _signed(raw)
        elif number == 3:
            text = raw
    return text.decode() if kind == 1 else int_value


def _signed(raw: int) -> int:
    return raw - (1 << 64) if raw >= 1 << 63 else raw


def _expect(wire: int, kind: str) -> None:
    scalar = kind in ("int", "int_ptr", "bool", "bool_ptr")
    if (wire == 0) != scalar:
        raise _Malformed(f"wire type {wire} where a {kind} value belongs")


def _message(data: bytes, name: str, path: str) -> dict[str, Any]:
    schema = _SCHEMAS[name]
    result: dict[str, Any] = {}
    for number, wire, raw in _fields(data):
        spec = schema.get(number)
        if spec is None:
            if _is_zero(wire, raw):
                continue  # Go writes every non-pointer field; a zero one carries nothing
            raise _Unmodelled(f"field {number} of {name} (under {path or 'the object'})")
        field, kind = spec
        _expect(wire, kind)
        where = f"{path}.{field}" if path else field
        if kind in ("string", "bytes", "int", "bool", "time") and raw in (b"", 0):
            continue  # zero values of non-pointer fields: JSON omits them (omitempty)
        if kind == "string":
            result[field] = raw.decode()
        elif kind == "bytes":
            result[field] = base64.b64encode(raw).decode()
        elif kind in ("int", "int_ptr"):
            result[field] = _signed(raw)
        elif kind in ("bool", "bool_ptr"):
            result[field] = bool(raw)
        elif kind == "time":
            stamp = _time(raw)
            if stamp is not None:
                result[field] = stamp
        elif kind == "intorstr":
            value = _int_or_string(raw)
            if value != 0 or (name, number) in _POINTER_INT_OR_STRING:
                result[field] = value
        elif kind in ("map_ss", "map_sb", "map_quantity"):
            key, value_bytes = _map_entry(raw)
            if kind == "map_ss":
                text = value_bytes.decode()
            elif kind == "map_sb":
                text = base64.b64encode(value_bytes).decode()
            else:
                text = _quantity(value_bytes)
            result.setdefault(field, {})[key] = text
        elif kind == "rep_string":
            result.setdefault(field, []).append(raw.decode())
        elif kind.startswith("msg:"):
            # Present means set (pointer) or a non-pointer struct: JSON has it, maybe as {}.
            result[field] = _message(raw, kind[4:], where)
        elif kind.startswith("rep_msg:"):
            items = result.setdefault(field, [])
            items.append(_message(raw, kind[8:], f"{where}[{len(items)}]"))
    return result


# IntOrString fields that are pointers in Go (nil when unset, so a zero is meant);
# the others (a Service port's targetPort) are zero when unset.
_POINTER_INT_OR_STRING = frozenset({("RollingUpdateDeployment", 1), ("RollingUpdateDeployment", 2)})


def _unsupported(message: str) -> ApiError:
    return ApiError(
        415,
        f"the body of the request was in an unknown format - {message}; "
        f"accepted media types include: application/json, application/yaml",
        reason="UnsupportedMediaType",
    )


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
            # Answered from nothing but their type and the caller (reviews.py).
            return {"apiVersion": api_version, "kind": kind}
        if (api_version, kind) not in SUPPORTED:
            raise _unsupported(
                f"this server decodes application/vnd.kubernetes.protobuf only for "
                f"{_SUPPORTED_TEXT} (got {api_version} {kind})"
            )
        obj = _message(raw, kind, "")
    except _Unmodelled as exc:
        raise _unsupported(
            f"the application/vnd.kubernetes.protobuf body of this {kind} sets {exc}, "
            f"which this server does not decode; send the object as JSON instead"
        ) from exc
    except (_Malformed, UnicodeDecodeError, OverflowError, ValueError) as exc:
        raise ApiError(
            400, f"the protobuf body could not be decoded: {exc}", reason="BadRequest"
        ) from exc
    obj.setdefault("metadata", {})
    return {"apiVersion": api_version, "kind": kind, **obj}
