"""A box-level `when`/`or` on the embedded server (ORKESTRA-LANGUAGE 1.4): a CR is reconciled
only while every `when` and one of the `or` conditions hold."""

from pathlib import Path

from orkestra_trio.testing import open_test_cluster, run_katalog

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: box-gate}
spec:
  crds:
    site:
      apiTypes: {group: boxgate.example.com, version: v1, kind: Site, plural: sites}
      operatorBox:
        when: [{field: spec.enabled, equals: "true"}]
        or: [{field: spec.tier, equals: gold}, {field: spec.tier, equals: silver}]
        onReconcile:
          configMaps:
            - name: "{{ .metadata.name }}"
              data: {tier: "{{ .spec.tier }}"}
"""


async def test_a_box_level_when_and_or_gate_each_cr(autojump_clock, tmp_path: Path):
    path = tmp_path / "katalog.yaml"
    path.write_text(KATALOG)
    async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
        cases = {
            "gold": {"enabled": True, "tier": "gold"},
            "silver": {"enabled": True, "tier": "silver"},
            "bronze": {"enabled": True, "tier": "bronze"},
            "off": {"enabled": False, "tier": "gold"},
        }
        for name, spec in cases.items():
            await kat.apply(kat.manifest("site", name, spec))
        await kat.wait_steady()
        made = {name for name in cases if kat.children("site", name)}
        assert made == {"gold", "silver"}

        # The gate opens for bronze once its tier is one the or accepts.
        await kat.apply(kat.manifest("site", "bronze", {"enabled": True, "tier": "silver"}))
        await kat.wait_steady()
        assert kat.child("site", "bronze", "ConfigMap", "bronze")["data"] == {"tier": "silver"}
