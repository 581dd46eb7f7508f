"""A lean HTTP/1.1 server for an ASGI app on Trio streams: the embedded API server's transport.

Why not hypercorn: the embedded API server spends most of its time in the
HTTP layer. hypercorn parses with h11 and passes every message through
several layers of tasks, events and dataclasses; its own overhead was a
third of the server's CPU while an operator created a thousand CRs
(``bench/vs_kopf.py``). An API server's traffic is simple: small requests
with a ``Content-Length`` body, answers that are either one body or an
endless chunked stream (watches), keep-alive connections that live for
hours, no pipelining, no upgrades. This module does exactly that, in one
task per connection, with the limits a server reachable from elsewhere
needs (header size, body size, idle and read timeouts) and a clean stop.

What it speaks: HTTP/1.1 and 1.0 requests (absolute-form targets too),
``Content-Length`` or chunked request bodies, ``Expect: 100-continue``,
responses with a length or chunked, ``HEAD``, keep-alive, TLS (through
:class:`trio.SSLStream`, ALPN ``http/1.1``). What it does not: HTTP/2,
WebSocket or other upgrades, pipelined requests answered out of order (a
pipelined request simply waits in the buffer for its turn), trailers.

The ASGI side is the subset our apps use: an ``http`` scope, one
``http.request`` message with the whole body, then ``http.disconnect`` once
the client goes away (a watch stream waits for it), and
``http.response.start`` / ``http.response.body`` in return.
"""

from __future__ import annotations

import http
import logging
import ssl
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote

