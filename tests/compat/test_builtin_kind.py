"""An operator over a built-in kind: apiTypes names Deployment, with the mandatory
labelSelector (and a fieldSelector) narrowing the box's informer.

Katalog: katalogs/builtin-kind.yaml. No CRD is installed for the kind, the
runtime writes no status on the Deployments (their status belongs to the
Deployment controller), and the children are owned by the watched Deployment.
"""

from pathlib import Path

import pytest

from orkestra_trio.katalog import KatalogError, load_katalog
from orkestra_trio.testing import open_test_cluster, run_katalog

KATALOG = Path(__file__).parent / "katalogs" / "builtin-kind.yaml"


def _deployment(name, labels, namespace="default"):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
            },
        },
    }


def _config_map(cluster, name, namespace="default"):
    for obj in cluster.objects("configmaps", namespace):
        if obj["metadata"]["name"] == name:
            return obj
    return None


async def test_an_operator_over_labelled_deployments(autojump_clock):
    async with open_test_cluster() as cluster, run_katalog(KATALOG, cluster) as kat:
        await cluster.kube.create(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}}
        )
        payments = await kat.apply(_deployment("pay", {"team": "payments"}))
        await kat.apply(_deployment("shop", {"team": "shop"}))
        # Selected by the label, not by the fieldSelector (another namespace).
        await kat.apply(_deployment("pay", {"team": "payments"}, namespace="other"))
        await kat.wait_steady()

        info = _config_map(cluster, "pay-info")
        assert info is not None
        assert info["data"] == {"replicas": "2", "image": "nginx:1.27"}
        (owner,) = info["metadata"]["ownerReferences"]
        assert owner["apiVersion"] == "apps/v1"
        assert owner["kind"] == "Deployment"
        assert owner["name"] == "pay"
        assert owner["uid"] == payments["metadata"]["uid"]
        assert owner["controller"] is True
        # Only the selected Deployment got a child.
        assert _config_map(cluster, "shop-info") is None
        assert _config_map(cluster, "pay-info", "other") is None

        # No CRD for a built-in kind, and no status written by the runtime.
        assert cluster.objects("customresourcedefinitions", "") == []
        stored = kat.cr("deploywatch", "pay")
        status = stored.get("status") or {}
        assert not any(c.get("type") == "Ready" for c in status.get("conditions") or ())
        assert stored["metadata"].get("finalizers") in (None, [])

        # A change of the watched Deployment reaches its child.
        changed = _deployment("pay", {"team": "payments"})
        changed["spec"]["replicas"] = 5
        await kat.apply(changed)
        await kat.wait_steady()
        assert _config_map(cluster, "pay-info")["data"]["replicas"] == "5"

        # Relabelled out of the selector: the box no longer sees it.
        await kat.apply(_deployment("shop", {"team": "payments"}))
        await kat.wait_steady()
        assert _config_map(cluster, "shop-info")["data"]["replicas"] == "2"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("", "labelSelector is required for an operator over the built-in kind Deployment"),
        (
            "      labelSelector: team=x\n      operatorBox:\n        status:\n"
            "          fields: [{path: phase, value: x}]\n",
            "status fields cannot be written on the built-in kind Deployment",
        ),
        (
            "      labelSelector: team=x\n      webhooks: {validation: true}\n"
            "      validation:\n        rules: [{field: spec.replicas, exists: true}]\n",
            "webhooks and conversion cannot serve the built-in kind Deployment",
        ),
    ],
)
def test_a_built_in_kind_needs_a_label_selector_and_keeps_its_status(tmp_path, extra, message):
    path = tmp_path / "k.yaml"
    path.write_text(
        "apiVersion: orkestra.orkspace.io/v1\nkind: Katalog\nmetadata: {name: t}\n"
        "spec:\n  crds:\n    d:\n"
        "      apiTypes: {group: apps, version: v1, kind: Deployment, plural: deployments}\n"
        + extra
    )
    with pytest.raises(KatalogError) as caught:
        load_katalog(path)
    found = [str(issue) for issue in caught.value.issues]
    assert any(message in issue and "k.yaml:" in issue for issue in found), found
