"""The Control Center in a real headless Chromium, against a real runtime.

The runtime runs katalogs/cross-same-binary.yaml on the embedded API server
in the test's Trio loop and serves its HTTP surface on 127.0.0.1:0; Chromium
is driven over the DevTools protocol (cdp.py). Every wait is bounded and
waits for something the page shows.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cdp import chromium_available, open_page
from web_helpers import break_the_app, serve_runtime

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not chromium_available(),
        reason="tool missing: headless Chromium (apt-get install chromium)",
    ),
]

BOX_STATE = "document.querySelector('[data-box=\"{box}\"]')?.dataset.state"


async def test_the_page_shows_every_box_and_a_box_turning_degraded_without_reload(tmp_path):
    async with serve_runtime() as (rt, url):
        await rt.wait_ready()
        await rt.wait_idle()
        async with open_page(tmp_path) as page:
            await page.navigate(f"{url}/ui/")
            await page.wait_for(
                "document.querySelectorAll('[data-box]').length === 2", what="two box cards"
            )
            names = await page.evaluate(
                "[...document.querySelectorAll('[data-box]')].map(e => e.dataset.box)"
            )
            assert names == ["managed-database", "app"]
            assert (
                await page.evaluate("document.getElementById('katalog-name').textContent") == "shop"
            )
            await page.wait_for(BOX_STATE.format(box="app") + " === 'healthy'", what="app healthy")
            assert await page.evaluate("document.getElementById('conn').dataset.state") == "live"
            # The cross graph: app observes managed-database, in the same process.
            await page.wait_for(
                "!!document.querySelector('[data-edge=\"app->managed-database\"]')",
                what="cross edge",
            )
            # A marker that only survives if the page is never reloaded.
            await page.evaluate("window.notReloaded = true")
            updates_before = await page.evaluate("window.orkestraUi.updates")

            await break_the_app(rt)

            await page.wait_for(
                BOX_STATE.format(box="app") + " === 'degraded'", what="app degraded on the page"
            )
            assert await page.evaluate("window.notReloaded") is True
            assert await page.evaluate("window.orkestraUi.updates") > updates_before
            last_error = await page.evaluate(
                'document.querySelector(\'[data-box="app"] [data-role="last-error"]\').textContent'
            )
            assert "403" in last_error and "Forbidden" in last_error
            # Its sibling is untouched, on the page as in the runtime.
            assert await page.evaluate(BOX_STATE.format(box="managed-database")) == "healthy"
            degraded_tile = await page.evaluate(
                "document.querySelector('.tile[data-state=\"degraded\"] .n').textContent"
            )
            assert degraded_tile == "1"


async def test_screenshot_of_the_control_center_with_a_cr_open(tmp_path):
    async with serve_runtime() as (rt, url):
        await rt.wait_ready()
        await rt.wait_idle()
        async with open_page(tmp_path, width=1400, height=1300) as page:
            await page.navigate(f"{url}/ui/")
            await page.wait_for(
                "document.querySelector('[data-edge=\"app->managed-database\"]')"
                "?.dataset.result === 'found'",
                what="the cross edge with a found read",
            )
            # Open the app box's CR list, then the CR's detail.
            await page.evaluate("document.querySelector('[data-box=\"app\"]').click()")
            await page.wait_for(
                "!!document.querySelector('[data-cr=\"default/shop\"]')", what="the App CR row"
            )
            await page.wait_for(
                "document.querySelector('[data-cr=\"default/shop\"]').dataset.ready === 'true'",
                what="the App CR Ready",
            )
            await page.evaluate("document.querySelector('[data-cr=\"default/shop\"]').click()")
            await page.wait_for(
                "!!document.querySelector('[data-detail=\"default/shop\"]')", what="the CR detail"
            )
            children = await page.wait_for(
                "[...document.querySelectorAll('[data-child]')].map(e => e.dataset.child)",
                what="the CR's children",
            )
            assert sorted(children) == ["Deployment/shop", "Service/shop"]
            png = await page.screenshot(tmp_path / "control-center.png")
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert len(data) > 20_000  # a rendered page, not a blank one


async def test_the_graph_draws_an_autoscale_source_as_an_edge(tmp_path):
    # No remote reader: the reads fail, but the edges come from the Katalog.
    processor = Path(__file__).parents[2] / "katalogs" / "oncop-processor.yaml"
    async with serve_runtime(processor) as (rt, url):
        await rt.wait_ready()
        async with open_page(tmp_path) as page:
            await page.navigate(f"{url}/ui/")
            await page.wait_for(
                "document.querySelectorAll('[data-edge=\"processor->loader\"]').length === 2",
                what="the cross: edge and the autoscale edge",
            )
            vias = await page.evaluate(
                "[...document.querySelectorAll('[data-edge]')].map(e => e.dataset.via)"
            )
            assert sorted(vias) == ["autoscale", "cross"]
            label = await page.evaluate(
                "document.querySelector('[data-via=\"autoscale\"] .edge-label').textContent"
            )
            assert "autoscale" in label
