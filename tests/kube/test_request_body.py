"""Request bodies that a cancelled request can leave half-read without a ResourceWarning.

httpx's in-memory body stream iterates through an async generator; a request
cancelled while its body is being written leaves that generator suspended,
and Trio reports it when it is garbage-collected. The kube client swaps it
for a plain iterator (``make_http_client``'s request hook).
"""

import gc
import warnings

import httpx
import pytest

from orkestra_trio.kube.client import make_http_client
from orkestra_trio.kube.config import KubeConfig


async def prepared(client: httpx.AsyncClient, content: bytes | None) -> httpx.Request:
    request = client.build_request("POST", "/api/v1/namespaces/default/configmaps", content=content)
    for hook in client.event_hooks["request"]:
        await hook(request)
    return request


async def warnings_when_abandoned_after_first_chunk(stream) -> list[str]:
    """What httpcore does when the socket write of the first chunk is cancelled."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chunks = stream.__aiter__()
        await chunks.__anext__()
        del chunks
        gc.collect()
    return [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


@pytest.fixture
async def client():
    async with make_http_client(KubeConfig(server="http://127.0.0.1:1")) as c:
        yield c


async def test_httpx_body_generator_warns_when_abandoned():
    # The cause, shown on httpx's own stream: if this stops warning, the hook can go.
    found = await warnings_when_abandoned_after_first_chunk(httpx.ByteStream(b"{}"))
    assert any("ByteStream" in message for message in found)


async def test_client_request_bodies_are_plain_iterators(client):
    request = await prepared(client, b'{"kind": "ConfigMap"}')
    assert not isinstance(request.stream, httpx.ByteStream)
    assert request.headers["content-length"] == "21"
    assert await warnings_when_abandoned_after_first_chunk(request.stream) == []
    # Each iteration starts afresh (a retried request sends the body again).
    assert [chunk async for chunk in request.stream] == [b'{"kind": "ConfigMap"}']
    assert [chunk async for chunk in request.stream] == [b'{"kind": "ConfigMap"}']
    empty = await prepared(client, None)
    assert [chunk async for chunk in empty.stream] == []


def test_both_http_clients_of_the_project_install_the_hook():
    """The ONCOP reader's client is cancelled mid-request as often as the kube one."""
    from orkestra_trio._httpbody import body_without_generator
    from orkestra_trio.oncop.reader import http_client

    assert body_without_generator in http_client().event_hooks["request"]
