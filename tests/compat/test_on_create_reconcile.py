"""onCreate entries, with and without `reconcile: true`, on the embedded server (ORKESTRA-LANGUAGE 1.6).

onCreate creates a child that is absent and leaves it to its users; an
onCreate entry with `reconcile: true` is also corrected, as onReconcile's are.
"""

from pathlib import Path

from orkestra_trio.testing import open_test_cluster, run_katalog

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: on-create}
spec:
  crds:
    site:
      apiTypes: {group: oncreate.example.com, version: v1, kind: Site, plural: sites}
      operatorBox:
        onCreate:
          configMaps:
            - name: "{{ .metadata.name }}-kept"
              data: {v: "{{ .spec.v }}"}
            - name: "{{ .metadata.name }}-corrected"
              reconcile: true
              data: {v: "{{ .spec.v }}"}
"""

CONFIGMAP = ("v1", "ConfigMap")


async def test_on_create_keeps_user_edits_unless_reconcile_is_true(autojump_clock, tmp_path: Path):
    path = tmp_path / "katalog.yaml"
    path.write_text(KATALOG)
    async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
        await kat.apply(kat.manifest("site", "a", {"v": "1"}))
        await kat.wait_steady()
        for name in ("a-kept", "a-corrected"):
            assert kat.child("site", "a", "ConfigMap", name)["data"] == {"v": "1"}

        # A user edits both children; the CR's next reconcile (its spec changes)
        # leaves the plain onCreate child alone and corrects the reconcile: true one.
        for name in ("a-kept", "a-corrected"):
            await cluster.kube.merge_patch(
                CONFIGMAP, name, {"data": {"v": "edited"}}, namespace="default"
            )
        await kat.apply(kat.manifest("site", "a", {"v": "2"}))
        await kat.wait_steady()
        assert kat.child("site", "a", "ConfigMap", "a-kept")["data"] == {"v": "edited"}
        assert kat.child("site", "a", "ConfigMap", "a-corrected")["data"] == {"v": "2"}

        # Deleted, the plain onCreate child is absent again: it is created anew.
        await cluster.kube.delete(CONFIGMAP, "a-kept", namespace="default")
        await kat.wait_steady()
        assert kat.child("site", "a", "ConfigMap", "a-kept")["data"] == {"v": "2"}
