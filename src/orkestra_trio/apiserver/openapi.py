"""The minimal ``/openapi/v2`` document that lets kubectl create and apply.

kubectl (1.20 … 1.33) downloads ``/openapi/v2`` as protobuf before ``create``
and ``apply`` to validate client-side; a 404 there makes those commands fail
unless the user passes ``--validate=false``.  An OpenAPI v2 document with no
paths and no definitions satisfies it: kubectl then finds no schema for any
kind, validates nothing itself and leaves validation to the server (which does
it, see ``schema.py``).  kubectl ≥1.25 asks the server to validate through
``fieldValidation`` anyway.

The protobuf message is gnostic's ``openapi.v2.Document`` (package
``openapi.v2`` in google/gnostic ``openapiv2/OpenAPIv2.proto``).  It is
encoded here by hand: four fields do not justify a protobuf dependency.

``/openapi/v3`` may answer 404: kubectl ≥1.27 first asks ``/openapi/v3`` for
server-side-apply/explain/validation schemas and, on 404, falls back to the v2
document (``kubectl explain`` then has nothing to explain, everything else
works).
"""

from __future__ import annotations

from typing import Any

#: The Content-Type kubectl accepts for the protobuf document.  The variant
#: spelled ``...spec.v2@v1.0+protobuf`` is rejected by kubectl.
OPENAPI_V2_PROTOBUF_CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"

SWAGGER_VERSION = "2.0"
TITLE = "Kubernetes"
# The version string a real server puts in info.version: its git version.
API_VERSION = "v1.30.0"

# Field numbers in gnostic's OpenAPIv2.proto.
_DOCUMENT_SWAGGER = 1
_DOCUMENT_INFO = 2
_DOCUMENT_PATHS = 8
_DOCUMENT_DEFINITIONS = 9
_INFO_TITLE = 1
_INFO_VERSION = 2

_WIRE_LEN = 2  # length-delimited: strings and embedded messages


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _length_delimited(field_number: int, payload: bytes) -> bytes:
    return _varint((field_number << 3) | _WIRE_LEN) + _varint(len(payload)) + payload


def openapi_v2_protobuf(*, title: str = TITLE, version: str = API_VERSION) -> bytes:
    """The serialized ``openapi.v2.Document``: swagger, info, empty paths and definitions.

    Empty ``paths`` and ``definitions`` are written explicitly (zero-length
    messages) so the decoded document has them present, as a JSON one would.
    """
    info = _length_delimited(_INFO_TITLE, title.encode()) + _length_delimited(
        _INFO_VERSION, version.encode()
    )
    return (
        _length_delimited(_DOCUMENT_SWAGGER, SWAGGER_VERSION.encode())
        + _length_delimited(_DOCUMENT_INFO, info)
        + _length_delimited(_DOCUMENT_PATHS, b"")
        + _length_delimited(_DOCUMENT_DEFINITIONS, b"")
    )


def openapi_v2_json(*, title: str = TITLE, version: str = API_VERSION) -> dict[str, Any]:
    """The same document for clients that ask for JSON."""
    return {
        "swagger": SWAGGER_VERSION,
        "info": {"title": title, "version": version},
        "paths": {},
        "definitions": {},
    }


def decode_fields(data: bytes) -> list[tuple[int, int, bytes | int]]:
    """Decode one protobuf message level into (field, wire type, value) triples.

    Used by tests and debugging to check the hand encoding; handles varint and
    length-delimited fields, which is all the document uses.
    """
    fields: list[tuple[int, int, bytes | int]] = []
    pos = 0

    def read_varint() -> int:
        nonlocal pos
        shift = result = 0
        while True:
            if pos >= len(data):
                raise ValueError("truncated varint")
            byte = data[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return result

    while pos < len(data):
        key = read_varint()
        field, wire = key >> 3, key & 7
        if wire == 0:
            fields.append((field, wire, read_varint()))
        elif wire == _WIRE_LEN:
            length = read_varint()
            if pos + length > len(data):
                raise ValueError("truncated field")
            fields.append((field, wire, data[pos : pos + length]))
            pos += length
        else:
            raise ValueError(f"unsupported wire type {wire}")
    return fields
