"""A minimal SMTP server on 127.0.0.1 (a free port) inside the test's own Trio run."""

from __future__ import annotations

import ssl
from functools import partial

import trio


class Relay:
    """Takes every message (no extensions offered); may refuse one recipient.

    ``messages``: (recipients, raw DATA lines joined by CRLF, dots as sent).
    """

    def __init__(self, refuse: str = "", tls: ssl.SSLContext | None = None) -> None:
        self.refuse = refuse
        #: Offer STARTTLS with this server context (None: no TLS).
        self.tls = tls
        self.messages: list[tuple[list[str], bytes]] = []
        #: (AUTH command, over TLS?) as received.
        self.auth: list[tuple[str, bool]] = []

    async def serve(self, nursery: trio.Nursery, host: str = "127.0.0.1") -> int:
        """Listen in ``nursery``; the port."""
        listeners = await nursery.start(partial(trio.serve_tcp, self.handle, 0, host=host))
        return int(listeners[0].socket.getsockname()[1])

    async def handle(self, tcp: trio.SocketStream) -> None:
        stream: trio.abc.Stream = tcp
        buffer = b""

        async def line() -> bytes:
            nonlocal buffer
            while b"\r\n" not in buffer:
                chunk = await stream.receive_some(4096)
                if not chunk:
                    raise trio.BrokenResourceError
                buffer += chunk
            got, buffer = buffer.split(b"\r\n", 1)
            return got

        recipients: list[str] = []
        async with tcp:
            await stream.send_all(b"220 relay\r\n")
            while True:
                command = (await line()).decode()
                verb = command[:4].upper()
                if verb == "EHLO":
                    offer = b"250-STARTTLS\r\n" if self.tls and stream is tcp else b""
                    await stream.send_all(b"250-relay\r\n" + offer + b"250 8BITMIME\r\n")
                elif verb == "STAR" and self.tls is not None:
                    await stream.send_all(b"220 go ahead\r\n")
                    stream = trio.SSLStream(tcp, self.tls, server_side=True)
                    await stream.do_handshake()
                elif verb == "AUTH":
                    self.auth.append((command, stream is not tcp))
                    await stream.send_all(b"235 welcome\r\n")
                elif verb == "RCPT" and self.refuse and self.refuse in command:
                    await stream.send_all(b"550 no such user\r\n")
                elif verb == "RCPT":
                    recipients.append(command.split("<", 1)[1].rstrip(">"))
                    await stream.send_all(b"250 ok\r\n")
                elif verb == "DATA":
                    await stream.send_all(b"354 go on\r\n")
                    lines = []
                    while (got := await line()) != b".":
                        lines.append(got)
                    self.messages.append((recipients, b"\r\n".join(lines)))
                    await stream.send_all(b"250 queued\r\n")
                elif verb == "QUIT":
                    await stream.send_all(b"221 bye\r\n")
                    return
                else:
                    await stream.send_all(b"250 ok\r\n")
