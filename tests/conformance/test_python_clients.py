"""Four Python Kubernetes clients against the embedded API server, each on the same script.

``kubernetes`` (official, sync), ``kubernetes_asyncio``, ``lightkube`` and
``kr8s``: each one, reading the kubeconfig the server wrote, does CRUD on a
ConfigMap, a Deployment and a custom resource, every patch type its API
offers (merge, JSON, strategic merge, server-side apply; kr8s has only merge
and JSON patches on its objects, so its strategic and apply patches go
through its own raw ``call_api``), a watch from a resourceVersion that must
see exactly the later changes, and the mapping of 404 and 409 answers to the
client's own errors. The asyncio clients run in their own event loop inside
the (synchronous) test.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conformance_helpers import ApiServerProcess, serve_crd, simple_crd

pytestmark = pytest.mark.slow

GROUP = "clients.example.com"
APPLY = "application/apply-patch+yaml"


@pytest.fixture(scope="module")
def widgets(http: httpx.Client) -> None:
    """A CRD for the custom-resource part of every client's script."""
    spec = {
        "type": "object",
        "properties": {"size": {"type": "integer"}, "color": {"type": "string"}},
    }
    status = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    serve_crd(http, simple_crd(GROUP, "Widget", spec, status))


def namespace(http: httpx.Client, name: str) -> str:
    answer = http.post("/api/v1/namespaces", json={"metadata": {"name": name}})
    assert answer.status_code == 201, answer.text
    return name


def deployment(name: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {"name": "web", "image": image},
                        {"name": "side", "image": "busybox"},
                    ]
                },
            },
        },
    }


def widget(name: str, size: int) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": {"size": size},
    }


def images(obj: dict[str, Any]) -> dict[str, str]:
    containers = obj["spec"]["template"]["spec"]["containers"]
    return {c["name"]: c["image"] for c in containers}


def later_changes(http: httpx.Client, ns: str) -> tuple[str, list[tuple[str, str]]]:
    """A resourceVersion, then two ConfigMap changes after it (what a watch must see)."""
    rv = http.get(f"/api/v1/namespaces/{ns}/configmaps").json()["metadata"]["resourceVersion"]
    path = f"/api/v1/namespaces/{ns}/configmaps"
    assert http.post(path, json={"metadata": {"name": "w1"}, "data": {"a": "1"}}).status_code == 201
    merge = {"content-type": "application/merge-patch+json"}
    assert http.patch(f"{path}/w1", json={"data": {"a": "2"}}, headers=merge).status_code == 200
    return rv, [("ADDED", "w1"), ("MODIFIED", "w1")]


# ------------------------------------------------------------ kubernetes (official)


def test_official_client(apiserver: ApiServerProcess, http: httpx.Client, widgets: None) -> None:
    from kubernetes import client, config, watch
    from kubernetes.client.rest import ApiException

    ns = namespace(http, "cl-official")
    with config.new_client_from_config(config_file=str(apiserver.kubeconfig)) as api:
        core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
        custom = client.CustomObjectsApi(api)
        cm = {"metadata": {"name": "cm"}, "data": {"a": "1"}}
        core.create_namespaced_config_map(ns, cm)
        with pytest.raises(ApiException) as conflict:
            core.create_namespaced_config_map(ns, cm)
        assert conflict.value.status == 409
        got = core.read_namespaced_config_map("cm", ns)
        got.data = {"a": "2"}
        assert core.replace_namespaced_config_map("cm", ns, got).data == {"a": "2"}
        assert [c.metadata.name for c in core.list_namespaced_config_map(ns).items] == ["cm"]
        core.delete_namespaced_config_map("cm", ns)
        with pytest.raises(ApiException) as missing:
            core.read_namespaced_config_map("cm", ns)
        assert missing.value.status == 404

        created = apps.create_namespaced_deployment(ns, deployment("web", "nginx:1"))
        assert created.status is not None
        smp = {
            "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}}
        }
        patched = apps.patch_namespaced_deployment("web", ns, smp)
        assert images(api.sanitize_for_serialization(patched)) == {
            "web": "nginx:2",
            "side": "busybox",
        }
        apps.patch_namespaced_deployment(
            "web",
            ns,
            {"metadata": {"labels": {"tier": "x"}}},
            _content_type="application/merge-patch+json",
        )
        apps.patch_namespaced_deployment(
            "web",
            ns,
            [{"op": "replace", "path": "/spec/replicas", "value": 2}],
            _content_type="application/json-patch+json",
        )
        applied = apps.patch_namespaced_deployment(
            "web",
            ns,
            deployment("web", "nginx:3"),
            field_manager="official",
            _content_type=APPLY,
            force=True,
        )
        assert applied.metadata.labels["tier"] == "x" and applied.spec.replicas == 1
        apps.delete_namespaced_deployment("web", ns)

        where = (GROUP, "v1", ns, "widgets")
        custom.create_namespaced_custom_object(*where, widget("w", 1))
        custom.patch_namespaced_custom_object(*where, "w", {"spec": {"color": "red"}})
        custom.patch_namespaced_custom_object(
            *where, "w", widget("w", 3), field_manager="official", force=True, _content_type=APPLY
        )
        got_widget = custom.get_namespaced_custom_object(*where, "w")
        assert got_widget["spec"] == {"size": 3, "color": "red"}
        custom.delete_namespaced_custom_object(*where, "w")
        with pytest.raises(ApiException) as gone:
            custom.get_namespaced_custom_object(*where, "w")
        assert gone.value.status == 404

        rv, expected = later_changes(http, ns)
        seen = [
            (event["type"], event["object"].metadata.name)
            for event in watch.Watch().stream(
                core.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=1
            )
        ]
        assert seen == expected


