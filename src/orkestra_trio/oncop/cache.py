"""The cache in front of every remote ``cross:`` read: TTL, single flight, staleness, change news.

Why each rule exists:

* **TTL (``cacheFor``).** Reconciles run often; the remote operator must not
  be asked on every one. An answer is reused until it is ``ttl`` old.
* **Single flight, in the cache's own scope.** When an answer expires, a
  burst of reconciles would all miss at once; only one fetch runs. While
  :meth:`RemoteCache.run` runs, that fetch is a task of the cache, not of the
  reconcile that asked: a reconcile whose deadline passes stops waiting but
  the fetch goes on, so a remote slower than ``reconciler.timeout`` still
  lands. A reader that gave up is told through ``on_change`` when the answer
  arrives (the runtime re-enqueues it). Without the refresher running, the
  reader fetches itself and, if cancelled, a waiter takes over.
* **Stale while revalidating.** An expired answer younger than
  ``ttl + stale_for`` is served at once while the refresh runs: a reconcile
  uses what is cached, and ``on_change`` brings it back when the new answer
  differs.
* **Staleness (``staleFor``).** A failed fetch does not erase what we knew:
  the last good answer is served (with an ``error`` field and
  ``stale: "true"``) while it is younger than ``stale_for``; after that the
  answer becomes "not found" with the ``error``, never an exception, so the
  observing box stays healthy and its Katalog decides what to do.
* **Change news.** Templates only see a remote object when their CR is
  reconciled. :meth:`RemoteCache.run` refreshes every entry when it expires
  (as long as someone read it within ``idle_after``) and calls ``on_change``
  with the key whenever the answer differs from the previous one, so the
  runtime can enqueue the CRs that read it.

Keys are strings (``RemoteTarget.key``); the cache knows nothing about URLs:
each entry carries the ``fetch`` callable that refreshes it.
"""

from __future__ import annotations

import heapq
import logging
import math
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import trio

from orkestra_trio.katalog.render import cross_answer

logger = logging.getLogger(__name__)

JSON = dict[str, Any]

#: Entries nobody read for this long are dropped instead of refreshed (seconds).
DEFAULT_IDLE_AFTER = 3600.0
#: Most entries kept; the least recently read go first.
DEFAULT_MAX_ENTRIES = 10_000
#: Most background refreshes running at once.
DEFAULT_REFRESH_CONCURRENCY = 16
#: The refresher never polls one key more often than this (a ``cacheFor: 0s`` stays sane).
MIN_REFRESH_INTERVAL = 0.5


@attrs.frozen
class Fetched:
    """A definitive answer: the remote object, or "not found" (a 404 is an answer too)."""

    answer: JSON


@attrs.frozen
class Failed:
    """The fetch did not produce an answer (timeout, refused, bad JSON, 5xx...)."""

    error: str


FetchResult = Fetched | Failed
Fetch = Callable[[], Awaitable[FetchResult]]


@attrs.define(eq=False)
class _Entry:
    key: str
    fetch: Fetch
    ttl: float
    stale_for: float
    last_read: float
    #: What readers get now; None until the first fetch settled.
    answer: JSON | None = None
    good: JSON | None = None
    good_at: float = -math.inf
    expires: float = -math.inf
    error: str | None = None
    inflight: trio.Event | None = None
    #: Bumped every time a fetch settles or a stream pushes an answer.
    version: int = 0
    #: A stream keeps this entry current: no polling, never expires.
    pinned: bool = False
    #: The refresher's ticket: only the newest schedule of an entry counts.
    ticket: int = 0
    #: A reader stopped waiting for the fetch in flight: tell on_change when it settles.
    abandoned: bool = False


