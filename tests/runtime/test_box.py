"""Box behaviour: dependsOn pauses and resumes, the box-level gate, requeue.after."""

from __future__ import annotations

import textwrap

import pytest
import trio
import yaml
from runtime_helpers import eventually, holds

from orkestra_trio.kube import NotFound, open_kube_client
from orkestra_trio.runtime.health import HealthState
from orkestra_trio.runtime.runtime import open_runtime

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: boxes}
spec:
  crds:
    lister:
      apiTypes: {group: box.example.com, version: v1, kind: Lister, plural: listers}
      operatorBox:
        onReconcile:
          configMaps:
            - name: "{{ .metadata.name }}-{{ .item }}"
              forEach: {field: spec.items, as: item}
    base:
      apiTypes: {group: box.example.com, version: v1, kind: Base, plural: bases}
      operatorBox:
        reconciler: {queue: {failureThreshold: 1}}
        status:
          fields:
            - path: size
              value: "{{ .spec.size }}"
              type: int
    follower:
      apiTypes: {group: box.example.com, version: v1, kind: Follower, plural: followers}
      dependsOn: {base: ready}
      operatorBox:
        onReconcile:
          configMaps:
            - name: "{{ .metadata.name }}-f"
    gated:
      apiTypes: {group: box.example.com, version: v1, kind: Gated, plural: gateds}
      operatorBox:
        requeue: {after: "{{ .spec.every }}"}
        when:
          - field: spec.enabled
            equals: "true"
        onReconcile:
          configMaps:
            - name: "{{ .metadata.name }}-g"
"""


def obj(kind, name, **spec):
    return {
        "apiVersion": "box.example.com/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }


@pytest.fixture
async def boxes(tmp_path):
    path = tmp_path / "boxes.yaml"
    path.write_text(textwrap.dedent(KATALOG))
    async with open_runtime(path, embedded=True) as rt, open_kube_client(rt.server_url) as kube:
        with trio.fail_after(10):
            await rt.wait_ready()
        yield rt, kube


async def exists(kube, name):
    try:
        await kube.get(("v1", "ConfigMap"), name, namespace="default")
    except NotFound:
        return False
    return True


async def test_depends_on_pauses_and_resumes_the_follower(boxes):
    rt, kube = boxes
    base, follower = rt.box("base"), rt.box("follower")
    await kube.create(obj("Base", "b", size="not a number"))
    with trio.fail_after(10):
        await base.health.wait_until(lambda s: s.state is HealthState.DEGRADED)
    await eventually(lambda: holds(follower.paused), what="the follower to pause")
    await kube.create(obj("Follower", "f1"))
    # Paused: the key waits in the queue, nobody takes it.
    await eventually(lambda: holds(follower.queue.depth == 1), what="the key queued")
    with trio.fail_after(10):
        await rt.wait_idle(settle=0.2)  # a paused box does not count as busy
    assert follower.queue.depth == 1 and follower.queue.processing == 0
    assert not await exists(kube, "f1-f")

    await kube.merge_patch(
        ("box.example.com/v1", "Base"), "b", {"spec": {"size": "3"}}, namespace="default"
    )
    with trio.fail_after(10):
        await base.health.wait_until(lambda s: s.state is HealthState.HEALTHY)
    await eventually(lambda: exists(kube, "f1-f"), what="the follower to resume")
    assert not follower.paused


async def test_depends_on_healthy_waits_for_a_succeeded_reconcile(tmp_path):
    # "healthy" means the base's last reconcile succeeded: a pending base (no CR
    # reconciled yet) keeps the strict follower waiting, the ready one does not.
    doc = yaml.safe_load(textwrap.dedent(KATALOG))
    crds = doc["spec"]["crds"]
    crds["strict"] = {
        **crds["follower"],
        "apiTypes": {**crds["follower"]["apiTypes"], "kind": "Strict", "plural": "stricts"},
        "dependsOn": {"base": "healthy"},
    }
    path = tmp_path / "boxes.yaml"
    path.write_text(yaml.safe_dump(doc))
    async with open_runtime(path, embedded=True) as rt, open_kube_client(rt.server_url) as kube:
        base, follower, strict = rt.box("base"), rt.box("follower"), rt.box("strict")
        with trio.fail_after(10):
            await follower.health.wait_until(lambda s: s.state is HealthState.PENDING)
        assert base.health.snapshot().state is HealthState.PENDING
        await kube.create(obj("Strict", "s1"))
        await eventually(lambda: holds(strict.queue.depth == 1), what="the strict key queued")
        # The same work for the ready follower is done meanwhile; the strict one waits.
        await kube.create(obj("Follower", "f1"))
        await eventually(lambda: exists(kube, "f1-f"), what="the ready follower to work")
        assert strict.health.snapshot().state is HealthState.NOT_STARTED
        assert strict.queue.processing == 0 and not await exists(kube, "s1-f")

        await kube.create(obj("Base", "b", size="2"))
        with trio.fail_after(10):
            await base.health.wait_until(lambda s: s.state is HealthState.HEALTHY)
        await eventually(lambda: exists(kube, "s1-f"), what="the strict follower to start")


async def test_box_level_when_gates_and_requeue_after_repeats(boxes):
    rt, kube = boxes
    gated = rt.box("gated")
    await kube.create(obj("Gated", "g", enabled="false", every="100ms"))
    with trio.fail_after(10):
        await gated.health.wait_until(lambda s: s.state is HealthState.GATED)
    assert not await exists(kube, "g-g")
    await kube.merge_patch(
        ("box.example.com/v1", "Gated"), "g", {"spec": {"enabled": "true"}}, namespace="default"
    )
    await eventually(lambda: exists(kube, "g-g"), what="the gate to open")
    # requeue.after: reconciles keep coming with no event at all.
    start = gated.metrics.reconcile_total["requeue_after"]
    await eventually(
        lambda: holds(gated.metrics.reconcile_total["requeue_after"] >= start + 3),
        what="three requeue-after reconciles",
    )


async def test_a_shrinking_foreach_prunes_the_children_nobody_declares(boxes):
    _, kube = boxes
    await kube.create(obj("Lister", "l", items=["a", "b", "c"]))
    for name in ("l-a", "l-b", "l-c"):
        await eventually(lambda name=name: exists(kube, name), what=name)
    await kube.merge_patch(
        ("box.example.com/v1", "Lister"), "l", {"spec": {"items": ["a"]}}, namespace="default"
    )

    async def pruned():
        return not await exists(kube, "l-b") and not await exists(kube, "l-c")

    await eventually(pruned, what="l-b and l-c to be pruned")
    assert await exists(kube, "l-a")