# ------------------------------------------------------------ kubernetes_asyncio


def test_kubernetes_asyncio(apiserver: ApiServerProcess, http: httpx.Client, widgets: None) -> None:
    from kubernetes_asyncio import client, config, watch
    from kubernetes_asyncio.client.exceptions import ApiException

    ns = namespace(http, "cl-asyncio")

    async def script() -> None:
        api = await config.new_client_from_config(config_file=str(apiserver.kubeconfig))
        async with api:
            core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
            custom = client.CustomObjectsApi(api)
            cm = {"metadata": {"name": "cm"}, "data": {"a": "1"}}
            await core.create_namespaced_config_map(ns, cm)
            with pytest.raises(ApiException) as conflict:
                await core.create_namespaced_config_map(ns, cm)
            assert conflict.value.status == 409
            got = await core.read_namespaced_config_map("cm", ns)
            got.data = {"a": "2"}
            replaced = await core.replace_namespaced_config_map("cm", ns, got)
            assert replaced.data == {"a": "2"}
            await core.delete_namespaced_config_map("cm", ns)
            with pytest.raises(ApiException) as missing:
                await core.read_namespaced_config_map("cm", ns)
            assert missing.value.status == 404

            created = await apps.create_namespaced_deployment(ns, deployment("web", "nginx:1"))
            assert created.status is not None
            smp = {
                "spec": {
                    "template": {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}
                }
            }
            patched = await apps.patch_namespaced_deployment(
                "web", ns, smp, _content_type="application/strategic-merge-patch+json"
            )
            assert {c.name: c.image for c in patched.spec.template.spec.containers} == {
                "web": "nginx:2",
                "side": "busybox",
            }
            await apps.patch_namespaced_deployment(
                "web",
                ns,
                {"metadata": {"labels": {"tier": "x"}}},
                _content_type="application/merge-patch+json",
            )
            await apps.patch_namespaced_deployment(
                "web",
                ns,
                [{"op": "replace", "path": "/spec/replicas", "value": 2}],
                _content_type="application/json-patch+json",
            )
            applied = await apps.patch_namespaced_deployment(
                "web",
                ns,
                deployment("web", "nginx:3"),
                field_manager="asyncio",
                force=True,
                _content_type=APPLY,
            )
            assert applied.metadata.labels["tier"] == "x" and applied.spec.replicas == 1
            await apps.delete_namespaced_deployment("web", ns)

            where = (GROUP, "v1", ns, "widgets")
            await custom.create_namespaced_custom_object(*where, widget("w", 1))
            await custom.patch_namespaced_custom_object(
                *where,
                "w",
                {"spec": {"color": "red"}},
                _content_type="application/merge-patch+json",
            )
            await custom.patch_namespaced_custom_object(
                *where,
                "w",
                widget("w", 3),
                field_manager="asyncio",
                force=True,
                _content_type=APPLY,
            )
            got_widget = await custom.get_namespaced_custom_object(*where, "w")
            assert got_widget["spec"] == {"size": 3, "color": "red"}
            await custom.delete_namespaced_custom_object(*where, "w")
            with pytest.raises(ApiException) as gone:
                await custom.get_namespaced_custom_object(*where, "w")
            assert gone.value.status == 404

            rv, expected = later_changes(http, ns)
            seen = []
            async with watch.Watch() as stream:
                async for event in stream.stream(
                    core.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=1
                ):
                    seen.append((event["type"], event["object"].metadata.name))
            assert seen == expected

    asyncio.run(script())


