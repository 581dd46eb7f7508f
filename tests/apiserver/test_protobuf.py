"""Protobuf request bodies (kubectl >= 1.32 typed create commands) for the simple kinds."""

CM = "/api/v1/namespaces/default/configmaps"
PROTO = {"content-type": "application/vnd.kubernetes.protobuf"}


def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field(number, payload):
    if isinstance(payload, int):
        return varint(number << 3) + varint(payload)
    if isinstance(payload, str):
        payload = payload.encode()
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def envelope(api_version, kind, raw):
    type_meta = field(1, api_version) + field(2, kind)
    return b"k8s\x00" + field(1, type_meta) + field(2, raw) + field(3, "") + field(4, "")


def configmap_message(name, data, labels):
    meta = field(1, name) + field(2, "") + field(8, b"")  # zero values as Go writes them
    for k, v in labels.items():
        meta += field(11, field(1, k) + field(2, v))
    body = field(1, meta)
    for k, v in data.items():
        body += field(2, field(1, k) + field(2, v))
    return body


async def test_protobuf_configmap_is_decoded(client):
    raw = configmap_message("pb", {"a": "1", "b": "2"}, {"app": "x"})
    r = await client.post(CM, content=envelope("v1", "ConfigMap", raw), headers=PROTO)
    assert r.status_code == 201, r.text
    obj = r.json()
    assert obj["data"] == {"a": "1", "b": "2"}
    assert obj["metadata"]["labels"] == {"app": "x"}
    assert "generateName" not in obj["metadata"]


async def test_protobuf_secret_bytes_become_base64(client):
    meta = field(1, "pbs")
    raw = field(1, meta) + field(2, field(1, "k") + field(2, b"\x00\xff")) + field(3, "Opaque")
    r = await client.post(
        "/api/v1/namespaces/default/secrets", content=envelope("v1", "Secret", raw), headers=PROTO
    )
    assert r.status_code == 201, r.text
    assert r.json()["data"] == {"k": "AP8="}


async def test_unsupported_protobuf_kind_is_415_and_garbage_is_400(client):
    r = await client.post(
        "/apis/apps/v1/namespaces/default/deployments",
        content=envelope("apps/v1", "Deployment", b""),
        headers=PROTO,
    )
    assert r.status_code == 415 and r.json()["reason"] == "UnsupportedMediaType"
    r = await client.post(CM, content=b"k8s\x00\xff\xff", headers=PROTO)
    assert r.status_code == 400
