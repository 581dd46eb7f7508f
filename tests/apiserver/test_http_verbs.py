"""Every verb over HTTP against a live embedded server, checked against kube's behaviour."""

import base64
import json

import pytest
import trio
from apiserver_helpers import read_watch

import k8s_objects
from k8s_objects import crd, spec_schema

CM = "/api/v1/namespaces/default/configmaps"
DEPLOY = "/apis/apps/v1/namespaces/default/deployments"


def configmap(name, **data):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def deployment(name, replicas=1, image="nginx"):
    return k8s_objects.deployment(name, replicas, image, container="main")


WIDGET_CRD = crd(
    "widgets",
    "Widget",
    status=True,
    schema=spec_schema(
        {
            "type": "object",
            "properties": {
                "size": {"type": "integer", "minimum": 1},
                "color": {"type": "string", "default": "blue"},
            },
        }
    ),
)
WIDGETS = "/apis/example.com/v1/namespaces/default/widgets"


def widget(name, size=1, **extra):
    spec = {"size": size, **extra}
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": spec,
    }


async def create_crd(client):
    r = await client.post(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=WIDGET_CRD
    )
    assert r.status_code == 201, r.text
    return r.json()


def assert_status(r, code, reason):
    assert r.status_code == code, r.text
    body = r.json()
    assert body["kind"] == "Status"
    assert body["status"] == "Failure"
    assert body["code"] == code
    assert body["reason"] == reason
    assert body["message"]
    return body


async def test_create_get_list_update_delete_roundtrip(client):
    r = await client.post(CM, json=configmap("a", x="1"))
    assert r.status_code == 201
    created = r.json()
    meta = created["metadata"]
    assert meta["uid"] and meta["creationTimestamp"] and meta["resourceVersion"]
    assert meta["namespace"] == "default"
    assert "generation" not in meta  # configmaps carry no generation

    got = (await client.get(f"{CM}/a")).json()
    assert got == created

    listed = (await client.get(CM)).json()
    assert listed["kind"] == "ConfigMapList"
    assert [i["metadata"]["name"] for i in listed["items"]] == ["a"]
    assert int(listed["metadata"]["resourceVersion"]) >= int(meta["resourceVersion"])

    got["data"]["x"] = "2"
    r = await client.put(f"{CM}/a", json=got)
    assert r.status_code == 200
    updated = r.json()
    assert int(updated["metadata"]["resourceVersion"]) > int(meta["resourceVersion"])

    r = await client.delete(f"{CM}/a")
    assert r.status_code == 200
    assert r.json()["status"] == "Success"
    assert_status(await client.get(f"{CM}/a"), 404, "NotFound")


async def test_errors_are_status_bodies(client):
    body = assert_status(await client.get(f"{CM}/missing"), 404, "NotFound")
    assert body["details"] == {"name": "missing", "group": "", "kind": "configmaps"}
    assert_status(await client.get("/api/v1/namespaces/default/nothings"), 404, "NotFound")
    assert_status(await client.get("/apis/nope.io/v1/things"), 404, "NotFound")
    await client.post(CM, json=configmap("dup"))
    body = assert_status(await client.post(CM, json=configmap("dup")), 409, "AlreadyExists")
    assert body["details"]["name"] == "dup"
    # Namespaces have no deletecollection: 405.
    assert_status(await client.delete("/api/v1/namespaces"), 405, "MethodNotAllowed")
    assert_status(await client.post(f"{CM}/dup", json={}), 405, "MethodNotAllowed")
    r = await client.post(CM, content=b"{not json", headers={"content-type": "application/json"})
    assert_status(r, 400, "BadRequest")


async def test_post_without_content_type_means_json(client):
    r = await client.post(CM, content=json.dumps(configmap("plain")).encode())
    assert r.status_code == 201, r.text


async def test_generate_name(client):
    r = await client.post(CM, json={"metadata": {"generateName": "gen-"}})
    assert r.status_code == 201
    name = r.json()["metadata"]["name"]
    assert name.startswith("gen-") and len(name) == len("gen-") + 5


