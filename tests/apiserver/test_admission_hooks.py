"""In-process admission hooks: the embedded server calls plain callables where a cluster
would call admission webhooks, on CREATE and UPDATE of an object, not of its status."""

import httpx

from orkestra_trio.apiserver import ApiServer
from orkestra_trio.apiserver.admission import AdmissionRequest, AdmissionResponse

CMS = "/api/v1/namespaces/default/configmaps"


def configmap(name: str, **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


async def test_hooks_mutate_deny_and_warn(server: ApiServer, client: httpx.AsyncClient):
    seen: list[AdmissionRequest] = []

    def hook(request: AdmissionRequest) -> AdmissionResponse:
        seen.append(request)
        data = request.object.get("data") or {}
        if data.get("size") == "huge":
            return AdmissionResponse(allowed=False, message="too big")
        patched = {**request.object, "data": {**data, "tier": data.get("tier", "standard")}}
        return AdmissionResponse(patched=patched, warnings=("tier defaulted",))

    remove = server.admission.add("cm.example.com", "", "configmaps", hook)
    created = await client.post(CMS, json=configmap("a", size="small"))
    assert created.status_code == 201
    assert created.json()["data"] == {"size": "small", "tier": "standard"}
    assert "tier defaulted" in created.headers.get("warning", "")

    denied = await client.post(CMS, json=configmap("b", size="huge"))
    assert denied.status_code == 400
    assert denied.json()["message"] == (
        'admission webhook "cm.example.com" denied the request: too big'
    )
    assert (await client.get(f"{CMS}/b")).status_code == 404

    updated = await client.patch(
        f"{CMS}/a",
        json={"data": {"size": "huge"}},
        headers={"content-type": "application/merge-patch+json"},
    )
    assert updated.status_code == 400
    assert [r.operation for r in seen] == ["CREATE", "CREATE", "UPDATE"]
    assert seen[-1].old_object is not None and seen[-1].old_object["data"]["size"] == "small"

    remove()
    assert (await client.post(CMS, json=configmap("c", size="huge"))).status_code == 201


async def test_a_hook_that_raises_fails_the_request(server: ApiServer, client: httpx.AsyncClient):
    def broken(request: AdmissionRequest) -> AdmissionResponse:
        raise RuntimeError("boom")

    server.admission.add("broken.example.com", "", "configmaps", broken)
    answer = await client.post(CMS, json=configmap("a"))
    assert answer.status_code == 500
    assert 'failed calling webhook "broken.example.com": boom' in answer.json()["message"]


async def test_the_status_subresource_is_not_admitted(server: ApiServer, client: httpx.AsyncClient):
    calls = []
    server.admission.add("x", "", "pods", lambda r: calls.append(r) or AdmissionResponse())
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }
    assert (await client.post("/api/v1/namespaces/default/pods", json=pod)).status_code == 201
    answer = await client.patch(
        "/api/v1/namespaces/default/pods/p/status",
        json={"status": {"phase": "Running"}},
        headers={"content-type": "application/merge-patch+json"},
    )
    assert answer.status_code == 200
    assert [r.operation for r in calls] == ["CREATE"]


async def test_failure_policy_ignore_passes_over_a_hook_that_raises(
    server: ApiServer, client: httpx.AsyncClient
):
    def broken(request: AdmissionRequest) -> AdmissionResponse:
        raise RuntimeError("boom")

    server.admission.add("lenient.example.com", "", "configmaps", broken, failure_policy="Ignore")
    assert (await client.post(CMS, json=configmap("a"))).status_code == 201


async def test_delete_hooks_of_every_resource_see_the_stored_object(
    server: ApiServer, client: httpx.AsyncClient
):
    """A hook for ANY resource and DELETE, as a webhook with ``resources: ["*"]``: asked
    with the object about to go, for a single delete and for each of a collection's."""
    from orkestra_trio.apiserver.admission import ANY

    seen: list[tuple[str, str, str]] = []

    def keep_kept(request: AdmissionRequest) -> AdmissionResponse:
        seen.append((request.operation, request.kind, request.name))
        if (request.object.get("data") or {}).get("keep") == "yes":
            return AdmissionResponse(allowed=False, message="kept")
        return AdmissionResponse()

    server.admission.add("keep.example.com", ANY, ANY, keep_kept, operations=("DELETE",))
    for name, keep in (("a", "yes"), ("b", "no")):
        assert (await client.post(CMS, json=configmap(name, keep=keep))).status_code == 201
    assert seen == []  # CREATE is not among its operations
    denied = await client.delete(f"{CMS}/a")
    assert denied.status_code == 400
    assert (
        denied.json()["message"] == 'admission webhook "keep.example.com" denied the request: kept'
    )
    assert (await client.get(f"{CMS}/a")).status_code == 200
    assert (await client.delete(f"{CMS}/b")).status_code == 200
    assert (await client.delete(f"{CMS}/missing")).status_code == 404  # nothing to ask about
    assert (await client.delete(CMS)).status_code == 400  # the collection meets "a"
    assert seen == [
        ("DELETE", "ConfigMap", "a"),
        ("DELETE", "ConfigMap", "b"),
        ("DELETE", "ConfigMap", "a"),
    ]
