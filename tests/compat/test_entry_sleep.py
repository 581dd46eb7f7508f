"""An entry's `sleep` on the embedded server (ORKESTRA-LANGUAGE 1.6): a pause after its write."""

from pathlib import Path

import trio

from orkestra_trio.testing import open_test_cluster, run_katalog

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: entry-sleep}
spec:
  crds:
    site:
      apiTypes: {group: sleep.example.com, version: v1, kind: Site, plural: sites}
      operatorBox:
        onReconcile:
          configMaps:
            - name: "{{ .metadata.name }}-first"
              data: {v: "{{ .spec.v }}"}
              sleep: 5s
            - name: "{{ .metadata.name }}-second"
              data: {v: "{{ .spec.v }}"}
"""


async def _when_present(cluster, name: str) -> float:
    """The trio time at which a ConfigMap of that name is first stored (polled every 0.1 s)."""
    with trio.fail_after(120):
        while not any(o["metadata"]["name"] == name for o in cluster.objects("configmaps")):
            await trio.sleep(0.1)
    return trio.current_time()


async def test_an_entry_sleep_pauses_after_its_write_only(autojump_clock, tmp_path: Path):
    path = tmp_path / "katalog.yaml"
    path.write_text(KATALOG)
    async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
        await kat.apply(kat.manifest("site", "a", {"v": "1"}))
        first = await _when_present(cluster, "a-first")
        second = await _when_present(cluster, "a-second")
        # The next entry is written only once the first one's sleep has passed
        # (give or take one 0.1 s poll).
        assert 4.9 <= second - first < 6.0
        await kat.wait_steady()

        # A reconcile that writes nothing does not wait: the CR's label changes,
        # the children stay as they are, and the box is steady well within 5 s.
        cr = kat.cr("site", "a")
        assert cr is not None
        cr["metadata"].setdefault("labels", {})["touched"] = "yes"
        writes = cluster.write_count("configmaps")
        start = trio.current_time()
        await kat.apply(cr)
        await kat.wait_steady(settle=0.5)
        assert cluster.write_count("configmaps") == writes
        assert trio.current_time() - start < 5.0

        # A drifted field is patched back, and the patch is followed by the pause too.
        await kat.apply(kat.manifest("site", "a", {"v": "2"}))
        start = trio.current_time()
        await kat.wait_steady()
        assert kat.child("site", "a", "ConfigMap", "a-second")["data"] == {"v": "2"}
        assert trio.current_time() - start >= 5.0