async def test_invalid_name_is_422(client):
    body = assert_status(await client.post(CM, json=configmap("Bad_Name")), 422, "Invalid")
    assert body["details"]["causes"][0]["field"] == "metadata.name"


async def test_create_in_missing_namespace_is_404(client):
    r = await client.post("/api/v1/namespaces/nowhere/configmaps", json=configmap("a"))
    body = assert_status(r, 404, "NotFound")
    assert "namespaces" in body["message"]


async def test_stale_resource_version_conflicts(client):
    created = (await client.post(CM, json=configmap("c", v="1"))).json()
    stale = json.loads(json.dumps(created))
    created["data"]["v"] = "2"
    assert (await client.put(f"{CM}/c", json=created)).status_code == 200
    stale["data"]["v"] = "3"
    body = assert_status(await client.put(f"{CM}/c", json=stale), 409, "Conflict")
    assert "the object has been modified" in body["message"]


async def test_noop_update_bumps_nothing(server, client):
    created = (await client.post(CM, json=configmap("n", v="1"))).json()
    before = server.store.revision
    r = await client.put(f"{CM}/n", json=created)
    assert r.status_code == 200
    assert r.json()["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    r = await client.patch(
        f"{CM}/n",
        json={"data": {"v": "1"}},
        headers={"content-type": "application/merge-patch+json"},
    )
    assert r.json()["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert server.store.revision == before


async def test_generation_bumps_on_spec_change_only(client):
    created = (await client.post(DEPLOY, json=deployment("web"))).json()
    assert created["metadata"]["generation"] == 1
    assert "status" not in created or not created["status"].get("replicas")
    merge = {"content-type": "application/merge-patch+json"}
    r = await client.patch(
        f"{DEPLOY}/web", json={"metadata": {"labels": {"a": "b"}}}, headers=merge
    )
    assert r.json()["metadata"]["generation"] == 1
    r = await client.patch(f"{DEPLOY}/web", json={"spec": {"replicas": 3}}, headers=merge)
    assert r.json()["metadata"]["generation"] == 2


async def test_status_subresource_split(client):
    await client.post(DEPLOY, json=deployment("split"))
    merge = {"content-type": "application/merge-patch+json"}
    # The main endpoint ignores status...
    r = await client.patch(f"{DEPLOY}/split", json={"status": {"replicas": 7}}, headers=merge)
    assert (r.json().get("status") or {}).get("replicas") is None
    # ...and /status ignores everything else.
    r = await client.patch(
        f"{DEPLOY}/split/status",
        json={"status": {"replicas": 7}, "spec": {"replicas": 9}},
        headers=merge,
    )
    assert r.status_code == 200
    body = r.json()
    assert body["status"]["replicas"] == 7
    assert body["spec"]["replicas"] == 1
    assert body["metadata"]["generation"] == 1


async def test_patch_types(client):
    await client.post(DEPLOY, json=deployment("p"))
    r = await client.patch(
        f"{DEPLOY}/p",
        json=[{"op": "replace", "path": "/spec/replicas", "value": 4}],
        headers={"content-type": "application/json-patch+json"},
    )
    assert r.status_code == 200 and r.json()["spec"]["replicas"] == 4
    r = await client.patch(
        f"{DEPLOY}/p",
        json=[{"op": "test", "path": "/spec/replicas", "value": 99}],
        headers={"content-type": "application/json-patch+json"},
    )
    assert r.status_code == 422
    # Strategic merge keeps other containers (merge key: name).
    smp = {"spec": {"template": {"spec": {"containers": [{"name": "side", "image": "busybox"}]}}}}
    r = await client.patch(
        f"{DEPLOY}/p", json=smp, headers={"content-type": "application/strategic-merge-patch+json"}
    )
    names = [c["name"] for c in r.json()["spec"]["template"]["spec"]["containers"]]
    assert sorted(names) == ["main", "side"]
    r = await client.patch(f"{DEPLOY}/p", json={}, headers={"content-type": "text/plain"})
    assert_status(r, 415, "UnsupportedMediaType")
    assert_status(
        await client.patch(
            f"{DEPLOY}/missing", json={}, headers={"content-type": "application/merge-patch+json"}
        ),
        404,
        "NotFound",
    )


async def test_server_side_apply_create_then_merge(client):
    headers = {"content-type": "application/apply-patch+yaml"}
    doc = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  a: '1'\n"
    r = await client.patch(f"{CM}/ssa?fieldManager=me", content=doc, headers=headers)
    assert r.status_code == 201, r.text
    assert r.json()["data"] == {"a": "1"}
    doc2 = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  b: '2'\n"
    r = await client.patch(f"{CM}/ssa?fieldManager=me", content=doc2, headers=headers)
    assert r.status_code == 200
    assert r.json()["data"] == {"b": "2"}  # the field this manager stopped applying is gone
    r = await client.patch(
        f"{CM}/ssa?fieldManager=other", content=doc2.replace("'2'", "'3'"), headers=headers
    )
    assert_status(r, 409, "Conflict")
    r = await client.patch(
        f"{CM}/ssa?fieldManager=other&force=true",
        content=doc2.replace("'2'", "'3'"),
        headers=headers,
    )
    assert r.status_code == 200 and r.json()["data"] == {"b": "3"}
    r = await client.patch(f"{CM}/ssa", content=doc2, headers=headers)
    assert r.status_code == 400  # fieldManager is required for apply


async def test_dry_run_writes_nothing(server, client):
    before = server.store.revision
    r = await client.post(f"{CM}?dryRun=All", json=configmap("dry"))
    assert r.status_code == 201
    assert r.json()["metadata"]["name"] == "dry"
    assert (await client.get(f"{CM}/dry")).status_code == 404
    assert server.store.revision == before


async def test_label_and_field_selectors(client):
    for name, tier in (("one", "web"), ("two", "db"), ("three", "web")):
        body = configmap(name)
        body["metadata"]["labels"] = {"tier": tier}
        await client.post(CM, json=body)

    async def names(**params):
        r = await client.get(CM, params=params)
        assert r.status_code == 200, r.text
        return sorted(i["metadata"]["name"] for i in r.json()["items"])

    assert await names(labelSelector="tier=web") == ["one", "three"]
    assert await names(labelSelector="tier!=web") == ["two"]
    assert await names(labelSelector="tier in (db)") == ["two"]
    assert await names(labelSelector="!tier") == []
    assert await names(fieldSelector="metadata.name=two") == ["two"]
    r = await client.get(CM, params={"fieldSelector": "spec.bogus=1"})
    assert_status(r, 400, "BadRequest")


async def test_list_across_namespaces_and_pagination(client):
    await client.post("/api/v1/namespaces", json={"metadata": {"name": "other"}})
    for i in range(5):
        await client.post(CM, json=configmap(f"d{i}"))
    await client.post("/api/v1/namespaces/other/configmaps", json=configmap("o"))
    everywhere = (await client.get("/api/v1/configmaps")).json()["items"]
    assert {(i["metadata"]["namespace"], i["metadata"]["name"]) for i in everywhere} >= {
        ("other", "o"),
        ("default", "d0"),
    }
    seen = []
    token = None
    pages = 0
    while True:
        params = {"limit": "2"}
        if token:
            params["continue"] = token
        page = (await client.get(CM, params=params)).json()
        pages += 1
        seen += [i["metadata"]["name"] for i in page["items"]]
        token = page["metadata"].get("continue")
        if not token:
            break
    assert seen == [f"d{i}" for i in range(5)]
    assert pages == 3


async def test_continue_token_is_consistent_and_expires(server, client):
    for i in range(4):
        await client.post(CM, json=configmap(f"e{i}"))
    page = (await client.get(CM, params={"limit": "2"})).json()
    token = page["metadata"]["continue"]
    # A change after the first page does not show in the second (snapshot at the list's RV).
    await client.delete(f"{CM}/e3")
    second = (await client.get(CM, params={"limit": "2", "continue": token})).json()
    assert [i["metadata"]["name"] for i in second["items"]] == ["e2", "e3"]
    server.faults.compact_history()
    await client.post(CM, json=configmap("later"))
    r = await client.get(CM, params={"limit": "2", "continue": token})
    assert_status(r, 410, "Expired")


async def test_secret_string_data_becomes_base64(client):
    body = {"metadata": {"name": "s"}, "stringData": {"password": "hunter2"}, "data": {}}
    r = await client.post("/api/v1/namespaces/default/secrets", json=body)
    secret = r.json()
    assert "stringData" not in secret
    assert base64.b64decode(secret["data"]["password"]) == b"hunter2"
    assert secret["type"] == "Opaque"


async def test_events_visible_through_both_apis(client):
    core = {
        "metadata": {"name": "ev1"},
        "involvedObject": {"kind": "ConfigMap", "namespace": "default", "name": "cm1"},
        "reason": "Tested",
        "message": "hello",
        "type": "Normal",
        "source": {"component": "tester"},
    }
    assert (await client.post("/api/v1/namespaces/default/events", json=core)).status_code == 201
    new = (await client.get("/apis/events.k8s.io/v1/namespaces/default/events/ev1")).json()
    assert new["apiVersion"] == "events.k8s.io/v1"
    assert new["regarding"]["name"] == "cm1" and new["note"] == "hello"
    assert new["reportingController"] == "tester"
    written = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "ev2"},
        "regarding": {"kind": "Pod", "namespace": "default", "name": "p"},
        "note": "from new api",
        "reason": "New",
        "type": "Warning",
        "eventTime": "2024-01-01T00:00:00.000000Z",
        "reportingController": "x",
        "reportingInstance": "x-1",
        "action": "Act",
    }
    r = await client.post("/apis/events.k8s.io/v1/namespaces/default/events", json=written)
    assert r.status_code == 201, r.text
    old = (await client.get("/api/v1/namespaces/default/events/ev2")).json()
    assert old["involvedObject"]["name"] == "p" and old["message"] == "from new api"
    r = await client.get(
        "/api/v1/namespaces/default/events",
        params={"fieldSelector": "involvedObject.name=cm1,involvedObject.kind=ConfigMap"},
    )
    assert [i["metadata"]["name"] for i in r.json()["items"]] == ["ev1"]


