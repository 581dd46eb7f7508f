"""A watch's HTTP answer: a chunked stream of events, one JSON document per line.

The stream owns its watcher and ends when the client goes away, when the
server drains (the store ends every watcher), on timeoutSeconds, or when the
watcher fell behind. Each change's line is encoded once per fan-out (see
``watch.Change.line``); a watcher with a backlog gets its events coalesced
into one chunk.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from orkestra_trio.apiserver.faults import FaultInjector
from orkestra_trio.apiserver.kinds import ResourceKind
from orkestra_trio.apiserver.objects import dumps
from orkestra_trio.apiserver.store import Store, WatchStart
from orkestra_trio.apiserver.watch import BOOKMARK, Change

JSON = "application/json"
# Events coalesced into one chunk when a watcher has a backlog.
_MAX_BATCH = 256


class WatchResponse(Response):
    """A chunked stream of watch events, one JSON document per line.

    Written as a raw ASGI response so that the stream owns its watcher: it
    ends when the client goes away, when the server drains (the store ends
    every watcher), on timeoutSeconds, or when the watcher fell behind.
    """

    def __init__(
        self,
        store: Store,
        faults: FaultInjector,
        kind: ResourceKind,
        start: WatchStart,
        *,
        encode: Callable[[str, Change], bytes],
        timeout: float,
        bookmarks: bool,
        bookmark_interval: float,
        initial_events_end: bool,
    ) -> None:
        super().__init__(status_code=200, media_type=JSON)
        self._store = store
        self._faults = faults
        self._bookmark_interval = bookmark_interval
        self._kind = kind
        self._start = start
        self._encode = encode
        self._timeout = timeout
        self._bookmarks = bookmarks
        self._initial_events_end = initial_events_end

    def _bookmark(self, revision: int, *, initial_end: bool = False) -> bytes:
        metadata: dict[str, Any] = {"resourceVersion": str(revision)}
        if initial_end:
            metadata["annotations"] = {"k8s.io/initial-events-end": "true"}
        obj = {"kind": self._kind.kind, "apiVersion": self._kind.api_version, "metadata": metadata}
        return dumps({"type": BOOKMARK, "object": obj}) + b"\n"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        watcher = self._start.watcher
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", JSON.encode()),
                        (b"cache-control", b"no-cache, private"),
                    ],
                }
            )
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._watch_disconnect, receive, nursery.cancel_scope)
                await self._pump(send)
                nursery.cancel_scope.cancel()
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            # The client went away mid-write.
            pass
        finally:
            watcher.end("closed")

    async def _watch_disconnect(self, receive: Receive, scope: trio.CancelScope) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                scope.cancel()
                return

    async def _send_chunk(self, send: Send, body: bytes) -> None:
        faults = self._faults
        if faults.stalled:
            await faults.wait_unstalled()
        await send({"type": "http.response.body", "body": body, "more_body": True})

    async def _pump(self, send: Send) -> None:
        start = self._start
        encode = self._encode
        if start.initial:
            chunk: list[bytes] = []
            for event_type, change in start.initial:
                chunk.append(encode(event_type, change))
                if len(chunk) >= _MAX_BATCH:
                    await self._send_chunk(send, b"".join(chunk))
                    chunk = []
            if chunk:
                await self._send_chunk(send, b"".join(chunk))
        if self._initial_events_end:
            await self._send_chunk(send, self._bookmark(start.revision, initial_end=True))
        receive = start.watcher.receive
        deadline = trio.current_time() + self._timeout
        interval = self._bookmark_interval
        store = self._store
        while True:
            now = trio.current_time()
            if now >= deadline:
                return
            wake = min(deadline, now + interval) if self._bookmarks else deadline
            item = None
            with trio.move_on_at(wake):
                try:
                    item = await receive.receive()
                except trio.EndOfChannel:
                    return
            if item is None:
                if self._bookmarks and trio.current_time() < deadline:
                    # The buffer is empty, so every change up to now has been sent.
                    await self._send_chunk(send, self._bookmark(store.revision))
                continue
            lines = [encode(*item)]
            while len(lines) < _MAX_BATCH:
                try:
                    more = receive.receive_nowait()
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
                lines.append(encode(*more))
            await self._send_chunk(send, b"".join(lines))
