"""The runtime's HTTP surface over a real runtime: probes, /metrics, ONCOP, the UI's assets and feed."""

from __future__ import annotations

import json

import httpx
from prometheus_client.parser import text_string_to_metric_families
from trio_websocket import open_websocket_url
from web_helpers import break_the_app, eventually, serve_runtime

from orkestra_trio.runtime.health import HealthState

CONTROLLER_RUNTIME = {
    "controller_runtime_reconcile": "counter",
    "controller_runtime_reconcile_errors": "counter",
    "controller_runtime_reconcile_time_seconds": "histogram",
    "controller_runtime_active_workers": "gauge",
    "controller_runtime_max_concurrent_reconciles": "gauge",
}
WORKQUEUE = {
    "workqueue_depth": "gauge",
    "workqueue_adds": "counter",
    "workqueue_queue_duration_seconds": "histogram",
    "workqueue_work_duration_seconds": "histogram",
    "workqueue_retries": "counter",
    "workqueue_longest_running_processor_seconds": "gauge",
}
OURS = {
    "orkestra_box_health_state": "gauge",
    "orkestra_box_restarts": "counter",
    "orkestra_cross_reads": "counter",
    "orkestra_oncop_cache_hits": "counter",
}


def parse(text: str) -> dict[str, object]:
    return {family.name: family for family in text_string_to_metric_families(text)}


async def test_probes_metrics_oncop_and_ui_on_one_port():
    async with serve_runtime() as (rt, url), httpx.AsyncClient(base_url=url) as http:
        await rt.wait_ready()
        await rt.wait_idle()

        health = await http.get("/health")
        assert health.status_code == 200
        assert health.json()["status"] == "alive"
        everyone = [name for names in health.json()["boxes"].values() for name in names]
        assert sorted(everyone) == ["app", "managed-database"]

        ready = await http.get("/ready")
        assert ready.status_code == 200, ready.text
        body = ready.json()
        assert body["ready"] is True and body["stopping"] is False
        assert set(body["boxes"]) == {state.value for state in HealthState}
        assert sorted(body["boxes"]["healthy"] + body["boxes"]["pending"]) == [
            "app",
            "managed-database",
        ]
        startup = await http.get("/startup")
        assert startup.status_code == 200 and startup.json()["started"] is True

        metrics = await http.get("/metrics")
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain")
        families = parse(metrics.text)
        for name, kind in {**CONTROLLER_RUNTIME, **WORKQUEUE, **OURS}.items():
            assert name in families, f"{name} missing from /metrics"
            assert families[name].type == kind, name

        def samples(name: str, suffix: str = "") -> list:
            return [s for s in families[name].samples if s.name == name + suffix]

        reconciles = {
            (s.labels["controller"], s.labels["result"]): s.value
            for s in samples("controller_runtime_reconcile", "_total")
        }
        assert reconciles[("app", "success")] >= 1
        assert reconciles[("managed-database", "success")] >= 1
        assert {s.labels["name"] for s in samples("workqueue_depth")} == {"app", "managed-database"}
        max_workers = {
            s.labels["controller"]: s.value
            for s in samples("controller_runtime_max_concurrent_reconciles")
        }
        assert max_workers == {"app": 2.0, "managed-database": 2.0}
        buckets = [
            s
            for s in samples("controller_runtime_reconcile_time_seconds", "_bucket")
            if s.labels["controller"] == "app"
        ]
        assert buckets[-1].labels["le"] == "+Inf"
        assert buckets[-1].value == reconciles_total(reconciles, "app")
        state = {
            (s.labels["box"], s.labels["state"]): s.value
            for s in samples("orkestra_box_health_state")
        }
        assert sum(v for (box, _), v in state.items() if box == "app") == 1.0
        assert state[("app", rt.box("app").health.state.value)] == 1.0

        cross = {
            (s.labels["box"], s.labels["source"], s.labels["result"]): s.value
            for s in samples("orkestra_cross_reads", "_total")
        }
        assert cross[("app", "same-process", "found")] >= 1
        assert {box for box, _, _ in cross} == {"app"}  # the database observes nothing

        katalog = (await http.get("/katalog")).json()
        assert katalog["name"] == "shop"
        # Orkestra's descriptive metadata, as the Katalog wrote it.
        assert (katalog["version"], katalog["author"]) == ("0.3.0", "platform team")
        assert katalog["katalogs"][0]["description"].startswith("an App that waits")
        assert [crd["name"] for crd in katalog["crds"]] == ["managed-database", "app"]
        detail = (await http.get("/katalog/app/cr/default/shop")).json()
        assert detail["found"] == "true" and "Service" in detail["children"]

        async def app_events():
            answer = await http.get("/katalog/app/cr/default/shop/events")
            return [e["reason"] for e in answer.json()["events"]]

        assert "AppReconciled" in await eventually(app_events, what="the App's Events")

        index = await http.get("/ui/")
        assert index.status_code == 200 and "Control Center" in index.text
        assert (await http.get("/ui")).status_code == 308
        script = await http.get("/ui/app.js")
        assert script.headers["content-type"].startswith("text/javascript")
        assert (await http.get("/ui/style.css")).headers["content-type"].startswith("text/css")
        assert (await http.get("/ui/nope.js")).status_code == 404

        live = url.replace("http://", "ws://") + "/ui/live"
        async with open_websocket_url(live) as ws:
            snapshot = json.loads(await ws.get_message())
        boxes = {box["name"]: box for box in snapshot["boxes"]}
        assert set(boxes) == {"app", "managed-database"}
        assert boxes["app"]["maxWorkers"] == 2 and boxes["app"]["kind"] == "App"
        assert snapshot["cross"] == [
            {
                "observer": "app",
                "observed": "managed-database",
                "as": "db",
                "where": "same-process",
                "remote": False,
                "via": "cross",
                "result": "found",
                "error": "",
            }
        ]
        assert [cr["name"] for cr in snapshot["crs"]["app"]["items"]] == ["shop"]


def reconciles_total(reconciles: dict[tuple[str, str], float], box: str) -> float:
    return sum(v for (name, _), v in reconciles.items() if name == box)


async def test_ready_turns_503_naming_the_degraded_box_and_the_feed_follows():
    async with serve_runtime() as (rt, url), httpx.AsyncClient(base_url=url) as http:
        await rt.wait_ready()
        await rt.wait_idle()
        live = url.replace("http://", "ws://") + "/ui/live"
        async with open_websocket_url(live) as ws:
            json.loads(await ws.get_message())
            await break_the_app(rt)
            await rt.box("app").health.wait_until(lambda s: s.state is HealthState.DEGRADED)

            async def degraded_in_feed():
                snapshot = json.loads(await ws.get_message())
                return {b["name"]: b["state"] for b in snapshot["boxes"]}["app"] == "degraded"

            await eventually(degraded_in_feed, what="the feed to show app degraded")

        ready = await http.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["boxes"]["degraded"] == ["app"]
        assert (await http.get("/health")).status_code == 200  # liveness: the process runs
        families = parse((await http.get("/metrics")).text)
        state = {
            (s.labels["box"], s.labels["state"]): s.value
            for s in families["orkestra_box_health_state"].samples
        }
        assert state[("app", "degraded")] == 1.0
        errors = {
            s.labels["controller"]: s.value
            for s in families["controller_runtime_reconcile_errors"].samples
            if s.name.endswith("_total")
        }
        assert errors["app"] >= 5
        assert families["orkestra_box_health_state"]  # the database box is untouched:
        assert state[("managed-database", "healthy")] == 1.0