async def test_scale_subresource(client):
    await client.post(DEPLOY, json=deployment("sc", replicas=2))
    scale = (await client.get(f"{DEPLOY}/sc/scale")).json()
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 2
    assert scale["status"]["selector"] == "app=sc"
    scale["spec"]["replicas"] = 5
    r = await client.put(f"{DEPLOY}/sc/scale", json=scale)
    assert r.status_code == 200 and r.json()["spec"]["replicas"] == 5
    assert (await client.get(f"{DEPLOY}/sc")).json()["spec"]["replicas"] == 5
    r = await client.patch(
        f"{DEPLOY}/sc/scale",
        json={"spec": {"replicas": 1}},
        headers={"content-type": "application/merge-patch+json"},
    )
    assert r.json()["spec"]["replicas"] == 1


async def test_delete_preconditions(client):
    created = (await client.post(CM, json=configmap("pre"))).json()
    r = await client.request("DELETE", f"{CM}/pre", json={"preconditions": {"uid": "not-the-uid"}})
    assert_status(r, 409, "Conflict")
    r = await client.request(
        "DELETE", f"{CM}/pre", json={"preconditions": {"resourceVersion": "1"}}
    )
    assert_status(r, 409, "Conflict")
    r = await client.request(
        "DELETE", f"{CM}/pre", json={"preconditions": {"uid": created["metadata"]["uid"]}}
    )
    assert r.status_code == 200


