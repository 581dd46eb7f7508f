"""A small SMTP client on Trio streams: one message to a few recipients, then QUIT.

Orkestra reads its mail settings from the environment (``SMTP_HOST``,
``SMTP_PORT``, ``SMTP_USER``, ``SMTP_PASS``, ``SMTP_FROM``), not from the
Katalog; so does :func:`settings_from_env`. Port 465 speaks TLS from the
first byte; on any other port the client upgrades with STARTTLS when the
server offers it. Credentials are never sent over a connection that is not
encrypted, unless the server is on this machine (a local relay).
"""

from __future__ import annotations

import base64
import ssl
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid

import attrs
import trio

#: Longest reply line we accept (RFC 5321 says 512; some servers say more).
MAX_LINE = 4096
IMPLICIT_TLS_PORT = 465
#: The envelope and From address without SMTP_FROM.
DEFAULT_SENDER = "orkestra-trio@localhost"


class SmtpError(Exception):
    """The server refused a step, or the conversation broke off."""


@attrs.frozen
class SmtpSettings:
    host: str
    port: int = 25
    user: str = ""
    password: str = attrs.field(default="", repr=False)
    sender: str = DEFAULT_SENDER


def settings_from_env(environ: Mapping[str, str]) -> SmtpSettings | None:
    """Orkestra's ``SMTP_*`` variables (None: no ``SMTP_HOST``, so no email)."""
    host = environ.get("SMTP_HOST", "").strip()
    if not host:
        return None
    port_text = environ.get("SMTP_PORT", "").strip()
    try:
        port = int(port_text) if port_text else 25
    except ValueError:
        raise SmtpError(f"SMTP_PORT is not a port number: {port_text!r}") from None
    return SmtpSettings(
        host=host,
        port=port,
        user=environ.get("SMTP_USER", ""),
        password=environ.get("SMTP_PASS", ""),
        sender=environ.get("SMTP_FROM", "").strip() or DEFAULT_SENDER,
    )


def compose(sender: str, recipients: Sequence[str], subject: str, body: str) -> bytes:
    """The message as sent after DATA: headers, body, CRLF line ends."""
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain="orkestra-trio")
    message.set_content(body)
    return message.as_bytes()


class _Conversation:
    """Replies read line by line from a stream that may be swapped for its TLS wrapper."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self._buffer = bytearray()

    async def _line(self) -> bytes:
        while b"\n" not in self._buffer:
            if len(self._buffer) > MAX_LINE:
                raise SmtpError("reply line too long")
            chunk = await self.stream.receive_some(MAX_LINE)
            if not chunk:
                raise SmtpError("the server closed the connection")
            self._buffer += chunk
        line, _, rest = bytes(self._buffer).partition(b"\n")
        self._buffer = bytearray(rest)
        return line.rstrip(b"\r")

    async def reply(self, *expected: int) -> list[str]:
        """The next reply's lines (without codes); raises unless its code is ``expected``."""
        lines: list[str] = []
        while True:
            raw = await self._line()
            text = raw.decode("utf-8", "replace")
            if len(text) < 3 or not text[:3].isdigit():
                raise SmtpError(f"not an SMTP reply: {text[:80]!r}")
            lines.append(text[4:])
            if text[3:4] != "-":
                break
        code = int(text[:3])
        if code not in expected:
            raise SmtpError(f"{code} {' '.join(lines)[:200]}")
        return lines

    async def command(self, line: str, *expected: int) -> list[str]:
        await self.stream.send_all(line.encode("utf-8") + b"\r\n")
        return await self.reply(*expected)


def _dot_stuffed(data: bytes) -> bytes:
    """DATA's transparency rule: a line starting with "." gets another one."""
    lines = data.split(b"\r\n")
    return b"\r\n".join(b"." + line if line.startswith(b".") else line for line in lines)


def _local(host: str) -> bool:
    return host in ("localhost", "127.0.0.1", "::1")


async def send_mail(
    settings: SmtpSettings,
    recipients: Sequence[str],
    subject: str,
    body: str,
    *,
    tls: ssl.SSLContext | None = None,
) -> None:
    """Send one message to ``recipients`` through ``settings``' server; raises SmtpError."""
    context = tls or ssl.create_default_context()
    stream: trio.abc.Stream
    encrypted = settings.port == IMPLICIT_TLS_PORT
    if encrypted:
        stream = await trio.open_ssl_over_tcp_stream(
            settings.host, settings.port, ssl_context=context
        )
    else:
        stream = await trio.open_tcp_stream(settings.host, settings.port)
    talk = _Conversation(stream)
    try:
        await talk.reply(220)
        extensions = await talk.command("EHLO orkestra-trio", 250)
        offered = {line.split(" ", 1)[0].upper() for line in extensions[1:]}
        if not encrypted and "STARTTLS" in offered:
            await talk.command("STARTTLS", 220)
            wrapped = trio.SSLStream(stream, context, server_hostname=settings.host)
            await wrapped.do_handshake()
            talk.stream = stream = wrapped
            encrypted = True
            extensions = await talk.command("EHLO orkestra-trio", 250)
        if settings.user:
            if not (encrypted or _local(settings.host)):
                raise SmtpError(
                    f"{settings.host} offers no TLS: SMTP_USER's password is not sent in clear"
                )
            secret = f"\0{settings.user}\0{settings.password}".encode()
            await talk.command(f"AUTH PLAIN {base64.b64encode(secret).decode()}", 235)
        await talk.command(f"MAIL FROM:<{settings.sender}>", 250)
        for recipient in recipients:
            await talk.command(f"RCPT TO:<{recipient}>", 250, 251)
        await talk.command("DATA", 354)
        data = _dot_stuffed(compose(settings.sender, recipients, subject, body))
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        await stream.send_all(data + b".\r\n")
        await talk.reply(250)
        await talk.command("QUIT", 221)
    except (OSError, trio.BrokenResourceError, trio.ClosedResourceError, ssl.SSLError) as exc:
        raise SmtpError(f"{settings.host}:{settings.port}: {exc}") from None
    finally:
        await trio.aclose_forcefully(stream)
