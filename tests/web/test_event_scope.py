"""Events reach the surface through one scoped, bounded informer per box, not a cluster-wide one.

On a big cluster an informer on every Event costs memory and needs read
access to Events everywhere; each box watches only the Events about its own
kind and keeps a bounded number per CR.
"""

from __future__ import annotations

from typing import Any

import trio
from web_helpers import eventually, serve_runtime

from orkestra_trio.kube import open_kube_client
from orkestra_trio.web.view import MAX_EVENTS_PER_CR, RuntimeView

EVENT = ("v1", "Event")


def event(name: str, kind: str, api_version: str, involved: str, second: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": "default"},
        "involvedObject": {
            "apiVersion": api_version,
            "kind": kind,
            "name": involved,
            "namespace": "default",
        },
        "reason": f"Test{second}",
        "message": name,
        "type": "Normal",
        "count": 1,
        "lastTimestamp": f"2026-01-01T10:00:{second:02d}Z",
    }


async def test_each_box_watches_only_its_kinds_events_and_keeps_a_bounded_number():
    async with serve_runtime() as (rt, _url), open_kube_client(rt.server_url) as kube:
        with trio.fail_after(10):
            await rt.wait_ready()
        view = RuntimeView(rt)
        await view.start()

        event_informers = [i for i in rt.registry.informers if i.info.kind == "Event"]
        selectors = sorted(i.field_selector for i in event_informers)
        assert selectors == [
            "involvedObject.kind=App,involvedObject.apiVersion=demo.example.com/v1",
            "involvedObject.kind=ManagedDatabase,involvedObject.apiVersion=demo.example.com/v1",
        ]
        assert all(not i.cached and len(i) == 0 for i in event_informers)

        # Events about other kinds (a Pod, a same-named kind of another group) stay out.
        await kube.create(event("pod-event", "Pod", "v1", "shop", 0))
        await kube.create(event("other-app", "App", "other.example.com/v1", "shop", 0))
        extra = MAX_EVENTS_PER_CR + 5
        for second in range(1, extra + 1):
            await kube.create(event(f"shop-{second}", "App", "demo.example.com/v1", "shop", second))

        app = view.events["app"]

        async def newest_seen() -> bool:
            return any(e["message"] == f"shop-{extra}" for e in app.of("default", "shop"))

        await eventually(newest_seen, what="the newest App event in the index")
        held = app.of("default", "shop")
        messages = [e["message"] for e in held]
        assert len(held) == MAX_EVENTS_PER_CR
        assert "pod-event" not in messages and "other-app" not in messages
        assert "shop-1" not in messages  # the oldest went first
        assert view.events["managed-database"].of("default", "shop") == []

        # An aggregated repeat (same Event, count bumped) replaces itself.
        repeated = await kube.get(EVENT, f"shop-{extra}", namespace="default")
        repeated["count"] = 2
        await kube.replace(repeated)

        async def bumped() -> bool:
            counts = [
                e["count"] for e in app.of("default", "shop") if e["message"] == f"shop-{extra}"
            ]
            return counts == [2]

        await eventually(bumped, what="the repeat to replace the Event")
        assert len(app.of("default", "shop")) == MAX_EVENTS_PER_CR