async def test_finalizers_hold_deletion_until_removed(client):
    body = configmap("fin")
    body["metadata"]["finalizers"] = ["example.com/hold"]
    await client.post(CM, json=body)
    r = await client.delete(f"{CM}/fin")
    assert r.status_code == 200
    pending = r.json()
    assert pending["metadata"]["deletionTimestamp"]
    assert pending["metadata"]["deletionGracePeriodSeconds"] == 0
    assert (await client.get(f"{CM}/fin")).status_code == 200
    r = await client.patch(
        f"{CM}/fin",
        json={"metadata": {"finalizers": ["example.com/hold", "new"]}},
        headers={"content-type": "application/merge-patch+json"},
    )
    assert_status(r, 422, "Invalid")
    r = await client.patch(
        f"{CM}/fin",
        json={"metadata": {"finalizers": None}},
        headers={"content-type": "application/merge-patch+json"},
    )
    assert r.status_code == 200
    assert (await client.get(f"{CM}/fin")).status_code == 404


async def test_deletecollection(client):
    for i in range(3):
        body = configmap(f"dc{i}")
        body["metadata"]["labels"] = {"batch": "x" if i < 2 else "y"}
        await client.post(CM, json=body)
    r = await client.delete(CM, params={"labelSelector": "batch=x"})
    assert r.status_code == 200
    assert sorted(i["metadata"]["name"] for i in r.json()["items"]) == ["dc0", "dc1"]
    left = (await client.get(CM)).json()["items"]
    assert [i["metadata"]["name"] for i in left] == ["dc2"]


