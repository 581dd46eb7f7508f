"""``type: events`` kept current by the remote's websocket instead of by polling.

Events are exactly the kind of data polling serves badly: they arrive in
bursts and the interesting one is the newest. When the remote runtime accepts
a websocket upgrade on ``/katalog/<crd>/cr/<ns>/<name>/events`` (docs/oncop.md,
"The event stream"), :func:`follow_events` subscribes, merges what arrives into
the cached answer and tells the cache to stop polling that key. When the
remote does not stream (the upgrade is refused) or the connection drops, the
key falls back to ordinary polling at ``cacheFor`` and the stream is tried
again later. A stream ends by itself once nobody has read its key for the
cache's ``idle_after``.
"""

from __future__ import annotations

import json
import logging
import ssl
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

import trio
from trio_websocket import ConnectionRejected, WebSocketConnection, wrap_client_stream

from . import shapes
from .cache import RemoteCache
from .client import DEFAULT_TIMEOUT, MAX_BODY, to_answer
from .urls import RemoteTarget

logger = logging.getLogger(__name__)

JSON = dict[str, Any]

#: How often an idle stream checks whether its key is still wanted (seconds).
IDLE_CHECK = 30.0
#: Retry delays after a dropped stream: doubling from the first to the last.
RETRY_FIRST, RETRY_MAX = 1.0, 60.0
#: After a refused upgrade (the remote does not stream), wait this long before asking again.
UNSUPPORTED_RETRY = 300.0


def websocket_url(http_url: str) -> str:
    """``http://`` → ``ws://``, ``https://`` → ``wss://``."""
    if http_url.startswith("https://"):
        return "wss://" + http_url[len("https://") :]
    if http_url.startswith("http://"):
        return "ws://" + http_url[len("http://") :]
    raise ValueError(f"not an http(s) URL: {http_url!r}")


class EventMerger:
    """The current event list of one CR, updated from stream messages (newest first)."""

    def __init__(self, limit: int = shapes.MAX_EVENTS) -> None:
        self.limit = limit
        self.entries: list[JSON] = []

    def apply(self, message: Mapping[str, Any]) -> bool:
        """Apply a decoded message; False if it is not one we understand (ignored)."""
        kind = message.get("type")
        if kind == "snapshot" and isinstance(message.get("events"), list):
            self.entries = [dict(e) for e in message["events"] if isinstance(e, Mapping)]
        elif kind == "event" and isinstance(message.get("event"), Mapping):
            entry = dict(message["event"])
            identity = shapes.event_identity(entry)
            self.entries = [e for e in self.entries if shapes.event_identity(e) != identity]
            self.entries.insert(0, entry)
        else:
            return False
        del self.entries[self.limit :]
        return True

    def body(self) -> JSON:
        return {"events": [dict(e) for e in self.entries]}


async def follow_events(
    target: RemoteTarget,
    cache: RemoteCache,
    *,
    token: Callable[[], str | None],
    connect_timeout: float = DEFAULT_TIMEOUT,
    max_message: int = MAX_BODY,
) -> None:
    """Keep ``cache[target.key]`` current from the remote's event stream while it is wanted."""
    key = target.key
    url = websocket_url(target.url)
    delay = RETRY_FIRST
    while cache.is_wanted(key):
        refused: int | None = None
        connected = trio.Event()
        try:
            bearer = token()
            headers = [(b"authorization", f"Bearer {bearer}".encode())] if bearer else []
            await _session(
                target,
                cache,
                url=url,
                headers=headers,
                connect_timeout=connect_timeout,
                max_message=max_message,
                connected=connected,
            )
        except* ConnectionRejected as group:
            refused = _first(group).status_code
        except* Exception as group:  # a broken stream must never take the reader down
            logger.info("event stream %s ended: %r; polling", url, _first(group))
        finally:
            cache.unpin(key)
        if not cache.is_wanted(key):
            return
        if connected.is_set():
            delay = RETRY_FIRST  # a stream that worked for a while starts its retries afresh
        if refused is not None:
            logger.info("%s does not stream events (HTTP %s): polling", url, refused)
            await trio.sleep(UNSUPPORTED_RETRY)
            delay = RETRY_FIRST
        else:
            await trio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX)


def _first(group: BaseExceptionGroup[Any]) -> Any:
    exception: BaseException = group
    while isinstance(exception, BaseExceptionGroup):
        exception = exception.exceptions[0]
    return exception


async def _session(
    target: RemoteTarget,
    cache: RemoteCache,
    *,
    url: str,
    headers: list[tuple[bytes, bytes]],
    connect_timeout: float,
    max_message: int,
    connected: trio.Event,
) -> None:
    """One websocket connection: returns when the key is no longer wanted, raises when it breaks.

    We open the TCP stream ourselves (instead of ``open_websocket_url``) so
    that it is closed whatever happens, a refused upgrade included.
    """
    parts = urllib.parse.urlsplit(url)
    secure = parts.scheme == "wss"
    host = parts.hostname or ""
    port = parts.port or (443 if secure else 80)
    resource = parts.path + (f"?{parts.query}" if parts.query else "")
    stream: trio.SocketStream | trio.SSLStream[trio.SocketStream]
    with trio.fail_after(connect_timeout):
        if secure:
            stream = await trio.open_ssl_over_tcp_stream(
                host, port, ssl_context=ssl.create_default_context(), https_compatible=True
            )
        else:
            stream = await trio.open_tcp_stream(host, port)
    try:
        async with trio.open_nursery() as nursery:
            with trio.fail_after(connect_timeout):
                ws = await wrap_client_stream(
                    nursery,
                    stream,
                    parts.netloc,
                    resource,
                    extra_headers=headers,
                    max_message_size=max_message,
                )
            connected.set()
            try:
                await _receive(ws, target, cache)
                # Nobody wants the key: say goodbye properly (a cancelled
                # session just drops the connection: its reader task is gone).
                with trio.move_on_after(1.0):
                    await ws.aclose()
            finally:
                nursery.cancel_scope.cancel()
    finally:
        await trio.aclose_forcefully(stream)


async def _receive(ws: WebSocketConnection, target: RemoteTarget, cache: RemoteCache) -> None:
    merger = EventMerger()
    while True:
        message: str | bytes | None = None
        with trio.move_on_after(IDLE_CHECK):
            message = await ws.get_message()
        if message is None:
            if not cache.is_wanted(target.key):
                return
            continue
        if _deliver(cache, target, merger, message) and not cache.pin(target.key):
            return  # the key was dropped meanwhile


def _deliver(
    cache: RemoteCache, target: RemoteTarget, merger: EventMerger, message: str | bytes
) -> bool:
    try:
        decoded = json.loads(message)
    except ValueError:
        logger.warning("ignoring a non-JSON message on %s", target.url)
        return False
    if not isinstance(decoded, Mapping) or not merger.apply(decoded):
        logger.warning("ignoring an unknown message on %s", target.url)
        return False
    cache.put(target.key, to_answer(target, merger.body()))
    return True
