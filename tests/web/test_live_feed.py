"""``/ui/live``: a snapshot at once, then only on change, never faster than MAX_RATE."""

from __future__ import annotations

import itertools
import json

import httpx
import trio
from trio_websocket import open_websocket_url
from web_helpers import serve_runtime

from orkestra_trio.runtime.health import BoxHealth
from orkestra_trio.runtime.metrics import BoxMetrics
from orkestra_trio.web.ui_routes import MAX_RATE, METRICS_PERIOD, _push
from orkestra_trio.web.view import BoxSample


class OneBox:
    """A live source with one box and no ONCOP views (the feed still shows the box)."""

    def __init__(self) -> None:
        self.health = BoxHealth("loader", failure_threshold=1)
        self.metrics = BoxMetrics()

    katalog_name = "demo"

    def box_views(self) -> list:
        return []

    def samples(self) -> list[BoxSample]:
        return [
            BoxSample(
                name="loader",
                kind="Loader",
                health=self.health.snapshot(),
                metrics=self.metrics.snapshot(),
                max_workers=2,
                resource_count=0,
                paused=False,
            )
        ]

    def health_versions(self) -> tuple[int, ...]:
        return (self.health.version,)

    async def wait_health_changed(self, seen: tuple[int, ...]) -> None:
        await self.health.wait_changed(seen[0])


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[float, dict]] = []

    async def send_text(self, text: str) -> None:
        self.sent.append((trio.current_time(), json.loads(text)))


async def test_idle_sends_one_snapshot_and_a_health_change_arrives_at_once(autojump_clock):
    source, ws = OneBox(), Recorder()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_push, ws, source)
        await trio.sleep(30)
        assert len(ws.sent) == 1  # nothing changed: nothing more is sent
        assert ws.sent[0][1]["boxes"][0]["state"] == "not started"
        changed_at = trio.current_time()
        source.health.mark_synced()
        await trio.sleep(5)
        nursery.cancel_scope.cancel()
    assert len(ws.sent) == 2
    at, snapshot = ws.sent[1]
    assert snapshot["boxes"][0]["state"] == "pending"
    assert at - changed_at <= 1.0 / MAX_RATE  # woken by the change, not by the metrics period


async def test_a_storm_of_changes_is_rate_limited(autojump_clock):
    source, ws = OneBox(), Recorder()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_push, ws, source)

        async def storm() -> None:
            for _ in range(1000):
                source.health.record_failure("boom")
                source.metrics.queue_adds_total += 1
                await trio.sleep(0.01)

        await storm()
        nursery.cancel_scope.cancel()
    times = [at for at, _ in ws.sent]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(ws.sent) > 10  # it kept up
    assert min(gaps) >= 1.0 / MAX_RATE - 1e-9
    assert ws.sent[-1][1]["boxes"][0]["totalReconciles"] == 0  # metrics, not health counters
    assert METRICS_PERIOD >= 1.0 / MAX_RATE


async def test_with_a_token_everything_but_the_probes_needs_it():
    async with serve_runtime(token="s3cret") as (rt, url), httpx.AsyncClient(base_url=url) as http:
        await rt.wait_ready()
        live = url.replace("http://", "ws://") + "/ui/live"
        # A bare upgrade request (trio-websocket leaks its socket on a rejection).
        upgrade = {
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        }
        refused = await http.get("/ui/live", headers=upgrade)
        assert refused.status_code in (401, 403)
        async with open_websocket_url(live + "?token=s3cret") as ws:
            assert json.loads(await ws.get_message())["katalog"] == "shop"
        auth = {"Authorization": "Bearer s3cret"}
        wrong = {"Authorization": "Bearer guess"}
        for path in ("/katalog", "/katalog/app", "/metrics", "/ui/", "/ui/app.js", "/ui"):
            assert (await http.get(path)).status_code == 401, path
            assert (await http.get(path, headers=wrong)).status_code == 401, path
            assert (await http.get(path, headers=auth)).status_code in (200, 308), path
        for path in ("/healthz", "/readyz", "/health", "/ready", "/startup"):
            assert (await http.get(path)).status_code == 200, path


async def test_the_control_center_logs_in_with_a_cookie():
    async with serve_runtime(token="s3cret") as (rt, url), httpx.AsyncClient(base_url=url) as http:
        await rt.wait_ready()
        login = await http.get("/ui/", params={"token": "s3cret"})
        assert login.status_code == 303 and login.headers["location"] == "/ui/"
        assert "HttpOnly" in login.headers["set-cookie"]
        assert "SameSite=Strict" in login.headers["set-cookie"]
        # httpx keeps the cookie: the page, its assets and ONCOP fetches now pass.
        assert (await http.get("/ui/")).status_code == 200
        assert (await http.get("/ui/app.js")).status_code == 200
        assert (await http.get("/katalog")).status_code == 200
        http.cookies.clear()
        assert (await http.get("/ui/")).status_code == 401