import attrs
import trio

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Asgi = Callable[
    [Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
    Awaitable[None],
]

#: Request line plus headers; Go's net/http (kube-apiserver) allows 1 MiB.
MAX_HEAD_BYTES = 1 << 20
#: A request body; kube-apiserver's own limit (3 MiB) is the app's to apply.
MAX_BODY_BYTES = 64 << 20
#: An idle keep-alive connection is closed after this many seconds.
KEEP_ALIVE_SECONDS = 75.0
#: A request whose head or body stops arriving for this long is dropped.
READ_TIMEOUT_SECONDS = 60.0
_RECEIVE_SIZE = 65536
_REASONS = {status.value: status.phrase.encode() for status in http.HTTPStatus}
_NO_BODY_STATUSES = frozenset({204, 304})
# RFC 9110 token characters: what a header name may contain.
_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


class _BadRequest(Exception):
    """The client broke the protocol: answer ``status`` and close."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


class PeerGone(OSError):
    """The client closed the connection while the app was answering."""


@attrs.define
class _Head:
    method: str
    raw_path: bytes
    query: bytes
    version: str
    headers: list[tuple[bytes, bytes]]
    keep_alive: bool
    content_length: int | None
    chunked: bool
    expect_continue: bool


def _parse_head(data: bytes) -> _Head:
    """The request line and headers (``data`` without the final blank line)."""
    lines = data.split(b"\r\n")
    try:
        method_b, target, version_b = lines[0].split(b" ")
    except ValueError:
        raise _BadRequest(400, "malformed request line") from None
    if version_b not in (b"HTTP/1.1", b"HTTP/1.0"):
        raise _BadRequest(505 if version_b.startswith(b"HTTP/") else 400, "unsupported version")
    if not method_b or not _TOKEN.issuperset(method_b):
        raise _BadRequest(400, "malformed method")
    if target.startswith((b"http://", b"https://")):  # absolute-form: keep the path
        slash = target.find(b"/", target.index(b"//") + 2)
        target = target[slash:] if slash >= 0 else b"/"
    if not target or (target[0:1] != b"/" and target != b"*"):
        raise _BadRequest(400, "malformed request target")
    raw_path, _, query = target.partition(b"?")
    headers: list[tuple[bytes, bytes]] = []
    content_length: int | None = None
    chunked = keep_alive_asked = close_asked = expect_continue = False
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or not _TOKEN.issuperset(name):
            raise _BadRequest(400, "malformed header")
        name = name.lower()
        value = value.strip(b" \t")
        headers.append((name, value))
        if name == b"content-length":
            if not value.isdigit() or (content_length is not None and int(value) != content_length):
                raise _BadRequest(400, "malformed content-length")
            content_length = int(value)
        elif name == b"transfer-encoding":
            if value.lower() != b"chunked":
                raise _BadRequest(501, "unsupported transfer-encoding")
            chunked = True
        elif name == b"connection":
            tokens = {token.strip().lower() for token in value.split(b",")}
            close_asked |= b"close" in tokens
            keep_alive_asked |= b"keep-alive" in tokens
        elif name == b"expect" and value.lower() == b"100-continue":
            expect_continue = True
    if chunked and content_length is not None:
        raise _BadRequest(400, "both content-length and chunked")  # request smuggling
    version = version_b[5:].decode()
    keep_alive = not close_asked if version == "1.1" else keep_alive_asked and not close_asked
    return _Head(
        method=method_b.decode(),
        raw_path=raw_path,
        query=query,
        version=version,
        headers=headers,
        keep_alive=keep_alive,
        content_length=content_length,
        chunked=chunked,
        expect_continue=expect_continue,
    )


def _response_head(status: int, headers: list[tuple[bytes, bytes]]) -> bytes:
    reason = _REASONS.get(status, b"")
    parts = [b"HTTP/1.1 %d %s\r\n" % (status, reason)]
    for name, value in headers:
        parts.append(b"%s: %s\r\n" % (name, value))
    parts.append(b"\r\n")
    return b"".join(parts)


class _Connection:
    """One client connection: its requests, one after the other."""

    def __init__(self, server: _Server, stream: trio.abc.Stream, scheme: str) -> None:
        self.server = server
        self.stream = stream
        self.scheme = scheme
        self.buffer = bytearray()
        self.idle = True
        self.scope = trio.CancelScope()
        transport = stream.transport_stream if isinstance(stream, trio.SSLStream) else stream
        sock = getattr(transport, "socket", None)
        self.client = _address(sock.getpeername()) if sock is not None else None
        self.local = _address(sock.getsockname()) if sock is not None else None

    async def _fill(self) -> bool:
        """Read more into the buffer; False when the client closed its side."""
        data = await self.stream.receive_some(_RECEIVE_SIZE)
        if not data:
            return False
        self.buffer += data
        return True

    async def _read_head(self) -> bytes | None:
        """The next request's head, or None when the client is done (or idle too long)."""
        # Robustness (RFC 9112 2.2): empty lines before a request line are ignored.
        while self.buffer.startswith(b"\r\n"):
            del self.buffer[:2]
        searched = 0
        while True:
            end = self.buffer.find(b"\r\n\r\n", searched)
            if end > MAX_HEAD_BYTES:
                raise _BadRequest(431, "request header fields too large")
            if end >= 0:
                head = bytes(self.buffer[:end])
                del self.buffer[: end + 4]
                self.idle = False
                return head
            if len(self.buffer) > MAX_HEAD_BYTES:
                raise _BadRequest(431, "request header fields too large")
            searched = max(0, len(self.buffer) - 3)
            waiting = not self.buffer
            timeout = KEEP_ALIVE_SECONDS if waiting else READ_TIMEOUT_SECONDS
            # Idle between requests: a stopping server may close it at once.
            self.idle = waiting
            if waiting and self.server.closing:
                return None
            with trio.move_on_after(timeout) as timer:
                more = await self._fill()
            if timer.cancelled_caught:
                return None
            if not more:
                return None
            while self.buffer.startswith(b"\r\n"):
                del self.buffer[:2]

    async def _read_exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            with trio.fail_after(READ_TIMEOUT_SECONDS):
                if not await self._fill():
                    raise _BadRequest(400, "body cut short")
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    async def _read_line(self) -> bytes:
        while True:
            end = self.buffer.find(b"\r\n")
            if end >= 0:
                line = bytes(self.buffer[:end])
                del self.buffer[: end + 2]
                return line
            if len(self.buffer) > 4096:
                raise _BadRequest(400, "chunk line too long")
            with trio.fail_after(READ_TIMEOUT_SECONDS):
                if not await self._fill():
                    raise _BadRequest(400, "body cut short")

    async def _read_body(self, head: _Head) -> bytes:
        if head.expect_continue and (head.chunked or head.content_length):
            await self.stream.send_all(b"HTTP/1.1 100 Continue\r\n\r\n")
        if head.content_length is not None:
            if head.content_length > MAX_BODY_BYTES:
                raise _BadRequest(413, "request body too large")
            return await self._read_exactly(head.content_length)
        if not head.chunked:
            return b""
        parts: list[bytes] = []
        total = 0
        while True:
            size_text = (await self._read_line()).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise _BadRequest(400, "malformed chunk size") from None
            if size == 0:
                while await self._read_line():  # trailers: read and dropped
                    pass
                return b"".join(parts)
            total += size
            if total > MAX_BODY_BYTES:
                raise _BadRequest(413, "request body too large")
            parts.append(await self._read_exactly(size))
            if await self._read_exactly(2) != b"\r\n":
                raise _BadRequest(400, "malformed chunk")

    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            while True:
                try:
                    head_bytes = await self._read_head()
                    if head_bytes is None:
                        return
                    head = _parse_head(head_bytes)
                    if (
                        head.content_length is not None
                        and head.content_length > self.server.max_body
                    ):
                        await self._answer_unread(head, nursery)
                        return
                    body = await self._read_body(head)
                except _BadRequest as error:
                    await self._refuse(error)
                    return
                except trio.TooSlowError:
                    return
                reusable = await _Exchange(self, head, body, nursery).run()
                if not (reusable and head.keep_alive) or self.server.closing:
                    return

    async def _answer_unread(self, head: _Head, nursery: trio.Nursery) -> None:
        """A declared body over ``max_body``: the app answers without it, then we close.

        The app refuses from the Content-Length header (kube's 413 comes before
        the body is read, in kube's own Status shape); the body is never read,
        so the connection cannot carry another request.
        """
        head.keep_alive = False
        head.expect_continue = False
        await _Exchange(self, head, b"", nursery).run()
        await self._linger()

    async def _linger(self) -> None:
        """A lingering close: a socket closed with unread bytes in it is reset,
        and a reset can destroy the answer before the client reads it. Read (a
        bounded amount, for a bounded time) what the client still sends."""
        with trio.move_on_after(1):
            if isinstance(self.stream, trio.SocketStream):
                await self.stream.send_eof()
            drained = 0
            while drained < 4 * MAX_HEAD_BYTES:
                data = await self.stream.receive_some(_RECEIVE_SIZE)
                if not data:
                    break
                drained += len(data)

    async def _refuse(self, error: _BadRequest) -> None:
        body = f"{error.status} {_REASONS.get(error.status, b'').decode()}: {error}\n".encode()
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", b"%d" % len(body)),
            (b"connection", b"close"),
        ]
        with trio.move_on_after(5):
            await self.stream.send_all(_response_head(error.status, headers) + body)
            await self._linger()


