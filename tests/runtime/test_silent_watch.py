"""Silent watches are noticed: relisted, counted, and the box says it is blind meanwhile.

The embedded server bookmarks every 0.2 s here, so a watch silent for 0.4 s
(twice that) is stalled. The streams are held open but send nothing (the
fault injector's stall): the CR created meanwhile must still be reconciled
(through the relist), the stall counted, and the box degraded and /ready
false until a watch delivers again.
"""

from __future__ import annotations

from pathlib import Path

import trio
from runtime_helpers import DEPLOY, WEBSITE, eventually, holds, website

from orkestra_trio.runtime.health import HealthState
from orkestra_trio.runtime.runtime import open_runtime
from orkestra_trio.web.metrics import render_metrics
from orkestra_trio.web.probes import readiness
from orkestra_trio.web.view import RuntimeView

KATALOG = Path(__file__).parents[2] / "katalogs" / "website.yaml"


async def test_a_silent_watch_is_relisted_counted_and_shown():
    async with open_runtime(KATALOG, embedded=True, bookmark_interval=0.2) as rt:
        with trio.fail_after(15):
            await rt.wait_ready()
        assert rt.apiserver is not None
        faults = rt.apiserver.faults
        box = rt.box("website")
        view = RuntimeView(rt)
        await view.start()
        assert box.watch_stalls == 0

        faults.stall_watches(True)
        await rt.kube.create(website("during-stall"))
        # Noticed within a bound tied to the bookmark interval (2 x 0.2 s, plus
        # the box's 1 s health check), not the old 120 s watchdog.
        await eventually(
            lambda: holds(box.health.snapshot().state is HealthState.DEGRADED),
            timeout=5,
            what="the box degraded while its CR watch is silent",
        )
        assert "watch stalled" in (box.health.snapshot().last_error or "")
        ready, body = readiness(view.samples(), stopping=False)
        assert not ready and "website" in body["boxes"]["degraded"]
        assert box.watch_stalls >= 1
        assert "orkestra_watch_stalls_total" in render_metrics(view).decode()

        # The relist saw the CR created while every stream was silent.
        await eventually(
            lambda: rt.kube.get(DEPLOY, "during-stall", namespace="default"),
            timeout=10,
            what="the CR created during the stall reconciled",
        )

        faults.stall_watches(False)
        await eventually(
            lambda: holds(box.health.snapshot().state is not HealthState.DEGRADED),
            timeout=10,
            what="the box sighted again once a watch delivers",
        )
        assert readiness(view.samples(), stopping=False)[0]
        await rt.kube.create(website("after-stall"))
        await eventually(
            lambda: rt.kube.get(DEPLOY, "after-stall", namespace="default"),
            timeout=10,
            what="a CR created after the stall reconciled",
        )
        cr = await rt.kube.get(WEBSITE, "after-stall", namespace="default")
        assert cr["metadata"]["name"] == "after-stall"
