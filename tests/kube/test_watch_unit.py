"""The list+watch loop and the retry loop, against a scripted stand-in server.

Runs in virtual time (autojump clock) through the in-process transport, so
watchdog and backoff timings of minutes cost milliseconds. Behaviour against
the real embedded server over a socket is in test_against_apiserver*.py.
"""

from contextlib import asynccontextmanager

import pytest
import trio
from kube_fakeapi import FakeApi

from orkestra_trio.kube import (
    RetryPolicy,
    ServerError,
    Synced,
    TooManyRequests,
    WatchEvent,
    WatchOptions,
    open_asgi_transport,
    open_kube_client,
)

CM = ("v1", "ConfigMap")


@asynccontextmanager
async def client_for(api, **kw):
    async with (
        open_asgi_transport(api) as transport,
        open_kube_client("http://fake", transport=transport, **kw) as kube,
    ):
        yield kube


async def next_event(events, timeout=1000):
    with trio.fail_after(timeout):
        return await events.next()


async def test_synced_snapshot_then_events_in_order(autojump_clock):
    api = FakeApi()
    api.change("ADDED", "a")
    async with client_for(api) as kube, kube.list_watch(CM) as events:
        first = await next_event(events)
        assert isinstance(first, Synced) and not first.relist
        assert [o["metadata"]["name"] for o in first.items] == ["a"]
        assert first.resource_version == "101"
        api.change("MODIFIED", "a", {"k": "v"})
        api.change("ADDED", "b")
        api.change("DELETED", "a")
        got = [await next_event(events) for _ in range(3)]
        assert [(e.type, e.object["metadata"]["name"]) for e in got] == [
            ("MODIFIED", "a"),
            ("ADDED", "b"),
            ("DELETED", "a"),
        ]
    _, _, query = next(r for r in api.requests if r[2].get("watch"))
    assert query["resourceVersion"] == "101"
    assert query["allowWatchBookmarks"] == "true"
    assert 300 <= int(query["timeoutSeconds"]) <= 600


async def test_resume_after_cut_without_relist_or_duplicates(autojump_clock):
    api = FakeApi()
    async with client_for(api) as kube, kube.list_watch(CM) as events:
        assert isinstance(await next_event(events), Synced)
        api.change("ADDED", "a")
        assert (await next_event(events)).object["metadata"]["name"] == "a"
        for i in range(3):
            api.cut_watches()
            await trio.sleep(1)
            api.change("ADDED", f"after-cut-{i}")
            ev = await next_event(events)
            assert isinstance(ev, WatchEvent) and ev.object["metadata"]["name"] == f"after-cut-{i}"
        assert events.stats.lists == 1
        assert events.stats.resumes >= 3
    resumed = [q["resourceVersion"] for _, _, q in api.requests if q.get("watch")]
    assert resumed[:4] == ["100", "101", "102", "103"]


async def test_bookmarks_advance_the_resume_point_silently(autojump_clock):
    api = FakeApi(bookmark_interval=10)
    async with client_for(api) as kube, kube.list_watch(CM) as events:
        assert isinstance(await next_event(events), Synced)
        api.rv = 500  # changes elsewhere in the server, not in our selection
        await trio.sleep(15)
        assert events.stats.bookmarks >= 1
        api.cut_watches()
        await trio.sleep(1)
        api.change("ADDED", "x")
        assert (await next_event(events)).object["metadata"]["name"] == "x"
    assert [q["resourceVersion"] for _, _, q in api.requests if q.get("watch")][1] == "500"


async def test_relist_on_410_gives_a_new_snapshot(autojump_clock):
    api = FakeApi()
    api.change("ADDED", "a")
    async with client_for(api) as kube, kube.list_watch(CM) as events:
        assert isinstance(await next_event(events), Synced)
        api.stalled = False
        api.change("ADDED", "b")
        assert (await next_event(events)).object["metadata"]["name"] == "b"
        api.compact()
        api.cut_watches()
        again = await next_event(events)
        assert isinstance(again, Synced) and again.relist
        assert sorted(o["metadata"]["name"] for o in again.items) == ["a", "b"]
        assert events.stats.relists == 1 and events.stats.lists == 2


