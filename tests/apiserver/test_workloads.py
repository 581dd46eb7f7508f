"""The workload simulation: Deployments/StatefulSets become available, Jobs complete."""

import httpx
import trio

from k8s_objects import deployment
from orkestra_trio.apiserver import open_apiserver

MERGE = {"content-type": "application/merge-patch+json"}


def workload(kind, name, replicas):
    return {**deployment(name, replicas, "nginx", container="c"), "kind": kind}


async def wait_status(client, url, predicate, timeout=3.0):
    with trio.fail_after(timeout):
        while True:
            obj = (await client.get(url)).json()
            if predicate(obj):
                return obj
            await trio.sleep(0.02)


def available(obj):
    status = obj.get("status") or {}
    conds = {c["type"]: c["status"] for c in status.get("conditions") or ()}
    return (
        conds.get("Available") == "True"
        and status.get("readyReplicas", 0) == obj["spec"]["replicas"]
        and status.get("observedGeneration") == obj["metadata"]["generation"]
    )


async def test_deployments_statefulsets_and_jobs_get_status():
    async with (
        open_apiserver(workload_delay=0.05) as server,
        httpx.AsyncClient(base_url=server.url) as client,
    ):
        base = "/apis/apps/v1/namespaces/default"
        await client.post(f"{base}/deployments", json=workload("Deployment", "web", 2))
        await client.post(f"{base}/statefulsets", json=workload("StatefulSet", "db", 3))
        dep = await wait_status(client, f"{base}/deployments/web", available)
        assert dep["status"]["availableReplicas"] == 2
        assert dep["status"]["updatedReplicas"] == 2
        sts = await wait_status(client, f"{base}/statefulsets/db", available)
        assert sts["status"]["readyReplicas"] == 3
        # A spec change is followed by a new status for the new generation.
        await client.patch(f"{base}/deployments/web", json={"spec": {"replicas": 4}}, headers=MERGE)
        dep = await wait_status(client, f"{base}/deployments/web", available)
        assert dep["metadata"]["generation"] == 2 and dep["status"]["readyReplicas"] == 4
        revision = server.store.revision
        await trio.sleep(0.2)
        assert server.store.revision == revision  # converged: no further writes

        job = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "once"},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}},
        }
        await client.post("/apis/batch/v1/namespaces/default/jobs", json=job)

        def complete(obj):
            conds = (obj.get("status") or {}).get("conditions") or ()
            return any(c["type"] == "Complete" and c["status"] == "True" for c in conds)

        done = await wait_status(client, "/apis/batch/v1/namespaces/default/jobs/once", complete)
        assert done["status"]["succeeded"] == 1


async def test_simulation_can_be_switched_off(server, client):
    base = "/apis/apps/v1/namespaces/default"
    await client.post(f"{base}/deployments", json=workload("Deployment", "idle", 1))
    await trio.sleep(0.3)
    obj = (await client.get(f"{base}/deployments/idle")).json()
    assert not (obj.get("status") or {}).get("readyReplicas")


async def test_a_daemonset_reports_its_pod_ready():
    async with (
        open_apiserver(workload_delay=0.05) as server,
        httpx.AsyncClient(base_url=server.url) as client,
    ):
        base = "/apis/apps/v1/namespaces/default"
        daemonset = workload("DaemonSet", "agent", 1)
        del daemonset["spec"]["replicas"]
        await client.post(f"{base}/daemonsets", json=daemonset)

        def ready(obj):
            status = obj.get("status") or {}
            return (
                status.get("observedGeneration") == obj["metadata"]["generation"]
                and status["numberReady"] == status["desiredNumberScheduled"] == 1
            )

        await wait_status(client, f"{base}/daemonsets/agent", ready)
