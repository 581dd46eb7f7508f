"""Shorthand expansion into full manifests, group by group."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orkestra_trio.katalog.manifests import (
    ManifestError,
    Owner,
    build_manifest,
    coerce_types,
    deep_merge,
    owner_from_cr,
)
from orkestra_trio.katalog.model import RESOURCE_GROUPS

OWNER = Owner(
    api_version="demo.example.com/v1",
    kind="Website",
    name="my-site",
    namespace="shop",
    uid="uid-123",
)


def test_deployment_selector_and_pod_labels_agree_and_container_is_named_after_entry():
    manifest = build_manifest(
        "deployments",
        {
            "name": "web",
            "image": "nginx:1.27",
            "replicas": "3",
            "port": "8080",
            "env": {"MODE": "prod", "WORKERS": "3"},
            "command": ["nginx"],
            "args": ["-g", "daemon off;"],
            "resources": {"requests": {"cpu": "50m"}},
        },
        OWNER,
    )
    assert manifest["apiVersion"] == "apps/v1"
    assert manifest["kind"] == "Deployment"
    spec = manifest["spec"]
    assert spec["replicas"] == 3
    assert spec["selector"]["matchLabels"] == spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "web",
        "orkestra.orkspace.io/owner": "my-site",
    }
    (container,) = spec["template"]["spec"]["containers"]
    assert container["name"] == "web"
    assert container["image"] == "nginx:1.27"
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    # env values stay text even when they look like numbers
    assert container["env"] == [
        {"name": "MODE", "value": "prod"},
        {"name": "WORKERS", "value": "3"},
    ]
    assert container["command"] == ["nginx"]
    assert container["args"] == ["-g", "daemon off;"]
    assert container["resources"] == {"requests": {"cpu": "50m"}}


def test_every_child_carries_owner_labels_and_a_controller_owner_reference():
    manifest = build_manifest(
        "configMaps",
        {"name": "cfg", "labels": {"tier": "web"}, "annotations": {"note": "plain"}},
        OWNER,
    )
    metadata = manifest["metadata"]
    assert metadata["name"] == "cfg"
    assert metadata["namespace"] == "shop"
    assert metadata["annotations"] == {"note": "plain"}
    assert metadata["labels"] == {
        "tier": "web",
        "app.kubernetes.io/managed-by": "orkestra",
        "orkestra.orkspace.io/owner": "my-site",
        # Orkestra's own: its docs list a CR's children with -l orkestra-owner=<cr>.
        "managed-by": "orkestra",
        "orkestra-owner": "my-site",
        # The box that made it, by its CR's kind and group: each box caches its own.
        "orkestra.orkspace.io/box": "website.demo.example.com",
    }
    assert metadata["ownerReferences"] == [
        {
            "apiVersion": "demo.example.com/v1",
            "kind": "Website",
            "name": "my-site",
            "uid": "uid-123",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


def test_users_cannot_override_the_owner_label():
    manifest = build_manifest(
        "configMaps", {"name": "cfg", "labels": {"orkestra.orkspace.io/owner": "x"}}, OWNER
    )
    assert manifest["metadata"]["labels"]["orkestra.orkspace.io/owner"] == "my-site"


def test_no_owner_reference_without_uid_or_across_namespaces():
    no_uid = Owner("demo.example.com/v1", "Website", "my-site", "shop", "")
    assert "ownerReferences" not in build_manifest("configMaps", {"name": "a"}, no_uid)["metadata"]
    other_ns = build_manifest("configMaps", {"name": "a", "namespace": "elsewhere"}, OWNER)
    assert other_ns["metadata"]["namespace"] == "elsewhere"
    assert "ownerReferences" not in other_ns["metadata"]


def test_namespace_children_are_cluster_scoped():
    manifest = build_manifest("namespaces", {"name": "team-a"}, OWNER)
    assert manifest["apiVersion"] == "v1"
    assert manifest["kind"] == "Namespace"
    assert "namespace" not in manifest["metadata"]
    assert "ownerReferences" not in manifest["metadata"]
    cluster_owner = Owner("demo.example.com/v1", "Tenant", "t", "", "uid-9")
    owned = build_manifest("namespaces", {"name": "team-a"}, cluster_owner)
    assert owned["metadata"]["ownerReferences"][0]["uid"] == "uid-9"


def test_statefulset_gets_a_service_name():
    manifest = build_manifest(
        "statefulSets", {"name": "db", "image": "postgres:16", "replicas": 1}, OWNER
    )
    assert manifest["kind"] == "StatefulSet"
    assert manifest["spec"]["serviceName"] == "db"
    named = build_manifest("statefulSets", {"name": "db", "serviceName": "db-headless"}, OWNER)
    assert named["spec"]["serviceName"] == "db-headless"


def test_service_defaults_selector_to_the_deployment_pod_labels():
    service = build_manifest("services", {"name": "web", "port": 80, "targetPort": "8080"}, OWNER)
    deployment = build_manifest("deployments", {"name": "web", "image": "x"}, OWNER)
    assert service["spec"]["selector"] == deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}
    ]
    assert "type" not in service["spec"]


def test_service_target_port_defaults_to_port_and_may_be_a_name():
    assert (
        build_manifest("services", {"name": "s", "port": "443"}, OWNER)["spec"]["ports"][0][
            "targetPort"
        ]
        == 443
    )
    named = build_manifest("services", {"name": "s", "port": 80, "targetPort": "http"}, OWNER)
    assert named["spec"]["ports"][0]["targetPort"] == "http"


def test_service_type_and_explicit_selector():
    service = build_manifest(
        "services",
        {"name": "s", "port": 80, "type": "NodePort", "selector": {"app": "x"}},
        OWNER,
    )
    assert service["spec"]["type"] == "NodePort"
    assert service["spec"]["selector"] == {"app": "x"}


def test_env_list_form_keeps_value_from():
    manifest = build_manifest(
        "deployments",
        {
            "name": "w",
            "image": "x",
            "env": [
                {"name": "A", "value": 1},
                {"name": "B", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
            ],
        },
        OWNER,
    )
    env = manifest["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [
        {"name": "A", "value": "1"},
        {"name": "B", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
    ]


def test_configmap_data_stays_text():
    manifest = build_manifest("configMaps", {"name": "c", "data": {"replicas": "3", "n": 5}}, OWNER)
    assert manifest["data"] == {"replicas": "3", "n": "5"}


def test_secret_uses_string_data_and_defaults_to_opaque():
    manifest = build_manifest("secrets", {"name": "s", "stringData": {"password": "pw"}}, OWNER)
    assert manifest["kind"] == "Secret"
    assert manifest["type"] == "Opaque"
    assert manifest["stringData"] == {"password": "pw"}
    typed = {"name": "s", "type": "kubernetes.io/basic-auth", "stringData": {"username": "u"}}
    assert build_manifest("secrets", typed, OWNER)["type"] == "kubernetes.io/basic-auth"


def test_job_pod_template_never_restarts_by_default():
    manifest = build_manifest(
        "jobs",
        {"name": "cleanup", "image": "busybox", "command": ["sh", "-c"], "backoffLimit": "2"},
        OWNER,
    )
    assert manifest["apiVersion"] == "batch/v1"
    spec = manifest["spec"]
    assert spec["backoffLimit"] == 2
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    assert spec["template"]["spec"]["containers"][0]["command"] == ["sh", "-c"]


def test_cronjob_has_schedule_and_job_template():
    manifest = build_manifest(
        "cronJobs", {"name": "nightly", "schedule": "0 3 * * *", "image": "busybox"}, OWNER
    )
    assert manifest["kind"] == "CronJob"
    assert manifest["spec"]["schedule"] == "0 3 * * *"
    pod = manifest["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "OnFailure"
    assert pod["containers"][0]["image"] == "busybox"


def test_ingress_rule_points_at_the_service():
    manifest = build_manifest(
        "ingresses",
        {"name": "web", "host": "a.example.com", "servicePort": "80", "className": "nginx"},
        OWNER,
    )
    assert manifest["apiVersion"] == "networking.k8s.io/v1"
    assert manifest["spec"]["ingressClassName"] == "nginx"
    (rule,) = manifest["spec"]["rules"]
    assert rule["host"] == "a.example.com"
    (path,) = rule["http"]["paths"]
    assert path["path"] == "/"
    assert path["pathType"] == "Prefix"
    assert path["backend"] == {"service": {"name": "web", "port": {"number": 80}}}
    named = build_manifest("ingresses", {"name": "web", "servicePort": "http"}, OWNER)
    assert named["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"] == {
        "name": "http"
    }


def test_service_account_is_metadata_only():
    manifest = build_manifest("serviceAccounts", {"name": "runner"}, OWNER)
    assert manifest["kind"] == "ServiceAccount"
    assert set(manifest) == {"apiVersion", "kind", "metadata"}


def test_custom_passes_through_without_coercion():
    manifest = build_manifest(
        "custom",
        {
            "name": "mon",
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "ServiceMonitor",
            "metadata": {"labels": {"release": "prom"}},
            "spec": {"port": "8080", "endpoints": [{"port": "http"}]},
        },
        OWNER,
    )
    assert manifest["apiVersion"] == "monitoring.coreos.com/v1"
    assert manifest["kind"] == "ServiceMonitor"
    assert manifest["spec"] == {"port": "8080", "endpoints": [{"port": "http"}]}
    assert manifest["metadata"]["labels"]["release"] == "prom"
    assert manifest["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "orkestra"


def test_custom_requires_api_version_and_kind():
    with pytest.raises(ManifestError):
        build_manifest("custom", {"name": "x", "kind": "Foo"}, OWNER)


def test_raw_spec_is_deep_merged_over_the_shorthand():
    manifest = build_manifest(
        "deployments",
        {
            "name": "web",
            "image": "nginx",
            "replicas": 2,
            "spec": {
                "strategy": {"type": "Recreate"},
                "replicas": "5",
                "template": {"spec": {"nodeSelector": {"disk": "ssd"}}},
            },
        },
        OWNER,
    )
    spec = manifest["spec"]
    assert spec["strategy"] == {"type": "Recreate"}
    assert spec["replicas"] == 5
    assert spec["template"]["spec"]["nodeSelector"] == {"disk": "ssd"}
    # the merge kept the generated container
    assert spec["template"]["spec"]["containers"][0]["image"] == "nginx"


def test_deep_merge_replaces_lists_and_does_not_share_containers():
    base = {"a": {"b": [1, 2], "c": 1}}
    override = {"a": {"b": [3]}}
    merged = deep_merge(base, override)
    assert merged == {"a": {"b": [3], "c": 1}}
    merged["a"]["b"].append(4)
    assert override == {"a": {"b": [3]}}
    assert base == {"a": {"b": [1, 2], "c": 1}}


def test_empty_typed_value_drops_the_field():
    manifest = build_manifest("deployments", {"name": "w", "image": "x", "replicas": ""}, OWNER)
    assert "replicas" not in manifest["spec"]


def test_non_numeric_replicas_is_an_error_naming_the_field():
    with pytest.raises(ManifestError) as info:
        build_manifest("deployments", {"name": "w", "image": "x", "replicas": "three"}, OWNER)
    assert info.value.field == "spec.replicas"
    assert "three" in str(info.value)


def test_boolean_fields_become_booleans():
    manifest = build_manifest(
        "cronJobs",
        {"name": "c", "schedule": "* * * * *", "image": "x", "spec": {"suspend": "true"}},
        OWNER,
    )
    assert manifest["spec"]["suspend"] is True
    with pytest.raises(ManifestError):
        coerce_types({"suspend": "maybe"})


def test_coercion_leaves_labels_resources_and_env_alone():
    value = {
        "labels": {"replicas": "3"},
        "resources": {"limits": {"cpu": "1"}},
        "env": [{"name": "port", "value": "80"}],
        "readOnly": "false",
    }
    assert coerce_types(value) == {
        "labels": {"replicas": "3"},
        "resources": {"limits": {"cpu": "1"}},
        "env": [{"name": "port", "value": "80"}],
        "readOnly": False,
    }


# Orkestra's documented default names (its entry types), and ours where it names none.
DEFAULT_NAMES = {
    "namespaces": "my-site-ns",
    "secrets": "my-site-secret",
    "configMaps": "my-site-config",
    "networkPolicies": "my-site-networkpolicy",
    "resourceQuotas": "my-site-resourcequota",
    "limitRanges": "my-site-limitrange",
    "clusterRoles": "my-site-cluster-role",
    "clusterRoleBindings": "my-site-crb",
    "serviceAccounts": "my-site-sa",
    "roles": "my-site-role",
    "roleBindings": "my-site-rolebinding",
    "custom": "my-site-certificate",
    "persistentVolumes": "my-site-pv",
    "persistentVolumeClaims": "my-site-pvc",
    "replicaSets": "my-site-replicaset",
    "deployments": "my-site-deployment",
    "statefulSets": "my-site",
    "daemonSets": "my-site-daemonset",
    "services": "my-site-svc",
    "jobs": "my-site-job",
    "cronJobs": "my-site-cronjob",
    "ingresses": "my-site-ingress",
    "hpa": "my-site-hpa",
    "pdb": "my-site-pdb",
    "pods": "my-site-pod",
}


def test_the_table_covers_every_group():
    assert set(DEFAULT_NAMES) == set(RESOURCE_GROUPS)


@pytest.mark.parametrize(("group", "expected"), sorted(DEFAULT_NAMES.items()))
def test_an_unnamed_child_takes_its_kinds_default_name(group, expected):
    entry = {
        "roleBindings": {"role": "r"},
        "clusterRoleBindings": {"role": "r"},
        "custom": {"apiVersion": "cert-manager.io/v1", "kind": "Certificate"},
    }.get(group, {})
    assert build_manifest(group, entry, OWNER)["metadata"]["name"] == expected
    # An empty name (a template that rendered to nothing) is no name either.
    assert build_manifest(group, {**entry, "name": ""}, OWNER)["metadata"]["name"] == expected
    assert build_manifest(group, {**entry, "name": "own"}, OWNER)["metadata"]["name"] == "own"


def test_unnamed_entries_refer_to_each_others_default_names():
    deploy = build_manifest("deployments", {"image": "x"}, OWNER)
    pods = deploy["spec"]["template"]["metadata"]["labels"]
    # Orkestra: "Deployment and primary container name".
    assert deploy["spec"]["template"]["spec"]["containers"][0]["name"] == "my-site-deployment"
    assert build_manifest("services", {"port": 80}, OWNER)["spec"]["selector"] == pods
    pdb = build_manifest("pdb", {"minAvailable": 1}, OWNER)
    assert pdb["spec"]["selector"] == {"matchLabels": pods}
    hpa = build_manifest("hpa", {"maxReplicas": 3}, OWNER)
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "my-site-deployment",
    }
    ingress = build_manifest("ingresses", {"host": "a.example", "tls": True}, OWNER)
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "my-site-svc", "port": {"number": 80}}
    assert ingress["spec"]["tls"] == [{"secretName": "my-site-tls", "hosts": ["a.example"]}]
    statefulset = build_manifest("statefulSets", {"image": "x"}, OWNER)
    assert statefulset["spec"]["serviceName"] == "my-site"  # Orkestra: same as Name


def test_named_entries_refer_to_children_of_their_own_name():
    pods = build_manifest("deployments", {"name": "web"}, OWNER)["spec"]["selector"]
    service = build_manifest("services", {"name": "web"}, OWNER)
    assert service["spec"]["selector"] == pods["matchLabels"]
    assert build_manifest("pdb", {"name": "web"}, OWNER)["spec"]["selector"] == pods
    hpa = build_manifest("hpa", {"name": "web"}, OWNER)
    assert hpa["spec"]["scaleTargetRef"]["name"] == "web"
    ingress = build_manifest("ingresses", {"name": "web", "tls": True}, OWNER)
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "web"
    assert ingress["spec"]["tls"] == [{"secretName": "web-tls"}]


def test_owner_from_cr_reads_metadata():
    owner = owner_from_cr(
        {
            "apiVersion": "demo.example.com/v1",
            "kind": "Website",
            "metadata": {"name": "a", "namespace": "ns", "uid": "u"},
        }
    )
    assert owner == Owner("demo.example.com/v1", "Website", "a", "ns", "u")


names = st.from_regex(r"[a-z]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)


@given(
    child=names,
    owner=names,
    replicas=st.integers(min_value=0, max_value=1000),
    as_text=st.booleans(),
    port=st.integers(min_value=1, max_value=65535),
)
def test_workloads_and_services_always_agree(child, owner, replicas, as_text, port):
    """Whatever the names and however the numbers arrive, selectors match pods."""
    who = Owner("demo.example.com/v1", "Website", owner, "ns", "u")
    value = str(replicas) if as_text else replicas
    for group in ("deployments", "statefulSets"):
        manifest = build_manifest(
            group, {"name": child, "image": "x", "replicas": value, "port": str(port)}, who
        )
        spec = manifest["spec"]
        assert spec["replicas"] == replicas
        assert spec["selector"]["matchLabels"] == spec["template"]["metadata"]["labels"]
        assert spec["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] == port
        service = build_manifest("services", {"name": child, "port": str(port)}, who)
        assert service["spec"]["selector"] == spec["selector"]["matchLabels"]
        assert service["spec"]["ports"][0]["targetPort"] == port
        assert manifest["metadata"]["labels"]["orkestra.orkspace.io/owner"] == owner


def test_the_box_label_fits_a_label_value_whatever_the_group():
    from orkestra_trio.katalog.manifests import box_label_value

    assert box_label_value("demo.example.com/v1", "Website") == "website.demo.example.com"
    assert box_label_value("v1", "Thing") == "thing"
    long = box_label_value("a-very-long-group-name-for-an-api.with-many.parts.example.com/v1", "K")
    assert len(long) <= 63 and long.startswith("k.")
    other = box_label_value("a-very-long-group-name-for-an-api.with-many.parts.example.org/v1", "K")
    assert other != long  # two long groups stay apart


def test_workload_image_port_protocol_and_service_ports():
    # ORKESTRA-LANGUAGE 1.6: a Deployment's image, port and protocol; a Service's port,
    # targetPort and protocol (TCP when not written).
    deploy = build_manifest(
        "deployments",
        {"name": "dns", "image": "coredns:1.11", "port": 5353, "protocol": "UDP"},
        OWNER,
    )
    [container] = deploy["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "coredns:1.11"
    assert container["ports"] == [{"name": "http", "containerPort": 5353, "protocol": "UDP"}]
    service = build_manifest(
        "services", {"name": "dns", "port": 53, "targetPort": 5353, "protocol": "UDP"}, OWNER
    )
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 53, "targetPort": 5353, "protocol": "UDP"}
    ]
    plain = build_manifest("services", {"name": "web", "port": 80}, OWNER)
    assert plain["spec"]["ports"][0]["protocol"] == "TCP"