async def test_crd_lifecycle_discovery_and_validation(client):
    crd = await create_crd(client)
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    resources = (await client.get("/apis/example.com/v1")).json()["resources"]
    assert {r["name"] for r in resources} >= {"widgets", "widgets/status"}
    groups = (await client.get("/apis")).json()["groups"]
    assert "example.com" in {g["name"] for g in groups}

    r = await client.post(WIDGETS, json=widget("w1", size=2))
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["spec"]["color"] == "blue"  # defaulted
    assert created["metadata"]["generation"] == 1

    r = await client.post(WIDGETS, json=widget("bad", size=0))
    body = assert_status(r, 422, "Invalid")
    assert body["details"]["causes"][0]["field"] == "spec.size"

    r = await client.post(
        f"{WIDGETS}?fieldValidation=Strict", json=widget("strict", size=2, bogus=1)
    )
    body = assert_status(r, 400, "BadRequest")
    assert 'unknown field "spec.bogus"' in body["message"]
    r = await client.post(f"{WIDGETS}?fieldValidation=Warn", json=widget("warn", size=2, bogus=1))
    assert r.status_code == 201
    assert "spec.bogus" in r.headers["warning"]
    assert "bogus" not in r.json()["spec"]  # pruned
    r = await client.post(f"{WIDGETS}?fieldValidation=Ignore", json=widget("ign", size=2, bogus=1))
    assert r.status_code == 201 and "warning" not in r.headers

    r = await client.patch(
        f"{WIDGETS}/w1", json={}, headers={"content-type": "application/strategic-merge-patch+json"}
    )
    assert_status(r, 415, "UnsupportedMediaType")

    # PUT of a custom resource requires a resourceVersion.
    no_rv = widget("w1", size=3)
    assert_status(await client.put(f"{WIDGETS}/w1", json=no_rv), 422, "Invalid")

    # CRs: generation follows anything but metadata and status.
    merge = {"content-type": "application/merge-patch+json"}
    r = await client.patch(f"{WIDGETS}/w1", json={"spec": {"size": 5}}, headers=merge)
    assert r.json()["metadata"]["generation"] == 2
    r = await client.patch(f"{WIDGETS}/w1/status", json={"status": {"ok": True}}, headers=merge)
    assert r.json()["metadata"]["generation"] == 2 and r.json()["status"] == {"ok": True}

    r = await client.delete(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com"
    )
    assert r.status_code == 200
    assert (await client.get("/apis/example.com/v1")).status_code == 404
    assert (await client.get(WIDGETS)).status_code == 404


async def test_openapi_v3_publishes_custom_resource_schemas(client):
    assert "apis/example.com/v1" not in (await client.get("/openapi/v3")).json()["paths"]
    await create_crd(client)
    root = (await client.get("/openapi/v3")).json()
    url = root["paths"]["apis/example.com/v1"]["serverRelativeURL"]
    doc = (await client.get(url)).json()
    schema = doc["components"]["schemas"]["com.example.v1.Widget"]
    assert schema["x-kubernetes-group-version-kind"] == [
        {"group": "example.com", "kind": "Widget", "version": "v1"}
    ]
    assert schema["properties"]["spec"]["properties"]["size"]["type"] == "integer"
    assert (await client.get("/openapi/v3/apis/nope.io/v1")).status_code == 404


