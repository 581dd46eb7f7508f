"""The client against the real embedded API server over a loopback socket: every verb."""

import pytest
import trio

from k8s_objects import crd, spec_schema
from orkestra_trio.apiserver import open_apiserver
from orkestra_trio.kube import (
    ALL_NAMESPACES,
    AlreadyExists,
    BadRequest,
    Conflict,
    EventRecorder,
    Invalid,
    NotFound,
    load_kubeconfig,
    open_kube_client,
    try_acquire_lease,
)
from orkestra_trio.kube.leases import micro_time

CM = ("v1", "ConfigMap")
DEPLOY = ("apps/v1", "Deployment")


@pytest.fixture
async def server():
    async with open_apiserver(host="127.0.0.1", port=0, workload_simulation=False) as srv:
        yield srv


@pytest.fixture
async def kube(server, tmp_path):
    # Through the kubeconfig the server writes, as a user would.
    path = tmp_path / "kubeconfig"
    server.write_kubeconfig(path)
    async with open_kube_client(load_kubeconfig(str(path))) as client:
        yield client


def configmap(name, namespace=None, **data):
    meta = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def deployment(name, replicas=1):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1"}]},
            },
        },
    }


async def test_create_get_replace_and_typed_errors(kube):
    created = await kube.create(configmap("a", x="1"))
    assert created["metadata"]["namespace"] == "default"
    assert created["metadata"]["uid"]
    got = await kube.get(CM, "a")
    assert got["data"] == {"x": "1"}

    with pytest.raises(AlreadyExists, match=r"create v1 ConfigMap default/a"):
        await kube.create(configmap("a"))
    with pytest.raises(NotFound, match=r"get v1 ConfigMap default/missing"):
        await kube.get(CM, "missing")

    got["data"]["x"] = "2"
    replaced = await kube.replace(got)
    assert replaced["data"]["x"] == "2"
    assert int(replaced["metadata"]["resourceVersion"]) > int(got["metadata"]["resourceVersion"])
    # got still carries the old resourceVersion: a stale replace conflicts.
    got["data"]["x"] = "3"
    with pytest.raises(Conflict, match=r"replace v1 ConfigMap default/a"):
        await kube.replace(got)

    generated = await kube.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "gen-"}}
    )
    assert generated["metadata"]["name"].startswith("gen-")


async def test_list_paginates_across_namespaces_with_selectors(kube):
    await kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}})
    for i in range(7):
        obj = configmap(f"cm-{i}")
        obj["metadata"]["labels"] = {"parity": "even" if i % 2 == 0 else "odd"}
        await kube.create(obj)
    await kube.create(configmap("elsewhere", namespace="other"))

    listed = await kube.list(CM, page_size=2)
    names = [o["metadata"]["name"] for o in listed.items]
    assert sorted(names) == [f"cm-{i}" for i in range(7)]
    assert listed.resource_version

    page = await kube.list_page(CM, limit=2)
    assert len(page["items"]) == 2 and page["metadata"]["continue"]

    everywhere = await kube.list(CM, namespace=ALL_NAMESPACES, page_size=3)
    assert {o["metadata"]["namespace"] for o in everywhere.items} >= {"default", "other"}

    even = await kube.list(CM, label_selector="parity=even")
    assert len(even.items) == 4
    one = await kube.list(CM, field_selector="metadata.name=cm-3")
    assert [o["metadata"]["name"] for o in one.items] == ["cm-3"]
    with pytest.raises(BadRequest, match="list v1 ConfigMap in namespace default"):
        await kube.list(CM, label_selector="in in in (")


