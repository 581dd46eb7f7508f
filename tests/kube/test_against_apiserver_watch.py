"""list+watch, retries and the watchdog against the real embedded server over a socket.

The server runs in this test's Trio loop, so the autojump clock is safe here
(ARCHITECTURE.md: never with a server in another process).
"""

import subprocess
import sys
import textwrap

import pytest
import trio

from orkestra_trio.apiserver import open_apiserver
from orkestra_trio.kube import (
    NotFound,
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


@pytest.fixture
async def server():
    async with open_apiserver(
        host="127.0.0.1", port=0, workload_simulation=False, bookmark_interval=5.0
    ) as srv:
        yield srv


def configmap(name, **data):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


async def cut(server):
    """Cut the client's watch stream once it is open (it opens right after the list)."""
    with trio.fail_after(30):
        while server.faults.cut_watches() == 0:
            await trio.sleep(0.01)


async def expect_event(events, timeout=30):
    with trio.fail_after(timeout):
        return await events.next()


async def test_watch_resumes_after_the_server_cuts_streams(server, autojump_clock):
    async with open_kube_client(server.url) as kube:
        await kube.create(configmap("before"))
        async with kube.list_watch(CM) as events:
            synced = await expect_event(events)
            assert isinstance(synced, Synced) and not synced.relist
            assert [o["metadata"]["name"] for o in synced.items] == ["before"]
            for i in range(3):
                await cut(server)
                await kube.create(configmap(f"after-cut-{i}"))
                ev = await expect_event(events)
                assert isinstance(ev, WatchEvent) and ev.type == "ADDED"
                assert ev.object["metadata"]["name"] == f"after-cut-{i}"
            await kube.merge_patch(CM, "before", {"data": {"k": "v"}})
            await kube.delete(CM, "before")
            got = [await expect_event(events) for _ in range(2)]
            assert [(e.type, e.object["metadata"]["name"]) for e in got] == [
                ("MODIFIED", "before"),
                ("DELETED", "before"),
            ]
            assert events.stats.lists == 1  # every cut was resumed, never relisted
            assert events.stats.resumes >= 3


async def test_relist_after_forced_410(server, autojump_clock):
    async with open_kube_client(server.url) as kube, kube.list_watch(CM) as events:
        assert isinstance(await expect_event(events), Synced)
        await kube.create(configmap("one"))
        assert (await expect_event(events)).object["metadata"]["name"] == "one"
        # Hold the client's reconnect back while the server moves on and
        # forgets its history: the resume point is then too old (410).
        server.faults.add_latency(5, verb="watch")
        await cut(server)
        await kube.create(configmap("two"))
        server.faults.compact_history()
        server.faults.clear()
        relisted = await expect_event(events)
        assert isinstance(relisted, Synced) and relisted.relist
        assert sorted(o["metadata"]["name"] for o in relisted.items) == ["one", "two"]
        assert events.stats.relists == 1
        await kube.create(configmap("three"))
        assert (await expect_event(events)).object["metadata"]["name"] == "three"


async def test_stalled_stream_is_detected_and_reconnected(server, autojump_clock):
    options = WatchOptions(idle_timeout=20)
    async with open_kube_client(server.url) as kube, kube.list_watch(CM, options=options) as events:
        assert isinstance(await expect_event(events), Synced)
        await trio.sleep(1)
        server.faults.stall_watches(True)
        await kube.create(configmap("during-stall"))
        started = trio.current_time()
        # Nothing arrives on the stalled stream; the watchdog must give up on it.
        while events.stats.stalls == 0:
            await trio.sleep(1)
            assert trio.current_time() - started < 60
        assert trio.current_time() - started >= 20
        server.faults.stall_watches(False)
        ev = await expect_event(events, timeout=120)
        assert ev.object["metadata"]["name"] == "during-stall"
        assert events.stats.lists == 1  # resumed from its resourceVersion


async def test_429_retry_after_is_honoured(server, autojump_clock):
    async with open_kube_client(server.url) as kube:
        await kube.create(configmap("x"))
        server.faults.fail_next(2, verb="get", resource="configmaps", status=429, retry_after=4)
        started = trio.current_time()
        assert (await kube.get(CM, "x"))["metadata"]["name"] == "x"
        assert trio.current_time() - started >= 8
        assert server.faults.request_count("get", "configmaps") == 3
        # Even a create is repeated after a 429: the server refused it unprocessed.
        server.faults.fail_next(1, verb="create", resource="configmaps", status=429, retry_after=1)
        await kube.create(configmap("y"))
        assert (await kube.get(CM, "y"))["metadata"]["name"] == "y"
        # Beyond the time budget the typed error surfaces at once.
        server.faults.fail_next(1, verb="get", resource="configmaps", status=429, retry_after=3600)
        started = trio.current_time()
        with pytest.raises(TooManyRequests) as info:
            await kube.get(CM, "x")
        assert info.value.retry_after == 3600
        assert trio.current_time() - started < 1


async def test_500s_are_retried_within_the_bound_then_raise(server, autojump_clock):
    policy = RetryPolicy(max_attempts=4, max_elapsed=30)
    async with open_kube_client(server.url, retry=policy) as kube:
        await kube.create(configmap("x"))
        server.faults.fail_next(3, verb="get", resource="configmaps", status=500)
        assert (await kube.get(CM, "x"))["metadata"]["name"] == "x"
        assert server.faults.request_count("get", "configmaps") == 4
        server.faults.fail_next(100, verb="get", resource="configmaps", status=500)
        with pytest.raises(ServerError, match=r"get v1 ConfigMap default/x: .*\(500"):
            await kube.get(CM, "x")
        assert server.faults.request_count("get", "configmaps") == 8
        server.faults.clear()
        # A create that reached the server and failed is never repeated.
        server.faults.fail_next(1, verb="create", resource="configmaps", status=500)
        before = server.faults.request_count("create", "configmaps")
        with pytest.raises(ServerError, match="create v1 ConfigMap default/z"):
            await kube.create(configmap("z"))
        assert server.faults.request_count("create", "configmaps") == before + 1


async def test_watch_survives_failing_watch_requests(server, autojump_clock):
    async with open_kube_client(server.url) as kube, kube.list_watch(CM) as events:
        assert isinstance(await expect_event(events), Synced)
        server.faults.fail_next(3, verb="watch", status=503)
        server.faults.cut_watches()
        await trio.sleep(0.1)
        await kube.create(configmap("later"))
        assert (await expect_event(events, timeout=120)).object["metadata"]["name"] == "later"
        assert events.stats.errors == 3


STRESS = textwrap.dedent(
    """\
    import gc, trio
    from orkestra_trio.apiserver import open_apiserver
    from orkestra_trio.kube import open_kube_client, Synced, WatchOptions

    CM = ("v1", "ConfigMap")

    async def main():
        async with open_apiserver(port=0, workload_simulation=False) as server:
            async with open_kube_client(server.url) as kube:
                await kube.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}})

                async def churn():
                    # Keep events flowing so that watches are left mid-stream,
                    # with the reader blocked on handing an event over.
                    i = 0
                    while True:
                        i += 1
                        await kube.merge_patch(CM, "a", {"data": {"i": str(i)}})
                        await trio.sleep(0)

                left_mid_stream = 0
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(churn)
                    for i in range(500):
                        # buffer=0: the reader blocks in the hand-off, never ahead.
                        options = WatchOptions(buffer=0)
                        # Only a guard against a hang: every round must end by
                        # its break (counted below), even on a loaded machine.
                        with trio.move_on_after(10):
                            async with kube.list_watch(CM, options=options) as events:
                                async for ev in events:
                                    if not isinstance(ev, Synced):
                                        # Let the next event arrive and wait in the hand-off.
                                        await trio.sleep(0.001)
                                        left_mid_stream += 1
                                        break
                        if i % 100 == 0:
                            gc.collect()
                    nursery.cancel_scope.cancel()
                gc.collect()
                print("left mid-stream", left_mid_stream, flush=True)
            gc.collect()

    trio.run(main)
    gc.collect()
    print("done", flush=True)
    """
)


@pytest.mark.slow
def test_no_resource_warning_across_500_cancelled_watches(tmp_path):
    script = tmp_path / "stress.py"
    script.write_text(STRESS)
    proc = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error::ResourceWarning", str(script)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "done" in proc.stdout
    assert "left mid-stream 500" in proc.stdout, proc.stdout
    assert "ResourceWarning" not in proc.stderr, proc.stderr[-3000:]
    assert "Exception ignored" not in proc.stderr, proc.stderr[-3000:]


async def test_in_process_transport_streams_watches(server, autojump_clock):
    async with (
        open_asgi_transport(server.app) as transport,
        open_kube_client(server.url, transport=transport) as kube,
    ):
        await kube.create(configmap("a"))
        assert (await kube.get(CM, "a"))["metadata"]["name"] == "a"
        async with kube.list_watch(CM) as events:
            assert isinstance(await expect_event(events), Synced)
            await kube.create(configmap("b"))
            assert (await expect_event(events)).object["metadata"]["name"] == "b"
            await cut(server)
            await kube.merge_patch(CM, "b", {"data": {"x": "1"}})
            ev = await expect_event(events)
            assert ev.type == "MODIFIED" and ev.object["data"] == {"x": "1"}
            assert events.stats.lists == 1
        with pytest.raises(NotFound, match="get v1 ConfigMap default/nope"):
            await kube.get(CM, "nope")
