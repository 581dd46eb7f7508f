"""A 409 from a stale cache refreshes the CR once before it counts as a failure."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
from runtime_helpers import DEPLOY, WEBSITE, eventually, holds, website

from orkestra_trio.kube import Conflict
from orkestra_trio.runtime.runtime import open_runtime
from orkestra_trio.runtime.safe import DONE
from orkestra_trio.web.view import metrics_of

KATALOG = Path(__file__).parents[2] / "katalogs" / "website.yaml"


@asynccontextmanager
async def website_reconciled(**options: Any) -> AsyncIterator[tuple[Any, Any, Any]]:
    """The Website Katalog running embedded, its sample CR reconciled: (runtime, faults, box)."""
    async with open_runtime(KATALOG, embedded=True, **options) as rt:
        with trio.fail_after(15):
            await rt.wait_ready()
        assert rt.apiserver is not None
        await eventually(lambda: rt.kube.get(DEPLOY, "my-site", namespace="default"))
        yield rt, rt.apiserver.faults, rt.box("website")


async def test_a_conflict_is_not_a_failed_reconcile():
    async with website_reconciled() as (rt, faults, box):
        before = metrics_of(box).reconcile_errors_total
        # The first patch of the new CR (its finalizer, sent with the cached
        # resourceVersion) meets a Conflict, as after an outage.
        faults.fail_next(1, verb="patch", resource="websites", status=409)
        await rt.kube.create(website("raced"))
        await eventually(
            lambda: rt.kube.get(DEPLOY, "raced", namespace="default"),
            timeout=20,
            what="the CR reconciled despite the conflict",
        )
        assert metrics_of(box).reconcile_errors_total == before


async def test_the_second_conflict_counts_on_the_fresh_object():
    async with open_runtime(KATALOG, embedded=True) as rt:
        with trio.fail_after(15):
            await rt.wait_ready()
        pipeline = rt.box("website").pipeline
        assert pipeline is not None
        stale = {"metadata": {"name": "my-site", "namespace": "default", "resourceVersion": "1"}}
        seen = []

        async def step(cr, key):
            seen.append(cr["metadata"]["resourceVersion"])
            raise Conflict(
                "patch", "websites my-site", code=409, reason="Conflict", message="modified"
            )

        with pytest.raises(Conflict):
            await pipeline._refreshing_on_conflict(step, stale, ("default", "my-site"))
        # Tried on the cached object, then once on the one just read: no more.
        assert len(seen) == 2 and seen[0] == "1" and int(seen[1]) > 1

        async def works_the_second_time(cr, key):
            seen.append(cr["metadata"]["resourceVersion"])
            if len(seen) == 3:
                raise Conflict(
                    "patch", "websites my-site", code=409, reason="Conflict", message="modified"
                )
            return DONE

        assert (
            await pipeline._refreshing_on_conflict(
                works_the_second_time, stale, ("default", "my-site")
            )
            is DONE
        )


async def test_no_reconcile_from_a_stale_cache_after_an_outage():
    """While the CR watch fails the box pauses; after it, the CR changed meanwhile is
    reconciled from the fresh object, without a single failed reconcile."""
    async with website_reconciled(bookmark_interval=0.5) as (rt, faults, box):
        before = metrics_of(box).reconcile_errors_total

        # The outage: every watch and list of Websites fails, open streams end.
        faults.fail_next(10_000, verb="watch", resource="websites", status=503)
        faults.fail_next(10_000, verb="list", resource="websites", status=503)
        faults.cut_watches()
        await eventually(lambda: holds(box.paused), timeout=10, what="the box paused")
        # Meanwhile the CR changes on the server, and the box is asked to look at it.
        cr = await rt.kube.get(WEBSITE, "my-site", namespace="default")
        cr["spec"]["replicas"] = 3
        await rt.kube.replace(cr)
        box.queue.add(("default", "my-site"))
        await trio.sleep(0.5)  # (a paused box must not act on it; nothing to wait for)
        assert box.paused

        faults.clear()
        await eventually(lambda: holds(not box.paused), timeout=30, what="the box resumed")

        async def scaled():
            deploy = await rt.kube.get(DEPLOY, "my-site", namespace="default")
            return deploy["spec"]["replicas"] == 3

        await eventually(scaled, timeout=20, what="the change made during the outage applied")
        assert metrics_of(box).reconcile_errors_total == before


async def test_a_box_left_without_workers_gets_them_back():
    """As after a restart in the middle of a pause: not paused, yet zero workers."""
    async with open_runtime(KATALOG, embedded=True) as rt:
        with trio.fail_after(15):
            await rt.wait_ready()
        box = rt.box("website")
        assert box.pool is not None
        workers = box.workers
        box.pool.resize(0)
        assert not box.paused
        await eventually(
            lambda: holds(box.pool.size == workers), timeout=10, what="workers restored"
        )
        await rt.kube.create(website("after-restart"))
        await eventually(
            lambda: rt.kube.get(DEPLOY, "after-restart", namespace="default"),
            timeout=20,
            what="a CR reconciled with the workers back",
        )
