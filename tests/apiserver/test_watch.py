"""Watch semantics over HTTP: initial state, gap-free resume, 410, bookmarks, timeouts."""

import json
import time

import httpx
import trio
from apiserver_helpers import WatchCollector, read_watch

from orkestra_trio.apiserver import open_apiserver

CM = "/api/v1/namespaces/default/configmaps"


def cm(name, **data):
    return {"metadata": {"name": name}, "data": data}


def summary(events):
    return [(e["type"], e["object"]["metadata"].get("name")) for e in events]


async def test_watch_without_rv_starts_with_current_state(client):
    await client.post(CM, json=cm("a"))
    await client.post(CM, json=cm("b"))
    events = await read_watch(client, CM, {"watch": "true"}, count=2)
    assert summary(events) == [("ADDED", "a"), ("ADDED", "b")]
    events = await read_watch(client, CM, {"watch": "1", "resourceVersion": "0"}, count=2)
    assert summary(events) == [("ADDED", "a"), ("ADDED", "b")]


async def test_watch_from_rv_is_gap_free_and_strictly_after(client):
    a = (await client.post(CM, json=cm("a", v="1"))).json()
    start = a["metadata"]["resourceVersion"]
    await client.post(CM, json=cm("b"))
    await client.patch(
        f"{CM}/a",
        json={"data": {"v": "2"}},
        headers={"content-type": "application/merge-patch+json"},
    )
    await client.delete(f"{CM}/b")
    events = await read_watch(client, CM, {"watch": "true", "resourceVersion": start}, count=3)
    assert summary(events) == [("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")]
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs == sorted(rvs) and rvs[0] > int(start)


async def test_live_events_follow_replayed_ones(client):
    first = (await client.post(CM, json=cm("x"))).json()
    async with trio.open_nursery() as nursery:
        watch = WatchCollector(
            client, CM, {"watch": "true", "resourceVersion": first["metadata"]["resourceVersion"]}
        )
        await nursery.start(watch.run)
        await client.post(CM, json=cm("y"))
        await client.delete(f"{CM}/x")
        await watch.wait_for(lambda ev: len(ev) >= 2)
        assert summary(watch.events) == [("ADDED", "y"), ("DELETED", "x")]
        watch.stop()


async def test_too_old_rv_gives_in_stream_410(server, client):
    old = (await client.post(CM, json=cm("a"))).json()["metadata"]["resourceVersion"]
    await client.post(CM, json=cm("b"))
    server.faults.compact_history()
    events = await read_watch(client, CM, {"watch": "true", "resourceVersion": old}, count=1)
    assert events[0]["type"] == "ERROR"
    status = events[0]["object"]
    assert status["kind"] == "Status" and status["code"] == 410 and status["reason"] == "Expired"
    # The current revision still works.
    now = str(server.store.revision)
    async with trio.open_nursery() as nursery:
        watch = WatchCollector(client, CM, {"watch": "true", "resourceVersion": now})
        await nursery.start(watch.run)
        await client.post(CM, json=cm("c"))
        await watch.wait_for(lambda ev: ev)
        assert summary(watch.events) == [("ADDED", "c")]
        watch.stop()


async def test_bookmarks_carry_the_current_revision(server, client):
    await client.post(CM, json=cm("a"))
    events = await read_watch(
        client,
        CM,
        {
            "watch": "true",
            "allowWatchBookmarks": "true",
            "resourceVersion": str(server.store.revision),
        },
        count=1,
    )
    assert events[0]["type"] == "BOOKMARK"
    obj = events[0]["object"]
    assert obj["kind"] == "ConfigMap" and obj["apiVersion"] == "v1"
    assert obj["metadata"]["resourceVersion"] == str(server.store.revision)


async def test_timeout_seconds_ends_the_stream(client):
    started = time.monotonic()
    async with client.stream("GET", CM, params={"watch": "true", "timeoutSeconds": "1"}) as r:
        body = await r.aread()
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 3
    assert body == b""


async def test_send_initial_events_ends_with_marked_bookmark(client):
    await client.post(CM, json=cm("a"))
    await client.post(CM, json=cm("b"))
    params = {
        "watch": "true",
        "sendInitialEvents": "true",
        "resourceVersionMatch": "NotOlderThan",
        "allowWatchBookmarks": "true",
    }
    events = await read_watch(client, CM, params, count=3)
    assert summary(events)[:2] == [("ADDED", "a"), ("ADDED", "b")]
    assert events[2]["type"] == "BOOKMARK"
    assert events[2]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    # Without bookmarks, or without NotOlderThan, the server refuses (4xx, not a hang).
    r = await client.get(CM, params={**params, "allowWatchBookmarks": "false"})
    assert r.status_code == 422
    r = await client.get(CM, params={"watch": "true", "sendInitialEvents": "true"})
    assert r.status_code == 422


