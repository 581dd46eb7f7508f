"""Each box caches its own children (issue 16), and adopts those an earlier version made."""

from __future__ import annotations

import trio
from runtime_helpers import absent, eventually, running

from orkestra_trio.apiserver import open_apiserver
from orkestra_trio.katalog import load_katalogs
from orkestra_trio.katalog.manifests import BOX_LABEL
from orkestra_trio.kube import open_kube_client
from orkestra_trio.runtime.crdinstall import install_crds
from orkestra_trio.runtime.runtime import open_runtime

CONFIGMAP = ("v1", "ConfigMap")
KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: two}
spec:
  crds:
    alpha:
      apiTypes: {group: boxes.example.com, version: v1, kind: Alpha, plural: alphas}
      operatorBox:
        onReconcile:
          configMaps:
            - name: "{{ .metadata.name }}-alpha"
              data: {from: alpha}
    bravo:
      apiTypes: {group: boxes.example.com, version: v1, kind: Bravo, plural: bravos}
      operatorBox:
        onReconcile:
          configMaps:
            - name: "{{ .metadata.name }}-bravo"
              data: {from: bravo}
"""


def cr(kind: str, name: str) -> dict:
    return {
        "apiVersion": "boxes.example.com/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": "default"},
    }


async def test_two_boxes_with_configmap_children_cache_only_their_own(tmp_path):
    async with running(tmp_path, KATALOG) as (rt, kube):
        for name in ("one", "two"):
            await kube.create(cr("Alpha", name), namespace="default")
            await kube.create(cr("Bravo", name), namespace="default")
        for child in ("one-alpha", "two-alpha", "one-bravo", "two-bravo"):
            await eventually(lambda c=child: kube.get(CONFIGMAP, c, namespace="default"))
        alpha = rt.box("alpha").child_informers[CONFIGMAP]
        bravo = rt.box("bravo").child_informers[CONFIGMAP]
        assert alpha is not bravo  # two caches of one kind, one per box
        with trio.fail_after(10):
            await rt.wait_idle()
        assert sorted(name for _, name in alpha.keys())  # noqa: SIM118 (an informer, not a dict) == ["one-alpha", "two-alpha"]
        assert sorted(name for _, name in bravo.keys())  # noqa: SIM118 (an informer, not a dict) == ["one-bravo", "two-bravo"]
        child = await kube.get(CONFIGMAP, "one-alpha", namespace="default")
        assert child["metadata"]["labels"][BOX_LABEL] == "alpha.boxes.example.com"


async def test_children_an_earlier_version_made_are_adopted_not_duplicated(tmp_path):
    path = tmp_path / "two.yaml"
    path.write_text(KATALOG)
    async with open_apiserver() as server:
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        async with open_kube_client(server.url) as kube:
            await install_crds(kube, load_katalogs([path]))
            owner = await kube.create(cr("Alpha", "old"), namespace="default")
            # What a runtime without box labels left behind: owned, labelled, no box label.
            made = await kube.create(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {
                        "name": "old-alpha",
                        "namespace": "default",
                        "labels": {
                            "app.kubernetes.io/managed-by": "orkestra",
                            "orkestra.orkspace.io/owner": "old",
                        },
                        "ownerReferences": [
                            {
                                "apiVersion": "boxes.example.com/v1",
                                "kind": "Alpha",
                                "name": "old",
                                "uid": owner["metadata"]["uid"],
                                "controller": True,
                                "blockOwnerDeletion": True,
                            }
                        ],
                    },
                    "data": {"from": "an earlier version"},
                },
                namespace="default",
            )
            async with open_runtime(path, kubeconfig=kubeconfig) as rt:
                with trio.fail_after(10):
                    await rt.wait_ready()
                    await rt.wait_idle()
                informer = rt.box("alpha").child_informers[CONFIGMAP]
                assert informer.get("default", "old-alpha") is not None  # in the box's cache
                adopted = await kube.get(CONFIGMAP, "old-alpha", namespace="default")
                labels = adopted["metadata"]["labels"]
                assert labels[BOX_LABEL] == "alpha.boxes.example.com"
                # Reconciled like any child of the box (drift patched), and the same object.
                assert adopted["data"] == {"from": "alpha"}
                assert adopted["metadata"]["uid"] == made["metadata"]["uid"]
                listed = await kube.list(CONFIGMAP, namespace="default")
                assert [o["metadata"]["name"] for o in listed.items].count("old-alpha") == 1
                # The other box did not take it.
                assert (
                    rt.box("bravo").child_informers[CONFIGMAP].get("default", "old-alpha") is None
                )

                # Deleting the CR still takes its child (the garbage collector, by reference).
                await kube.delete(("boxes.example.com/v1", "Alpha"), "old", namespace="default")

                await eventually(
                    lambda: absent(kube, CONFIGMAP, "old-alpha"),
                    what="the adopted child collected with its CR",
                )
