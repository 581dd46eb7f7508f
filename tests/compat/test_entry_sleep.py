"""An entry's `sleep` on the embedded server (ORKESTRA-LANGUAGE 1.6).

Orkestra injects the delay into every reconcile of the entry (its types say
so: for latency simulation and autoscale tests), whether or not anything is
written; so does this runtime, before the entry is applied.
"""

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
            - name: "{{ .metadata.name }}-gated"
              data: {v: "{{ .spec.v }}"}
              sleep: 60s
              when: [{field: spec.gated, equals: "true"}]
"""


async def _when_present(cluster, name: str) -> float:
    """The trio time at which a ConfigMap of that name is first stored (polled every 0.1 s)."""
    with trio.fail_after(120):
        while not any(o["metadata"]["name"] == name for o in cluster.objects("configmaps")):
            await trio.sleep(0.1)
    return trio.current_time()


async def test_an_entry_sleep_delays_every_reconcile_of_the_entry(autojump_clock, tmp_path: Path):
    path = tmp_path / "katalog.yaml"
    path.write_text(KATALOG)
    async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
        start = trio.current_time()
        await kat.apply(kat.manifest("site", "a", {"v": "1"}))
        first = await _when_present(cluster, "a-first")
        second = await _when_present(cluster, "a-second")
        # The first entry is applied after its 5 s, the next one right after it
        # (each give or take one 0.1 s poll); the gated entry's sleep is not taken.
        assert 5.0 <= first - start < 6.0
        assert second - first < 0.5
        await kat.wait_steady()
        assert kat.status("site", "a")  # the reconcile finished

        # A reconcile that writes nothing waits too: the CR's label changes, the
        # children stay as they are, and that reconcile lasts the 5 s.
        cr = kat.cr("site", "a")
        assert cr is not None
        cr["metadata"].setdefault("labels", {})["touched"] = "yes"
        writes = cluster.write_count("configmaps")
        done = len(kat.log.of("site"))
        await kat.apply(cr)
        await kat.wait_steady()
        assert cluster.write_count("configmaps") == writes
        [again] = kat.log.of("site")[done:]
        assert again.result == "ok"
        assert 5.0 <= again.end - again.start < 5.5