async def test_selector_transitions_are_added_and_deleted(client):
    body = cm("m")
    body["metadata"]["labels"] = {"pick": "no"}
    await client.post(CM, json=body)
    merge = {"content-type": "application/merge-patch+json"}
    async with trio.open_nursery() as nursery:
        watch = WatchCollector(client, CM, {"watch": "true", "labelSelector": "pick=yes"})
        await nursery.start(watch.run)
        await client.patch(f"{CM}/m", json={"metadata": {"labels": {"pick": "yes"}}}, headers=merge)
        await client.patch(f"{CM}/m", json={"data": {"k": "v"}}, headers=merge)
        await client.patch(f"{CM}/m", json={"metadata": {"labels": {"pick": "no"}}}, headers=merge)
        await watch.wait_for(lambda ev: len(ev) >= 3)
        assert summary(watch.events) == [("ADDED", "m"), ("MODIFIED", "m"), ("DELETED", "m")]
        watch.stop()


async def test_watch_one_object_by_field_selector(client):
    await client.post(CM, json=cm("one"))
    await client.post(CM, json=cm("two"))
    events = await read_watch(
        client, CM, {"watch": "true", "fieldSelector": "metadata.name=two"}, count=1
    )
    assert summary(events) == [("ADDED", "two")]


async def test_cut_watches_then_resume_misses_nothing(server, client):
    async with trio.open_nursery() as nursery:
        watch = WatchCollector(
            client, CM, {"watch": "true", "resourceVersion": str(server.store.revision)}
        )
        await nursery.start(watch.run)
        await client.post(CM, json=cm("before"))
        await watch.wait_for(lambda ev: len(ev) == 1)
        assert server.faults.cut_watches() == 1
        await watch.wait_ended()
    last = watch.events[-1]["object"]["metadata"]["resourceVersion"]
    await client.post(CM, json=cm("during"))
    events = await read_watch(client, CM, {"watch": "true", "resourceVersion": last}, count=1)
    assert summary(events) == [("ADDED", "during")]


async def test_stalled_watch_sends_nothing_until_released(server, client):
    async with trio.open_nursery() as nursery:
        watch = WatchCollector(
            client,
            CM,
            {
                "watch": "true",
                "allowWatchBookmarks": "true",
                "resourceVersion": str(server.store.revision),
            },
        )
        await nursery.start(watch.run)
        server.faults.stall_watches(True)
        await client.post(CM, json=cm("held"))
        await trio.sleep(0.5)  # several bookmark intervals: nothing may arrive
        assert watch.events == []
        server.faults.stall_watches(False)
        await watch.wait_for(lambda ev: ("ADDED", "held") in summary(ev))
        watch.stop()


async def test_table_watch_sends_table_rows(client):
    await client.post(CM, json=cm("t"))
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    events = []
    with trio.move_on_after(5) as scope:
        async with client.stream(
            "GET", CM, params={"watch": "true"}, headers={"accept": accept}
        ) as r:
            async for line in r.aiter_lines():
                events.append(json.loads(line))
                scope.cancel()
    assert events[0]["type"] == "ADDED"
    table = events[0]["object"]
    assert table["kind"] == "Table" and table["rows"][0]["cells"][0] == "t"


async def test_server_exit_ends_open_watches_promptly():
    async with trio.open_nursery() as nursery:
        started = time.monotonic()
        async with open_apiserver(workload_simulation=False) as server:
            client = httpx.AsyncClient(base_url=server.url, timeout=10)
            watch = WatchCollector(client, CM, {"watch": "true"})
            await nursery.start(watch.run)
        # The server has exited with the stream open: the client saw a clean end.
        await watch.wait_ended(timeout=2)
        await client.aclose()
    assert time.monotonic() - started < 1.5


async def test_cancelled_watches_release_their_watchers(server, client):
    async def one_watch():
        with trio.move_on_after(0.05):
            async with client.stream("GET", CM, params={"watch": "true"}) as r:
                async for _line in r.aiter_lines():
                    pass

    for _ in range(5):
        async with trio.open_nursery() as nursery:
            for _ in range(40):
                nursery.start_soon(one_watch)
    with trio.fail_after(5):
        while server.store.hub.count():
            await trio.sleep(0.01)