# ------------------------------------------------------------ lightkube


@pytest.fixture
def lightkube_client(apiserver: ApiServerProcess) -> Iterator[Any]:
    from lightkube import Client, KubeConfig

    yield Client(config=KubeConfig.from_file(str(apiserver.kubeconfig)), field_manager="lightkube")


def test_lightkube(lightkube_client: Any, http: httpx.Client, widgets: None) -> None:
    from lightkube import ApiError
    from lightkube.generic_resource import create_namespaced_resource
    from lightkube.models.meta_v1 import ObjectMeta
    from lightkube.resources.apps_v1 import Deployment
    from lightkube.resources.core_v1 import ConfigMap
    from lightkube.types import PatchType

    client = lightkube_client
    ns = namespace(http, "cl-lightkube")
    cm = ConfigMap(metadata=ObjectMeta(name="cm", namespace=ns), data={"a": "1"})
    client.create(cm)
    with pytest.raises(ApiError) as conflict:
        client.create(cm)
    assert conflict.value.status.code == 409
    got = client.get(ConfigMap, "cm", namespace=ns)
    got.data = {"a": "2"}
    assert client.replace(got).data == {"a": "2"}
    assert [c.metadata.name for c in client.list(ConfigMap, namespace=ns)] == ["cm"]
    client.delete(ConfigMap, "cm", namespace=ns)
    with pytest.raises(ApiError) as missing:
        client.get(ConfigMap, "cm", namespace=ns)
    assert missing.value.status.code == 404

    created = client.create(Deployment.from_dict(deployment("web", "nginx:1")), namespace=ns)
    assert created.status is not None
    smp = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}}}
    patched = client.patch(Deployment, "web", smp, namespace=ns, patch_type=PatchType.STRATEGIC)
    assert {c.name: c.image for c in patched.spec.template.spec.containers} == {
        "web": "nginx:2",
        "side": "busybox",
    }
    labels = {"metadata": {"labels": {"tier": "x"}}}
    client.patch(Deployment, "web", labels, namespace=ns, patch_type=PatchType.MERGE)
    replicas = [{"op": "replace", "path": "/spec/replicas", "value": 2}]
    client.patch(Deployment, "web", replicas, namespace=ns, patch_type=PatchType.JSON)
    applied = client.apply(
        Deployment.from_dict(deployment("web", "nginx:3")), namespace=ns, force=True
    )
    assert applied.metadata.labels["tier"] == "x" and applied.spec.replicas == 1
    client.delete(Deployment, "web", namespace=ns)

    Widget = create_namespaced_resource(GROUP, "v1", "Widget", "widgets")
    client.create(Widget.from_dict(widget("w", 1)), namespace=ns)
    client.patch(Widget, "w", {"spec": {"color": "red"}}, namespace=ns, patch_type=PatchType.MERGE)
    client.apply(Widget.from_dict(widget("w", 3)), namespace=ns, force=True)
    assert dict(client.get(Widget, "w", namespace=ns).spec) == {"size": 3, "color": "red"}
    client.delete(Widget, "w", namespace=ns)
    with pytest.raises(ApiError) as gone:
        client.get(Widget, "w", namespace=ns)
    assert gone.value.status.code == 404

    rv, expected = later_changes(http, ns)
    seen = []
    for op, obj in client.watch(ConfigMap, namespace=ns, resource_version=rv, server_timeout=1):
        seen.append((op, obj.metadata.name))
        if len(seen) == len(expected):
            break
    assert seen == expected


# ------------------------------------------------------------ kr8s