async def test_merge_json_strategic_patch_and_dry_run(kube):
    await kube.create(deployment("web"))
    patched = await kube.merge_patch(DEPLOY, "web", {"spec": {"replicas": 3}})
    assert patched["spec"]["replicas"] == 3
    patched = await kube.json_patch(
        DEPLOY, "web", [{"op": "replace", "path": "/spec/replicas", "value": 4}]
    )
    assert patched["spec"]["replicas"] == 4
    with pytest.raises(Invalid):
        await kube.json_patch(
            DEPLOY, "web", [{"op": "test", "path": "/spec/replicas", "value": 99}]
        )
    patched = await kube.patch(
        DEPLOY,
        "web",
        {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}}},
        type="strategic",
    )
    assert patched["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:2"
    dry = await kube.merge_patch(DEPLOY, "web", {"spec": {"replicas": 9}}, dry_run=True)
    assert dry["spec"]["replicas"] == 9
    assert (await kube.get(DEPLOY, "web"))["spec"]["replicas"] == 4


async def test_server_side_apply_creates_then_merges(kube):
    applied = await kube.apply(configmap("applied", a="1"))
    assert applied["data"] == {"a": "1"}
    managers = {m["manager"] for m in applied["metadata"].get("managedFields", [])}
    assert "orkestra" in managers
    applied = await kube.apply(configmap("applied", a="1", b="2"))
    assert applied["data"] == {"a": "1", "b": "2"}
    # Another manager changing a field we own conflicts unless forced.
    with pytest.raises(Conflict):
        await kube.apply(configmap("applied", a="other"), field_manager="someone-else")
    forced = await kube.apply(
        configmap("applied", a="other"), field_manager="someone-else", force=True
    )
    assert forced["data"]["a"] == "other"


async def test_status_subresource_get_patch_replace(kube):
    await kube.create(deployment("st"))
    patched = await kube.patch_status(DEPLOY, "st", {"status": {"readyReplicas": 1}})
    assert patched["status"]["readyReplicas"] == 1
    status = await kube.get_status(DEPLOY, "st")
    assert status["status"]["readyReplicas"] == 1
    status["status"]["readyReplicas"] = 2
    status["spec"]["replicas"] = 7  # ignored by /status
    replaced = await kube.replace_status(status)
    assert replaced["status"]["readyReplicas"] == 2
    assert replaced["spec"]["replicas"] == 1
    # The main endpoint ignores status.
    merged = await kube.merge_patch(DEPLOY, "st", {"status": {"readyReplicas": 5}})
    assert merged["status"]["readyReplicas"] == 2


async def test_delete_with_preconditions_and_propagation(kube):
    obj = await kube.create(configmap("doomed"))
    with pytest.raises(Conflict, match="delete v1 ConfigMap default/doomed"):
        await kube.delete(CM, "doomed", uid="not-the-uid")
    with pytest.raises(Conflict):
        await kube.delete(CM, "doomed", resource_version="1")
    await kube.delete(CM, "doomed", dry_run=True)
    await kube.get(CM, "doomed")
    await kube.delete(
        CM,
        "doomed",
        uid=obj["metadata"]["uid"],
        resource_version=obj["metadata"]["resourceVersion"],
        propagation_policy="Foreground",
    )
    # Foreground: the garbage collector removes it once it has no dependents; like
    # kube's, it runs beside the API, so the object is gone soon, not at once.
    with trio.fail_after(5):
        while True:
            try:
                await kube.get(CM, "doomed")
            except NotFound:
                break
            await trio.sleep(0.01)
    with pytest.raises(NotFound, match="delete v1 ConfigMap default/doomed"):
        await kube.delete(CM, "doomed")


async def test_cluster_scoped_resources(kube):
    ns = await kube.create(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-x"}}
    )
    assert "namespace" not in ns["metadata"]
    assert (await kube.get(("v1", "Namespace"), "team-x"))["metadata"]["name"] == "team-x"
    cm = await kube.create(configmap("in-team", namespace="team-x"))
    assert cm["metadata"]["namespace"] == "team-x"
    assert (await kube.get(CM, "in-team", namespace="team-x"))["metadata"]["name"] == "in-team"


CRD = crd(
    "widgets",
    "Widget",
    status=True,
    short_names=("wd",),
    schema=spec_schema(
        {
            "type": "object",
            "required": ["size"],
            "properties": {"size": {"type": "integer", "minimum": 1}},
        }
    ),
)


async def test_crd_created_later_is_found_by_the_mapper(kube):
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"size": 2},
    }
    with pytest.raises(
        NotFound, match=r"create example\.com/v1 Widget w: the server does not serve"
    ):
        await kube.create(widget)
    await kube.create(CRD)
    created = await kube.create(widget)
    assert created["spec"]["size"] == 2
    info = await kube.resource(("example.com/v1", "Widget"))
    assert info.plural == "widgets" and info.namespaced and "status" in info.subresources
    with pytest.raises(Invalid) as err:
        await kube.create({**widget, "metadata": {"name": "bad"}, "spec": {"size": 0}})
    assert any("spec.size" in c.field for c in err.value.causes)
    assert "create example.com/v1 Widget default/bad" in str(err.value)
    # The field error is said once, though both the message and the causes carry it.
    cause = err.value.causes[0]
    assert str(err.value).count(f"{cause.field}: {cause.message}") == 1
    patched = await kube.patch_status(
        ("example.com/v1", "Widget"), "w", {"status": {"phase": "Ready"}}
    )
    assert patched["status"]["phase"] == "Ready"


async def test_events_aggregate_by_count(kube):
    owner = await kube.create(configmap("owner"))
    recorder = EventRecorder(kube, component="orkestra-test")
    first = await recorder.record(owner, reason="Failed", message="boom", type="Warning")
    assert first["count"] == 1
    for _ in range(3):
        again = await recorder.record(owner, reason="Failed", message="boom", type="Warning")
    assert again["metadata"]["name"] == first["metadata"]["name"]
    assert again["count"] == 4
    # A second recorder (another process) without the cache still aggregates.
    other = EventRecorder(kube, component="orkestra-test")
    fifth = await other.record(owner, reason="Failed", message="boom", type="Warning")
    assert fifth["count"] == 5
    different = await recorder.record(owner, reason="Synced", message="ok")
    assert different["metadata"]["name"] != first["metadata"]["name"]
    events = await kube.list(("v1", "Event"), field_selector="involvedObject.name=owner")
    assert len(events.items) == 2


async def test_lease_acquire_renew_and_takeover(kube):
    import datetime

    t0 = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
    a = await try_acquire_lease(kube, "leader", "replica-a", duration_seconds=15, now=t0)
    assert a.held and a.holder == "replica-a"
    b = await try_acquire_lease(
        kube, "leader", "replica-b", duration_seconds=15, now=t0 + datetime.timedelta(seconds=5)
    )
    assert not b.held and b.holder == "replica-a"
    renewed = await try_acquire_lease(
        kube, "leader", "replica-a", now=t0 + datetime.timedelta(seconds=10)
    )
    assert renewed.held
    assert renewed.lease["spec"]["renewTime"] == micro_time(t0 + datetime.timedelta(seconds=10))
    taken = await try_acquire_lease(
        kube, "leader", "replica-b", now=t0 + datetime.timedelta(seconds=60)
    )
    assert taken.held and taken.lease["spec"]["leaseTransitions"] == 1
