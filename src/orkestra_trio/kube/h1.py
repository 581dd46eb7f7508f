"""A lean HTTP/1.1 client for the API server: keep-alive connections over Trio streams.

An operator's CPU goes mostly into HTTP: through httpx, httpcore and h11 a
small request to a loopback API server costs about as much CPU in the client
as the server spends answering it (issue 13). The API server speaks plain
HTTP/1.1 with ``Content-Length`` or chunked bodies, so this module speaks just
that: one ``send_all`` per request, a response parsed from one buffer, idle
connections kept for reuse. It plugs into httpx as a transport
(:class:`H1Transport`, so auth flows and watch streams keep working) and the
kube client also calls :meth:`H1Pool.request` directly when no auth flow has
to see the request.

Errors are httpx's exception types, so the retry rules of the kube client
(did the request reach the server?) read them as before.
"""

from __future__ import annotations

import contextlib
import select
import ssl
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence

import httpx
import trio

#: Bytes read per receive.
RECEIVE_SIZE = 1 << 16
#: Longest response head (status line and headers) accepted.
MAX_HEAD = 1 << 16
#: Methods repeated on a fresh connection when a reused one turns out closed.
_IDEMPOTENT = frozenset({b"GET", b"HEAD", b"PUT", b"DELETE", b"OPTIONS"})
_NO_BODY_STATUS = frozenset({204, 304})

Headers = list[tuple[bytes, bytes]]


class _Closed(Exception):
    """The peer closed (or reset) a reused connection before any byte of the answer."""


class H1Connection:
    """One keep-alive connection: a stream and what was read past the last response."""

    def __init__(
        self, stream: trio.abc.Stream, sock: trio.socket.SocketType, on_close: Callable[[], None]
    ) -> None:
        self.stream = stream
        self.sock = sock
        self.buffer = bytearray()
        self.idle_since = 0.0
        self._on_close: Callable[[], None] | None = on_close

    def closed(self) -> None:
        """Called once the socket is closed: gives the pool its slot back."""
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close()

    def looks_closed(self) -> bool:
        """An idle connection with something to read has been closed by the server."""
        try:
            readable, _, _ = select.select([self.sock.fileno()], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    async def receive(self) -> bytes:
        try:
            data = await self.stream.receive_some(RECEIVE_SIZE)
            return data if isinstance(data, bytes) else bytes(data)
        except (OSError, trio.BrokenResourceError, ssl.SSLError) as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__) from exc

    async def aclose(self) -> None:
        with (
            trio.CancelScope(shield=True),
            contextlib.suppress(OSError, trio.BrokenResourceError, ssl.SSLError),
        ):
            await trio.aclose_forcefully(self.stream)
        self.closed()