class _Exchange:
    """One request and its answer: the ASGI ``receive`` and ``send`` of one app call."""

    def __init__(self, conn: _Connection, head: _Head, body: bytes, nursery: trio.Nursery) -> None:
        self.conn = conn
        self.head = head
        self.body: bytes | None = body
        self.nursery = nursery
        self.disconnected = trio.Event()
        self.watching: trio.CancelScope | None = None
        self.watched = trio.Event()
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.started = False  # the response head is on the wire
        self.chunked = False
        self.finished = False
        self.broken = False

    def scope(self) -> Scope:
        head, conn = self.head, self.conn
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": head.version,
            "method": head.method,
            "scheme": conn.scheme,
            "path": unquote(head.raw_path.decode("latin-1")),
            "raw_path": head.raw_path,
            "query_string": head.query,
            "root_path": "",
            "headers": head.headers,
            "client": conn.client,
            "server": conn.local,
            "extensions": {},
        }

    async def receive(self) -> Message:
        if self.body is not None:
            body, self.body = self.body, None
            return {"type": "http.request", "body": body, "more_body": False}
        # The app waits for the client to leave (a watch): read until it does.
        if self.watching is None and not self.disconnected.is_set():
            self.watching = trio.CancelScope()
            self.nursery.start_soon(self._watch_peer, self.watching)
        await self.disconnected.wait()
        return {"type": "http.disconnect"}

    async def _watch_peer(self, scope: trio.CancelScope) -> None:
        try:
            with scope:
                while True:
                    try:
                        more = await self.conn._fill()
                    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                        more = False
                    if not more:
                        self.broken = True
                        self.disconnected.set()
                        return
                    if len(self.conn.buffer) > MAX_HEAD_BYTES:
                        return  # a client sending while it is answered: it gets its turn
        finally:
            self.watched.set()

    async def send(self, message: Message) -> None:
        if self.broken:
            raise PeerGone("the client closed the connection")
        kind = message["type"]
        if kind == "http.response.start":
            if self.status:
                raise RuntimeError("http.response.start sent twice")
            self.status = int(message["status"])
            self.headers = [(bytes(k).lower(), bytes(v)) for k, v in message.get("headers", ())]
            if all(name != b"content-length" for name, _ in self.headers):
                # A stream (a watch): its head goes out now, a client waits for it
                # before anything happens. A response with a length waits for its
                # body, and both leave in one write.
                await self._write(self._head_bytes(more=True, body=b""))
            return
        if kind != "http.response.body":
            raise RuntimeError(f"unexpected ASGI message {kind!r}")
        if not self.status or self.finished:
            raise RuntimeError("http.response.body before start or after the end")
        body = message.get("body", b"")
        if not isinstance(body, bytes):
            body = bytes(body)
        more = bool(message.get("more_body", False))
        out: list[bytes] = []
        if not self.started:
            out.append(self._head_bytes(more=more, body=body))
        if not self._no_body() and body:
            # One copy per chunk (the join below), not one per framing step: a watch
            # event goes out to every watcher through here.
            out += (b"%x\r\n" % len(body), body, b"\r\n") if self.chunked else (body,)
        if not more:
            self.finished = True
            if self.chunked:
                out.append(b"0\r\n\r\n")
        if out:
            await self._write(b"".join(out))

    def _no_body(self) -> bool:
        return self.head.method == "HEAD" or self.status in _NO_BODY_STATUSES

    def _head_bytes(self, *, more: bool, body: bytes) -> bytes:
        """The response head; decides the framing (length, chunks, or until close)."""
        self.started = True
        names = {name for name, _ in self.headers}
        if (b"connection", b"close") in self.headers or self.conn.server.closing:
            self.head.keep_alive = False
        if not self._no_body() and b"content-length" not in names:
            if not more:
                self.headers.append((b"content-length", b"%d" % len(body)))
            elif self.head.version == "1.1":
                self.chunked = True
                self.headers.append((b"transfer-encoding", b"chunked"))
            else:  # HTTP/1.0 has no chunks: the end of the stream is the end of the body
                self.head.keep_alive = False
        if not self.head.keep_alive and b"connection" not in names:
            self.headers.append((b"connection", b"close"))
        return _response_head(self.status, self.headers)

    async def _write(self, data: bytes) -> None:
        try:
            await self.conn.stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            self.broken = True
            self.disconnected.set()
            raise PeerGone("the client closed the connection") from exc

    async def run(self) -> bool:
        """Call the app; True when the connection may carry another request."""
        try:
            await self.conn.server.app(self.scope(), self.receive, self.send)
        except PeerGone:
            pass
        except Exception:
            log.exception("error answering %s %s", self.head.method, self.head.raw_path)
            if not self.started and not self.broken:
                self.status, self.headers = 500, [(b"content-type", b"text/plain")]
                await self.send({"type": "http.response.body", "body": b"internal error"})
                return False
        finally:
            if self.watching is not None:
                self.watching.cancel()
                await self.watched.wait()
        if not self.finished or self.broken:
            return False
        # A cancelled TLS read leaves the stream unusable; a plain socket's is harmless.
        return self.watching is None or not isinstance(self.conn.stream, trio.SSLStream)


