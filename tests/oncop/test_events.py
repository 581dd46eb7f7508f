"""Remote changes reach the runtime: polling with change news, and the websocket event stream."""

from __future__ import annotations

import pytest
import trio
from oncop_helpers import FakeBox, FakeView, crd_entries, serving
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from orkestra_trio.katalog.render import build_context
from orkestra_trio.oncop import oncop_app, open_remote_reader
from orkestra_trio.oncop.events import EventMerger, websocket_url

CR = {"metadata": {"name": "shop", "namespace": "team-a"}, "spec": {}}
CONTEXT = build_context(CR)


def kube_event(reason, message, last, count=1):
    return {
        "type": "Normal",
        "reason": reason,
        "message": message,
        "count": count,
        "firstTimestamp": last,
        "lastTimestamp": last,
    }


@pytest.fixture
def loader_box(tmp_path):
    crds = crd_entries(
        tmp_path,
        """
        loader:
          apiTypes: {group: demo.example.com, version: v1, kind: Loader, plural: loaders}
          operatorBox: {}
        """,
    )
    cr = {"metadata": {"name": "first", "namespace": "team-a"}, "status": {"phase": "Ready"}}
    box = FakeBox(crds["loader"], crs=[cr])
    box.events[("team-a", "first")] = [kube_event("Reconciled", "one", "2026-01-01T10:00:00Z")]
    return box


def entry_for(cross_entries, url, type_, cache_for="1s"):
    (entry,) = cross_entries(
        f"""
        - crd: loader
          selector: {{name: first}}
          source: {{host: "{url}", type: {type_}, cacheFor: {cache_for}}}
          as: loader
        """
    )
    return entry


async def until(predicate, seconds=5.0):
    """Wait (bounded) for a condition that another task makes true."""
    with trio.fail_after(seconds):
        while not predicate():
            await trio.sleep(0.01)


async def test_a_polled_change_is_news_for_the_runtime(loader_box, cross_entries):
    changes = []
    async with (
        serving(oncop_app(FakeView(loader_box))) as url,
        open_remote_reader(on_change=changes.append) as reader,
    ):
        entry = entry_for(cross_entries, url, "cr")
        answer, key = await reader.read_with_key(
            entry, name="first", namespace="team-a", context=CONTEXT
        )
        assert answer["status"]["phase"] == "Ready" and key.startswith("cr:loader:team-a:first:")
        loader_box.crs[("team-a", "first")] = {
            "metadata": {"name": "first", "namespace": "team-a"},
            "status": {"phase": "Failed"},
        }
        await until(lambda: changes == [key])
        again = await reader.read(entry, name="first", namespace="team-a", context=CONTEXT)
        assert again["status"]["phase"] == "Failed"


async def test_the_event_stream_keeps_the_answer_current_without_polling(loader_box, cross_entries):
    changes = []
    async with (
        serving(oncop_app(FakeView(loader_box))) as url,
        open_remote_reader(on_change=changes.append) as reader,
    ):
        entry = entry_for(cross_entries, url, "events", cache_for="60s")
        answer, key = await reader.read_with_key(
            entry, name="first", namespace="team-a", context=CONTEXT
        )
        assert [e["message"] for e in answer["events"]] == ["one"]
        await until(lambda: reader.cache.is_pinned(key))
        loader_box.add_event("team-a", "first", kube_event("Scaled", "two", "2026-01-01T11:00:00Z"))
        await until(lambda: changes == [key])
        current = await reader.read(entry, name="first", namespace="team-a", context=CONTEXT)
        assert [e["message"] for e in current["events"]] == ["two", "one"]
        assert reader.cache.fetches == 1  # one poll at first read, then only the stream


async def test_events_fall_back_to_polling_when_the_remote_cannot_stream(cross_entries):
    polls = []

    async def events(request):
        polls.append(request.url.path)
        return JSONResponse({"events": []})

    app = Starlette(routes=[Route("/katalog/loader/cr/{ns}/{name}/events", events)])
    async with serving(app) as url, open_remote_reader() as reader:
        entry = entry_for(cross_entries, url, "events", cache_for="1s")
        answer, key = await reader.read_with_key(
            entry, name="first", namespace="team-a", context=CONTEXT
        )
        assert answer["found"] == "true" and answer["events"] == []
        await until(lambda: len(polls) >= 2)
        assert not reader.cache.is_pinned(key)
        assert key in reader.streams  # still there, waiting to try the upgrade again later


def test_the_merger_replaces_repeats_and_keeps_newest_first():
    merger = EventMerger(limit=3)
    assert merger.apply({"type": "snapshot", "events": [{"reason": "A", "message": "a"}]})
    assert merger.apply({"type": "event", "event": {"reason": "B", "message": "b"}})
    assert merger.apply({"type": "event", "event": {"reason": "A", "message": "a", "count": 2}})
    assert [(e["reason"], e.get("count")) for e in merger.entries] == [("A", 2), ("B", None)]
    assert not merger.apply({"type": "nonsense"})
    for n in range(5):
        merger.apply({"type": "event", "event": {"reason": "N", "message": str(n)}})
    assert len(merger.entries) == 3


def test_websocket_urls():
    assert websocket_url("http://h:1/x") == "ws://h:1/x"
    assert websocket_url("https://h/x?y") == "wss://h/x?y"
    with pytest.raises(ValueError):
        websocket_url("ftp://h/")


async def test_a_dropped_stream_falls_back_to_polling(loader_box, cross_entries):
    async with open_remote_reader() as reader:
        async with serving(oncop_app(FakeView(loader_box))) as url:
            entry = entry_for(cross_entries, url, "events", cache_for="1s")
            _, key = await reader.read_with_key(
                entry, name="first", namespace="team-a", context=CONTEXT
            )
            await until(lambda: reader.cache.is_pinned(key))
        # The remote runtime stopped: the stream ends and polling takes over.
        await until(lambda: not reader.cache.is_pinned(key))
        await until(lambda: reader.cache.last_error(key) is not None)
        stale = await reader.read(entry, name="first", namespace="team-a", context=CONTEXT)
        assert stale["stale"] == "true" and [e["message"] for e in stale["events"]] == ["one"]
