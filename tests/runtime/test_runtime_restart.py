"""A restart on a kept state (--state) finds everything in place and writes nothing."""

from __future__ import annotations

from pathlib import Path

import trio
from runtime_helpers import WEBSITE, eventually, writes

from orkestra_trio.runtime.runtime import open_runtime

KATALOG = Path(__file__).parents[2] / "katalogs" / "website.yaml"


async def test_restart_on_kept_state_makes_no_write(tmp_path):
    state = tmp_path / "state.db"
    async with open_runtime(KATALOG, embedded=True, state_file=state) as rt:

        async def running():
            cr = await rt.kube.get(WEBSITE, "my-site", namespace="default")
            return (cr.get("status") or {}).get("phase") == "Running"

        await eventually(running, what="my-site Running")
        with trio.fail_after(10):
            await rt.wait_idle(settle=0.3)

    async with open_runtime(KATALOG, embedded=True, state_file=state) as rt:
        assert rt.apiserver is not None
        with trio.fail_after(10):
            await rt.wait_ready()
            await rt.wait_idle(settle=0.3)
        box = rt.box("website")
        assert box.health.total_reconciles >= 1  # my-site was reconciled again after the list
        # Only the (idempotent) CRD create of the start-up, refused as existing.
        assert writes(rt.apiserver.request_count) == {("create", "customresourcedefinitions"): 1}
