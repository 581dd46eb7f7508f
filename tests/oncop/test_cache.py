"""The remote cache on Trio's virtual clock: TTL, single flight, staleness, change news."""

from __future__ import annotations

import trio
import trio.testing

from orkestra_trio.oncop.cache import Failed, Fetched, RemoteCache


class Remote:
    """A scripted remote: ``results`` are returned in turn, each fetch counted."""

    def __init__(self, *results, delay: float = 0.0) -> None:
        self.results = list(results)
        self.delay = delay
        self.calls = 0

    async def __call__(self):
        self.calls += 1
        await trio.sleep(self.delay)
        result = self.results[0] if len(self.results) == 1 else self.results.pop(0)
        return result


def good(phase: str) -> Fetched:
    return Fetched({"found": "true", "status": {"phase": phase}})


async def test_hit_until_ttl_then_miss(autojump_clock):
    cache = RemoteCache()
    remote = Remote(good("A"), good("B"))
    first = await cache.get("k", remote, ttl=10, stale_for=20)
    await trio.sleep(9.9)
    assert await cache.get("k", remote, ttl=10, stale_for=20) is first
    assert remote.calls == 1 and cache.hits == 1
    await trio.sleep(0.2)
    second = await cache.get("k", remote, ttl=10, stale_for=20)
    assert second["status"]["phase"] == "B"
    assert remote.calls == 2


async def test_single_flight_many_readers_one_fetch(autojump_clock):
    cache = RemoteCache()
    remote = Remote(good("A"), delay=1.0)
    answers = []

    async def reconcile():
        answers.append(await cache.get("k", remote, ttl=10, stale_for=20))

    async with trio.open_nursery() as nursery:
        for _ in range(50):
            nursery.start_soon(reconcile)
    assert remote.calls == 1
    assert len(answers) == 50 and all(a is answers[0] for a in answers)


async def test_a_cancelled_fetcher_hands_over_to_a_waiter(autojump_clock):
    cache = RemoteCache()
    remote = Remote(good("A"), delay=1.0)
    answers = []
    doomed = trio.CancelScope()

    async def first():
        with doomed:
            await cache.get("k", remote, ttl=10, stale_for=20)

    async def second():
        answers.append(await cache.get("k", remote, ttl=10, stale_for=20))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(first)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(second)
        await trio.testing.wait_all_tasks_blocked()
        doomed.cancel()
    assert answers[0]["status"]["phase"] == "A"
    assert remote.calls == 2


async def test_errors_serve_last_good_while_young_then_not_found(autojump_clock):
    changes = []
    cache = RemoteCache(on_change=changes.append)
    remote = Remote(good("Ready"), Failed("connection refused"))
    assert (await cache.get("k", remote, ttl=10, stale_for=25))["status"]["phase"] == "Ready"
    await trio.sleep(11)  # expired; the fetch fails; the good value is 11 s old
    stale = await cache.get("k", remote, ttl=10, stale_for=25)
    assert stale["found"] == "true" and stale["status"]["phase"] == "Ready"
    assert stale["error"] == "connection refused" and stale["stale"] == "true"
    await trio.sleep(11)  # 22 s old: still young enough
    assert (await cache.get("k", remote, ttl=10, stale_for=25))["status"]["phase"] == "Ready"
    await trio.sleep(11)  # 33 s old: too old
    lost = await cache.get("k", remote, ttl=10, stale_for=25)
    assert lost["found"] == "false" and lost["status"] == {} and lost["spec"] == {}
    assert lost["error"] == "connection refused"
    assert cache.last_error("k") == "connection refused"
    # Each distinct answer was news once: good -> stale -> lost.
    assert changes == ["k", "k"]
    assert cache.errors == 3


async def test_a_failure_without_a_good_value_is_not_found_with_error(autojump_clock):
    cache = RemoteCache()
    answer = await cache.get("k", Remote(Failed("boom")), ttl=5, stale_for=10)
    assert answer["found"] == "false" and answer["error"] == "boom"


