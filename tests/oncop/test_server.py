"""The ONCOP routes over an in-test KatalogView, served by hypercorn on 127.0.0.1."""

from __future__ import annotations

import datetime
import json

import httpx
import pytest
import trio
import trio.testing
from oncop_helpers import FakeBox, FakeView, crd_entries, serving
from trio_websocket import open_websocket_url

from orkestra_trio.oncop import exposure_warning, oncop_app, read_token_file

NOW = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)
TYPES = "apiTypes: {{group: demo.example.com, version: v1, kind: {kind}, plural: {plural}}}"
CRDS = f"""
loader:
  {TYPES.format(kind="Loader", plural="loaders")}
  description: loads the shop's data
  operatorBox: {{}}
secretive:
  {TYPES.format(kind="Secretive", plural="secretives")}
  crossAccess: false
  operatorBox: {{}}
hidden:
  {TYPES.format(kind="Hidden", plural="hiddens")}
  endpoints: {{enabled: false}}
  operatorBox: {{}}
cluster:
  {TYPES.format(kind="Cluster", plural="clusters")}
  namespaced: false
  operatorBox: {{}}
quiet:
  {TYPES.format(kind="Quiet", plural="quiets")}
  endpoints: {{enabled: true, health: false, info: false}}
  operatorBox: {{}}
"""


def loader_cr(name, phase="Ready", ready=True):
    return {
        "apiVersion": "demo.example.com/v1",
        "kind": "Loader",
        "metadata": {
            "name": name,
            "namespace": "team-a",
            "generation": 3,
            "uid": f"uid-{name}",
            "labels": {"tier": "ingest"},
            "creationTimestamp": "2026-01-01T11:55:00Z",
        },
        "spec": {"source": "s3"},
        "status": {
            "phase": phase,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "first-worker", "namespace": "team-a", "generation": 1},
    "spec": {"replicas": 2},
    "status": {"readyReplicas": 2},
}


def event(reason, message, count=1, last="2026-01-01T11:59:00Z", type_="Normal"):
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "type": type_,
        "reason": reason,
        "message": message,
        "count": count,
        "firstTimestamp": "2026-01-01T11:56:00Z",
        "lastTimestamp": last,
    }


@pytest.fixture
def view(tmp_path):
    crds = crd_entries(tmp_path, CRDS)
    loader = FakeBox(
        crds["loader"],
        crs=[loader_cr("first"), loader_cr("second", "Pending", ready=False)],
        children={"first": [DEPLOYMENT]},
        metrics={"queueDepth": 42, "workers": 4, "workersBusyPercent": 50.0},
        health={"state": "healthy", "healthy": True, "started": True, "totalReconciles": 9},
    )
    cluster_cr = {"metadata": {"name": "global"}, "spec": {}, "status": {}}
    boxes = [
        loader,
        FakeBox(crds["secretive"], crs=[loader_cr("first")]),
        FakeBox(crds["hidden"], crs=[loader_cr("first")]),
        FakeBox(crds["cluster"], crs=[cluster_cr]),
        FakeBox(crds["quiet"], crs=[loader_cr("first")]),
    ]
    return FakeView(*boxes, name="loaders")


