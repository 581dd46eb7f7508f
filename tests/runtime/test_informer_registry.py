"""The informer and the registry against the embedded API server over a socket."""

from __future__ import annotations

import textwrap

import pytest
import trio
from runtime_helpers import eventually, holds

from orkestra_trio.apiserver import open_apiserver
from orkestra_trio.katalog import load_katalogs
from orkestra_trio.kube import WatchOptions, open_kube_client
from orkestra_trio.runtime.crdinstall import install_crds
from orkestra_trio.runtime.informer import Informer
from orkestra_trio.runtime.registry import KatalogRegistry

CM = ("v1", "ConfigMap")


def configmap(name, owner_uid=None, **labels):
    meta = {"name": name, "namespace": "default", "labels": labels}
    if owner_uid:
        meta["ownerReferences"] = [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "name": "o",
                "uid": owner_uid,
                "controller": True,
            }
        ]
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {}}


@pytest.fixture
async def kube():
    async with (
        open_apiserver(workload_simulation=False, bookmark_interval=0.2) as server,
        open_kube_client(server.url) as client,
    ):
        client.test_server = server
        yield client


async def test_informer_lists_watches_indexes_and_survives_a_bad_subscriber(kube):
    owner = await kube.create(configmap("o"))  # a real owner: the GC removes orphans
    u1 = owner["metadata"]["uid"]
    await kube.create(configmap("before", owner_uid=u1, app="x"))
    await kube.create(configmap("unlabelled"))
    info = await kube.resource(CM)
    informer = Informer(kube, info, label_selector="app=x", options=WatchOptions(idle_timeout=5))
    seen = []

    def bad(change):
        raise RuntimeError("a broken subscriber")

    informer.subscribe(bad)
    informer.subscribe(lambda change: seen.append((change.type, change.key)))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(informer.run)
        await informer.synced.wait()
        assert informer.keys() == [("default", "before")]  # the selector filtered
        assert [o["metadata"]["name"] for o in informer.owned_by(u1)] == ["before"]
        assert seen == [("ADDED", ("default", "before"))]

        await kube.create(configmap("after", owner_uid=u1, app="x"))
        await eventually(lambda: holds(informer.get("default", "after")), what="the watch ADDED")
        await kube.delete(CM, "before", namespace="default")
        await eventually(
            lambda: holds(informer.get("default", "before") is None), what="the watch DELETED"
        )
        assert [o["metadata"]["name"] for o in informer.owned_by(u1)] == ["after"]
        assert ("DELETED", ("default", "before")) in seen

        # A relist (history compacted while the watch was cut) reports what changed meanwhile.
        server = kube.test_server
        server.faults.stall_watches(True)
        await kube.delete(CM, "after", namespace="default")
        await kube.create(configmap("new", app="x"))
        server.faults.compact_history()
        server.faults.stall_watches(False)
        server.faults.cut_watches()
        await eventually(lambda: holds(informer.get("default", "new")), what="the relist")
        assert informer.get("default", "after") is None
        assert ("DELETED", ("default", "after")) in seen
        assert informer.owned_by(u1) == []
        nursery.cancel_scope.cancel()


KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: reg}
spec:
  crds:
    db:
      apiTypes: {group: reg.example.com, version: v1, kind: Db, plural: dbs}
      operatorBox:
        status:
          fields: [{path: phase, value: Ready}]
    app:
      apiTypes: {group: reg.example.com, version: v1, kind: App, plural: apps}
      operatorBox:
        cross:
          - crd: db
            selector: {name: "{{ .metadata.name }}-db"}
            as: db
"""


async def test_registry_shares_informers_and_indexes_cross_reads(kube, tmp_path):
    path = tmp_path / "k.yaml"
    path.write_text(textwrap.dedent(KATALOG))
    katalogs = load_katalogs([path])
    await install_crds(kube, katalogs)
    async with trio.open_nursery() as nursery:
        registry = KatalogRegistry(kube, katalogs, nursery)
        first = await registry.informer(CM, label_selector="a=b")
        assert await registry.informer(CM, label_selector="a=b") is first
        assert await registry.informer(CM) is not first
        entry = katalogs.crds["app"].operator_box.cross[0]
        answer, target = await registry.read_cross(
            entry, name="shop-db", namespace="default", context={}
        )
        # Not found is a normal answer, and the read is remembered all the same.
        assert answer["found"] == "false" and answer["status"] == {}
        assert target == ("db", "default", "shop-db")
        registry.record_reads("app", ("default", "shop"), frozenset({target}))
        assert registry.readers_of(target) == {("app", ("default", "shop"))}
        registry.forget_reader("app", ("default", "shop"))
        assert registry.readers_of(target) == frozenset()
        nursery.cancel_scope.cancel()
