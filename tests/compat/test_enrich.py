"""enrich: [pods, warnings, owner] on the embedded server (katalogs/enrich.yaml).

The pods come from a Pod informer selected by the owner label of the
workloads' pod templates, the warnings from an Event informer selected by
type=Warning and the CR's kind: no request per reconcile, and a new Warning
reconciles its CR.
"""

from pathlib import Path

import pytest

from orkestra_trio.katalog import KatalogError, load_katalog
from orkestra_trio.testing import open_test_cluster, run_katalog

KATALOG = Path(__file__).parent / "katalogs" / "enrich.yaml"


def _config_map(cluster, name):
    for obj in cluster.objects("configmaps", "default"):
        if obj["metadata"]["name"] == name:
            return obj
    return None


async def test_enrich_pods_and_warnings_come_from_the_boxs_informers(autojump_clock):
    async with open_test_cluster() as cluster, run_katalog(KATALOG, cluster) as kat:
        # A pod of another workload (no owner label) is not the CR's.
        await cluster.kube.create(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "stray", "namespace": "default"},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            }
        )
        # Nor is one of another box's CR named demo too (its workload is not a child here).
        await cluster.kube.create(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": "elsewhere",
                    "namespace": "default",
                    "labels": {
                        "orkestra.orkspace.io/owner": "demo",
                        "app.kubernetes.io/name": "demo-elsewhere",
                    },
                },
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            }
        )
        cr = await kat.apply(kat.manifest("shop", "demo"))
        await kat.wait_steady()
        pods = sorted(
            p["metadata"]["name"]
            for p in cluster.objects("pods", "default")
            if (p["metadata"].get("labels") or {}).get("app.kubernetes.io/name") == "demo"
        )
        assert len(pods) == 2
        seen = _config_map(cluster, "demo-seen")["data"]
        assert seen["pods"] == "2"
        assert seen["podNames"] == "[" + " ".join(pods) + "]"
        assert seen["warnings"] == "0"

        reads = [(verb, res) for verb, res in cluster.requests() if res in ("pods", "events")]
        reads = [r for r in reads if r[0] in ("get", "list")]
        # A Warning Event about the CR (another controller's): the CR reconciles and sees it.
        await cluster.kube.create(
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": "demo.1", "namespace": "default"},
                "involvedObject": {
                    "apiVersion": "compat.example.com/v1",
                    "kind": "Shop",
                    "name": "demo",
                    "namespace": "default",
                    "uid": cr["metadata"]["uid"],
                },
                "type": "Warning",
                "reason": "QuotaLow",
                "message": "quota nearly used",
                "lastTimestamp": "2026-01-01T00:00:00Z",
            }
        )
        await kat.wait_steady()
        seen = _config_map(cluster, "demo-seen")["data"]
        assert seen["warnings"] == "1"
        assert seen["lastWarning"] == "QuotaLow"
        # Read from the caches: no get/list of pods or events since (the watch carried it).
        later = [(verb, res) for verb, res in cluster.requests() if res in ("pods", "events")]
        assert [r for r in later if r[0] in ("get", "list")] == reads


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ("enrich: [nodes]", "did you mean 'node'"),
        ("enrich: [{pods: {}, hpa: {}}]", "write one target per item"),
        ("enrich: [{pods: {unless: []}}]", "unless"),
        ("enrichAll: true\n      enrich: [pods]", "set enrichAll or enrich, not both"),
    ],
)
def test_enrich_mistakes_are_reported_with_their_position(tmp_path, items, message):
    path = tmp_path / "k.yaml"
    path.write_text(
        "apiVersion: orkestra.orkspace.io/v1\nkind: Katalog\nmetadata: {name: t}\n"
        "spec:\n  crds:\n    d:\n"
        "      apiTypes: {group: d.example.com, version: v1, kind: D, plural: ds}\n"
        f"      {items}\n"
    )
    with pytest.raises(KatalogError) as caught:
        load_katalog(path)
    found = [str(issue) for issue in caught.value.issues]
    assert any(message in issue and "k.yaml:" in issue for issue in found), found


def _mall(city):
    """A Mall (a CRD of the Katalog without a box of its own)."""
    return {
        "apiVersion": "compat.example.com/v1",
        "kind": "Mall",
        "metadata": {"name": "central", "namespace": "default"},
        "spec": {"city": city},
    }


async def test_enrich_owner_reads_a_katalog_crs_owner_from_its_informer(autojump_clock):
    async with open_test_cluster() as cluster, run_katalog(KATALOG, cluster) as kat:
        mall = await kat.apply(_mall("Lyon"))
        owner_ref = {
            "apiVersion": "compat.example.com/v1",
            "kind": "Mall",
            "name": "central",
            "uid": mall["metadata"]["uid"],
            "controller": True,
        }
        await kat.apply(kat.manifest("shop", "demo", ownerReferences=[owner_ref]))
        estate = await cluster.kube.create(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "estate", "namespace": "default"},
            }
        )
        foreign = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "name": "estate",
            "uid": estate["metadata"]["uid"],
        }
        await kat.apply(kat.manifest("shop", "solo", ownerReferences=[foreign]))
        await kat.apply(kat.manifest("shop", "free"))
        await kat.wait_steady()
        assert _config_map(cluster, "demo-seen")["data"]["owner"] == "Mall/central/Lyon"
        # An owner of a kind outside the Katalogs: its ownerReference's fields only.
        assert _config_map(cluster, "solo-seen")["data"]["owner"] == "ConfigMap/estate/"
        assert _config_map(cluster, "free-seen")["data"]["owner"] == ""

        # The owner changes: the shop reconciles from the Mall informer's new version.
        await kat.apply(_mall("Nantes"))
        await kat.wait_steady()
        assert _config_map(cluster, "demo-seen")["data"]["owner"] == "Mall/central/Nantes"