async def test_openapi_v3_publishes_builtin_schemas(client):
    root = (await client.get("/openapi/v3")).json()
    doc = (await client.get(root["paths"]["apis/apps/v1"]["serverRelativeURL"])).json()
    schemas = doc["components"]["schemas"]
    deployment = next(
        s
        for s in schemas.values()
        if {"group": "apps", "kind": "Deployment", "version": "v1"}
        in s.get("x-kubernetes-group-version-kind", [])
    )
    spec_ref = deployment["properties"]["spec"]["allOf"][0]["$ref"].rpartition("/")[2]
    replicas = schemas[spec_ref]["properties"]["replicas"]
    assert replicas["type"] == "integer" and replicas["description"]
    core = (await client.get(root["paths"]["api/v1"]["serverRelativeURL"])).json()
    assert "/api/v1/namespaces/{namespace}/pods/{name}" in core["paths"]


async def test_invalid_crd_is_422(client):
    bad = json.loads(json.dumps(WIDGET_CRD))
    bad["metadata"]["name"] = "wrong.example.com"
    r = await client.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=bad)
    assert_status(r, 422, "Invalid")


async def test_table_output(client):
    await client.post(CM, json=configmap("t1"))
    accept = {"accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}
    table = (await client.get(CM, headers=accept)).json()
    assert table["kind"] == "Table"
    assert table["columnDefinitions"][0]["name"] == "Name"
    assert table["rows"][0]["cells"][0] == "t1"
    one = (await client.get(f"{CM}/t1", headers=accept)).json()
    assert one["kind"] == "Table" and len(one["rows"]) == 1


async def test_namespace_deletion_removes_contents(server, client):
    await client.post("/api/v1/namespaces", json={"metadata": {"name": "doomed"}})
    for name in ("x", "y"):
        await client.post("/api/v1/namespaces/doomed/configmaps", json=configmap(name))
    r = await client.delete("/api/v1/namespaces/doomed")
    assert r.status_code == 200
    assert r.json()["status"]["phase"] == "Terminating"
    r = await client.post("/api/v1/namespaces/doomed/configmaps", json=configmap("late"))
    assert_status(r, 403, "Forbidden")
    # Like kube's namespace controller, cleanup starts a moment later: a client
    # deleting the namespace's objects itself right after still finds them.
    assert (await client.delete("/api/v1/namespaces/doomed/configmaps/y")).status_code == 200
    with trio.fail_after(5):
        while (await client.get("/api/v1/namespaces/doomed")).status_code != 404:
            await trio.sleep(0.02)
    assert (await client.get("/api/v1/namespaces/doomed/configmaps/x")).status_code == 404


async def test_access_reviews_allow_everything(client):
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"verb": "create", "resource": "configmaps"}},
    }
    r = await client.post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", json=review)
    assert r.status_code == 201
    assert r.json()["status"]["allowed"] is True
    assert r.json()["spec"] == review["spec"]
    r = await client.post(
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        json={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
    )
    assert r.json()["status"]["userInfo"]["username"]
    assert (
        await client.get("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")
    ).status_code == 405


@pytest.mark.parametrize("value", ["1", "t", "T", "true", "TRUE", "True"])
async def test_go_style_booleans(client, value):
    await client.post(CM, json=configmap("present"))
    events = await read_watch(client, CM, {"watch": value}, count=1)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "present")]


async def test_openapi_v2_protobuf(client):
    r = await client.get(
        "/openapi/v2",
        headers={"accept": "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"},
    )
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    assert b"2.0" in r.content


async def test_fault_injection(server, client):
    server.faults.fail_next(2, verb="get", resource="configmaps", status=429, retry_after=3)
    await client.post(CM, json=configmap("f"))
    r = await client.get(f"{CM}/f")
    assert r.status_code == 429 and r.headers["retry-after"] == "3"
    assert r.json()["reason"] == "TooManyRequests"
    assert (await client.get(f"{CM}/f")).status_code == 429
    assert (await client.get(f"{CM}/f")).status_code == 200
    server.faults.fail_next(1, status=500)
    assert (await client.get(f"{CM}/f")).status_code == 500
    assert server.faults.request_count("create", "configmaps") == 1
    assert server.request_count[("get", "configmaps")] == 4


