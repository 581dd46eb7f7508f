"""Failures are cheap (issue 16): budgets per box, no repeated writes, no backoff after delete."""

from __future__ import annotations

from collections import Counter

import pytest
import trio
import trio.testing
from runtime_helpers import eventually, holds, ready_condition, writes

from orkestra_trio.kube import open_kube_client
from orkestra_trio.runtime.budget import TokenBucket
from orkestra_trio.runtime.informer import Change
from orkestra_trio.runtime.runtime import open_runtime
from orkestra_trio.runtime.workqueue import WorkQueue

BROKEN = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: cheap}
spec:
  crds:
    broken:
      apiTypes: {group: cheap.example.com, version: v1, kind: Broken, plural: brokens}
      operatorBox:
        status:
          fields:
            - path: size
              value: "{{ .spec.size }}"
              type: int
"""


def test_token_bucket_spends_its_burst_then_spaces_reservations() -> None:
    bucket = TokenBucket(rate=10.0, burst=2)
    assert [bucket.reserve(0.0) for _ in range(4)] == pytest.approx([0.0, 0.0, 0.1, 0.2])
    # A second later the debt is paid and 0.6 s of tokens came back.
    assert bucket.reserve(1.0) == 0.0


def test_token_bucket_try_take_drops_past_the_burst_and_refills() -> None:
    bucket = TokenBucket(rate=2.0, burst=3)
    assert [bucket.try_take(0.0) for _ in range(4)] == [True, True, True, False]
    assert not bucket.try_take(0.4)
    assert bucket.try_take(0.5)
    assert bucket.try_take(100.0) and bucket.tokens == 2.0  # capped at the burst


def test_token_bucket_validates() -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate=0, burst=1)
    with pytest.raises(ValueError):
        TokenBucket(rate=1, burst=0)


async def test_the_retry_budget_spreads_a_storm_of_first_failures(
    autojump_clock: trio.testing.MockClock,
) -> None:
    queue: WorkQueue[str] = WorkQueue(retry_budget=TokenBucket(rate=10.0, burst=2))
    delays = [queue.add_rate_limited(f"k{i}") for i in range(4)]
    # Each key's own backoff says 5 ms; the box's budget holds the third and fourth back.
    assert delays == pytest.approx([0.005, 0.005, 0.1, 0.2])
    # A key's own backoff still wins when it is longer.
    queue.retry_budget = None
    for _ in range(8):
        queue.add_rate_limited("k0")
    assert queue.add_rate_limited("k0") == pytest.approx(0.005 * 2**9)


async def test_a_failing_cr_whose_error_did_not_change_writes_nothing_new(tmp_path) -> None:
    path = tmp_path / "cheap.yaml"
    path.write_text(BROKEN)
    async with open_runtime(path, embedded=True) as rt, open_kube_client(rt.server_url) as kube:
        assert rt.apiserver is not None
        with trio.fail_after(10):
            await rt.wait_ready()
        box = rt.box("broken")
        assert box.cr_informer is not None
        await kube.create(
            {
                "apiVersion": "cheap.example.com/v1",
                "kind": "Broken",
                "metadata": {"name": "b1", "namespace": "default"},
                "spec": {"size": "not a number"},
            }
        )

        def reported() -> bool:
            cr = box.cr_informer.get("default", "b1") if box.cr_informer else None
            condition = ready_condition(dict(cr)) if cr else None
            return condition is not None and condition.get("status") == "False"

        # The first failure wrote Ready=False and posted an Event; the cache has it.
        await eventually(lambda: holds(reported() and box.health.consecutive_fails >= 2))
        before = Counter(rt.apiserver.request_count)
        fails = box.health.consecutive_fails
        await eventually(
            lambda: holds(box.health.consecutive_fails >= fails + 3), what="three more failures"
        )
        after = Counter(rt.apiserver.request_count)
        after.subtract(before)
        new_writes = {request: n for request, n in writes(after).items() if n}
        assert new_writes == {}, new_writes
        assert box.events.posted == 1

        # A different error is news: one status write and one more Event.
        await kube.merge_patch(
            ("cheap.example.com/v1", "Broken"), "b1", {"spec": {"size": "still not"}}
        )
        await eventually(lambda: holds(box.events.posted == 2), what="the second Event")


async def test_a_deleted_cr_forgets_its_backoff(tmp_path) -> None:
    path = tmp_path / "cheap.yaml"
    path.write_text(BROKEN)
    async with open_runtime(path, embedded=True) as rt:
        with trio.fail_after(10):
            await rt.wait_ready()
        box = rt.box("broken")
        key = ("default", "gone")
        for _ in range(12):  # a long failure history: the next retry would wait ~20 s
            box.queue.backoff.next_delay(key)
        obj = {"metadata": {"name": "gone", "namespace": "default"}}
        box._on_cr_change(Change("DELETED", key, None, obj))
        assert box.queue.num_requeues(key) == 0
        for _ in range(3):
            box.queue.backoff.next_delay(key)
        box._on_cr_change(Change("ADDED", key, obj, None))  # re-created under the same name
        assert box.queue.num_requeues(key) == 0


async def test_the_event_budget_drops_warnings_never_normal_events() -> None:
    from orkestra_trio.apiserver import open_apiserver
    from orkestra_trio.runtime.events import BoxEvents
    from orkestra_trio.runtime.metrics import BoxMetrics

    async with (
        open_apiserver(workload_simulation=False) as server,
        open_kube_client(server.url) as kube,
    ):
        cm = await kube.create(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cr"}},
            namespace="default",
        )
        metrics = BoxMetrics()
        events = BoxEvents(kube, "Site", budget=TokenBucket(rate=0.001, burst=2), metrics=metrics)
        for number in range(4):
            await events.reconcile_error(cm, f"failure {number}")
        for number in range(4):
            await events.reconciled(cm, f"created child {number}")
        assert (events.posted, events.dropped) == (6, 2)
        assert metrics.snapshot().events_dropped_total == 2  # orkestra_box_events_dropped
        listed = await kube.list(("v1", "Event"), namespace="default")
        reasons = Counter(event["reason"] for event in listed.items)
        assert reasons == {"SiteReconcileError": 2, "SiteReconciled": 4}
