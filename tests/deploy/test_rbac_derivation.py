"""deploy.rbac: the rights derived from a Katalog are exactly what its runtime uses, no wildcard."""

import textwrap
from pathlib import Path

import pytest

from orkestra_trio.deploy.rbac import DeriveError, derive_rights, grants_of, policy_rules
from orkestra_trio.katalog import load_katalogs

KATALOGS = Path(__file__).parents[2] / "katalogs"


def triples(grants):
    return {(g.api_group, g.resource, v) for g in grants for v in g.verbs}


def test_website_gets_its_cr_children_events_and_nothing_else():
    rights = derive_rights(load_katalogs([KATALOGS / "website.yaml"]))
    cluster = triples(rights.cluster)
    read = {"get", "list", "watch"}
    expected = {("demo.example.com", "websites", v) for v in read | {"patch"}}
    expected |= {("demo.example.com", "websites/status", "patch")}
    expected |= {("demo.example.com", "websites/finalizers", "update")}
    # onCreate ConfigMaps: owned by reference (the GC deletes them), never patched.
    expected |= {("", "configmaps", v) for v in read | {"create"}}
    # onReconcile: patched (drift) and deleted (when false / pruned).
    for group, plural in (
        ("apps", "deployments"),
        ("", "services"),
        ("networking.k8s.io", "ingresses"),
    ):
        expected |= {(group, plural, v) for v in read | {"create", "patch", "delete"}}
    # onDelete Job: created and deleted once finished, never patched.
    expected |= {("batch", "jobs", v) for v in read | {"create", "delete"}}
    expected |= {("", "events", v) for v in ("create", "get", "list", "patch", "watch")}
    # The pod's HTTP surface checks its callers' ServiceAccount tokens.
    expected |= {("authentication.k8s.io", "tokenreviews", "create")}
    assert cluster == expected
    assert triples(rights.namespaced) == {
        ("coordination.k8s.io", "leases", v) for v in ("create", "get", "update")
    }


@pytest.mark.parametrize("path", sorted(KATALOGS.glob("*.yaml")), ids=lambda p: p.name)
def test_no_wildcard_in_any_bundled_katalog(path):
    rights = derive_rights(load_katalogs([path]))
    for rule in policy_rules(rights.all()):
        for key in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[key]
            assert all("*" not in item for item in rule[key])


def test_policy_rules_round_trip_to_the_same_grants():
    rights = derive_rights(load_katalogs(sorted(KATALOGS.glob("*.yaml"))))
    assert grants_of(policy_rules(rights.cluster)) == triples(rights.cluster)


def _katalog(tmp_path, body):
    path = tmp_path / "k.yaml"
    path.write_text(textwrap.dedent(body))
    return load_katalogs([path]), path


def test_cross_to_a_crd_without_a_box_grants_read_only(tmp_path):
    katalogs, _ = _katalog(
        tmp_path,
        """\
        metadata: {name: t}
        spec:
          crds:
            db:
              apiTypes: {group: x.io, version: v1, kind: Db, plural: dbs}
            app:
              apiTypes: {group: x.io, version: v1, kind: App, plural: apps}
              operatorBox:
                cross: [{crd: db, as: db, selector: {name: "{{ .metadata.name }}"}}]
        """,
    )
    cluster = triples(derive_rights(katalogs).cluster)
    assert {v for g, r, v in cluster if r == "dbs"} == {"get", "list", "watch"}
    # No children: no finalizers subresource needed.
    assert not any(r == "apps/finalizers" for _, r, _ in cluster)


def test_child_in_another_namespace_can_be_deleted_but_same_namespace_oncreate_not(tmp_path):
    katalogs, _ = _katalog(
        tmp_path,
        """\
        metadata: {name: t}
        spec:
          crds:
            app:
              apiTypes: {group: x.io, version: v1, kind: App, plural: apps}
              operatorBox:
                onCreate:
                  secrets: [{name: a, namespace: elsewhere, stringData: {k: v}}]
                  configMaps: [{name: b, data: {k: v}}]
        """,
    )
    cluster = triples(derive_rights(katalogs).cluster)
    assert ("", "secrets", "delete") in cluster
    assert ("", "configmaps", "delete") not in cluster
    assert ("", "configmaps", "patch") not in cluster


def test_templated_custom_kind_is_an_error_with_its_position(tmp_path):
    katalogs, path = _katalog(
        tmp_path,
        """\
        metadata: {name: t}
        spec:
          crds:
            app:
              apiTypes: {group: x.io, version: v1, kind: App, plural: apps}
              operatorBox:
                onReconcile:
                  custom:
                    - name: a
                      apiVersion: "{{ .spec.v }}"
                      kind: Thing
                    - name: b
                      apiVersion: other.io/v1
                      kind: Widget
        """,
    )
    with pytest.raises(DeriveError) as caught:
        derive_rights(katalogs)
    first, second = caught.value.problems
    assert first.startswith(f"{path}:9:") and "must be literal" in first
    assert second.startswith(f"{path}:12:") and "other.io/v1 Widget" in second


