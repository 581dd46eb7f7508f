"""A `when`/`or` on a whole onCreate/onReconcile block, on the embedded server (ORKESTRA-LANGUAGE 1.6)."""

from pathlib import Path

from orkestra_trio.testing import open_test_cluster, run_katalog

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: block-gate}
spec:
  crds:
    site:
      apiTypes: {group: gate.example.com, version: v1, kind: Site, plural: sites}
      operatorBox:
        onReconcile:
          when: [{field: spec.enabled, equals: "true"}]
          or: [{field: spec.tier, equals: gold}, {field: spec.tier, equals: silver}]
          configMaps:
            - name: "{{ .metadata.name }}-always"
              data: {tier: "{{ .spec.tier }}"}
            - name: "{{ .metadata.name }}-gold"
              data: {tier: "{{ .spec.tier }}"}
              when: [{field: spec.tier, equals: gold}]
"""


async def test_a_block_level_when_gates_every_entry(autojump_clock, tmp_path: Path):
    path = tmp_path / "katalog.yaml"
    path.write_text(KATALOG)
    async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
        await kat.apply(kat.manifest("site", "a", {"enabled": True, "tier": "gold"}))
        await kat.apply(kat.manifest("site", "b", {"enabled": True, "tier": "bronze"}))
        await kat.apply(kat.manifest("site", "c", {"enabled": False, "tier": "gold"}))
        await kat.wait_steady()
        names = {
            site: sorted(c["metadata"]["name"] for c in kat.children("site", site))
            for site in "abc"
        }
        # a: the block's when and or hold, and the gold entry's own when.
        assert names["a"] == ["a-always", "a-gold"]
        assert kat.child("site", "a", "ConfigMap", "a-gold")["data"] == {"tier": "gold"}
        # b: the block's or fails (bronze); c: the block's when fails.
        assert names["b"] == [] and names["c"] == []

        # The block stops holding: the children it made are deleted.
        await kat.apply(kat.manifest("site", "a", {"enabled": False, "tier": "gold"}))
        await kat.wait_steady()
        assert kat.children("site", "a") == []
