"""list+watch that does not stall: the informer's only source of truth.

A watch stream fails in quiet ways: the server ends it after its timeout, a
load balancer drops it, the server forgets old revisions (410), or the TCP
connection stays open while nothing arrives any more. The last one is the
dangerous one (an operator that silently stops reacting), so every stream
is guarded by an inactivity watchdog: with ``allowWatchBookmarks`` the
server sends a BOOKMARK at least every minute or so even when nothing
changes, and a stream that stays silent longer than ``idle_timeout`` (twice
the server's bookmark interval) is closed. Resuming a stream that went
silent is not safe (whatever broke it may have lost events on the way), so
a stall relists; ``WatchStats.stalled`` stays set until a watch stream
delivers again, so the consumer can say it is blind meanwhile.

The loop: list (paginated) → hand the consumer a ``Synced`` snapshot → watch
from the list's resourceVersion → on a dropped stream resume from the last
resourceVersion seen (events or bookmarks) → on 410 list again and hand a
new ``Synced`` so the consumer replaces its cache.

Structure: the loop runs in a task of a nursery owned by ``open_list_watch``
and hands events over a memory channel. The consumer may ``break`` out of
its ``async for`` freely; leaving the ``async with`` cancels the task, and
cancellation closes the httpx stream properly (no leaked connection).
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Literal, Protocol, cast

import attrs
import httpx
import trio

from .errors import (
    ApiError,
    Gone,
    KubeError,
    TransportError,
    error_from_response,
    error_from_status,
)
from .mapper import ResourceInfo, ResourceRef
from .retry import Backoff

log = logging.getLogger("orkestra_trio.kube.watch")

JSON = dict[str, Any]


class Listing(Protocol):
    """A whole list's items and its resourceVersion (the client's ``ObjectList``)."""

    @property
    def items(self) -> list[JSON]: ...
    @property
    def resource_version(self) -> str: ...


class WatchClient(Protocol):
    """What list+watch needs of a client; :class:`~.client.KubeClient` is the one.

    Spelled out here so that this module, which the client builds its
    ``list_watch`` on, does not import the client back.
    """

    http: httpx.AsyncClient
    request_count: int

    async def resource(self, ref: ResourceRef) -> ResourceInfo: ...

    def namespace_for(self, info: ResourceInfo, namespace: str | None) -> str | None: ...

    async def list(
        self,
        ref: ResourceRef,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int | None = 500,
    ) -> Listing: ...


@attrs.frozen
class WatchEvent:
    """An ADDED, MODIFIED or DELETED object, as the server sent it."""

    type: Literal["ADDED", "MODIFIED", "DELETED"]
    object: JSON

    @property
    def resource_version(self) -> str:
        return str(self.object.get("metadata", {}).get("resourceVersion", ""))


@attrs.frozen
class Synced:
    """The complete current state after a (re)list: replace the cache with ``items``.

    ``relist`` is False for the first list and True when the watch fell too
    far behind (410) and had to start over.
    """

    items: tuple[JSON, ...]
    resource_version: str
    relist: bool


Event = WatchEvent | Synced


@attrs.define
class WatchStats:
    """Counters a test or a health page can read while the watch runs."""

    lists: int = 0
    watches: int = 0  # watch requests started
    events: int = 0
    bookmarks: int = 0
    resumes: int = 0  # streams that ended and were resumed from a resourceVersion
    relists: int = 0  # 410s that forced a new list
    stalls: int = 0  # streams closed by the inactivity watchdog
    #: True from a stall until a watch stream delivers a line again.
    stalled: bool = False
    errors: int = 0
    resource_version: str = ""
    last_error: str = ""
    #: True from a failed list or watch request until one succeeds (``last_error`` says why).
    failing: bool = False


@attrs.frozen
class WatchOptions:
    """Tuning of one list+watch.

    ``idle_timeout``: seconds without any line (event or bookmark) before the
    stream counts as stalled: twice the server's bookmark interval
    (kube-apiserver bookmarks about every minute; the embedded server every
    ``bookmark_interval``, see :func:`idle_timeout_for`). ``timeout_range``: the server-side
    ``timeoutSeconds`` is drawn from it per watch request, so many watches
    opened together do not all reconnect at the same instant.
    """

    idle_timeout: float = 120.0
    timeout_range: tuple[int, int] = (300, 600)
    page_size: int | None = 500
    backoff_base: float = 0.2
    backoff_cap: float = 30.0
    buffer: int = 64


DEFAULT_WATCH_OPTIONS = WatchOptions()


def idle_timeout_for(bookmark_interval: float) -> float:
    """How long a stream may stay silent when the server bookmarks every ``bookmark_interval``."""
    return 2.0 * bookmark_interval


class _Stalled(Exception):
    """The watchdog closed a silent stream: relist rather than resume."""


class ListWatch:
    """The consumer side: ``async for event in lw`` yields Synced and WatchEvent."""

    def __init__(self, receive: trio.MemoryReceiveChannel[Event], stats: WatchStats):
        self._receive = receive
        self.stats = stats

    def __aiter__(self) -> ListWatch:
        return self

    async def __anext__(self) -> Event:
        try:
            return await self._receive.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None

    async def next(self) -> Event:
        return await self.__anext__()


@asynccontextmanager
async def open_list_watch(
    kube: WatchClient,
    ref: ResourceRef,
    *,
    namespace: str | None = None,
    label_selector: str | None = None,
    field_selector: str | None = None,
    resource_version: str | None = None,
    options: WatchOptions = DEFAULT_WATCH_OPTIONS,
) -> AsyncIterator[ListWatch]:
    """``async with open_list_watch(kube, ("v1", "ConfigMap")) as events: async for ev in events``.

    Runs until the ``async with`` is left. Errors the loop cannot recover
    from (the kind is unknown to the server) propagate out of the block;
    everything else (network, 5xx, 429, 410, RBAC being fixed) is retried
    with backoff forever, as an informer must.

    ``resource_version``: skip the initial list and watch the changes after
    that revision (e.g. one remembered from an earlier run); if the server no
    longer has it (410) the loop lists as usual.
    """
    info = await kube.resource(ref)
    send, receive = trio.open_memory_channel[Event](options.buffer)
    stats = WatchStats()
    runner = _ListWatcher(kube, info, namespace, label_selector, field_selector, options, stats)
    async with trio.open_nursery() as nursery, send, receive:
        nursery.start_soon(runner.run, send, resource_version)
        try:
            yield ListWatch(receive, stats)
        finally:
            nursery.cancel_scope.cancel()


@attrs.define
class _ListWatcher:
    kube: WatchClient
    info: ResourceInfo
    namespace: str | None
    label_selector: str | None
    field_selector: str | None
    options: WatchOptions
    stats: WatchStats

    async def run(self, send: trio.MemorySendChannel[Event], rv: str | None = None) -> None:
        backoff = Backoff(base=self.options.backoff_base, cap=self.options.backoff_cap)
        while True:
            try:
                if rv is None:
                    rv = await self._list(send)
                    backoff.reset()
                    self.stats.failing = False
                opened = trio.current_time()
                rv, progressed = await self._watch(send, rv, backoff)
                self.stats.failing = False
                # The stream ended (server timeout, cut, watchdog): resume. A
                # stream that ends at once without a single line is a server
                # or proxy refusing watches: back off instead of spinning.
                self.stats.resumes += 1
                if not progressed and trio.current_time() - opened < 1.0:
                    await trio.sleep(backoff.next())
            except Gone:
                self.stats.relists += 1
                log.info("%s: resourceVersion %s expired, relisting", self._what(), rv)
                rv = None
            except _Stalled:
                self.stats.relists += 1
                rv = None
            except (ApiError, TransportError) as exc:
                self.stats.errors += 1
                self.stats.last_error = str(exc)
                self.stats.failing = True
                delay = backoff.next()
                if isinstance(exc, ApiError) and exc.retry_after is not None:
                    delay = max(delay, exc.retry_after)  # the server asked for this much
                log.warning("%s: %s; retrying in %.1fs", self._what(), exc, delay)
                await trio.sleep(delay)

    def _what(self) -> str:
        return f"list+watch {self.info.describe('', self.kube.namespace_for(self.info, self.namespace))}"

    async def _list(self, send: trio.MemorySendChannel[Event]) -> str:
        result = await self.kube.list(
            self.info,
            namespace=self.namespace,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            page_size=self.options.page_size,
        )
        self.stats.lists += 1
        self.stats.resource_version = result.resource_version
        relist = self.stats.lists > 1
        await send.send(Synced(tuple(result.items), result.resource_version, relist))
        return result.resource_version

    async def _watch(
        self, send: trio.MemorySendChannel[Event], rv: str, backoff: Backoff
    ) -> tuple[str, bool]:
        """One watch request; returns (resourceVersion to resume from, whether any line came)."""
        kube = self.kube
        ns = kube.namespace_for(self.info, self.namespace)
        low, high = self.options.timeout_range
        params = {
            "watch": "true",
            "allowWatchBookmarks": "true",
            "resourceVersion": rv,
            "timeoutSeconds": str(random.randint(low, high)),
        }
        if self.label_selector:
            params["labelSelector"] = self.label_selector
        if self.field_selector:
            params["fieldSelector"] = self.field_selector
        target = self.info.describe("", ns)
        timeout = httpx.Timeout(connect=10.0, read=None, write=30.0, pool=30.0)
        self.stats.watches += 1
        kube.request_count += 1
        idle = self.options.idle_timeout
        progressed = False
        try:
            async with kube.http.stream(
                "GET",
                self.info.collection_path(ns),
                params=params,
                headers={"Accept": "application/json"},
                timeout=timeout,
            ) as response:
                if response.status_code >= 400:
                    body = await response.aread()
                    raise error_from_response(
                        "watch", target, response.status_code, body, response.headers
                    )
                chunks = cast(AsyncGenerator[bytes, None], response.aiter_bytes())
                finished = False  # True once httpx's generator chain has run to its end
                lines = _LineSplitter()
                try:
                    while True:
                        with trio.move_on_after(idle) as watchdog:
                            try:
                                chunk = await anext(chunks, None)
                            except BaseException:
                                finished = True  # the exception went through the chain
                                raise
                        if watchdog.cancelled_caught:
                            finished = True
                            self.stats.stalls += 1
                            self.stats.stalled = True
                            self.stats.last_error = (
                                f"watch stalled: no event or bookmark for {idle:g}s; relisting"
                            )
                            log.warning(
                                "%s: no event or bookmark for %gs; relisting", self._what(), idle
                            )
                            raise _Stalled
                        if chunk is None:
                            finished = True
                            return rv, progressed  # the server ended the stream
                        for line in lines.feed(chunk):
                            if line.strip():
                                rv = await self._handle(line, rv, target, send)
                                if not progressed:
                                    # The stream delivers: whatever failed before is over.
                                    progressed = True
                                    self.stats.stalled = False
                                    self.stats.failing = False
                                    backoff.reset()
                finally:
                    if not finished:
                        await _abandon(chunks)
        except httpx.TransportError as exc:
            if progressed:
                return rv, True  # a stream that worked and broke: resume at once
            raise TransportError("watch", target, exc, reached_server=True) from exc

    async def _handle(
        self, line: bytes, rv: str, target: str, send: trio.MemorySendChannel[Event]
    ) -> str:
        try:
            event = json.loads(line)
            kind = event["type"]
            obj = event["object"]
        except (ValueError, KeyError, TypeError):
            raise TransportError(
                "watch",
                target,
                ValueError(f"undecodable watch line {line[:100]!r}"),
                reached_server=True,
            ) from None
        if kind == "ERROR":
            raise error_from_status("watch", target, 200, obj)
        new_rv = _rv_of(obj) or rv
        self.stats.resource_version = new_rv
        if kind == "BOOKMARK":
            self.stats.bookmarks += 1
            return new_rv
        if kind not in ("ADDED", "MODIFIED", "DELETED"):
            return rv
        self.stats.events += 1
        await send.send(WatchEvent(kind, obj))
        return new_rv


class _LineSplitter:
    """Whole lines out of a byte stream whose chunks cut lines anywhere.

    Watch events are newline-delimited JSON, but a chunk may end mid-event
    (large objects) or hold many events; the tail waits for the next chunk.
    """

    def __init__(self) -> None:
        self._pending: list[bytes] = []

    def feed(self, chunk: bytes) -> list[bytes]:
        """The lines ``chunk`` completes, without their newline."""
        lines: list[bytes] = []
        start = 0
        while (newline := chunk.find(b"\n", start)) >= 0:
            if self._pending:
                self._pending.append(chunk[start:newline])
                lines.append(b"".join(self._pending))
                self._pending.clear()
            else:
                lines.append(chunk[start:newline])
            start = newline + 1
        if start < len(chunk):
            self._pending.append(chunk[start:])
        return lines


async def _abandon(chunks: AsyncGenerator[bytes, None]) -> None:
    """Finish httpx's chain of body generators when we stop reading mid-stream.

    httpx reads a body through several nested async generators; closing the
    outermost one leaves the inner ones suspended, and each is later reported
    as garbage-collected unexhausted (a ResourceWarning, and the connection
    is released only by the garbage collector). Resuming the chain inside a
    cancelled scope makes the innermost generator raise Cancelled at its next
    network read, and the exception unwinds every generator of the chain.
    Chunks already buffered come out first; they are discarded.
    """
    with trio.CancelScope() as scope:
        scope.cancel()
        while True:
            try:
                if await anext(chunks, None) is None:
                    return
            except trio.Cancelled:
                raise
            except Exception:
                return  # the chain ended with an error: it is finished too


def _rv_of(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata")
    return str(meta.get("resourceVersion") or "") if isinstance(meta, Mapping) else ""


__all__ = [
    "Event",
    "KubeError",
    "ListWatch",
    "Synced",
    "WatchEvent",
    "WatchOptions",
    "WatchStats",
    "idle_timeout_for",
    "open_list_watch",
]