def test_per_box_election_may_list_its_leases_and_nothing_more():
    katalogs = load_katalogs([KATALOGS / "website.yaml"])
    leases = triples(derive_rights(katalogs, per_box=True).namespaced)
    assert leases == {
        ("coordination.k8s.io", "leases", v) for v in ("create", "delete", "get", "list", "update")
    }


def test_a_remote_reconcilers_managed_resources_are_read_created_and_patched(tmp_path):
    katalogs, _ = _katalog(
        tmp_path,
        """\
        metadata: {name: t}
        spec:
          crds:
            app:
              apiTypes: {group: x.io, version: v1, kind: App, plural: apps}
              operatorBox:
                reconcile:
                  default: false
                  remote:
                    endpoint: "http://billing.svc/reconcile"
                    managedResources: [{group: apps, plural: deployments}]
        """,
    )
    cluster = triples(derive_rights(katalogs).cluster)
    verbs = {v for g, r, v in cluster if (g, r) == ("apps", "deployments")}
    assert verbs == {"get", "list", "watch", "create", "patch"}


def test_clusterroles_get_escalate_and_bind_on_the_names_the_katalog_writes(tmp_path):
    katalogs, _ = _katalog(
        tmp_path,
        """\
        metadata: {name: t}
        spec:
          crds:
            app:
              apiTypes: {group: x.io, version: v1, kind: App, plural: apps}
              operatorBox:
                onReconcile:
                  clusterRoles:
                    - {name: app-reader, rules: [{apiGroups: [""], resources: [nodes], verbs: [get]}]}
                  clusterRoleBindings:
                    - {name: app-reader, role: app-reader, serviceAccounts: [app]}
                  roles:
                    - {name: "{{ .metadata.name }}-x", rules: []}
        """,
    )
    rules = policy_rules(derive_rights(katalogs).cluster)
    rbac = [
        {key: value for key, value in rule.items() if key != "apiGroups"}
        for rule in rules
        if rule["apiGroups"] == ["rbac.authorization.k8s.io"]
    ]
    # Literal names: only those roles; a templated name: the verb on every role.
    for verb in ("bind", "escalate"):
        named = {"resources": ["clusterroles"], "resourceNames": ["app-reader"], "verbs": [verb]}
        assert named in rbac
    assert {"resources": ["roles"], "verbs": ["escalate"]} in rbac
    cluster = triples(derive_rights(katalogs).cluster)
    for plural in ("clusterroles", "clusterrolebindings"):
        # Cluster-scoped children carry no ownerReference: the runtime deletes them.
        assert {"create", "patch", "delete"} <= {v for _, r, v in cluster if r == plural}


def test_an_operator_over_deployments_reads_and_patches_them_but_not_their_status(tmp_path):
    katalogs, _ = _katalog(
        tmp_path,
        """\
        metadata: {name: t}
        spec:
          crds:
            deploywatch:
              apiTypes: {group: apps, version: v1, kind: Deployment, plural: deployments}
              labelSelector: team=payments
              enrich: [pods]
              operatorBox:
                onReconcile:
                  configMaps: [{name: "{{ .metadata.name }}-info"}]
        """,
    )
    cluster = triples(derive_rights(katalogs).cluster)
    assert {v for g, r, v in cluster if (g, r) == ("apps", "deployments")} == {
        "get",
        "list",
        "watch",
        "patch",
    }
    assert not any(r == "deployments/status" for _, r, _ in cluster)
    # enrich: [pods]: the box watches the pods of its workloads.
    assert {v for g, r, v in cluster if (g, r) == ("", "pods")} == {"get", "list", "watch"}


def test_configmaps_copying_a_configmap_read_configmaps_anywhere_and_no_secrets(tmp_path):
    katalogs, _ = _katalog(
        tmp_path,
        """\
        metadata: {name: t}
        spec:
          crds:
            app:
              apiTypes: {group: x.io, version: v1, kind: App, plural: apps}
              operatorBox:
                onReconcile:
                  configMaps: [{name: b, fromConfigMap: src, fromNamespace: shared}]
        """,
    )
    cluster = triples(derive_rights(katalogs).cluster)
    # The source informers (runtime.sources) list and watch in any namespace.
    assert {("", "configmaps", verb) for verb in ("get", "list", "watch")} <= cluster
    assert not any(resource == "secrets" for _, resource, _ in cluster)
