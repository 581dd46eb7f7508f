"""ConfigMap `toNamespaces` (Orkestra's ConfigMap type) on the embedded server: a copy in each
namespace, kept in line with the entry, and deleted with the CR."""

from pathlib import Path

from orkestra_trio.testing import open_test_cluster, run_katalog

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: cm-to-namespaces}
spec:
  crds:
    team:
      apiTypes: {group: cmcopies.example.com, version: v1, kind: Team, plural: teams}
      operatorBox:
        onReconcile:
          configMaps:
            - name: "{{ .metadata.name }}-pull"
              data: {token: "{{ .spec.token }}"}
              toNamespaces: [team-a, team-b]
"""


def _copies(cluster, name: str) -> dict[str, dict]:
    return {
        ns: obj
        for ns in ("default", "team-a", "team-b")
        for obj in cluster.objects("configmaps", ns)
        if obj["metadata"]["name"] == name
    }


async def test_configmap_to_namespaces_copies_follow_the_entry_and_go_with_the_cr(
    autojump_clock, tmp_path: Path
):
    path = tmp_path / "katalog.yaml"
    path.write_text(KATALOG)
    async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
        for ns in ("team-a", "team-b"):
            await cluster.kube.create(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
            )
        await kat.apply(kat.manifest("team", "ops", {"token": "t1"}))
        await kat.wait_steady()
        copies = _copies(cluster, "ops-pull")
        assert {"team-a", "team-b"} <= set(copies)
        assert all(c["data"] == {"token": "t1"} for c in copies.values())
        assert "default" in copies and all("toNamespaces" not in c for c in copies.values())

        await kat.apply(kat.manifest("team", "ops", {"token": "t2"}))
        await kat.wait_steady()
        copies = _copies(cluster, "ops-pull")
        assert all(c["data"] == {"token": "t2"} for c in copies.values())

        await kat.delete("team", "ops")
        await kat.wait_steady()
        assert _copies(cluster, "ops-pull") == {}
