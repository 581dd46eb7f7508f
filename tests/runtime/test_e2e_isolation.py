"""Isolation, first cut: a failing box and a hanging box beside a healthy one."""

from __future__ import annotations

import textwrap

import trio
from runtime_helpers import eventually, ready_condition

from orkestra_trio.kube import open_kube_client
from orkestra_trio.runtime.health import HealthState
from orkestra_trio.runtime.runtime import open_runtime

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata:
  name: isolation
spec:
  crds:
    healthy:
      apiTypes: {group: iso.example.com, version: v1, kind: Good, plural: goods}
      operatorBox:
        reconciler: {workers: 2}
        onReconcile:
          configMaps:
            - name: "{{ .metadata.name }}-cm"
              data: {owner: "{{ .metadata.name }}"}
    broken:
      apiTypes: {group: iso.example.com, version: v1, kind: Broken, plural: brokens}
      operatorBox:
        reconciler:
          workers: 1
          queue: {failureThreshold: 2}
        status:
          fields:
            - path: size
              value: "not a number {{ .metadata.name }}"
              type: int
    hanging:
      apiTypes: {group: iso.example.com, version: v1, kind: Hang, plural: hangs}
      operatorBox:
        reconciler:
          workers: 1
          timeout: 300ms
          queue: {failureThreshold: 1}
        onReconcile:
          secrets:
            - name: "{{ .metadata.name }}-secret"
              stringData: {k: v}
"""


def cr(kind, plural, name):
    return {
        "apiVersion": "iso.example.com/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": "default"},
        "spec": {},
    }


async def test_failing_and_hanging_boxes_do_not_touch_the_healthy_one(tmp_path):
    path = tmp_path / "isolation.yaml"
    path.write_text(textwrap.dedent(KATALOG))
    async with open_runtime(path, embedded=True) as rt:
        assert rt.apiserver is not None
        # Every Secret create hangs far past the hanging box's timeout.
        rt.apiserver.faults.add_latency(3600, verb="create", resource="secrets")
        async with open_kube_client(rt.server_url) as kube:
            with trio.fail_after(10):
                await rt.wait_ready()
            for i in range(3):
                await kube.create(cr("Broken", "brokens", f"b{i}"))
                await kube.create(cr("Hang", "hangs", f"h{i}"))
            for i in range(10):
                await kube.create(cr("Good", "goods", f"g{i}"))

            async def all_good_ready():
                listed = await kube.list(("iso.example.com/v1", "Good"), namespace="default")
                ready = [
                    obj
                    for obj in listed.items
                    if (ready_condition(obj) or {}).get("status") == "True"
                ]
                return len(ready) == 10

            await eventually(all_good_ready, what="every healthy CR Ready", timeout=15)
            configmaps = await kube.list(("v1", "ConfigMap"), namespace="default")
            names = {obj["metadata"]["name"] for obj in configmaps.items}
            assert {f"g{i}-cm" for i in range(10)} <= names

            broken = rt.box("broken").health
            with trio.fail_after(10):
                snap = await broken.wait_until(lambda s: s.state is HealthState.DEGRADED)
            assert "cannot convert" in (snap.last_error or "")
            with trio.fail_after(10):
                hang = await rt.box("hanging").health.wait_until(
                    lambda s: s.state is HealthState.DEGRADED
                )
            assert "timed out" in (hang.last_error or "")

            # The broken box reports the error on its CRs too.
            async def broken_reported():
                obj = await kube.get(("iso.example.com/v1", "Broken"), "b0", namespace="default")
                condition = ready_condition(obj) or {}
                return condition.get("status") == "False" and "cannot convert" in condition.get(
                    "message", ""
                )

            await eventually(broken_reported, what="Ready=False on a broken CR")

            # A reconcile that runs out of time is reported on its CR too.
            async def timeout_reported():
                obj = await kube.get(("iso.example.com/v1", "Hang"), "h0", namespace="default")
                condition = ready_condition(obj) or {}
                return condition.get("status") == "False" and "timed out" in condition.get(
                    "message", ""
                )

            await eventually(timeout_reported, what="Ready=False on a hanging CR")
            assert rt.box("hanging").metrics.reconcile_total["timeout"] >= 1

            assert rt.box("healthy").health.snapshot().state is HealthState.HEALTHY
            for box in rt.boxes.values():
                assert box.supervisor.restarts == 0
            assert rt.box("broken").metrics.reconcile_errors_total >= 2
        rt.apiserver.faults.clear()