class RemoteCache:
    """Answers by key, shared by every reconcile of the runtime."""

    def __init__(
        self,
        *,
        on_change: Callable[[str], None] | None = None,
        idle_after: float = DEFAULT_IDLE_AFTER,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        refresh_concurrency: int = DEFAULT_REFRESH_CONCURRENCY,
        clock: Callable[[], float] = trio.current_time,
    ) -> None:
        self.on_change = on_change
        self.idle_after = idle_after
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._due: list[tuple[float, int, _Entry]] = []
        self._seq = 0
        self._wake = trio.Event()
        self._limiter = trio.CapacityLimiter(refresh_concurrency)
        #: The refresher's nursery while :meth:`run` runs: where fetches live.
        self._nursery: trio.Nursery | None = None
        #: Counters for metrics and tests.
        self.hits = 0
        self.fetches = 0
        self.errors = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    # ----------------------------------------------------------------- reading

    async def get(self, key: str, fetch: Fetch, *, ttl: float, stale_for: float) -> JSON:
        """The answer for ``key``: cached while younger than ``ttl``, else fetched once.

        The returned dict is shared: callers must not mutate it.
        """
        now = self._clock()
        entry = self._entries.get(key)
        if entry is None:
            entry = _Entry(key=key, fetch=fetch, ttl=ttl, stale_for=stale_for, last_read=now)
            self._entries[key] = entry
            self._evict()
        else:
            self._entries.move_to_end(key)
            # The latest declaration wins (two entries may observe one key).
            entry.fetch, entry.ttl, entry.stale_for = fetch, ttl, stale_for
            entry.last_read = now
        while True:
            if entry.answer is not None and (entry.pinned or now < entry.expires):
                self.hits += 1
                return entry.answer
            if self._nursery is not None:
                if entry.inflight is None:
                    self._start_refresh(entry)
                if entry.answer is not None and now < entry.expires + entry.stale_for:
                    self.hits += 1
                    return entry.answer  # stale while revalidating
            elif entry.inflight is None:
                await self._refresh(entry)
                assert entry.answer is not None
                return entry.answer
            inflight = entry.inflight
            assert inflight is not None
            seen = entry.version
            settled = False
            try:
                await inflight.wait()
                settled = True
            finally:
                if not settled:
                    entry.abandoned = True
            if entry.version != seen and entry.answer is not None:
                return entry.answer
            # The fetcher was cancelled before it settled: take over.
            now = self._clock()

    def peek(self, key: str) -> JSON | None:
        """The current answer for ``key`` without fetching or counting a read."""
        entry = self._entries.get(key)
        return None if entry is None else entry.answer

    def last_error(self, key: str) -> str | None:
        """Why the last fetch of ``key`` failed, None if it succeeded."""
        entry = self._entries.get(key)
        return None if entry is None else entry.error

    def forget(self, key: str) -> None:
        """Nobody needs ``key`` any more: drop it (an in-flight fetch still finishes)."""
        self._entries.pop(key, None)

    # ---------------------------------------------------------------- streams

    def pin(self, key: str) -> bool:
        """A stream now keeps ``key`` current: stop polling it. False if the key is unknown."""
        entry = self._entries.get(key)
        if entry is None:
            return False
        entry.pinned = True
        return True

    def unpin(self, key: str) -> None:
        """The stream ended: poll ``key`` again, starting now."""
        entry = self._entries.get(key)
        if entry is None or not entry.pinned:
            return
        entry.pinned = False
        entry.expires = self._clock()
        self._schedule(entry)

    def put(self, key: str, answer: JSON) -> None:
        """A stream delivered a good answer for ``key`` (ignored if the key was dropped)."""
        entry = self._entries.get(key)
        if entry is not None:
            self._settle(entry, Fetched(answer))

    def is_pinned(self, key: str) -> bool:
        """Is a stream keeping ``key`` current right now?"""
        entry = self._entries.get(key)
        return entry is not None and entry.pinned

    def is_wanted(self, key: str) -> bool:
        """Is ``key`` still cached and read recently (streams stop when it is not)?"""
        entry = self._entries.get(key)
        return entry is not None and self._clock() - entry.last_read <= self.idle_after

    # --------------------------------------------------------------- fetching

    def _start_refresh(self, entry: _Entry) -> None:
        """Fetch ``entry`` in the cache's nursery; readers wait on ``entry.inflight``."""
        assert self._nursery is not None
        done = trio.Event()
        entry.inflight = done
        self._nursery.start_soon(self._refresh, entry, done, name=f"fetch {entry.key}")

    async def _refresh(self, entry: _Entry, done: trio.Event | None = None) -> None:
        if done is None:
            done = trio.Event()
            entry.inflight = done
        try:
            self.fetches += 1
            try:
                result = await entry.fetch()
            except Exception as error:  # a bug in a fetch must not wedge every reader
                logger.exception("fetching %s failed unexpectedly", entry.key)
                result = Failed(f"internal error: {error!r}")
            self._settle(entry, result)
        finally:
            entry.inflight = None
            done.set()

    def _settle(self, entry: _Entry, result: FetchResult) -> None:
        now = self._clock()
        if isinstance(result, Fetched):
            entry.good, entry.good_at, entry.error = result.answer, now, None
            new = result.answer
        else:
            self.errors += 1
            entry.error = result.error
            if entry.good is not None and now - entry.good_at < entry.stale_for:
                new = {**entry.good, "error": result.error, "stale": "true"}
            else:
                new = cross_answer(None)
                new["error"] = result.error
        previous = entry.answer
        entry.answer = new
        entry.version += 1
        entry.expires = now + entry.ttl
        self._schedule(entry)
        # News: a changed answer, or any answer for a reader that stopped waiting.
        news = entry.abandoned or (previous is not None and previous != new)
        entry.abandoned = False
        if news and self.on_change is not None:
            try:
                self.on_change(entry.key)
            except Exception:
                logger.exception("on_change callback failed for %s", entry.key)

    def _evict(self) -> None:
        while len(self._entries) > self.max_entries:
            key, entry = next(iter(self._entries.items()))
            if entry.inflight is not None:  # pragma: no cover - needs max_entries in-flight fetches
                break
            del self._entries[key]

    # ---------------------------------------------------------- the refresher

    def _schedule(self, entry: _Entry) -> None:
        self._seq += 1
        entry.ticket = self._seq
        when = max(entry.expires, self._clock() + MIN_REFRESH_INTERVAL)
        heapq.heappush(self._due, (when, self._seq, entry))
        self._wake.set()

    async def run(self) -> None:
        """Refresh entries as they expire, forever; drop entries idle for ``idle_after``.

        Optional: without it the cache still works, fetching on demand, but
        nobody hears of remote changes until the next read.
        """
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            try:
                await self._refresh_forever(nursery)
            finally:
                self._nursery = None

    async def _refresh_forever(self, nursery: trio.Nursery) -> None:
        while True:
            now = self._clock()
            while self._due and self._due[0][0] <= now:
                _, ticket, entry = heapq.heappop(self._due)
                if entry.ticket != ticket or entry.pinned:
                    continue  # outdated (refreshed or streamed since)
                if self._entries.get(entry.key) is not entry:
                    continue  # dropped
                if now - entry.last_read > self.idle_after:
                    del self._entries[entry.key]
                    continue
                if entry.inflight is None:
                    nursery.start_soon(self._background_refresh, entry)
            self._wake = trio.Event()
            deadline = self._due[0][0] if self._due else math.inf
            with trio.move_on_at(deadline):
                await self._wake.wait()

    async def _background_refresh(self, entry: _Entry) -> None:
        async with self._limiter:
            if entry.inflight is None and self._entries.get(entry.key) is entry:
                await self._refresh(entry)