class H1Response:
    """A response head, and its body read whole (:meth:`read`) or streamed (:meth:`chunks`)."""

    def __init__(
        self,
        pool: H1Pool,
        conn: H1Connection,
        status: int,
        headers: Headers,
        *,
        length: int | None,
        chunked: bool,
        keep_alive: bool,
        read_timeout: float | None,
    ) -> None:
        self.status = status
        self.headers = headers
        self._pool = pool
        self._conn: H1Connection | None = conn
        self._length = length
        self._chunked = chunked
        self._keep_alive = keep_alive
        self._read_timeout = read_timeout

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    async def read(self) -> bytes:
        chunks = self.chunks()
        try:
            parts = [chunk async for chunk in chunks]
        finally:
            await chunks.aclose()
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        """The body as it arrives; the connection goes back to the pool at its end."""
        conn = self._conn
        if conn is None:
            return
        done = False
        try:
            if self._chunked:
                async for part in self._chunked_body(conn):
                    yield part
            elif self._length is not None:
                remaining = self._length
                while remaining:
                    if not conn.buffer:
                        conn.buffer += await self._receive(conn, eof_ok=False)
                    part = bytes(conn.buffer[:remaining])
                    del conn.buffer[:remaining]
                    remaining -= len(part)
                    yield part
            else:  # delimited by the end of the connection
                self._keep_alive = False
                if conn.buffer:
                    yield bytes(conn.buffer)
                    conn.buffer.clear()
                while data := await self._receive(conn, eof_ok=True):
                    yield data
            done = True
        finally:
            self._conn = None
            if done and self._keep_alive:
                self._pool.release(conn)
            else:
                await conn.aclose()

    async def _chunked_body(self, conn: H1Connection) -> AsyncGenerator[bytes, None]:
        buffer = conn.buffer
        while True:
            while (end := buffer.find(b"\r\n")) < 0:
                buffer += await self._receive(conn, eof_ok=False)
            size_text = bytes(buffer[:end]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise httpx.RemoteProtocolError(f"bad chunk size {size_text[:20]!r}") from None
            del buffer[: end + 2]
            if size == 0:
                # Trailers, if any, end with an empty line.
                while True:
                    while (end := buffer.find(b"\r\n")) < 0:
                        buffer += await self._receive(conn, eof_ok=False)
                    line_empty = end == 0
                    del buffer[: end + 2]
                    if line_empty:
                        return
            while len(buffer) < size + 2:
                buffer += await self._receive(conn, eof_ok=False)
            part = bytes(buffer[:size])
            del buffer[: size + 2]
            yield part

    async def _receive(self, conn: H1Connection, *, eof_ok: bool) -> bytes:
        if self._read_timeout is None:
            data = await conn.receive()
        else:
            with trio.move_on_after(self._read_timeout) as scope:
                data = await conn.receive()
            if scope.cancelled_caught:
                raise httpx.ReadTimeout("timed out reading the response")
        if not data and not eof_ok:
            raise httpx.RemoteProtocolError("the server closed the connection mid-response")
        return data

    async def aclose(self) -> None:
        """Give up on the rest of the body: the connection cannot be reused."""
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.aclose()


class H1Pool:
    """Keep-alive HTTP/1.1 connections to one server (``http`` or ``https``)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        host_header: str | None = None,
        max_idle: int = 64,
        max_connections: int = 256,
        idle_expiry: float = 30.0,
        connect_timeout: float | None = 10.0,
        pool_timeout: float = 30.0,
    ) -> None:
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.server_hostname = server_hostname or host
        self.host_header = (host_header or host).encode("ascii")
        self.max_idle = max_idle
        self.idle_expiry = idle_expiry
        self.connect_timeout = connect_timeout
        self._idle: list[H1Connection] = []
        # Open connections, idle ones included: a burst of requests waits for a
        # slot instead of flooding the server's accept backlog.
        self._slots = trio.Semaphore(max_connections)
        self._freed = trio.Event()
        self.pool_timeout = pool_timeout
        self.connections_opened = 0
        self.closed = False

    @classmethod
    def for_url(
        cls, url: str | httpx.URL, *, ssl_context: ssl.SSLContext | None = None, **kw: object
    ) -> H1Pool:
        parsed = httpx.URL(str(url))
        tls = parsed.scheme == "https"
        port = parsed.port or (443 if tls else 80)
        default_port = port == (443 if tls else 80)
        shown = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
        host_header = shown if default_port else f"{shown}:{port}"
        if tls and ssl_context is None:
            ssl_context = ssl.create_default_context()
        return cls(
            parsed.host,
            port,
            ssl_context=ssl_context if tls else None,
            host_header=host_header,
            **kw,  # type: ignore[arg-type]
        )

    def release(self, conn: H1Connection) -> None:
        if self.closed or len(self._idle) >= self.max_idle:
            _close_later(conn)
            return
        conn.idle_since = time.monotonic()
        self._idle.append(conn)
        self._changed()

    def _changed(self) -> None:
        """A connection went idle or a slot came free: wake whoever waits for one."""
        self._freed.set()
        self._freed = trio.Event()

    def _slot_released(self) -> None:
        self._slots.release()
        self._changed()

    async def _checkout(self, *, fresh: bool) -> tuple[H1Connection, bool]:
        """An idle connection (reused=True) or a new one, waiting while all slots are busy."""
        with trio.move_on_after(self.pool_timeout):
            while True:
                conn = None if fresh else self._take_idle()
                if conn is not None:
                    return conn, True
                try:
                    self._slots.acquire_nowait()
                except trio.WouldBlock:
                    if fresh and self._idle:
                        _close_later(self._idle.pop(0))  # make room for a new one
                        continue
                    await self._freed.wait()
                    continue
                return await self._connect(), False
        raise httpx.PoolTimeout("no free connection slot")

    async def _connect(self) -> H1Connection:
        """Open a connection; the caller holds a slot, given back here on failure."""
        tcp: trio.SocketStream | None = None
        try:
            with trio.fail_after(self.connect_timeout if self.connect_timeout else float("inf")):
                tcp = await trio.open_tcp_stream(self.host, self.port)
                stream: trio.abc.Stream = tcp
                if self.ssl_context is not None:
                    tls = trio.SSLStream(
                        tcp, self.ssl_context, server_hostname=self.server_hostname
                    )
                    await tls.do_handshake()
                    stream = tls
        except BaseException as exc:
            self._slot_released()
            if tcp is not None:
                tcp.socket.close()
            if isinstance(exc, trio.TooSlowError):
                raise httpx.ConnectTimeout(
                    f"connecting to {self.host}:{self.port} timed out"
                ) from None
            if isinstance(exc, OSError | trio.BrokenResourceError | ssl.SSLError):
                raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
            raise
        self.connections_opened += 1
        return H1Connection(stream, tcp.socket, self._slot_released)

    def _take_idle(self) -> H1Connection | None:
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if now - conn.idle_since < self.idle_expiry and not conn.looks_closed():
                return conn
            _close_later(conn)
        return None

    def encode_head(
        self, method: bytes, target: bytes, headers: Sequence[tuple[bytes, bytes]], body: bytes
    ) -> bytes:
        lines = [method, b" ", target, b" HTTP/1.1\r\nHost: ", self.host_header, b"\r\n"]
        for name, value in headers:
            lines += [name, b": ", value, b"\r\n"]
        if body or method in (b"POST", b"PUT", b"PATCH"):
            lines += [b"Content-Length: ", str(len(body)).encode(), b"\r\n"]
        lines.append(b"\r\n")
        return b"".join(lines)

    async def request(
        self,
        method: bytes,
        target: bytes,
        headers: Sequence[tuple[bytes, bytes]],
        body: bytes = b"",
        *,
        read_timeout: float | None = 60.0,
    ) -> H1Response:
        """Send one request; the response head (read or stream its body next)."""
        if self.closed:
            raise httpx.ConnectError("the connection pool is closed")
        message = self.encode_head(method, target, headers, body) + body
        conn, reused = await self._checkout(fresh=False)
        if reused:
            try:
                return await self._exchange(conn, method, message, read_timeout, reused=True)
            except _Closed:
                if method not in _IDEMPOTENT:
                    raise httpx.RemoteProtocolError(
                        "the server closed a kept-alive connection before answering"
                    ) from None
            conn, _ = await self._checkout(fresh=True)
        try:
            return await self._exchange(conn, method, message, read_timeout, reused=False)
        except _Closed:
            raise httpx.RemoteProtocolError(
                "the server closed the connection without answering"
            ) from None

    async def _exchange(
        self,
        conn: H1Connection,
        method: bytes,
        message: bytes,
        read_timeout: float | None,
        *,
        reused: bool,
    ) -> H1Response:
        ok = False
        try:
            try:
                await conn.stream.send_all(message)
            except (OSError, trio.BrokenResourceError, ssl.SSLError) as exc:
                if reused:
                    raise _Closed from exc
                raise httpx.WriteError(str(exc) or type(exc).__name__) from exc
            response = await self._read_head(conn, method, read_timeout, reused=reused)
            ok = True
            return response
        finally:
            if not ok:
                await conn.aclose()

    async def _read_head(
        self, conn: H1Connection, method: bytes, read_timeout: float | None, *, reused: bool
    ) -> H1Response:
        buffer = conn.buffer
        with trio.move_on_after(
            read_timeout if read_timeout is not None else float("inf")
        ) as scope:
            while True:
                end = buffer.find(b"\r\n\r\n")
                if end >= 0:
                    head = bytes(buffer[:end])
                    del buffer[: end + 4]
                    status, headers, version = _parse_head(head)
                    if 100 <= status < 200 and status != 101:
                        continue  # an interim answer (100 Continue): the real one follows
                    break
                if len(buffer) > MAX_HEAD:
                    raise httpx.RemoteProtocolError("response head too large")
                try:
                    data = await conn.stream.receive_some(RECEIVE_SIZE)
                except (OSError, trio.BrokenResourceError, ssl.SSLError) as exc:
                    if reused and not buffer:
                        raise _Closed from exc
                    raise httpx.ReadError(str(exc) or type(exc).__name__) from exc
                if not data:
                    if reused and not buffer:
                        raise _Closed
                    raise httpx.RemoteProtocolError("the server closed the connection mid-response")
                buffer += data
        if scope.cancelled_caught:
            raise httpx.ReadTimeout("timed out waiting for the response")
        length: int | None = None
        chunked = False
        keep_alive = version == b"HTTP/1.1"
        for name, value in headers:
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    raise httpx.RemoteProtocolError(f"bad Content-Length {value[:20]!r}") from None
            elif name == b"transfer-encoding":
                chunked = value.strip().lower().endswith(b"chunked")
            elif name == b"connection":
                tokens = {t.strip().lower() for t in value.split(b",")}
                if b"close" in tokens:
                    keep_alive = False
                elif b"keep-alive" in tokens:
                    keep_alive = True
        if method == b"HEAD" or status in _NO_BODY_STATUS:
            length, chunked = 0, False
        elif chunked:
            length = None
        return H1Response(
            self,
            conn,
            status,
            headers,
            length=length,
            chunked=chunked,
            keep_alive=keep_alive,
            read_timeout=read_timeout,
        )

    async def aclose(self) -> None:
        self.closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.aclose()


def _close_later(conn: H1Connection) -> None:
    """Close a connection where no await is possible (TLS: no close_notify, as httpcore)."""
    conn.sock.close()
    conn.closed()


def _parse_head(head: bytes) -> tuple[int, Headers, bytes]:
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise httpx.RemoteProtocolError(f"not an HTTP/1.x response: {lines[0][:40]!r}")
    try:
        status = int(parts[1])
    except ValueError:
        raise httpx.RemoteProtocolError(f"bad status line {lines[0][:40]!r}") from None
    headers: Headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            raise httpx.RemoteProtocolError(f"bad header line {line[:40]!r}")
        headers.append((name.strip().lower(), value.strip()))
    return status, headers, parts[0]


class _Body(httpx.AsyncByteStream):
    def __init__(self, response: H1Response) -> None:
        self._response = response
        self._chunks: AsyncGenerator[bytes, None] | None = None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self._chunks = self._response.chunks()
        async for chunk in self._chunks:
            yield chunk

    async def aclose(self) -> None:
        if self._chunks is not None:
            await self._chunks.aclose()
        await self._response.aclose()


class H1Transport(httpx.AsyncBaseTransport):
    """:class:`H1Pool` as an httpx transport: auth flows and streamed watches go through it."""

    def __init__(self, pool: H1Pool) -> None:
        self.pool = pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = b"".join([part async for part in request.stream])  # type: ignore[union-attr]
        timeouts = request.extensions.get("timeout") or {}
        headers = [
            (name, value)
            for name, value in request.headers.raw
            if name.lower() not in (b"host", b"content-length", b"transfer-encoding")
        ]
        response = await self.pool.request(
            request.method.encode("ascii"),
            request.url.raw_path,
            headers,
            body,
            read_timeout=timeouts.get("read", 60.0),
        )
        return httpx.Response(
            response.status,
            headers=response.headers,
            stream=_Body(response),
            extensions={"http_version": b"HTTP/1.1"},
            request=request,
        )

    async def aclose(self) -> None:
        await self.pool.aclose()
