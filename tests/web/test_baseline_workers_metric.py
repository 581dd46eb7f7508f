"""/metrics shows where autoscale returns to (the baseline) beside the workers running now."""

from __future__ import annotations

import httpx
import trio
from prometheus_client.parser import text_string_to_metric_families
from web_helpers import serve_runtime


def gauges(text: str, name: str) -> dict[str, float]:
    for family in text_string_to_metric_families(text):
        if family.name == name:
            return {s.labels["controller"]: s.value for s in family.samples}
    raise AssertionError(f"{name} missing from /metrics")


async def test_baseline_workers_gauge_stays_while_autoscale_moves_the_workers():
    async with (
        serve_runtime() as (rt, url),
        httpx.AsyncClient(base_url=url, timeout=10) as http,
    ):
        with trio.fail_after(10):
            await rt.wait_ready()
        text = (await http.get("/metrics")).text
        assert gauges(text, "orkestra_box_baseline_workers") == {"managed-database": 2, "app": 2}

        rt.box("app").resize(7)  # what an autoscale override does
        text = (await http.get("/metrics")).text
        assert gauges(text, "controller_runtime_max_concurrent_reconciles")["app"] == 7
        assert gauges(text, "orkestra_box_baseline_workers")["app"] == 2