def _address(value: Any) -> tuple[str, int] | None:
    if isinstance(value, tuple) and len(value) >= 2:
        return str(value[0]), int(value[1])
    return None


class _Server:
    def __init__(self, app: Asgi, max_body: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body = max_body
        self.closing = False
        self.connections: set[_Connection] = set()
        self.drained = trio.Event()

    async def handle(self, stream: trio.abc.Stream, scheme: str) -> None:
        conn = _Connection(self, stream, scheme)
        self.connections.add(conn)
        try:
            with conn.scope:
                await conn.run()
        except* (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass  # the client went away, or a TLS handshake failed
        finally:
            self.connections.discard(conn)
            if self.closing and not self.connections:
                self.drained.set()
            await trio.aclose_forcefully(stream)

    def close_idle(self) -> None:
        for conn in list(self.connections):
            if conn.idle:
                conn.scope.cancel()


def _url(listener: trio.SocketListener, scheme: str) -> str:
    host, port = listener.socket.getsockname()[:2]
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}:{port}"


async def serve_h1(
    app: Asgi,
    host: str,
    port: int,
    shutdown: trio.Event,
    *,
    ssl_context: ssl.SSLContext | None = None,
    grace: float = 2.0,
    max_body: int = MAX_BODY_BYTES,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` on ``host:port`` (0: a free port) until ``shutdown`` is set.

    ``nursery.start`` returns the bound URLs. Once ``shutdown`` is set no
    connection is accepted, idle ones are closed, and requests in flight have
    ``grace`` seconds to finish before they are cancelled. A request whose
    Content-Length passes ``max_body`` reaches ``app`` with its body unread
    (the app refuses it from the header) and its connection then closes.
    """
    server = _Server(app, max_body)
    scheme = "https" if ssl_context is not None else "http"
    listeners = await trio.open_tcp_listeners(port, host=host)
    if ssl_context is not None:
        ssl_context.set_alpn_protocols(["http/1.1"])

    async def accept(listener: trio.SocketListener, nursery: trio.Nursery) -> None:
        while True:
            try:
                stream: trio.abc.Stream = await listener.accept()
            except (trio.ClosedResourceError, trio.BrokenResourceError):
                return
            except OSError as exc:  # out of file descriptors and the like: keep serving
                log.warning("accept failed: %s", exc)
                await trio.sleep(0.1)
                continue
            if ssl_context is not None:
                stream = trio.SSLStream(stream, ssl_context, server_side=True)
            nursery.start_soon(server.handle, stream, scheme)

    try:
        async with trio.open_nursery() as nursery:
            for listener in listeners:
                nursery.start_soon(accept, listener, nursery)
            task_status.started([_url(listener, scheme) for listener in listeners])
            await shutdown.wait()
            server.closing = True
            for listener in listeners:
                await listener.aclose()
            server.close_idle()
            if server.connections:
                with trio.move_on_after(grace):
                    await server.drained.wait()
            nursery.cancel_scope.cancel()
    finally:  # cancelled from outside: the listening sockets still close
        for listener in listeners:
            await trio.aclose_forcefully(listener)
