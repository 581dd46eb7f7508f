"""The client side of ONCOP as the runtime sees it: one object that answers remote ``cross:`` reads.

:class:`RemoteReader` satisfies the registry's ``RemoteCrossReader`` seam
(``await read(entry, name=..., namespace=..., context=...)``) and ties the
other modules together: :mod:`.urls` says where, :mod:`.cache` says whether
to ask, :mod:`.client` asks, :mod:`.events` streams ``type: events``. Every
failure becomes an answer (``found: "false"`` with ``error``), never an
exception, so the observing box stays healthy.

The runtime learns of remote changes through ``on_change(key)``, where
``key`` is the one :meth:`RemoteReader.read_with_key` returned for the read:
remember which CRs read which key, and enqueue them when it changes.
"""

from __future__ import annotations

import functools
import os
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx
import trio

from orkestra_trio._httpbody import body_without_generator
from orkestra_trio.katalog.model import CrossEntry, CrossSource, ExternalCall, RemoteReconciler
from orkestra_trio.katalog.render import cross_answer

from .cache import Failed, Fetched, FetchResult, RemoteCache
from .calls import PreparedCall, prepare_call, prepare_remote_reconcile, send_call
from .client import DEFAULT_TIMEOUT, MAX_BODY, SecretLookup, TokenError, bearer_token, fetch
from .events import follow_events
from .urls import RemoteTarget, TargetError, endpoint_target, oncop_target, resolve

JSON = dict[str, Any]


