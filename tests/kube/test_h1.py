"""The lean HTTP/1.1 pool (kube/h1.py) against a scripted raw-socket server on loopback."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
import trio

from orkestra_trio.kube.h1 import H1Pool, H1Transport

Handler = Callable[[trio.SocketStream, bytes], Awaitable[bool]]


async def read_request(stream: trio.SocketStream, buffer: bytearray) -> bytes | None:
    """One request (head and Content-Length body) off the stream; None at EOF."""
    while b"\r\n\r\n" not in buffer:
        data = await stream.receive_some(65536)
        if not data:
            return None
        buffer += data
    end = buffer.index(b"\r\n\r\n") + 4
    head = bytes(buffer[:end])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    while len(buffer) < end + length:
        buffer += await stream.receive_some(65536)
    request = bytes(buffer[: end + length])
    del buffer[: end + length]
    return request


async def start_server(nursery: trio.Nursery, handler: Handler) -> tuple[int, list[bytes]]:
    """Serve ``handler`` (answer one request; False closes the connection) on a free port."""
    seen: list[bytes] = []

    async def serve_one(stream: trio.SocketStream) -> None:
        buffer = bytearray()
        async with stream:
            while (request := await read_request(stream, buffer)) is not None:
                seen.append(request)
                if not await handler(stream, request):
                    return

    listeners = await nursery.start(
        functools.partial(trio.serve_tcp, serve_one, 0, host="127.0.0.1")
    )
    return listeners[0].socket.getsockname()[1], seen


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[tuple[H1Pool, list[bytes]]]:
    """A pool against ``handler`` served on a free port, and the requests the server saw."""
    async with trio.open_nursery() as nursery:
        port, seen = await start_server(nursery, handler)
        pool = H1Pool("127.0.0.1", port)
        yield pool, seen
        await pool.aclose()
        nursery.cancel_scope.cancel()


async def test_content_length_and_keep_alive_reuse() -> None:
    async def handler(stream: trio.SocketStream, request: bytes) -> bool:
        body = b'{"ok": true}'
        await stream.send_all(
            b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        return True

    async with serving(handler) as (pool, seen):
        for _ in range(3):
            response = await pool.request(b"GET", b"/x?a=1", [(b"Accept", b"application/json")])
            assert response.status == 200
            assert await response.read() == b'{"ok": true}'
        assert pool.connections_opened == 1
        assert seen[0].startswith(b"GET /x?a=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        response = await pool.request(b"PATCH", b"/y", [], b"{}")
        await response.read()
        assert b"Content-Length: 2\r\n" in seen[-1] and seen[-1].endswith(b"\r\n\r\n{}")


async def test_chunked_body_streams_chunk_by_chunk() -> None:
    async def handler(stream: trio.SocketStream, request: bytes) -> bool:
        await stream.send_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        await stream.send_all(b"5;ext=1\r\nhello\r\n")
        await stream.send_all(b"6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n")
        return True

    async with serving(handler) as (pool, _):
        response = await pool.request(b"GET", b"/", [])
        parts = [part async for part in response.chunks()]
        assert b"".join(parts) == b"hello world"
        # The chunked body ended properly: the connection is reused.
        response = await pool.request(b"GET", b"/", [])
        assert await response.read() == b"hello world"
        assert pool.connections_opened == 1


async def test_connection_close_and_bodiless_answers() -> None:
    async def handler(stream: trio.SocketStream, request: bytes) -> bool:
        if request.startswith(b"DELETE"):
            await stream.send_all(b"HTTP/1.1 204 No Content\r\n\r\n")
            return True
        await stream.send_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end")
        return False

    async with serving(handler) as (pool, _):
        response = await pool.request(b"DELETE", b"/", [])
        assert (response.status, await response.read()) == (204, b"")
        response = await pool.request(b"GET", b"/", [])
        assert await response.read() == b"until the end"
        response = await pool.request(b"GET", b"/", [])
        assert await response.read() == b"until the end"
        assert pool.connections_opened == 2  # the 204's connection was kept, the close one not


async def test_a_kept_connection_the_server_dropped_is_replaced() -> None:
    """The server closes after each answer without saying so: the next request reconnects."""

    async def handler(stream: trio.SocketStream, request: bytes) -> bool:
        await stream.send_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        return False

    async with serving(handler) as (pool, _):
        for method in (b"GET", b"POST", b"GET"):
            response = await pool.request(method, b"/", [], b"{}" if method == b"POST" else b"")
            assert await response.read() == b"ok"
            await trio.sleep(0.05)  # let the close arrive (the pool checks before reuse)
        assert pool.connections_opened == 3


async def test_errors_are_httpx_errors() -> None:
    async def handler(stream: trio.SocketStream, request: bytes) -> bool:
        await stream.send_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")
        return False

    async with trio.open_nursery() as nursery:
        port, _ = await start_server(nursery, handler)
        pool = H1Pool("127.0.0.1", port)
        response = await pool.request(b"GET", b"/", [])
        with pytest.raises(httpx.RemoteProtocolError):
            await response.read()
        nursery.cancel_scope.cancel()
    closed = H1Pool("127.0.0.1", port, connect_timeout=5)
    with pytest.raises(httpx.ConnectError):
        await closed.request(b"GET", b"/", [])


async def test_as_an_httpx_transport() -> None:
    async def handler(stream: trio.SocketStream, request: bytes) -> bool:
        assert request.count(b"\r\nHost:") + request.count(b"\r\nhost:") == 1
        await stream.send_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
            b"Retry-After: 3\r\nContent-Length: 2\r\n\r\n{}"
        )
        return True

    async with trio.open_nursery() as nursery:
        port, seen = await start_server(nursery, handler)
        transport = H1Transport(H1Pool.for_url(f"http://127.0.0.1:{port}"))
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", transport=transport
        ) as client:
            response = await client.get("/a/b", params={"watch": "true"})
            assert response.status_code == 404
            assert response.headers["retry-after"] == "3"
            assert response.json() == {}
        assert seen[0].startswith(b"GET /a/b?watch=true HTTP/1.1\r\n")
        assert b"Host: 127.0.0.1:%d\r\n" % port in seen[0]
        nursery.cancel_scope.cancel()


async def test_connections_are_capped_and_slots_come_back() -> None:
    async def handler(stream: trio.SocketStream, request: bytes) -> bool:
        await trio.sleep(0.01)
        await stream.send_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        return True

    async with trio.open_nursery() as nursery:
        port, seen = await start_server(nursery, handler)
        pool = H1Pool("127.0.0.1", port, max_connections=2, pool_timeout=5)

        async def one() -> None:
            response = await pool.request(b"GET", b"/", [])
            assert await response.read() == b"ok"

        async with trio.open_nursery() as clients:
            for _ in range(10):
                clients.start_soon(one)
        assert len(seen) == 10
        assert pool.connections_opened <= 2
        await pool.aclose()
        # Closing gave the slots back: a fresh request may connect again.
        pool.closed = False
        await one()
        await pool.aclose()
        nursery.cancel_scope.cancel()
