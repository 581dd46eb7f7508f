"""Request and object limits: one request cannot freeze or exhaust the server.

Each test sends what an attacker would, over real HTTP, and checks kube's
answer (code, reason, wording) and that the server still serves afterwards.
"""

import json

import httpx
import pytest
import trio

from orkestra_trio._httpbody import body_without_generator
from orkestra_trio.apiserver import ApiServer
from orkestra_trio.apiserver.limits import (
    MAX_OBJECT_BYTES,
    MAX_REQUEST_BODY_BYTES,
    expanded_size,
)
from orkestra_trio.apiserver.patch import MAX_PATCH_COPY_BYTES

CMS = "/api/v1/namespaces/default/configmaps"


def _cm(name: str, value: str = "x") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"v": value},
    }


async def _still_serves(client: httpx.AsyncClient) -> None:
    response = await client.get(CMS)
    assert response.status_code == 200


async def test_request_body_over_3mib_is_413(server: ApiServer, client: httpx.AsyncClient) -> None:
    body = json.dumps(_cm("big", "x" * (MAX_REQUEST_BODY_BYTES + 10))).encode()
    # The server answers before the body is sent: a body without a generator
    # leaves nothing half-iterated behind (see orkestra_trio._httpbody).
    hooks = {"request": [body_without_generator]}
    async with httpx.AsyncClient(base_url=server.url, timeout=10, event_hooks=hooks) as c:
        response = await c.post(CMS, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413
    status = response.json()
    assert status["reason"] == "RequestEntityTooLarge"
    assert status["message"] == "Request entity too large: limit is 3145728"
    await _still_serves(client)


async def test_streamed_body_without_length_is_bounded(server: ApiServer) -> None:
    """A chunked body without Content-Length is cut off at the limit, not read to the end."""
    piece = b"x" * 65536
    total = MAX_REQUEST_BODY_BYTES // len(piece) + 50
    sent = 0
    messages = []

    async def receive():
        nonlocal sent
        sent += 1
        return {"type": "http.request", "body": piece, "more_body": sent < total}

    async def send(message):
        messages.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": CMS,
        "raw_path": CMS.encode(),
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 1),
        "root_path": "",
    }
    await server.app(scope, receive, send)
    assert messages[0]["status"] == 413
    assert sent < total  # stopped reading once past the limit


async def test_object_over_1_5mib_is_413(client: httpx.AsyncClient) -> None:
    big = _cm("big", "x" * (MAX_OBJECT_BYTES + 1))
    response = await client.post(CMS, json=big)
    assert response.status_code == 413
    assert response.json()["reason"] == "RequestEntityTooLarge"
    assert "request is too large" in response.json()["message"]
    assert (await client.get(f"{CMS}/big")).status_code == 404
    # Just under the limit is stored.
    fits = await client.post(CMS, json=_cm("fits", "x" * (MAX_OBJECT_BYTES - 4096)))
    assert fits.status_code == 201


async def test_self_copy_patch_is_bounded(client: httpx.AsyncClient) -> None:
    """The attack of the report: one add, then copies of a path into itself."""
    assert (await client.post(CMS, json=_cm("victim"))).status_code == 201
    ops = [{"op": "add", "path": "/metadata/annotations", "value": {"a": "x" * 1000}}]
    ops += [
        {"op": "copy", "from": "/metadata/annotations", "path": f"/metadata/annotations/c{n}"}
        for n in range(40)
    ]
    with trio.fail_after(10):
        response = await client.patch(
            f"{CMS}/victim",
            content=json.dumps(ops),
            headers={"content-type": "application/json-patch+json"},
        )
    assert response.status_code == 422
    message = response.json()["message"]
    assert "accumulated size increase of copy" in message
    assert f"exceeding the limit {MAX_PATCH_COPY_BYTES}" in message
    await _still_serves(client)


