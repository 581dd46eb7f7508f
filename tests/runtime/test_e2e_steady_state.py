"""A steady-state reconcile writes nothing: counted at the API server."""

from __future__ import annotations

from pathlib import Path

import trio
from runtime_helpers import WEBSITE, eventually, holds, writes
from runtime_helpers import website as site

from orkestra_trio.kube import open_kube_client
from orkestra_trio.runtime.runtime import open_runtime

KATALOG = Path(__file__).parents[2] / "katalogs" / "website.yaml"


def website(name: str) -> dict:
    return site(name, {"replicas": 1, "pages": [{"name": "home", "content": "hi"}]})


async def test_no_request_at_all_when_nothing_drifted():
    # Through the socket this time (in_process=False): the other transport.
    async with open_runtime(KATALOG, embedded=True, in_process=False) as rt:
        assert rt.apiserver is not None
        async with open_kube_client(rt.server_url) as kube:
            for i in range(10):
                await kube.create(website(f"site-{i}"))

            async def all_running():
                listed = await kube.list(WEBSITE, namespace="default")
                phases = [(obj.get("status") or {}).get("phase") for obj in listed.items]
                return len(phases) == 11 and all(p == "Running" for p in phases)

            await eventually(all_running, what="every Website Running")
        with trio.fail_after(20):
            await rt.wait_idle(settle=0.5)
        box = rt.box("website")
        before = dict(rt.apiserver.request_count)
        reconciles_before = box.health.total_reconciles
        # Three full passes over every CR, as three resyncs would do.
        for _ in range(3):
            for key in box.cr_informer.keys():  # noqa: SIM118
                box.queue.add(key)
            with trio.fail_after(20):
                await rt.wait_idle(settle=0.3)
        after = dict(rt.apiserver.request_count)
        assert box.health.total_reconciles >= reconciles_before + 33
        changed = {
            key: after[key] - before.get(key, 0)
            for key in after
            if after[key] != before.get(key, 0)
        }
        assert changed == {}, f"requests during the steady state: {changed}"
        assert writes(after) == writes(before)


async def test_a_new_cr_s_first_pass_plans_its_status_once_over_the_children_written():
    async with open_runtime(KATALOG, embedded=True) as rt:
        with trio.fail_after(15):
            await rt.wait_ready()
        box = rt.box("website")
        plans = []
        box.on_plan = lambda key, plan: plans.append(plan) if key[1] == "fresh" else None
        await rt.kube.create(website("fresh"))

        async def status_written():
            cr = await rt.kube.get(WEBSITE, "fresh", namespace="default")
            return cr if (cr.get("status") or {}).get("observedGeneration") == 1 else None

        cr = await eventually(status_written, what="the first pass's status")
        # Its children were to be created: the plan left the status to the outcome
        # planned over the children as written, so the status was planned once.
        assert plans[0].outcome_later and plans[0].status is None
        ready = [c for c in cr["status"]["conditions"] if c["type"] == "Ready"]
        assert ready and cr["status"]["url"] == "http://fresh.default.svc.cluster.local"
        # Once it has children, a pass plans its status with the rest, as before.
        await eventually(
            lambda: holds(any(not plan.outcome_later for plan in plans)),
            what="a pass over the CR with its children",
        )