async def test_fault_latency_conflict_and_clear(server, client):
    import time

    await client.post(CM, json=configmap("lat"))
    server.faults.add_latency(0.2, verb="get", resource="configmaps")
    started = time.monotonic()
    assert (await client.get(f"{CM}/lat")).status_code == 200
    assert time.monotonic() - started >= 0.2
    server.faults.fail_next(1, verb="update", status=409)
    got = (await client.get(f"{CM}/lat")).json()
    assert_status(await client.put(f"{CM}/lat", json=got), 409, "Conflict")
    server.faults.fail_next(5, status=503)
    server.faults.clear()
    started = time.monotonic()
    assert (await client.get(f"{CM}/lat")).status_code == 200
    assert time.monotonic() - started < 0.2


async def test_builtin_validation_and_service_defaults(client):
    bad = configmap("lbl")
    bad["metadata"]["labels"] = {"ok": "a b"}
    body = assert_status(await client.post(CM, json=bad), 422, "Invalid")
    assert body["details"]["causes"][0]["field"] == "metadata.labels"

    mismatched = deployment("mm")
    mismatched["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    body = assert_status(await client.post(DEPLOY, json=mismatched), 422, "Invalid")
    assert body["details"]["causes"][0]["field"] == "spec.template.metadata.labels"
    no_selector = deployment("ns")
    del no_selector["spec"]["selector"]
    assert_status(await client.post(DEPLOY, json=no_selector), 422, "Invalid")

    svc = {
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    }
    created = (await client.post("/api/v1/namespaces/default/services", json=svc)).json()
    spec = created["spec"]
    assert spec["type"] == "ClusterIP" and spec["clusterIP"].startswith("10.")
    assert spec["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    r = await client.patch(
        "/api/v1/namespaces/default/services/web",
        json={"spec": {"ports": [{"port": 81}]}},
        headers={"content-type": "application/merge-patch+json"},
    )
    assert r.json()["spec"]["clusterIP"] == spec["clusterIP"]


async def test_immutable_workload_fields(client):
    await client.post(DEPLOY, json=deployment("imm"))
    changed = (await client.get(f"{DEPLOY}/imm")).json()
    changed["spec"]["selector"] = {"matchLabels": {"app": "imm", "x": "y"}}
    changed["spec"]["template"]["metadata"]["labels"]["x"] = "y"
    body = assert_status(await client.put(f"{DEPLOY}/imm", json=changed), 422, "Invalid")
    assert body["details"]["causes"][0]["field"] == "spec.selector"
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "j"},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "a"}]}}},
    }
    await client.post("/apis/batch/v1/namespaces/default/jobs", json=job)
    r = await client.patch(
        "/apis/batch/v1/namespaces/default/jobs/j",
        json={"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "b"}]}}}},
        headers={"content-type": "application/merge-patch+json"},
    )
    assert_status(r, 422, "Invalid")


async def test_apply_that_only_shares_ownership_is_stored(client):
    """A second manager applying identical values changes no data but does change
    ownership: a real server persists that, so a later conflict names both."""
    headers = {"content-type": "application/apply-patch+yaml"}
    doc = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\ndata:\n  a: '1'\n"
    first = await client.patch(f"{CM}/shared?fieldManager=one", content=doc, headers=headers)
    assert first.status_code == 201, first.text
    second = await client.patch(f"{CM}/shared?fieldManager=two", content=doc, headers=headers)
    assert second.status_code == 200, second.text
    managers = {e["manager"] for e in second.json()["metadata"]["managedFields"]}
    assert managers == {"one", "two"}
    assert int(second.json()["metadata"]["resourceVersion"]) > int(
        first.json()["metadata"]["resourceVersion"]
    )
    again = await client.patch(f"{CM}/shared?fieldManager=two", content=doc, headers=headers)
    assert (
        again.json()["metadata"]["resourceVersion"] == second.json()["metadata"]["resourceVersion"]
    )
    conflict = await client.patch(
        f"{CM}/shared?fieldManager=three", content=doc.replace("'1'", "'2'"), headers=headers
    )
    assert conflict.status_code == 409
    assert "one" in conflict.text and "two" in conflict.text
