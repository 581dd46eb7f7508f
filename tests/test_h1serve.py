"""The embedded API server's HTTP/1.1 layer, spoken to byte by byte over real loopback sockets.

The API server's own suites (and kubectl, and four Python clients) exercise
it end to end; these pin the protocol edges a client library would not send.
"""

from __future__ import annotations

import os

import pytest
import trio
import trio.testing

from orkestra_trio._h1serve import serve_h1


class App:
    """Echoes the request; ``/stream`` answers a chunked stream until the client leaves."""

    def __init__(self) -> None:
        self.disconnected = trio.Event()
        self.release = trio.Event()
        self.scopes: list[dict] = []

    async def __call__(self, scope, receive, send) -> None:
        self.scopes.append(scope)
        message = await receive()
        body = message["body"]
        if scope["path"] == "/boom":
            raise RuntimeError("a bug in the app")
        if scope["path"] == "/stream":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"first", "more_body": True})
            assert (await receive())["type"] == "http.disconnect"
            self.disconnected.set()
            return
        if scope["path"] == "/slow":
            await self.release.wait()
        answer = b"%s %s %s" % (scope["method"].encode(), scope["raw_path"], body)
        headers = [(b"content-length", b"%d" % len(answer)), (b"x-path", scope["path"].encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})


OPENED: list[trio.SocketStream] = []


@pytest.fixture(autouse=True)
def _close_clients():
    # A plain fixture, run after the test's Trio run: as an async one its teardown never
    # closed these, and the suite ended with them open ("unclosed socket" at exit). Out of
    # the run, trio's close() cannot tell the run's I/O manager, so the descriptor is
    # taken from the socket and closed directly.
    yield
    while OPENED:
        sock = OPENED.pop().socket
        if sock.fileno() != -1:
            os.close(sock.detach())


class Client:
    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = b""
        OPENED.append(stream)

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def head(self) -> tuple[str, dict[str, str]]:
        while b"\r\n\r\n" not in self.buffer:
            data = await self.stream.receive_some(65536)
            assert data, f"closed before a response head: {self.buffer!r}"
            self.buffer += data
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status, *lines = head.decode().split("\r\n")
        return status, {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}

    async def exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            data = await self.stream.receive_some(65536)
            assert data, "closed mid-body"
            self.buffer += data
        out, self.buffer = self.buffer[:size], self.buffer[size:]
        return out

    async def response(self) -> tuple[str, dict[str, str], bytes]:
        status, headers = await self.head()
        return status, headers, await self.exactly(int(headers.get("content-length", "0")))

    async def closed(self) -> bool:
        with trio.fail_after(5):
            while True:
                data = await self.stream.receive_some(65536)
                if not data:
                    return True
                self.buffer += data


async def serving(nursery: trio.Nursery, app: App, shutdown: trio.Event, grace: float = 2.0):
    urls = await nursery.start(
        lambda task_status: serve_h1(
            app, "127.0.0.1", 0, shutdown, grace=grace, task_status=task_status
        )
    )
    port = int(urls[0].rsplit(":", 1)[1])
    return port


async def connect(port: int) -> Client:
    return Client(await trio.open_tcp_stream("127.0.0.1", port))


async def test_keep_alive_serves_requests_one_after_another_on_one_connection():
    app, shutdown = App(), trio.Event()
    async with trio.open_nursery() as nursery:
        port = await serving(nursery, app, shutdown)
        client = await connect(port)
        # Two requests in one write (pipelined): answered in order.
        await client.send(
            b"GET /a%20b?x=1 HTTP/1.1\r\nHost: h\r\n\r\n"
            b"POST /c HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
        )
        status, headers, body = await client.response()
        assert status == "HTTP/1.1 200 OK" and body == b"GET /a%20b "
        assert headers["x-path"] == "/a b" and app.scopes[0]["query_string"] == b"x=1"
        assert (await client.response())[2] == b"POST /c hello"
        # Absolute-form target, and a request split over several writes.
        await client.send(b"PUT http://h:1/d HTTP/1.1\r\nContent-Le")
        await client.send(b"ngth: 2\r\n\r\nok")
        assert (await client.response())[2] == b"PUT /d ok"
        # HTTP/1.0: answered, then closed.
        await client.send(b"GET /e HTTP/1.0\r\n\r\n")
        status, headers, body = await client.response()
        assert headers["connection"] == "close" and body == b"GET /e "
        assert await client.closed()
        shutdown.set()


async def test_chunked_bodies_and_expect_continue():
    app, shutdown = App(), trio.Event()
    async with trio.open_nursery() as nursery:
        port = await serving(nursery, app, shutdown)
        client = await connect(port)
        await client.send(
            b"POST /f HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"
        )
        assert (await client.head())[0] == "HTTP/1.1 100 Continue"
        await client.send(b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: x\r\n\r\n")
        assert (await client.response())[2] == b"POST /f abcde"
        # A stream's head leaves at once, its body in chunks.
        await client.send(b"GET /stream HTTP/1.1\r\n\r\n")
        _status, headers = await client.head()
        assert headers["transfer-encoding"] == "chunked" and "content-length" not in headers
        assert await client.exactly(10) == b"5\r\nfirst\r\n"
        # The client leaving is what the streaming app waits for.
        await client.stream.aclose()
        with trio.fail_after(5):
            await app.disconnected.wait()
        shutdown.set()


async def test_protocol_mistakes_are_refused_and_the_connection_closed():
    app, shutdown = App(), trio.Event()
    cases = [
        (b"GARBAGE\r\n\r\n", "400"),
        (b"GET / HTTP/2.0\r\n\r\n", "505"),
        (b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", "400"),
        (b"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", "400"),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "501"),
        (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "400"),
        (b"GET / HTTP/1.1\r\nX: " + b"y" * (1 << 20) + b"\r\n\r\n", "431"),
    ]
    async with trio.open_nursery() as nursery:
        port = await serving(nursery, app, shutdown)
        for request, status in cases:
            client = await connect(port)
            await client.send(request)
            line, headers = await client.head()
            assert line.split()[1] == status, (request[:40], line)
            assert headers["connection"] == "close"
            assert await client.closed()
        assert not app.scopes  # none of them reached the app
        # A bug in the app is a 500, and the server keeps serving.
        client = await connect(port)
        await client.send(b"GET /boom HTTP/1.1\r\n\r\n")
        assert (await client.response())[0] == "HTTP/1.1 500 Internal Server Error"
        client = await connect(port)
        await client.send(b"HEAD /g HTTP/1.1\r\n\r\n")
        status, headers = await client.head()
        assert status == "HTTP/1.1 200 OK" and headers["content-length"] == "8"  # b"HEAD /g "
        await client.send(b"GET /h HTTP/1.1\r\n\r\n")  # no body came with the HEAD answer
        assert (await client.response())[2] == b"GET /h "
        shutdown.set()


async def test_stopping_closes_idle_connections_and_lets_requests_in_flight_finish():
    app, shutdown = App(), trio.Event()
    async with trio.open_nursery() as nursery:
        port = await serving(nursery, app, shutdown, grace=30)
        idle = await connect(port)
        await idle.send(b"GET /i HTTP/1.1\r\n\r\n")
        await idle.response()
        busy = await connect(port)
        await busy.send(b"GET /slow HTTP/1.1\r\n\r\n")
        await trio.testing.wait_all_tasks_blocked()
        shutdown.set()
        assert await idle.closed()
        with pytest.raises(OSError):
            await connect(port)  # no longer accepting
        app.release.set()
        _status, headers, body = await busy.response()
        assert body == b"GET /slow " and headers["connection"] == "close"
        assert await busy.closed()
