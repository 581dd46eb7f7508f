"""`namespaced: false`: a cluster-scoped CRD and its box on the embedded server (ORKESTRA-LANGUAGE 1.3)."""

from pathlib import Path

from orkestra_trio.testing import open_test_cluster, run_katalog

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: tenants}
spec:
  crds:
    tenant:
      apiTypes: {group: scope.example.com, version: v1, kind: Tenant, plural: tenants}
      namespaced: false
      operatorBox:
        onReconcile:
          namespaces:
            - name: "team-{{ .metadata.name }}"
          configMaps:
            - name: "{{ .metadata.name }}-quota"
              namespace: "team-{{ .metadata.name }}"
              data: {owner: "{{ .spec.owner }}"}
        status:
          fields:
            - {path: home, value: "team-{{ .metadata.name }}"}
"""


async def test_a_cluster_scoped_crd_reconciles_crs_without_a_namespace(
    autojump_clock, tmp_path: Path
):
    path = tmp_path / "katalog.yaml"
    path.write_text(KATALOG)
    async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
        [crd] = [
            c
            for c in cluster.objects("customresourcedefinitions")
            if c["metadata"]["name"] == "tenants.scope.example.com"
        ]
        assert crd["spec"]["scope"] == "Cluster"
        cr = kat.manifest("tenant", "acme", {"owner": "ops"})
        assert "namespace" not in cr["metadata"]
        await kat.apply(cr)
        await kat.wait_steady()
        stored = kat.cr("tenant", "acme", namespace="")
        assert stored is not None and "namespace" not in stored["metadata"]
        assert stored["status"]["home"] == "team-acme"
        [namespace] = [
            n for n in cluster.objects("namespaces") if n["metadata"]["name"] == "team-acme"
        ]
        [config] = cluster.objects("configmaps", "team-acme")
        assert config["data"] == {"owner": "ops"}
        # Both are owned by the cluster-scoped CR (a namespaced owner could not own a Namespace).
        for child in (namespace, config):
            [ref] = child["metadata"]["ownerReferences"]
            assert (ref["kind"], ref["name"]) == ("Tenant", "acme")
