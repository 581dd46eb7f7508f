"""Stopping: no new work, reconciles in flight finish within the grace period, the rest is cut."""

from __future__ import annotations

import textwrap

import pytest
import trio
from runtime_helpers import eventually, holds

from orkestra_trio.kube import NotFound
from orkestra_trio.runtime.runtime import open_runtime

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: stop}
spec:
  crds:
    slow:
      apiTypes: {group: stop.example.com, version: v1, kind: Slow, plural: slows}
      operatorBox:
        onReconcile:
          configMaps:
            - name: "{{ .metadata.name }}-cm"
"""


def slow(name):
    return {
        "apiVersion": "stop.example.com/v1",
        "kind": "Slow",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {},
    }


@pytest.fixture
async def stopper(tmp_path):
    path = tmp_path / "stop.yaml"
    path.write_text(textwrap.dedent(KATALOG))
    async with open_runtime(path, embedded=True) as rt:
        assert rt.apiserver is not None
        with trio.fail_after(10):
            await rt.wait_ready()
        yield rt, rt.box("slow")
        rt.apiserver.faults.clear()


async def configmap_exists(kube, name):
    try:
        await kube.get(("v1", "ConfigMap"), name, namespace="default")
    except NotFound:
        return False
    return True


async def test_in_flight_reconciles_finish_and_nothing_new_starts(stopper):
    rt, box = stopper
    rt.apiserver.faults.add_latency(0.5, verb="create", resource="configmaps")
    await rt.kube.create(slow("a"))
    await eventually(lambda: holds(box.queue.processing == 1), what="the reconcile to be in flight")
    with trio.fail_after(5):
        await rt.shutdown(grace=5)
    assert rt.stopping and box.queue.shutting_down
    rt.apiserver.faults.clear()
    assert await configmap_exists(rt.kube, "a-cm")  # the in-flight reconcile finished
    assert box.health.total_reconciles == 1
    # Stopped: a new CR is seen by the informer but nobody reconciles it.
    await rt.kube.create(slow("b"))
    await eventually(
        lambda: holds(box.cr_informer.get("default", "b") is not None), what="b cached"
    )
    assert not await configmap_exists(rt.kube, "b-cm")


async def test_a_reconcile_past_the_grace_period_is_cut(stopper):
    rt, box = stopper
    rt.apiserver.faults.add_latency(20, verb="create", resource="configmaps")
    await rt.kube.create(slow("a"))
    await eventually(lambda: holds(box.queue.processing == 1), what="the reconcile to be in flight")
    started = trio.current_time()
    await rt.shutdown(grace=0.3)
    assert trio.current_time() - started < 2
    rt.apiserver.faults.clear()
