"""Discovery documents have the shapes and contents kubectl and client-go expect."""

from orkestra_trio.apiserver.discovery import (
    api_group,
    api_group_list,
    api_resource_list,
    api_versions,
    version_priority,
)
from orkestra_trio.apiserver.kinds import BUILTIN_KINDS, kinds_from_crd

CRD = {
    "spec": {
        "group": "example.com",
        "scope": "Cluster",
        "names": {
            "plural": "widgets",
            "singular": "widget",
            "kind": "Widget",
            "shortNames": ["wd"],
            "categories": ["all"],
        },
        "versions": [
            {"name": "v1alpha1", "served": True, "storage": False},
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {
                    "status": {},
                    "scale": {"specReplicasPath": ".spec.r", "statusReplicasPath": ".status.r"},
                },
            },
            {"name": "v1beta1", "served": True, "storage": False},
        ],
    }
}
KINDS = [*BUILTIN_KINDS, *kinds_from_crd(CRD)]


def test_api_versions() -> None:
    doc = api_versions("127.0.0.1:6443")
    assert doc["kind"] == "APIVersions"
    assert doc["versions"] == ["v1"]
    assert doc["serverAddressByClientCIDRs"] == [
        {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}
    ]


def test_group_list_has_named_groups_with_preferred_version() -> None:
    doc = api_group_list(KINDS)
    assert doc["kind"] == "APIGroupList" and doc["apiVersion"] == "v1"
    names = [g["name"] for g in doc["groups"]]
    assert "" not in names
    assert names[:2] == ["apps", "batch"]
    for group in (
        "coordination.k8s.io",
        "events.k8s.io",
        "apiextensions.k8s.io",
        "networking.k8s.io",
        "example.com",
    ):
        assert group in names
    widgets = doc["groups"][names.index("example.com")]
    assert [v["version"] for v in widgets["versions"]] == ["v1", "v1beta1", "v1alpha1"]
    assert widgets["preferredVersion"] == {"groupVersion": "example.com/v1", "version": "v1"}


def test_api_group() -> None:
    doc = api_group(KINDS, "apps")
    assert doc is not None
    assert doc["kind"] == "APIGroup" and doc["name"] == "apps"
    assert doc["versions"] == [{"groupVersion": "apps/v1", "version": "v1"}]
    assert api_group(KINDS, "nope.io") is None
    assert api_group(KINDS, "") is None


def test_core_resource_list() -> None:
    doc = api_resource_list(KINDS, "", "v1")
    assert doc is not None
    assert doc["kind"] == "APIResourceList" and doc["groupVersion"] == "v1"
    by_name = {r["name"]: r for r in doc["resources"]}
    pods = by_name["pods"]
    assert pods["singularName"] == "pod" and pods["namespaced"] is True
    assert pods["kind"] == "Pod" and pods["shortNames"] == ["po"] and pods["categories"] == ["all"]
    assert set(pods["verbs"]) == {
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    }
    assert by_name["pods/status"]["verbs"] == ["get", "patch", "update"]
    assert by_name["namespaces"]["namespaced"] is False
    assert "configmaps/status" not in by_name
    assert "shortNames" not in by_name["secrets"]
    assert by_name["events"]["shortNames"] == ["ev"]


def test_group_resource_list_with_subresources() -> None:
    doc = api_resource_list(KINDS, "apps", "v1")
    assert doc is not None and doc["groupVersion"] == "apps/v1"
    by_name = {r["name"]: r for r in doc["resources"]}
    scale = by_name["deployments/scale"]
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")
    assert by_name["deployments"]["shortNames"] == ["deploy"]
    assert by_name["deployments"]["storageVersionHash"]
    crd = api_resource_list(KINDS, "example.com", "v1")
    assert crd is not None
    names = [r["name"] for r in crd["resources"]]
    assert names == ["widgets", "widgets/status", "widgets/scale"]
    assert crd["resources"][0]["namespaced"] is False
    alpha = api_resource_list(KINDS, "example.com", "v1alpha1")
    assert alpha is not None and [r["name"] for r in alpha["resources"]] == ["widgets"]
    assert api_resource_list(KINDS, "example.com", "v9") is None
    assert api_resource_list(KINDS, "apps", "v2") is None


def test_crd_resources_vanish_when_removed() -> None:
    assert api_resource_list(list(BUILTIN_KINDS), "example.com", "v1") is None
    assert "example.com" not in [g["name"] for g in api_group_list(BUILTIN_KINDS)["groups"]]


def test_version_priority_order() -> None:
    versions = ["v1alpha1", "v2", "v1beta2", "foo", "v1", "v1beta1", "v10", "v2alpha1"]
    assert sorted(versions, key=version_priority) == [
        "v10",
        "v2",
        "v1",
        "v1beta2",
        "v1beta1",
        "v2alpha1",
        "v1alpha1",
        "foo",
    ]
