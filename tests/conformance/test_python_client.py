"""The official ``kubernetes`` Python client against the embedded API server.

The client is synchronous (urllib3); that is fine here, since it runs in the
test process against the server in another process. It reads the kubeconfig
the server wrote, exactly as a user's script would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from conformance_helpers import ApiServerProcess, wait_until
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import NotFoundError

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
GROUP = "py.demo.example.com"


@pytest.fixture(scope="module")
def api_client(apiserver: ApiServerProcess) -> Iterator[client.ApiClient]:
    with config.new_client_from_config(config_file=str(apiserver.kubeconfig)) as api:
        yield api


@pytest.fixture(scope="module")
def core(api_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


def namespace(core: client.CoreV1Api, name: str) -> str:
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    return name


def test_list_namespaces_and_configmaps(core: client.CoreV1Api) -> None:
    names = {ns.metadata.name for ns in core.list_namespace().items}
    assert {"default", "kube-system"} <= names

    ns = namespace(core, "py-list")
    for i in range(3):
        core.create_namespaced_config_map(
            ns,
            client.V1ConfigMap(
                metadata=client.V1ObjectMeta(name=f"cm-{i}", labels={"tier": str(i % 2)}),
                data={"index": str(i)},
            ),
        )
    listed = core.list_namespaced_config_map(ns)
    assert [cm.metadata.name for cm in listed.items] == ["cm-0", "cm-1", "cm-2"]
    assert listed.metadata.resource_version.isdigit()
    selected = core.list_namespaced_config_map(ns, label_selector="tier=0")
    assert [cm.metadata.name for cm in selected.items] == ["cm-0", "cm-2"]

    page = core.list_namespaced_config_map(ns, limit=2)
    assert len(page.items) == 2 and page.metadata._continue
    rest = core.list_namespaced_config_map(ns, limit=2, _continue=page.metadata._continue)
    assert [cm.metadata.name for cm in rest.items] == ["cm-2"]

    with pytest.raises(ApiException) as conflict:
        core.create_namespaced_config_map(
            ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="cm-0"))
        )
    assert conflict.value.status == 409
    assert json.loads(conflict.value.body)["reason"] == "AlreadyExists"


def test_watch_from_a_resource_version_sees_exactly_the_later_changes(
    core: client.CoreV1Api,
) -> None:
    ns = namespace(core, "py-watch")
    first = core.create_namespaced_config_map(
        ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="first"), data={"v": "1"})
    )
    start = first.metadata.resource_version
    core.patch_namespaced_config_map("first", ns, {"data": {"v": "2"}})
    core.create_namespaced_config_map(
        ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="second"))
    )
    core.delete_namespaced_config_map("first", ns)

    seen = []
    # timeout_seconds makes the server end the stream, so "exactly" is checkable:
    # nothing missing, nothing extra, nothing from before `start`.
    for event in watch.Watch().stream(
        core.list_namespaced_config_map, ns, resource_version=start, timeout_seconds=1
    ):
        obj = event["object"]
        seen.append((event["type"], obj.metadata.name, int(obj.metadata.resource_version)))
    assert [(kind, name) for kind, name, _ in seen] == [
        ("MODIFIED", "first"),
        ("ADDED", "second"),
        ("DELETED", "first"),
    ]
    versions = [rv for _, _, rv in seen]
    assert int(start) < versions[0] < versions[1] < versions[2]


@pytest.fixture(scope="module")
def dynamic(api_client: client.ApiClient, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A DynamicClient once the test CRD (created through it) is served."""
    cache = tmp_path_factory.mktemp("dynamic") / "discovery.json"
    bootstrap = DynamicClient(api_client, cache_file=str(cache))
    crd = yaml.safe_load((REPO / "katalogs" / "website" / "crd.yaml").read_text())
    crd["metadata"]["name"] = f"websites.{GROUP}"
    crd["spec"]["group"] = GROUP
    crd["spec"]["names"]["shortNames"] = ["wspy"]
    crds = bootstrap.resources.get(
        api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition"
    )
    crds.create(body=crd)

    def established() -> bool:
        conditions = crds.get(name=f"websites.{GROUP}").status.conditions or []
        return any(c.type == "Established" and c.status == "True" for c in conditions)

    wait_until(established, timeout=10, what="the CRD to be established")
    # A fresh client: its discovery includes the new group.
    cache.unlink(missing_ok=True)
    return DynamicClient(api_client, cache_file=str(cache))