@pytest.fixture
async def client(view):
    async with (
        serving(oncop_app(view, now=lambda: NOW)) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        yield http


async def test_katalog_summary_lists_the_edges_of_served_boxes(tmp_path):
    crds = crd_entries(
        tmp_path,
        f"""
        db:
          {TYPES.format(kind="Db", plural="dbs")}
          operatorBox: {{}}
        app:
          {TYPES.format(kind="App", plural="apps")}
          operatorBox:
            cross: [{{crd: db, as: database}}]
            autoscale:
              conditions:
                - when:
                    - field: cross.loader.metrics.queueDepth
                      greaterThan: "60"
                      source: {{host: "http://127.0.0.1:9"}}
                  override: {{workers: 4}}
        quiet:
          {TYPES.format(kind="Quiet", plural="quiets")}
          crossAccess: false
          operatorBox:
            cross: [{{crd: db}}]
        """,
    )
    view = FakeView(*(FakeBox(crd) for crd in crds.values()), name="shop")
    async with serving(oncop_app(view, now=lambda: NOW)) as url, httpx.AsyncClient() as http:
        body = (await http.get(url + "/katalog")).json()
    # An autoscale condition's own source is a dependency like a cross: entry;
    # a box ONCOP does not serve does not tell what it observes.
    assert body["edges"] == [
        {
            "observer": "app",
            "observed": "db",
            "as": "database",
            "via": "cross",
            "remote": False,
            "where": "same-process",
        },
        {
            "observer": "app",
            "observed": "loader",
            "as": "loader",
            "via": "autoscale",
            "remote": True,
            "where": "http://127.0.0.1:9",
        },
    ]


async def test_katalog_summary_lists_only_served_crds(client):
    answer = await client.get("/katalog")
    assert answer.status_code == 200
    body = answer.json()
    assert body["name"] == "loaders"
    assert [c["name"] for c in body["crds"]] == ["loader", "cluster", "quiet"]
    assert body["crds"][0] == {
        "name": "loader",
        "kind": "Loader",
        "description": "loads the shop's data",  # the CRD entry's, as Orkestra shows it
        "state": "healthy",
        "workers": 4,
        "queueDepth": 42,
        "resourceCount": 2,
    }


async def test_crd_info_carries_gvk_health_metrics_and_children(client):
    body = (await client.get("/katalog/loader")).json()
    assert body["description"] == "loads the shop's data"
    assert body["gvk"] == {"group": "demo.example.com", "version": "v1", "kind": "Loader"}
    assert body["namespaced"] is True
    assert body["resourceCount"] == 2 and body["totalReconciles"] == 9
    assert body["state"] == "healthy" and body["healthy"] is True
    assert body["children"] == {"Deployment": 1}
    assert body["metrics"] == {
        "queueDepth": 42,
        "workers": 4,
        "workersBusyPercent": 50.0,
        "errorRatePercent": 0.0,
        "reconcileDurationP95Ms": 0.0,
    }


@pytest.mark.parametrize(
    ("state", "status"),
    [("healthy", 200), ("pending", 200), ("degraded", 503), ("not started", 503), ("gated", 503)],
)
async def test_health_is_200_or_503_by_state(view, client, state, status):
    view.boxes[0].health = {"state": state, "lastError": "boom" if status == 503 else ""}
    answer = await client.get("/katalog/loader/health")
    assert answer.status_code == status
    assert answer.json()["state"] == state and answer.json()["name"] == "loader"
    assert set(answer.json()) >= {"healthy", "started", "pending", "consecutiveFails"}


async def test_cr_list_and_namespace_filter(client):
    items = (await client.get("/katalog/loader/cr")).json()["items"]
    assert items[0] == {
        "name": "first",
        "namespace": "team-a",
        "phase": "Ready",
        "ready": True,
        "generation": 3,
        "age": "5m",
        "creationTimestamp": "2026-01-01T11:55:00Z",
    }
    assert [i["ready"] for i in items] == [True, False]
    assert (await client.get("/katalog/loader/cr?namespace=other")).json() == {"items": []}


async def test_one_cr_has_the_cross_shape_with_children_and_metrics(client):
    body = (await client.get("/katalog/loader/cr/team-a/first")).json()
    assert body["found"] == "true"
    assert (body["name"], body["namespace"], body["generation"]) == ("first", "team-a", 3)
    assert body["labels"] == {"tier": "ingest"} and body["annotations"] == {}
    assert body["spec"] == {"source": "s3"} and body["status"]["phase"] == "Ready"
    assert body["ready"] is True
    worker = body["children"]["Deployment"]["first-worker"]
    assert worker["status"] == {"readyReplicas": 2} and "spec" not in worker
    assert body["metrics"]["queueDepth"] == 42


async def test_cluster_scoped_crs_ignore_the_namespace_segment(client):
    body = (await client.get("/katalog/cluster/cr/_/global")).json()
    assert body["name"] == "global" and body["found"] == "true"


@pytest.mark.parametrize(
    "path",
    [
        "/katalog/secretive",
        "/katalog/secretive/health",
        "/katalog/secretive/cr",
        "/katalog/secretive/cr/team-a/first",
        "/katalog/hidden",
        "/katalog/hidden/cr/team-a/first/events",
        "/katalog/nosuch/health",
        "/katalog/loader/cr/team-a/nosuch",
        "/katalog/loader/cr/team-a/first/nonsense",
    ],
)
async def test_unserved_crds_and_unknown_objects_are_json_404(client, path):
    answer = await client.get(path)
    assert answer.status_code == 404
    assert "error" in answer.json()


async def test_only_get_is_allowed(client):
    assert (await client.post("/katalog/loader")).status_code == 405


async def test_events_newest_first(view, client):
    box = view.boxes[0]
    box.events[("team-a", "first")] = [
        event("LoaderReconciled", "old", last="2026-01-01T11:57:00Z"),
        event("LoaderReconcileError", "newer", count=3, type_="Warning"),
    ]
    body = (await client.get("/katalog/loader/cr/team-a/first/events")).json()
    assert [e["message"] for e in body["events"]] == ["newer", "old"]
    assert body["events"][0] == {
        "type": "Warning",
        "reason": "LoaderReconcileError",
        "message": "newer",
        "count": 3,
        "firstSeen": "2026-01-01T11:56:00Z",
        "lastSeen": "2026-01-01T11:59:00Z",
    }


async def test_the_websocket_streams_a_snapshot_then_new_events(view):
    box = view.boxes[0]
    box.events[("team-a", "first")] = [event("LoaderReconciled", "one")]
    async with serving(oncop_app(view)) as url:
        ws_url = "ws://" + url.removeprefix("http://") + "/katalog/loader/cr/team-a/first/events"
        async with open_websocket_url(ws_url, connect_timeout=5) as ws:
            first = json.loads(await ws.get_message())
            assert first["type"] == "snapshot"
            assert [e["message"] for e in first["events"]] == ["one"]
            box.add_event("team-a", "first", event("Scaled", "two", last="2026-01-01T12:00:00Z"))
            with trio.fail_after(5):
                second = json.loads(await ws.get_message())
            assert second == {
                "type": "event",
                "event": {
                    "type": "Normal",
                    "reason": "Scaled",
                    "message": "two",
                    "count": 1,
                    "firstSeen": "2026-01-01T11:56:00Z",
                    "lastSeen": "2026-01-01T12:00:00Z",
                },
            }
            # A repeat of an aggregated event arrives as the same event with a new count.
            box.events[("team-a", "first")][0] = event(
                "LoaderReconciled", "one", count=2, last="2026-01-01T12:01:00Z"
            )
            box.add_event("team-a", "first", event("Other", "three", last="2026-01-01T11:58:00Z"))
            with trio.fail_after(5):
                updates = [json.loads(await ws.get_message()) for _ in range(2)]
            assert [(u["event"]["message"], u["event"]["count"]) for u in updates] == [
                ("three", 1),
                ("one", 2),
            ]


UPGRADE = {
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}


async def upgrade_status(url, path, headers):
    """The HTTP answer to a websocket upgrade request (one connection per request)."""
    async with httpx.AsyncClient(base_url=url) as http:
        answer = await http.get(path, headers={**UPGRADE, **headers})
        return answer.status_code, answer.json()


async def test_websocket_refused_for_unserved_crd_and_without_token(view):
    path = "/katalog/loader/cr/team-a/first/events"
    auth = {"Authorization": "Bearer s3cret"}
    async with serving(oncop_app(view, token="s3cret")) as url:
        status, body = await upgrade_status(url, path, {})
        assert status == 401 and "error" in body
        hidden = "/katalog/secretive/cr/team-a/first/events"
        assert (await upgrade_status(url, hidden, auth))[0] == 404
        missing = "/katalog/loader/cr/team-a/nosuch/events"
        assert (await upgrade_status(url, missing, auth))[0] == 404
    async with serving(oncop_app(view, token="s3cret")) as url:
        ws_url = "ws://" + url.removeprefix("http://") + path
        headers = [(b"authorization", b"Bearer s3cret")]
        async with open_websocket_url(ws_url, extra_headers=headers) as ws:
            assert json.loads(await ws.get_message())["type"] == "snapshot"


async def test_token_guards_every_path(view):
    async with (
        serving(oncop_app(view, token="s3cret")) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        for path in ("/katalog", "/katalog/loader", "/katalog/loader/health", "/katalog/x/y/z"):
            answer = await http.get(path)
            assert answer.status_code == 401, path
            assert answer.headers["www-authenticate"].startswith("Bearer")
        ok = await http.get("/katalog/loader", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200


def test_exposure_warning_and_token_file(tmp_path):
    assert exposure_warning("127.0.0.1", None) is None
    assert exposure_warning("::1", None) is None
    assert exposure_warning("localhost", None) is None
    assert exposure_warning("0.0.0.0", "t") is None
    assert "without a token" in (exposure_warning("0.0.0.0", None) or "")
    path = tmp_path / "token"
    path.write_text("  abc\n")
    assert read_token_file(path) == "abc"
    path.write_text("\n")
    with pytest.raises(ValueError, match="empty"):
        read_token_file(path)


async def test_endpoints_health_and_info_false_turn_off_only_those_paths(client):
    """Orkestra's ``endpoints: {health: false, info: false}``: those two paths answer 404;
    the CRs stay readable (``enabled`` governs every path)."""
    assert (await client.get("/katalog/quiet/health")).status_code == 404
    assert (await client.get("/katalog/quiet")).status_code == 404
    answer = await client.get("/katalog/quiet/cr/team-a/first")
    assert answer.status_code == 200 and answer.json()["name"] == "first"
    assert (await client.get("/katalog/loader/health")).status_code == 200


async def test_katalog_summary_carries_the_katalogs_descriptive_metadata(client):
    """Orkestra's KatalogResponse: metadata.version, author... as written in the Katalog."""
    body = (await client.get("/katalog")).json()
    assert body["katalogs"] == [{"name": "loaders", "version": "1.2.0", "author": "team-a"}]
    assert (body["version"], body["author"]) == ("1.2.0", "team-a")  # one Katalog: at the top
    assert body["name"] == "loaders"
