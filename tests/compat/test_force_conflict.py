"""`forceConflict` (ORKESTRA-LANGUAGE 1.3, 1.6) on the embedded server: by default drift is
taken back whoever changed the field; with `forceConflict: false` a field another field
manager owns is left to it and the reconcile says so."""

from pathlib import Path

from orkestra_trio.testing import open_test_cluster, run_katalog

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: force}
spec:
  crds:
    polite:
      apiTypes: {group: force.example.com, version: v1, kind: Polite, plural: polites}
      forceConflict: false
      operatorBox:
        onReconcile:
          configMaps:
            - name: "{{ .metadata.name }}-forced"
              forceConflict: true
              data: {value: "{{ .spec.value }}"}
            - name: "{{ .metadata.name }}-polite"
              data: {value: "{{ .spec.value }}"}
"""


async def _take_over(kat, name: str) -> None:
    """Another controller applies its own value for data.value (its own field manager)."""
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default"},
        "data": {"value": "theirs"},
    }
    await kat.kube.apply(configmap, force=True, field_manager="someone-else")


async def test_force_conflict_false_leaves_a_field_another_manager_owns(
    autojump_clock, tmp_path: Path
):
    path = tmp_path / "katalog.yaml"
    path.write_text(KATALOG)
    async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
        await kat.apply(kat.manifest("polite", "p", {"value": "ours"}))
        await kat.wait_steady()
        assert kat.ready("polite", "p")
        await _take_over(kat, "p-polite")
        await _take_over(kat, "p-forced")
        await kat.apply(kat.manifest("polite", "p", {"value": "ours", "touch": 1}))
        await kat.wait_steady()

        # The entry that overrides the CRD's default takes its field back...
        assert kat.child("polite", "p", "ConfigMap", "p-forced")["data"] == {"value": "ours"}
        # ...the polite one leaves it, and the CR says why.
        assert kat.child("polite", "p", "ConfigMap", "p-polite")["data"] == {"value": "theirs"}
        ready = next(c for c in kat.status("polite", "p")["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "False"
        assert "forceConflict: false" in ready["message"] and "p-polite" in ready["message"]