class RemoteReader:
    """Remote ``cross:`` reads through one shared cache and one HTTP client.

    ``run`` (optional, in the runtime's nursery) refreshes cached answers as
    they expire, which is what turns remote changes into ``on_change`` calls,
    and runs the event streams.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        on_change: Callable[[str], None] | None = None,
        cache: RemoteCache | None = None,
        time_limit: float = DEFAULT_TIMEOUT,
        max_bytes: int = MAX_BODY,
        environ: Mapping[str, str] | None = None,
        stream_events: bool = True,
    ) -> None:
        self.http = http
        self.on_change = on_change
        self.cache = cache if cache is not None else RemoteCache()
        self.cache.on_change = self._changed
        self.time_limit = time_limit
        self.max_bytes = max_bytes
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        #: Reads ``auth.secretRef`` tokens; the runtime sets it (its Secret informers).
        self.secrets: SecretLookup | None = None
        self.stream_events = stream_events
        self._nursery: trio.Nursery | None = None
        self._streams: set[str] = set()

    # -------------------------------------------------------------- reading

    async def read(
        self, entry: CrossEntry, *, name: str, namespace: str, context: Mapping[str, Any]
    ) -> JSON:
        """The ``.cross.<as>`` answer for one remote entry of one CR."""
        answer, _ = await self.read_with_key(entry, name=name, namespace=namespace, context=context)
        return answer

    async def read_with_key(
        self, entry: CrossEntry, *, name: str, namespace: str, context: Mapping[str, Any]
    ) -> tuple[JSON, str | None]:
        """The answer and its cache key (None when no URL could be built: nothing to watch)."""
        return await self.read_announced(
            entry, name=name, namespace=namespace, context=context, announce=None
        )

    async def read_announced(
        self,
        entry: CrossEntry,
        *,
        name: str,
        namespace: str,
        context: Mapping[str, Any],
        announce: Callable[[str], None] | None,
    ) -> tuple[JSON, str | None]:
        """:meth:`read_with_key`, calling ``announce(key)`` before it waits for the answer.

        The runtime records the reader of ``key`` there, so that a reconcile
        cancelled while waiting is re-enqueued when the answer lands.
        """
        if entry.source is None:
            raise ValueError(f"cross entry {entry.as_!r} has no source: read it in-process")
        return await self.read_source(
            entry.crd,
            entry.source,
            name=name,
            namespace=namespace,
            context=context,
            announce=announce,
        )

    async def read_source(
        self,
        crd: str,
        source: CrossSource,
        *,
        name: str = "",
        namespace: str = "",
        context: Mapping[str, Any],
        announce: Callable[[str], None] | None = None,
    ) -> tuple[JSON, str | None]:
        """Like :meth:`read_with_key` for a bare ``source:`` (an autoscale condition's).

        ``namespace`` "" means the observing CR's own namespace (from ``context``).
        """
        try:
            target = self._target(crd, source, name=name, namespace=namespace, context=context)
        except TargetError as error:
            answer = cross_answer(None)
            answer["error"] = str(error)
            return answer, None
        if announce is not None:
            announce(target.key)
        fetch_once = functools.partial(self._fetch, target, source)
        answer = await self.cache.get(
            target.key, fetch_once, ttl=source.cache_for, stale_for=source.stale_for
        )
        if target.type == "events" and not target.raw:
            self._follow(target, source)
        return answer, target.key

    @staticmethod
    def _target(
        crd: str, source: CrossSource, *, name: str, namespace: str, context: Mapping[str, Any]
    ) -> RemoteTarget:
        if not namespace:
            metadata = context.get("metadata")
            if isinstance(metadata, Mapping):
                namespace = str(metadata.get("namespace") or "")
        if source.host is not None:
            return oncop_target(crd, source, name=name, namespace=namespace)
        return endpoint_target(crd, source, context, name=name, namespace=namespace)

    def target(
        self, entry: CrossEntry, *, name: str, namespace: str, context: Mapping[str, Any]
    ) -> RemoteTarget:
        """Where ``entry`` reads from for this CR (raises :class:`TargetError`)."""
        return resolve(entry, name=name, namespace=namespace, context=context)

    async def _fetch(self, target: RemoteTarget, source: CrossSource) -> FetchResult:
        try:
            token = bearer_token(source, self.environ, self.secrets)
        except TokenError as error:
            return Failed(str(error))
        return await fetch(
            self.http, target, token=token, time_limit=self.time_limit, max_bytes=self.max_bytes
        )

    # ------------------------------------------------------- external calls

    def prepare_call(
        self, call: ExternalCall, context: Mapping[str, Any], *, time_limit: float
    ) -> PreparedCall | str:
        """``call`` rendered for one CR, or why it cannot be (an answer's ``error``)."""
        try:
            return prepare_call(call, context, time_limit=time_limit)
        except TargetError as error:
            return str(error)

    def prepare_remote_reconcile(
        self,
        remote: RemoteReconciler,
        cr: Mapping[str, Any],
        prepared_cr: Mapping[str, Any],
        context: Mapping[str, Any],
        *,
        time_limit: float,
    ) -> PreparedCall | str:
        """A remote reconciler's POST for one CR, or why it cannot be made."""
        try:
            return prepare_remote_reconcile(remote, cr, prepared_cr, context, time_limit=time_limit)
        except TargetError as error:
            return str(error)

    async def send_call(
        self, prepared: PreparedCall, *, announce: Callable[[str], None] | None = None
    ) -> tuple[JSON, str | None]:
        """The answer of an external call, and the cache key it is kept under (GET only).

        A GET goes through the cache like a cross read (reused for
        ``cacheFor``, refreshed in the background, a change announced through
        ``on_change``); any other method is sent now, uncached: whether to send
        it at all is the runtime's decision (it has side effects).
        """
        send = functools.partial(
            send_call, self.http, prepared, environ=self.environ, max_bytes=self.max_bytes
        )
        if prepared.method != "GET":
            return await send(), None
        if announce is not None:
            announce(prepared.key)

        async def fetch_once() -> FetchResult:
            return Fetched(await send())

        answer = await self.cache.get(
            prepared.key, fetch_once, ttl=prepared.cache_for, stale_for=0.0
        )
        return answer, prepared.key

    def _changed(self, key: str) -> None:
        if self.on_change is not None:
            self.on_change(key)

    # ------------------------------------------------------------ background

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Refresh the cache and run event streams until cancelled."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            try:
                nursery.start_soon(self.cache.run)
                task_status.started()
                await trio.sleep_forever()
            finally:
                self._nursery = None

    def _follow(self, target: RemoteTarget, source: CrossSource) -> None:
        if not self.stream_events or self._nursery is None or target.key in self._streams:
            return
        self._streams.add(target.key)

        def token() -> str | None:
            return bearer_token(source, self.environ, self.secrets)

        async def stream() -> None:
            try:
                await follow_events(
                    target,
                    self.cache,
                    token=token,
                    connect_timeout=self.time_limit,
                    max_message=self.max_bytes,
                )
            finally:
                self._streams.discard(target.key)

        self._nursery.start_soon(stream, name=f"oncop events {target.url}")

    @property
    def streams(self) -> frozenset[str]:
        """Keys currently followed by an event stream (connected or retrying)."""
        return frozenset(self._streams)


def http_client(*, time_limit: float = DEFAULT_TIMEOUT) -> httpx.AsyncClient:
    """The HTTP client remote reads use: no redirects, a modest connection pool."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(time_limit),
        follow_redirects=False,
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
        trust_env=False,
        event_hooks={"request": [body_without_generator]},
    )


@asynccontextmanager
async def open_remote_reader(
    *,
    on_change: Callable[[str], None] | None = None,
    time_limit: float = DEFAULT_TIMEOUT,
    stream_events: bool = True,
) -> AsyncIterator[RemoteReader]:
    """A running :class:`RemoteReader` (refresher and streams included), closed on exit."""
    async with http_client(time_limit=time_limit) as http, trio.open_nursery() as nursery:
        reader = RemoteReader(
            http, on_change=on_change, time_limit=time_limit, stream_events=stream_events
        )
        await nursery.start(reader.run)
        try:
            yield reader
        finally:
            nursery.cancel_scope.cancel()