def test_dynamic_client_create_get_patch_delete_a_custom_resource(dynamic: Any) -> None:
    websites = dynamic.resources.get(api_version=f"{GROUP}/v1", kind="Website")
    assert websites.namespaced and websites.short_names == ["wspy"]
    body = {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Website",
        "metadata": {"name": "dyn", "namespace": "default"},
        "spec": {"image": "nginx:1.27", "replicas": 2, "host": "dyn.example.com"},
    }
    created = websites.create(body=body, namespace="default")
    assert created.metadata.generation == 1
    uid = created.metadata.uid

    got = websites.get(name="dyn", namespace="default")
    assert got.metadata.uid == uid
    assert got.spec.replicas == 2

    patched = websites.patch(
        name="dyn",
        namespace="default",
        body={"spec": {"replicas": 3, "host": None}},
        content_type="application/merge-patch+json",
    )
    assert patched.spec.to_dict() == {"image": "nginx:1.27", "replicas": 3}
    assert patched.metadata.generation == 2
    assert int(patched.metadata.resourceVersion) > int(created.metadata.resourceVersion)

    listed = websites.get(namespace="default")
    assert [item.metadata.name for item in listed.items] == ["dyn"]

    deleted = websites.delete(name="dyn", namespace="default")
    assert deleted.kind in {"Status", "Website"}
    with pytest.raises(NotFoundError):
        websites.get(name="dyn", namespace="default")


def test_custom_objects_api(api_client: client.ApiClient, dynamic: Any) -> None:
    """CustomObjectsApi: the typed client most operators use for CRs."""
    custom = client.CustomObjectsApi(api_client)
    where = (GROUP, "v1", "default", "websites")
    body = {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Website",
        "metadata": {"name": "custom"},
        "spec": {"replicas": 1},
    }
    created = custom.create_namespaced_custom_object(*where, body)
    start = created["metadata"]["resourceVersion"]

    merged = custom.patch_namespaced_custom_object(*where, "custom", {"spec": {"replicas": 2}})
    assert merged["spec"] == {"replicas": 2}
    status = custom.patch_namespaced_custom_object_status(
        *where, "custom", {"status": {"phase": "Up"}, "spec": {"replicas": 9}}
    )
    assert status["status"] == {"phase": "Up"} and status["spec"] == {"replicas": 2}
    patched = custom.patch_namespaced_custom_object(
        *where,
        "custom",
        [
            {"op": "test", "path": "/spec/replicas", "value": 2},
            {"op": "replace", "path": "/spec/replicas", "value": 5},
        ],
        _content_type="application/json-patch+json",
    )
    assert patched["spec"] == {"replicas": 5}
    assert patched["metadata"]["generation"] == 3

    stale = {**body, "metadata": {"name": "custom", "resourceVersion": start}}
    with pytest.raises(ApiException) as conflict:
        custom.replace_namespaced_custom_object(*where, "custom", stale)
    assert conflict.value.status == 409

    names = [
        o["metadata"]["name"]
        for o in custom.list_cluster_custom_object(GROUP, "v1", "websites")["items"]
    ]
    assert "custom" in names
    seen = [
        (event["type"], event["object"]["spec"]["replicas"])
        for event in watch.Watch().stream(
            custom.list_namespaced_custom_object,
            *where,
            resource_version=start,
            timeout_seconds=1,
        )
        if event["object"]["metadata"]["name"] == "custom"
    ]
    # merge patch, status patch, JSON patch: three MODIFIED events after `start`.
    assert seen == [("MODIFIED", 2), ("MODIFIED", 2), ("MODIFIED", 5)]

    custom.delete_namespaced_custom_object(*where, "custom")
    with pytest.raises(ApiException) as gone:
        custom.get_namespaced_custom_object(*where, "custom")
    assert gone.value.status == 404


def test_string_maps_are_type_checked(http: httpx.Client) -> None:
    """What kube's JSON decoder refuses (the official client refuses it itself, via pydantic)."""
    cases = [
        (
            "configmaps",
            {"metadata": {"labels": {"enabled": True}}},
            "ObjectMeta.metadata.labels of type string",
        ),
        (
            "configmaps",
            {"data": {"replicas": 3}},
            "number into Go struct field ConfigMap.data of type string",
        ),
        ("secrets", {"stringData": {"debug": True}}, "bool into Go struct field Secret.stringData"),
        ("secrets", {"data": {"token": "not base64!"}}, "illegal base64 data in Secret.data"),
    ]
    for i, (plural, body, message) in enumerate(cases):
        body["metadata"] = {"name": f"py-typed-{i}", **body.get("metadata", {})}
        answer = http.post(f"/api/v1/namespaces/default/{plural}", json=body)
        assert answer.status_code == 400, answer.text
        assert message in answer.json()["message"]
    fine = {
        "metadata": {"name": "py-typed-ok"},
        "data": {"token": "czNjcmV0"},
        "stringData": {"a": "b"},
    }
    answer = http.post("/api/v1/namespaces/default/secrets", json=fine)
    assert answer.status_code == 201, answer.text
    assert answer.json()["data"] == {"token": "czNjcmV0", "a": "Yg=="}
