"""onDelete children do not outlive their CR forever (the rule in docs/katalog.md).

A cleanup Job gets ``ttlSecondsAfterFinished`` (the cluster's TTL controller
removes it once finished); an entry with ``wait: true`` holds the CR's
finalizer until its Job finished, and the runtime then deletes the Job.
"""

from __future__ import annotations

import trio
from runtime_helpers import JOB, eventually

from orkestra_trio.katalog.manifests import OWNER_UID_LABEL
from orkestra_trio.kube import NotFound, open_kube_client
from orkestra_trio.runtime.pipeline import FINALIZER, ON_DELETE_JOB_TTL
from orkestra_trio.runtime.runtime import open_runtime

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: clean}
spec:
  crds:
    store:
      apiTypes: {group: clean.example.com, version: v1, kind: Store, plural: stores}
      operatorBox:
        reconciler: {resync: 1h}
        onReconcile:
          configMaps:
            - name: "{{ .metadata.name }}"
              data: {a: "1"}
        onDelete:
          jobs:
            - name: "{{ .metadata.name }}-drain"
              image: busybox
              command: ["true"]
              wait: true
            - name: "{{ .metadata.name }}-notify"
              image: busybox
              command: ["true"]
              spec: {ttlSecondsAfterFinished: 60}
            - name: "{{ .metadata.name }}-report"
              image: busybox
              command: ["true"]
"""

STORE = ("clean.example.com/v1", "Store")


async def exists(kube, ref, name, namespace="default"):
    try:
        return await kube.get(ref, name, namespace=namespace)
    except NotFound:
        return None


async def test_on_delete_jobs_get_a_ttl_and_wait_true_holds_the_finalizer(tmp_path):
    path = tmp_path / "clean.yaml"
    path.write_text(KATALOG)
    # No simulated Job controller: the test completes the drain Job itself.
    async with (
        open_runtime(path, embedded=True, workload_simulation=False) as rt,
        open_kube_client(rt.server_url) as kube,
    ):
        with trio.fail_after(10):
            await rt.wait_ready()
        store = await kube.create(
            {
                "apiVersion": "clean.example.com/v1",
                "kind": "Store",
                "metadata": {"name": "s1", "namespace": "default"},
                "spec": {},
            }
        )
        uid = store["metadata"]["uid"]

        async def finalized():
            obj = await kube.get(STORE, "s1", namespace="default")
            return FINALIZER in (obj["metadata"].get("finalizers") or ())

        await eventually(finalized, what="our finalizer on the CR")
        await kube.delete(STORE, "s1", namespace="default")

        drain = await eventually(lambda: exists(kube, JOB, "s1-drain"), what="the drain Job")
        notify = await eventually(lambda: exists(kube, JOB, "s1-notify"), what="notify Job")
        report = await eventually(lambda: exists(kube, JOB, "s1-report"), what="report Job")
        for job in (drain, notify, report):
            assert not job["metadata"].get("ownerReferences")
            assert job["metadata"]["labels"][OWNER_UID_LABEL] == uid
        assert report["spec"]["ttlSecondsAfterFinished"] == ON_DELETE_JOB_TTL
        assert notify["spec"]["ttlSecondsAfterFinished"] == 60  # the Katalog's own wins

        # The drain Job runs: the CR stays, held by our finalizer.
        with trio.fail_after(10):
            await rt.wait_idle(settle=0.2)
        held = await kube.get(STORE, "s1", namespace="default")
        assert FINALIZER in held["metadata"]["finalizers"]
        assert held["metadata"].get("deletionTimestamp")

        # It completes (no Job controller here: we write what one would).
        await kube.patch_status(
            JOB,
            "s1-drain",
            {
                "status": {
                    "conditions": [{"type": "Complete", "status": "True"}],
                    "succeeded": 1,
                }
            },
            namespace="default",
        )

        async def released():
            return await exists(kube, STORE, "s1") is None

        await eventually(released, what="the CR released once the drain Job completed")

        async def drain_gone():
            job = await exists(kube, JOB, "s1-drain")
            return job is None or bool(job["metadata"].get("deletionTimestamp"))

        await eventually(drain_gone, what="the finished drain Job deleted")
        # The others are left to their TTL.
        assert await exists(kube, JOB, "s1-notify") is not None
        assert await exists(kube, JOB, "s1-report") is not None
