"""ResourceKind naming and the built-in table match what kube-apiserver advertises."""

from orkestra_trio.apiserver.kinds import BUILTIN_KINDS, builtin, find_kind, kinds_from_crd


def test_api_version_and_list_kind() -> None:
    deploy = builtin("apps", "deployments")
    assert deploy.api_version == "apps/v1"
    assert deploy.group_version == "apps/v1"
    assert deploy.list_kind == "DeploymentList"
    assert deploy.url_prefix == "/apis/apps/v1"
    pods = builtin("", "pods")
    assert pods.api_version == "v1"
    assert pods.url_prefix == "/api/v1"


def test_builtins_have_real_short_names_and_categories() -> None:
    expected = {
        ("", "namespaces"): ("ns",),
        ("", "configmaps"): ("cm",),
        ("", "events"): ("ev",),
        ("", "serviceaccounts"): ("sa",),
        ("", "services"): ("svc",),
        ("", "pods"): ("po",),
        ("", "endpoints"): ("ep",),
        ("apps", "deployments"): ("deploy",),
        ("apps", "statefulsets"): ("sts",),
        ("apps", "replicasets"): ("rs",),
        ("batch", "cronjobs"): ("cj",),
        ("apiextensions.k8s.io", "customresourcedefinitions"): ("crd", "crds"),
        ("networking.k8s.io", "ingresses"): ("ing",),
        ("events.k8s.io", "events"): ("ev",),
        ("", "secrets"): (),
        ("batch", "jobs"): (),
        ("coordination.k8s.io", "leases"): (),
    }
    for (group, plural), short in expected.items():
        assert builtin(group, plural).short_names == short, plural
    for plural in ("pods", "services"):
        assert builtin("", plural).categories == ("all",)
    for plural in ("deployments", "statefulsets", "replicasets"):
        assert "all" in builtin("apps", plural).categories
    assert "all" not in builtin("", "configmaps").categories
    assert builtin("apiextensions.k8s.io", "customresourcedefinitions").categories == (
        "api-extensions",
    )


def test_scope_and_subresources() -> None:
    assert not builtin("", "namespaces").namespaced
    assert not builtin("apiextensions.k8s.io", "customresourcedefinitions").namespaced
    assert builtin("", "configmaps").namespaced
    deploy = builtin("apps", "deployments")
    assert deploy.has_status and deploy.has_scale
    assert builtin("apiextensions.k8s.io", "customresourcedefinitions").has_status
    assert not builtin("", "configmaps").has_status
    assert "deletecollection" not in builtin("", "namespaces").verbs
    assert "watch" in builtin("", "configmaps").verbs


def test_kinds_are_hashable_and_unique() -> None:
    assert len(set(BUILTIN_KINDS)) == len(BUILTIN_KINDS)
    keys = {(k.group, k.version, k.plural) for k in BUILTIN_KINDS}
    assert len(keys) == len(BUILTIN_KINDS)
    assert find_kind(BUILTIN_KINDS, "apps", "v1", "deployments") is builtin("apps", "deployments")
    assert find_kind(BUILTIN_KINDS, "apps", "v2", "deployments") is None


CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {
            "plural": "widgets",
            "singular": "widget",
            "kind": "Widget",
            "shortNames": ["wd"],
            "categories": ["all"],
        },
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {
                    "status": {},
                    "scale": {
                        "specReplicasPath": ".spec.replicas",
                        "statusReplicasPath": ".status.replicas",
                    },
                },
                "additionalPrinterColumns": [
                    {"name": "Size", "type": "integer", "jsonPath": ".spec.size"}
                ],
                "schema": {"openAPIV3Schema": {"type": "object"}},
            },
            {"name": "v1beta1", "served": True, "storage": False},
            {"name": "v1alpha1", "served": False, "storage": False},
        ],
    },
}


def test_kinds_from_crd_one_per_served_version() -> None:
    kinds = kinds_from_crd(CRD)
    assert [k.version for k in kinds] == ["v1", "v1beta1"]
    v1 = kinds[0]
    assert v1.api_version == "example.com/v1"
    assert v1.list_kind == "WidgetList"
    assert v1.short_names == ("wd",)
    assert v1.categories == ("all",)
    assert v1.has_status and v1.has_scale
    assert v1.storage and not kinds[1].storage
    assert v1.printer_columns[0]["jsonPath"] == ".spec.size"
    assert v1.schema == {"type": "object"}
    assert v1.scale is not None and v1.scale["specReplicasPath"] == ".spec.replicas"
    assert v1.is_custom
    assert not kinds[1].has_status
    assert hash(v1)  # mappings inside do not break hashing
    assert v1.names() == {"widgets", "widget", "wd"}


def test_kinds_from_crd_cluster_scope_and_list_kind() -> None:
    crd = {
        "spec": {
            "group": "g.io",
            "scope": "Cluster",
            "names": {"plural": "things", "kind": "Thing", "listKind": "ThingCollection"},
            "versions": [{"name": "v1", "served": True, "storage": True}],
        }
    }
    (kind,) = kinds_from_crd(crd)
    assert not kind.namespaced
    assert kind.singular == "thing"
    assert kind.list_kind == "ThingCollection"
