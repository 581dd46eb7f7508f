"""The hand-encoded gnostic OpenAPI v2 document decodes to the intended fields."""

from orkestra_trio.apiserver.openapi import (
    OPENAPI_V2_PROTOBUF_CONTENT_TYPE,
    decode_fields,
    openapi_v2_json,
    openapi_v2_protobuf,
)


def test_content_type_is_the_one_kubectl_accepts() -> None:
    assert OPENAPI_V2_PROTOBUF_CONTENT_TYPE == (
        "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    )
    assert "@" not in OPENAPI_V2_PROTOBUF_CONTENT_TYPE


def test_protobuf_fields_match_gnostic_document() -> None:
    doc = openapi_v2_protobuf(title="Kubernetes", version="v1.30.0")
    fields = decode_fields(doc)
    # Document: swagger = 1, info = 2, paths = 8, definitions = 9 (all length-delimited).
    assert [(f, w) for f, w, _ in fields] == [(1, 2), (2, 2), (8, 2), (9, 2)]
    assert fields[0][2] == b"2.0"
    assert fields[2][2] == b"" and fields[3][2] == b""
    info = fields[1][2]
    assert isinstance(info, bytes)
    # Info: title = 1, version = 2.
    assert decode_fields(info) == [(1, 2, b"Kubernetes"), (2, 2, b"v1.30.0")]
    # Exact bytes: key 0x0a (field 1, wire 2), length 3, "2.0" ...
    assert doc.startswith(b"\x0a\x032.0\x12")
    assert doc.endswith(b"\x42\x00\x4a\x00")


def test_long_strings_use_multibyte_varint_lengths() -> None:
    title = "t" * 300
    fields = decode_fields(openapi_v2_protobuf(title=title))
    info = fields[1][2]
    assert isinstance(info, bytes)
    assert decode_fields(info)[0] == (1, 2, title.encode())


def test_json_document() -> None:
    assert openapi_v2_json() == {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": "v1.30.0"},
        "paths": {},
        "definitions": {},
    }