async def test_small_copies_still_apply(client: httpx.AsyncClient) -> None:
    assert (await client.post(CMS, json=_cm("small"))).status_code == 201
    ops = [{"op": "copy", "from": "/data/v", "path": "/data/w"}]
    response = await client.patch(
        f"{CMS}/small",
        content=json.dumps(ops),
        headers={"content-type": "application/json-patch+json"},
    )
    assert response.status_code == 200 and response.json()["data"] == {"v": "x", "w": "x"}


@pytest.mark.parametrize("depth", [5_000, 100_000])
async def test_deep_json_is_400(client: httpx.AsyncClient, depth: int) -> None:
    body = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"d"},"x":' + (
        b"[" * depth + b"]" * depth + b"}"
    )
    response = await client.post(CMS, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["reason"] == "BadRequest"
    assert "max depth" in response.json()["message"]


async def test_deep_yaml_is_400(client: httpx.AsyncClient) -> None:
    body = (
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\nx: " + b"[" * 20_000 + b"]" * 20_000
    )
    response = await client.post(CMS, content=body, headers={"content-type": "application/yaml"})
    assert response.status_code == 400


async def test_yaml_alias_bomb_is_400(client: httpx.AsyncClient) -> None:
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata: {name: bomb}", 'a0: &a0 ["lol"]']
    for n in range(1, 30):
        lines.append(f"a{n}: &a{n} [*a{n - 1}, *a{n - 1}, *a{n - 1}]")
    body = "\n".join(lines).encode()
    with trio.fail_after(10):
        response = await client.post(
            CMS, content=body, headers={"content-type": "application/yaml"}
        )
    assert response.status_code == 400
    assert "excessive aliasing" in response.json()["message"]
    await _still_serves(client)


async def test_yaml_with_a_few_aliases_is_fine(client: httpx.AsyncClient) -> None:
    body = (
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok, labels: &l {a: b}, "
        b"annotations: *l}\ndata: {v: x}\n"
    )
    response = await client.post(CMS, content=body, headers={"content-type": "application/yaml"})
    assert response.status_code == 201, response.text
    assert response.json()["metadata"]["annotations"] == {"a": "b"}


def test_expanded_size_counts_aliases_once_per_use() -> None:
    import yaml

    node = yaml.compose("a: &x [1, 2]\nb: *x\n")
    assert expanded_size(node) == 1 + (1 + 3) + (1 + 3)  # mapping, two keys, the list twice
    with pytest.raises(Exception, match="recursive alias"):
        expanded_size(yaml.compose("&a [*a]"))


async def test_negative_watch_timeout_is_refused(client: httpx.AsyncClient) -> None:
    with trio.fail_after(5):
        response = await client.get(CMS, params={"watch": "1", "timeoutSeconds": "-1"})
    assert response.status_code == 400
    assert "timeoutSeconds" in response.json()["message"]


async def test_list_with_bad_resource_version_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get(CMS, params={"resourceVersion": "abc"})
    assert response.status_code == 400
    assert "resourceVersion" in response.json()["message"]
    assert (await client.get(CMS, params={"resourceVersion": "0"})).status_code == 200


async def test_oversized_object_never_reaches_the_state_file(tmp_path) -> None:
    """With --state, the size check runs before the SQLite write: nothing half-stored."""
    from orkestra_trio.apiserver import open_apiserver

    state = tmp_path / "state.db"
    async with (
        open_apiserver(workload_simulation=False, state_file=state) as durable,
        httpx.AsyncClient(base_url=durable.url, timeout=30) as c,
    ):
        fits = await c.post(CMS, json=_cm("max", "x" * (MAX_OBJECT_BYTES - 4096)))
        assert fits.status_code == 201
        over = await c.post(CMS, json=_cm("over", "x" * (MAX_OBJECT_BYTES + 1)))
        assert over.status_code == 413
        revision = durable.store.revision
    async with (
        open_apiserver(workload_simulation=False, state_file=state) as again,
        httpx.AsyncClient(base_url=again.url, timeout=30) as c,
    ):
        assert again.store.revision == revision
        assert (await c.get(f"{CMS}/max")).status_code == 200
        assert (await c.get(f"{CMS}/over")).status_code == 404