def test_kr8s(apiserver: ApiServerProcess, http: httpx.Client, widgets: None) -> None:
    import kr8s
    import kr8s.asyncio
    from kr8s.asyncio.objects import ConfigMap, Deployment, new_class

    ns = namespace(http, "cl-kr8s")

    async def script() -> None:
        api = await kr8s.asyncio.api(kubeconfig=str(apiserver.kubeconfig))

        async def raw(url: str, body: Any, content_type: str, version: str) -> dict[str, Any]:
            # kr8s objects patch with merge and JSON patches only: strategic merge and
            # server-side apply go through its own raw call_api.
            async with api.call_api(
                "PATCH",
                version=version,
                url=url,
                namespace=ns,
                content=json.dumps(body),
                headers={"Content-Type": content_type},
            ) as response:
                result: dict[str, Any] = response.json()
                return result

        cm = await ConfigMap(
            {"metadata": {"name": "cm", "namespace": ns}, "data": {"a": "1"}}, api=api
        )
        await cm.create()
        with pytest.raises(kr8s.ServerError) as conflict:
            await (await ConfigMap({"metadata": {"name": "cm", "namespace": ns}}, api=api)).create()
        assert conflict.value.response is not None
        assert conflict.value.response.status_code == 409
        await cm.patch({"data": {"a": "2"}})
        assert (await ConfigMap.get("cm", namespace=ns, api=api)).raw["data"] == {"a": "2"}
        assert [c.name async for c in api.get("configmaps", namespace=ns)] == ["cm"]
        await cm.delete()
        with pytest.raises(kr8s.NotFoundError):
            await ConfigMap.get("cm", namespace=ns, api=api)

        manifest = deployment("web", "nginx:1")
        manifest["metadata"]["namespace"] = ns
        web = await Deployment(manifest, api=api)
        await web.create()
        assert "status" in web.raw
        await web.ready()  # indexes status, which a new Deployment must have
        await web.wait("condition=Available", timeout=10)
        await web.patch([{"op": "replace", "path": "/spec/replicas", "value": 2}], type="json")
        await web.patch({"metadata": {"labels": {"tier": "x"}}})
        smp = {
            "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}}
        }
        patched = await raw(
            "deployments/web", smp, "application/strategic-merge-patch+json", "apps/v1"
        )
        assert images(patched) == {"web": "nginx:2", "side": "busybox"}
        applied = await raw(
            "deployments/web?fieldManager=kr8s&force=true",
            deployment("web", "nginx:3"),
            APPLY,
            "apps/v1",
        )
        assert applied["metadata"]["labels"]["tier"] == "x" and applied["spec"]["replicas"] == 1
        await web.delete()

        Widget = new_class("Widget", version=f"{GROUP}/v1", namespaced=True)
        item = await Widget({**widget("w", 1), "metadata": {"name": "w", "namespace": ns}}, api=api)
        await item.create()
        await item.patch({"spec": {"color": "red"}})
        await raw("widgets/w?fieldManager=kr8s&force=true", widget("w", 3), APPLY, f"{GROUP}/v1")
        await item.refresh()
        assert item.raw["spec"] == {"size": 3, "color": "red"}
        await item.delete()
        with pytest.raises(kr8s.NotFoundError):
            await item.refresh()

        rv, expected = later_changes(http, ns)
        seen = []
        async for event, obj in api.watch("configmaps", namespace=ns, since=rv):
            seen.append((event, obj.name))
            if len(seen) == len(expected):
                break
        assert seen == expected

    asyncio.run(script())


def test_events_written_through_core_v1_read_through_events_v1(
    apiserver: ApiServerProcess, http: httpx.Client
) -> None:
    """kubectl and client-go's old recorder write core/v1 Events without eventTime."""
    from kubernetes import client, config

    ns = namespace(http, "cl-events")
    with config.new_client_from_config(config_file=str(apiserver.kubeconfig)) as api:
        client.CoreV1Api(api).create_namespaced_event(
            ns,
            {
                "metadata": {"name": "legacy"},
                "involvedObject": {"kind": "ConfigMap", "name": "cm", "namespace": ns},
                "reason": "Tested",
                "message": "written through core/v1",
                "type": "Normal",
                "firstTimestamp": "2026-01-02T03:04:05Z",
                "lastTimestamp": "2026-01-02T03:04:05Z",
                "count": 1,
                "source": {"component": "tester"},
            },
        )
        events = client.EventsV1Api(api).list_namespaced_event(ns).items
    assert [(e.metadata.name, e.note, e.reporting_controller) for e in events] == [
        ("legacy", "written through core/v1", "tester")
    ]
    assert events[0].event_time.isoformat().startswith("2026-01-02T03:04:05")