async def test_watchdog_reconnects_a_stalled_stream(autojump_clock):
    api = FakeApi(bookmark_interval=10)
    options = WatchOptions(idle_timeout=60)
    async with client_for(api) as kube, kube.list_watch(CM, options=options) as events:
        assert isinstance(await next_event(events), Synced)
        api.stalled = True
        start = trio.current_time()
        api.change("ADDED", "lost-in-stall")  # the stalled stream never sends it
        api.stalled = False  # new streams work again
        ev = await next_event(events)
        assert ev.object["metadata"]["name"] == "lost-in-stall"
        assert 60 <= trio.current_time() - start < 70
        assert events.stats.stalls == 1
        assert events.stats.lists == 1  # resumed, not relisted


async def test_watch_errors_back_off_and_recover(autojump_clock):
    api = FakeApi()
    async with client_for(api) as kube, kube.list_watch(CM) as events:
        assert isinstance(await next_event(events), Synced)
        api.fail_next(4, 500)
        api.cut_watches()
        await trio.sleep(1)
        api.change("ADDED", "late")
        assert (await next_event(events)).object["metadata"]["name"] == "late"
        assert events.stats.errors >= 1
        assert "injected 500" in events.stats.last_error


async def test_reads_retry_5xx_within_the_bound_then_raise(autojump_clock):
    api = FakeApi()
    policy = RetryPolicy(max_attempts=4, max_elapsed=60, base=0.5, cap=2)
    async with client_for(api, retry=policy) as kube:
        api.fail_next(3, 500)
        assert (await kube.get(CM, "x"))["metadata"]["name"] == "x"
        assert len(api.requests) == 4
        api.requests.clear()
        api.fail_next(10, 503)
        with pytest.raises(ServerError, match=r"get v1 ConfigMap default/x: injected 503"):
            await kube.get(CM, "x")
        assert len(api.requests) == 4


async def test_create_is_not_retried_after_a_5xx(autojump_clock):
    api = FakeApi()
    async with client_for(api) as kube:
        api.fail_next(1, 500)
        with pytest.raises(ServerError, match="create v1 ConfigMap default/new"):
            await kube.create(
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "new"}}
            )
        assert len(api.requests) == 1


async def test_429_retry_after_is_honoured_for_every_verb(autojump_clock):
    api = FakeApi()
    async with client_for(api) as kube:
        api.fail_next(2, 429, retry_after=3)
        start = trio.current_time()
        await kube.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "new"}})
        assert trio.current_time() - start >= 6
        assert len(api.requests) == 3
        # A Retry-After beyond the time budget surfaces at once as the typed error.
        api.fail_next(1, 429, retry_after=120)
        start = trio.current_time()
        with pytest.raises(TooManyRequests) as info:
            await kube.get(CM, "x")
        assert info.value.retry_after == 120
        assert trio.current_time() - start < 1


async def test_leaving_the_block_ends_the_watch_stream(autojump_clock):
    api = FakeApi()
    async with client_for(api) as kube:
        for _ in range(20):
            async with kube.list_watch(CM) as events:
                async for event in events:
                    assert isinstance(event, Synced)
                    break  # breaking out of the channel is safe
            await trio.sleep(0.1)
            assert api.active_watches == 0


async def test_start_from_a_remembered_resource_version(autojump_clock):
    api = FakeApi()
    api.change("ADDED", "old")
    remembered = str(api.rv)
    api.change("ADDED", "new")
    async with client_for(api) as kube, kube.list_watch(CM, resource_version=remembered) as events:
        ev = await next_event(events)
        assert isinstance(ev, WatchEvent) and ev.object["metadata"]["name"] == "new"
        assert events.stats.lists == 0
    api.compact()
    async with client_for(api) as kube, kube.list_watch(CM, resource_version=remembered) as events:
        synced = await next_event(events)
        assert isinstance(synced, Synced)  # too old: listed instead
        assert sorted(o["metadata"]["name"] for o in synced.items) == ["new", "old"]


async def test_streams_that_end_at_once_are_retried_with_backoff_not_in_a_spin(autojump_clock):
    api = FakeApi()
    async with client_for(api) as kube, kube.list_watch(CM) as events:
        assert isinstance(await next_event(events), Synced)
        api.end_streams_at_once = True
        api.cut_watches()
        await trio.sleep(60)
        watches = events.stats.watches
        assert 5 <= watches <= 30  # backoff grows to its 30 s cap, no busy loop
        api.end_streams_at_once = False
        api.change("ADDED", "finally")
        ev = await next_event(events, timeout=60)
        assert ev.object["metadata"]["name"] == "finally"
