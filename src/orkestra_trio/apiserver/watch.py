"""Watch fan-out: one committed change, delivered to every interested watcher.

A write must never wait for a reader. Each watcher owns a bounded trio memory
channel; the store offers every change with ``send_nowait`` at commit time. A
watcher whose buffer is full has fallen behind: its channel is closed after the
events it already holds, so its HTTP stream ends and the client resumes from
the last resourceVersion it saw (the store's history makes that gap-free).
Nobody else slows down.

Each change is serialized to JSON once (``Change.line``) and the same bytes go
to every watcher that sees it with the same event type.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs
import trio

from orkestra_trio.apiserver.objects import Stored

ADDED = "ADDED"
MODIFIED = "MODIFIED"
DELETED = "DELETED"
BOOKMARK = "BOOKMARK"
ERROR = "ERROR"

# (group, plural): how the store names a collection of objects.
ResourceKey = tuple[str, str]
Predicate = Callable[[Mapping[str, Any]], bool]


@attrs.define(slots=True, eq=False)
class Change:
    """One committed revision: an object created, modified or deleted.

    ``new`` is the object after the change; for DELETED it is the last state
    stamped with the deletion's resourceVersion, as kube sends it. ``old`` is
    the state before (None for a create), kept for selector transitions and
    for reconstructing list snapshots at older revisions.
    """

    rv: int
    type: str
    resource: ResourceKey
    namespace: str
    name: str
    new: Stored
    old: Stored | None
    _lines: dict[str, bytes] | None = None

    def line(self, event_type: str | None = None) -> bytes:
        """The watch-stream line ``{"type":...,"object":...}\\n``, built once per type."""
        kind = event_type or self.type
        lines = self._lines
        if lines is None:
            lines = self._lines = {}
        cached = lines.get(kind)
        if cached is None:
            cached = b'{"type":"' + kind.encode() + b'","object":' + self.new.raw() + b"}\n"
            lines[kind] = cached
        return cached


WatchItem = tuple[str, Change]


class Watcher:
    """One open watch: a filter and a bounded buffer of (event type, change)."""

    def __init__(
        self,
        resource: ResourceKey,
        namespace: str | None,
        predicate: Predicate | None,
        *,
        min_rv: int,
        buffer: int,
        on_close: Callable[[Watcher], None],
    ) -> None:
        self.resource = resource
        self.namespace = namespace
        self.predicate = predicate
        self.min_rv = min_rv
        self._send, self.receive = trio.open_memory_channel[WatchItem](buffer)
        self._on_close = on_close
        self.closed = False
        #: Why the stream ended early: "overflow", "cut", "shutdown" or None.
        self.end_reason: str | None = None

    def classify(self, change: Change) -> str | None:
        """The event type this watcher sees for ``change``, or None if it sees nothing.

        With a selector, an object moving into the selection arrives as ADDED
        and one moving out as DELETED, as kube's watch cache reports them.
        """
        if self.namespace is not None and change.namespace != self.namespace:
            return None
        if change.rv <= self.min_rv:
            return None
        predicate = self.predicate
        if predicate is None:
            return change.type
        if change.type == MODIFIED:
            now_in = predicate(change.new.obj)
            was_in = change.old is not None and predicate(change.old.obj)
            if now_in and was_in:
                return MODIFIED
            if now_in:
                return ADDED
            if was_in:
                return DELETED
            return None
        return change.type if predicate(change.new.obj) else None

    def offer(self, change: Change) -> None:
        """Called by the store at commit time; never blocks."""
        event_type = self.classify(change)
        if event_type is None or self.closed:
            return
        try:
            self._send.send_nowait((event_type, change))
        except trio.WouldBlock:
            self.end("overflow")
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            self.end("gone")

    def end(self, reason: str) -> None:
        """End the stream after the events already buffered."""
        if self.closed:
            return
        self.closed = True
        self.end_reason = reason
        self._send.close()
        self._on_close(self)


class WatchHub:
    """The set of open watchers, keyed by the collection they watch."""

    def __init__(self, buffer: int) -> None:
        self.buffer = buffer
        self._by_resource: dict[ResourceKey, set[Watcher]] = {}

    def open(
        self,
        resource: ResourceKey,
        namespace: str | None,
        predicate: Predicate | None,
        *,
        min_rv: int,
    ) -> Watcher:
        watcher = Watcher(
            resource,
            namespace,
            predicate,
            min_rv=min_rv,
            buffer=self.buffer,
            on_close=self._forget,
        )
        self._by_resource.setdefault(resource, set()).add(watcher)
        return watcher

    def _forget(self, watcher: Watcher) -> None:
        watchers = self._by_resource.get(watcher.resource)
        if watchers is not None:
            watchers.discard(watcher)
            if not watchers:
                del self._by_resource[watcher.resource]

    def dispatch(self, change: Change) -> None:
        watchers = self._by_resource.get(change.resource)
        if not watchers:
            return
        for watcher in tuple(watchers):
            watcher.offer(change)

    def end_all(self, reason: str, resource: ResourceKey | None = None) -> int:
        """End every stream (or those of one collection); returns how many."""
        if resource is None:
            targets = [w for ws in self._by_resource.values() for w in ws]
        else:
            targets = list(self._by_resource.get(resource, ()))
        for watcher in targets:
            watcher.end(reason)
        return len(targets)

    def count(self) -> int:
        return sum(len(ws) for ws in self._by_resource.values())
