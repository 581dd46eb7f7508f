"""An in-process httpx transport that streams, for an ASGI app in the same Trio loop.

When the runtime embeds its API server, going through a loopback socket costs
two HTTP encodings and kernel round trips per request. httpx's own
ASGITransport avoids the socket but buffers the whole response, so it can
never carry a watch (an endless response). This transport runs the app in a
task of a nursery and hands the body to httpx chunk by chunk over a memory
channel: watches stream, and closing the response (or cancelling the
reader) disconnects and cancels the app's task, exactly like a socket close.

Every request still goes through the app's full request handling (routing,
validation, Status errors), so what the client sees is what a socket client
sees.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

import httpx
import trio

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
    Awaitable[None],
]


class _ResponseBody(httpx.AsyncByteStream):
    def __init__(self, chunks: trio.MemoryReceiveChannel[bytes], exchange: _Exchange):
        self._chunks = chunks
        self._exchange = exchange

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._chunks:
            yield chunk
        if self._exchange.error is not None:
            # The app failed mid-response: to the client that is a broken connection.
            raise httpx.RemoteProtocolError(f"application error: {self._exchange.error!r}")

    async def aclose(self) -> None:
        self._exchange.close()
        await self._chunks.aclose()


class _Exchange:
    """One request/response between httpx and the app task."""

    def __init__(self, body: bytes, buffer: int):
        self.request_body = body
        self.body_sent = False
        self.started = trio.Event()
        self.disconnected = trio.Event()
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.error: BaseException | None = None
        self.scope = trio.CancelScope()
        self.send_chunk, self.receive_chunk = trio.open_memory_channel[bytes](buffer)

    def close(self) -> None:
        self.disconnected.set()
        self.scope.cancel()

    async def receive(self) -> Message:
        if not self.body_sent:
            self.body_sent = True
            return {"type": "http.request", "body": self.request_body, "more_body": False}
        await self.disconnected.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.status = int(message["status"])
            self.headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", ())]
            self.started.set()
        elif kind == "http.response.body":
            body = bytes(message.get("body", b""))
            if body:
                try:
                    await self.send_chunk.send(body)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    # The client went away: tell the app the way a socket would.
                    self.close()
                    return
            if not message.get("more_body", False):
                await self.send_chunk.aclose()

    async def run(self, app: ASGIApp, scope: Scope) -> None:
        async with self.send_chunk:
            with self.scope:
                try:
                    await app(scope, self.receive, self.send)
                except Exception as exc:
                    self.error = exc
            self.started.set()


class ASGIStreamingTransport(httpx.AsyncBaseTransport):
    """Sends httpx requests to an ASGI app running in ``nursery``; responses stream."""

    def __init__(self, app: ASGIApp, nursery: trio.Nursery, *, buffer: int = 16):
        self._app = app
        self._nursery = nursery
        self._buffer = buffer

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        url = request.url
        host = url.host or "127.0.0.1"
        port = url.port or (443 if url.scheme == "https" else 80)
        scope: Scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": url.scheme,
            "path": url.path,
            "raw_path": url.raw_path.split(b"?", 1)[0],
            "root_path": "",
            "query_string": url.query,
            "headers": [(k.lower(), v) for k, v in request.headers.raw],
            "client": ("127.0.0.1", 0),
            "server": (host, port),
            "state": {},
        }
        exchange = _Exchange(body, self._buffer)
        self._nursery.start_soon(exchange.run, self._app, scope)
        try:
            await exchange.started.wait()
        except BaseException:
            exchange.close()
            raise
        if exchange.error is not None and exchange.status == 500 and not exchange.headers:
            exchange.close()
            raise httpx.RemoteProtocolError(f"application error: {exchange.error!r}")
        return httpx.Response(
            exchange.status,
            headers=exchange.headers,
            stream=_ResponseBody(exchange.receive_chunk, exchange),
            request=request,
        )


@asynccontextmanager
async def open_asgi_transport(
    app: Any, *, buffer: int = 16
) -> AsyncIterator[ASGIStreamingTransport]:
    """``async with open_asgi_transport(server.app) as transport:`` then
    ``open_kube_client(url, transport=transport)``. Leaving the block cancels
    any request still running in the app."""
    async with trio.open_nursery() as nursery:
        yield ASGIStreamingTransport(app, nursery, buffer=buffer)
        nursery.cancel_scope.cancel()
