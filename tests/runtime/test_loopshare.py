"""Each box's share of the loop (issue 16): attribution of loop time and requests, the fair gate."""

from __future__ import annotations

import time

import trio
import trio.testing
from runtime_helpers import eventually, holds

from orkestra_trio.kube import open_kube_client
from orkestra_trio.runtime import BoxHealth, WorkerPool, WorkQueue
from orkestra_trio.runtime.loopshare import (
    ALLOWANCE,
    CURRENT_SHARE,
    RECENT,
    LoopShare,
    install_accounting,
)
from orkestra_trio.runtime.runtime import open_runtime

NOW = 100.0

TWO_BOXES = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: share}
spec:
  crds:
    first:
      apiTypes: {group: share.example.com, version: v1, kind: First, plural: firsts}
      operatorBox:
        onReconcile:
          configMaps:
            - name: "{{ .metadata.name }}-first"
              data: {value: "{{ .spec.value }}"}
    second:
      apiTypes: {group: share.example.com, version: v1, kind: Second, plural: seconds}
      operatorBox:
        onReconcile:
          configMaps:
            - name: "{{ .metadata.name }}-second"
              data: {value: "{{ .spec.value }}"}
"""


def test_a_box_alone_never_waits() -> None:
    loop = LoopShare()
    busy = loop.add("busy")
    busy.charge(10.0, NOW)
    loop.add("idle")  # never ran: does not compete
    assert not loop.wait_needed(busy, NOW)


def test_a_box_ahead_of_a_competing_box_waits_until_it_stops_competing() -> None:
    loop = LoopShare()
    noisy, calm = loop.add("noisy"), loop.add("calm")
    calm.charge(0.001, NOW)
    noisy.charge(0.001 + 3 * ALLOWANCE, NOW)
    assert loop.wait_needed(noisy, NOW)
    assert not loop.wait_needed(calm, NOW)
    # calm waits on the network (no step for a while): it holds no one back.
    assert not loop.wait_needed(noisy, NOW + 2 * RECENT)


def test_reconciles_in_flight_count_at_their_average_cost() -> None:
    loop = LoopShare()
    noisy, calm = loop.add("noisy"), loop.add("calm")
    calm.charge(0.0, NOW)
    noisy.charge(ALLOWANCE, NOW)  # exactly at the limit
    noisy.reconciles = 1
    assert not loop.wait_needed(noisy, NOW)
    noisy.in_flight = 1  # one more reconcile of ALLOWANCE running: over
    assert loop.wait_needed(noisy, NOW)


def test_weight_scales_the_share() -> None:
    loop = LoopShare()
    heavy, light = loop.add("heavy", weight=4.0), loop.add("light")
    heavy.charge(3 * ALLOWANCE, NOW)  # 4x the weight: 3/4 of the allowance in virtual time
    light.charge(0.0, NOW)
    assert not loop.wait_needed(heavy, NOW)
    heavy.charge(3 * ALLOWANCE, NOW)
    assert loop.wait_needed(heavy, NOW)


def test_a_box_back_from_a_pause_banks_no_credit() -> None:
    loop = LoopShare()
    busy, sleeper = loop.add("busy"), loop.add("sleeper")
    busy.charge(5.0, NOW)
    assert not loop.wait_needed(sleeper, NOW)
    assert sleeper.vtime == busy.vtime - ALLOWANCE


async def test_loop_time_is_charged_to_the_box_whose_task_runs() -> None:
    install_accounting()
    loop = LoopShare()
    burner, sleeper = loop.add("burner"), loop.add("sleeper")

    async def run_as(share, body) -> None:
        CURRENT_SHARE.set(share)
        await trio.lowlevel.checkpoint()  # charged from the next step on (as a box's run is)
        await body()

    async def burn() -> None:
        end = time.perf_counter() + 0.03
        while time.perf_counter() < end:  # one step of 30 ms: it holds the loop
            pass
        await trio.lowlevel.checkpoint()

    async def nap() -> None:
        for _ in range(3):
            await trio.sleep(0.001)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_as, burner, burn)
        nursery.start_soon(run_as, sleeper, nap)
    assert burner.cpu_seconds >= 0.03
    assert sleeper.cpu_seconds < burner.cpu_seconds
    assert install_accounting() is install_accounting()  # one instrument per run


async def test_the_worker_pool_takes_a_turn_around_each_reconcile(
    autojump_clock: trio.testing.MockClock,
) -> None:
    calls: list[str] = []

    class Turn:
        async def take(self) -> None:
            calls.append("take")

        def done(self) -> None:
            calls.append("done")

    async def reconcile(key: str) -> None:
        calls.append(key)

    queue: WorkQueue[str] = WorkQueue()
    pool = WorkerPool(queue, reconcile, workers=1, timeout=5, health=BoxHealth("b"), turn=Turn())
    async with trio.open_nursery() as nursery:
        await nursery.start(pool.run)
        queue.add("a")
        queue.add("b")
        await queue.wait_idle()
        queue.shutdown()
    assert calls == ["take", "a", "done", "take", "b", "done"]


async def test_each_box_counts_its_own_loop_time_and_requests(tmp_path) -> None:
    path = tmp_path / "share.yaml"
    path.write_text(TWO_BOXES)
    async with open_runtime(path, embedded=True) as rt, open_kube_client(rt.server_url) as kube:
        with trio.fail_after(10):
            await rt.wait_ready()
        first, second = rt.box("first"), rt.box("second")
        idle_requests = second.metrics.api_requests_total
        await kube.create(
            {
                "apiVersion": "share.example.com/v1",
                "kind": "First",
                "metadata": {"name": "f1", "namespace": "default"},
                "spec": {"value": "x"},
            }
        )
        await eventually(lambda: holds(first.health.total_reconciles >= 1))
        # The first box created its ConfigMap (and wrote its status): its requests, not the other's.
        assert first.metrics.api_requests_total >= 1
        assert second.metrics.api_requests_total == idle_requests
        assert first.metrics.cpu_seconds_total > 0
