"""End to end: katalogs/website.yaml on the embedded API server, checked through a socket client."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
import trio
from runtime_helpers import DEPLOY, JOB, SERVICE, WEBSITE, absent, eventually, ready_condition

from orkestra_trio.kube import NotFound, open_kube_client
from orkestra_trio.runtime.pipeline import FINALIZER
from orkestra_trio.runtime.runtime import open_runtime

KATALOG = Path(__file__).parents[2] / "katalogs" / "website.yaml"


@pytest.fixture
async def runtime():
    async with open_runtime(KATALOG, embedded=True) as rt:
        yield rt


@pytest.fixture
async def kube(runtime):
    # The checks go through a real socket, as kubectl would.
    async with open_kube_client(runtime.server_url) as client:
        yield client


async def test_website_lifecycle(runtime, kube):
    with trio.fail_after(10):
        await runtime.wait_ready()

    async def running():
        cr = await kube.get(WEBSITE, "my-site", namespace="default")
        ready = ready_condition(cr)
        status = cr.get("status") or {}
        # Pods start one by one (the embedded server runs them since issue 15), so
        # Running (readyReplicas > 0) may come before both replicas are ready.
        if (
            ready
            and ready["status"] == "True"
            and status.get("phase") == "Running"
            and status.get("readyReplicas") == 2
        ):
            return cr
        return None

    cr = await eventually(running, what="my-site Ready and Running with 2 ready replicas")
    uid = cr["metadata"]["uid"]
    assert cr["status"]["observedGeneration"] == cr["metadata"]["generation"] == 1
    assert cr["status"]["readyReplicas"] == 2
    assert cr["status"]["externalUrl"] == "https://my-site.example.com"
    assert FINALIZER in cr["metadata"]["finalizers"]

    deployment = await kube.get(DEPLOY, "my-site", namespace="default")
    service = await kube.get(SERVICE, "my-site", namespace="default")
    for child in (deployment, service):
        (owner,) = child["metadata"]["ownerReferences"]
        assert owner["uid"] == uid and owner["controller"] is True and owner["kind"] == "Website"
        assert child["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "orkestra"
        assert child["metadata"]["labels"]["orkestra.orkspace.io/owner"] == "my-site"
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"

    # Editing the spec updates the children and observedGeneration.
    await kube.merge_patch(
        WEBSITE, "my-site", {"spec": {"replicas": 3, "image": "nginx:1.28"}}, namespace="default"
    )

    async def updated():
        d = await kube.get(DEPLOY, "my-site", namespace="default")
        image = d["spec"]["template"]["spec"]["containers"][0]["image"]
        return d["spec"]["replicas"] == 3 and image == "nginx:1.28"

    await eventually(updated, what="the Deployment to follow the new spec")

    async def observed_generation_2():
        cr = await kube.get(WEBSITE, "my-site", namespace="default")
        return cr["status"].get("observedGeneration") == 2

    await eventually(observed_generation_2, what="observedGeneration 2")

    # Deleting a child: the runtime recreates it.
    await kube.delete(SERVICE, "my-site", namespace="default")

    async def service_back():
        svc = await kube.get(SERVICE, "my-site", namespace="default")
        return svc["metadata"]["uid"] != service["metadata"]["uid"]

    await eventually(service_back, what="the Service to be recreated")

    # Changing the Deployment by hand: corrected.
    await kube.merge_patch(DEPLOY, "my-site", {"spec": {"replicas": 7}}, namespace="default")

    async def corrected():
        d = await kube.get(DEPLOY, "my-site", namespace="default")
        return d["spec"]["replicas"] == 3 and d["metadata"]["generation"] > 2

    await eventually(corrected, what="the hand-made replicas change to be corrected")

    # Removing spec.host deletes the Ingress (its when turned false).
    await kube.get(("networking.k8s.io/v1", "Ingress"), "my-site", namespace="default")
    await kube.json_patch(
        WEBSITE, "my-site", [{"op": "remove", "path": "/spec/host"}], namespace="default"
    )

    await eventually(
        lambda: absent(kube, ("networking.k8s.io/v1", "Ingress"), "my-site"),
        what="the Ingress to be deleted",
    )

    # Deleting the CR: onDelete runs under the finalizer, then the children go (GC).
    await kube.delete(WEBSITE, "my-site", namespace="default")

    await eventually(
        lambda: absent(kube, WEBSITE, "my-site"), what="the CR to go once its finalizer is removed"
    )
    job = await kube.get(JOB, "my-site-cleanup", namespace="default")
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox:1.36"

    async def children_collected():
        left = []
        for ref in (DEPLOY, SERVICE):
            with contextlib.suppress(NotFound):
                left.append(await kube.get(ref, "my-site", namespace="default"))
        return not left

    await eventually(children_collected, what="the children to be garbage collected")

    events = await kube.list(
        ("v1", "Event"),
        namespace="default",
        field_selector="involvedObject.name=my-site",
    )
    reasons = {event["reason"] for event in events.items}
    assert {"WebsiteReconciled", "Deleting", "WebsiteDeleted"} <= reasons
    assert runtime.box("website").supervisor.restarts == 0