async def test_the_refresher_notices_remote_changes(autojump_clock):
    changes = []
    cache = RemoteCache(on_change=changes.append)
    remote = Remote(good("Pending"), good("Pending"), good("Ready"))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(cache.run)
        await cache.get("k", remote, ttl=10, stale_for=20)
        await trio.sleep(10.5)  # refreshed once, unchanged: no news
        assert remote.calls == 2 and changes == []
        await trio.sleep(10)  # refreshed again: Ready
        assert changes == ["k"]
        assert cache.peek("k")["status"]["phase"] == "Ready"
        nursery.cancel_scope.cancel()


async def test_idle_entries_are_dropped_not_refreshed(autojump_clock):
    cache = RemoteCache(idle_after=30)
    remote = Remote(good("A"))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(cache.run)
        await cache.get("k", remote, ttl=10, stale_for=20)
        await trio.sleep(45)
        assert "k" not in cache
        calls = remote.calls
        await trio.sleep(60)
        assert remote.calls == calls <= 4
        nursery.cancel_scope.cancel()


async def test_pinned_entries_are_not_polled_and_take_pushed_answers(autojump_clock):
    changes = []
    cache = RemoteCache(on_change=changes.append)
    remote = Remote(good("A"))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(cache.run)
        await cache.get("k", remote, ttl=1, stale_for=2)
        assert cache.pin("k")
        await trio.sleep(30)
        assert remote.calls == 1
        cache.put("k", {"found": "true", "status": {"phase": "B"}})
        assert changes == ["k"]
        assert (await cache.get("k", remote, ttl=1, stale_for=2))["status"]["phase"] == "B"
        cache.unpin("k")
        await trio.sleep(2)
        assert remote.calls >= 2
        nursery.cancel_scope.cancel()


async def test_least_recently_read_entries_are_evicted(autojump_clock):
    cache = RemoteCache(max_entries=2)
    for key in ("a", "b", "c"):
        await cache.get(key, Remote(good(key)), ttl=10, stale_for=20)
    assert "a" not in cache and "b" in cache and "c" in cache


async def test_a_fetch_outlives_the_reader_that_gave_up_and_brings_it_back(autojump_clock):
    # The remote answers in 3 s, the reconcile may wait 1 s: the fetch belongs
    # to the cache, so it lands anyway, and the reader hears of it.
    changes = []
    cache = RemoteCache(on_change=changes.append)
    remote = Remote(good("Ready"), delay=3.0)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(cache.run)
        await trio.testing.wait_all_tasks_blocked()
        start = trio.current_time()
        with trio.move_on_after(1.0):
            await cache.get("k", remote, ttl=10, stale_for=20)
            raise AssertionError("answered before the remote did")
        assert changes == []
        await trio.sleep(2.5)
        assert trio.current_time() - start == 3.5
        assert changes == ["k"]  # the answer arrived at 3 s: the gave-up reader is told
        answer = await cache.get("k", remote, ttl=10, stale_for=20)
        assert answer["status"]["phase"] == "Ready"
        assert remote.calls == 1 and cache.hits == 1
        nursery.cancel_scope.cancel()


async def test_an_expired_answer_is_served_while_it_is_refreshed(autojump_clock):
    changes = []
    cache = RemoteCache(on_change=changes.append)
    remote = Remote(good("A"), good("B"), delay=3.0)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(cache.run)
        await trio.testing.wait_all_tasks_blocked()
        await cache.get("k", remote, ttl=1, stale_for=20)  # 3 s: the first answer
        # The refresher starts the next fetch as it expires; readers meanwhile get A at once.
        await trio.sleep(1.5)
        start = trio.current_time()
        assert (await cache.get("k", remote, ttl=1, stale_for=20))["status"]["phase"] == "A"
        assert trio.current_time() == start
        await trio.sleep(3)
        assert changes == ["k"] and cache.peek("k")["status"]["phase"] == "B"
        nursery.cancel_scope.cancel()
