"""Sentinels as zero-argument template functions (ORKESTRA-LANGUAGE 1.5, 1.9), on the
embedded server: `{{ if generationChanged }}` is true in the reconcile that follows an
update of the CR's spec, and false in the next one that no such update caused."""

from pathlib import Path

import trio

from orkestra_trio.testing import open_test_cluster, run_katalog
from orkestra_trio.web.view import metrics_of

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: sentinels}
spec:
  crds:
    site:
      apiTypes: {group: sentinel.example.com, version: v1, kind: Site, plural: sites}
      operatorBox:
        preReconcile:
          sentinels: [generationChanged, labelsChanged]
        reconciler: {resync: 60s}
        status:
          fields:
            - path: lastChange
              value: >-
                {{ if generationChanged }}spec{{ else if labelsChanged }}labels{{ else }}none{{ end }}
"""


async def test_sentinel_functions_see_what_changed_since_the_last_reconcile(
    autojump_clock, tmp_path: Path
):
    path = tmp_path / "katalog.yaml"
    path.write_text(KATALOG)
    async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:

        async def change_then_status(cr) -> str:
            await kat.apply(cr)
            await kat.wait_steady()
            return kat.status("site", "a")["lastChange"]

        assert await change_then_status(kat.manifest("site", "a", {"v": 1})) == "none"  # an add
        assert await change_then_status(kat.manifest("site", "a", {"v": 2})) == "spec"
        labelled = kat.manifest("site", "a", {"v": 2}, labels={"tier": "web"})
        assert await change_then_status(labelled) == "labels"
        await trio.sleep(61)  # a resync: no update since the last reconcile
        await kat.wait_steady()
        assert kat.status("site", "a")["lastChange"] == "none"


async def test_a_failed_reconcile_keeps_its_sentinels_for_the_retry(autojump_clock, tmp_path: Path):
    """The reconcile after a spec update fails at its status write; the retry still sees
    `generationChanged` (the failed plan took it, and gave it back)."""
    path = tmp_path / "katalog.yaml"
    path.write_text(KATALOG)
    async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
        await kat.apply(kat.manifest("site", "a", {"v": 1}))
        await kat.wait_steady()
        assert kat.status("site", "a")["lastChange"] == "none"
        failed_before = metrics_of(kat.box("site")).reconcile_errors_total
        # 422 is not retried by the client: the reconcile itself fails, and is retried.
        cluster.faults.fail_next(1, verb="patch", resource="sites", status=422)
        await kat.apply(kat.manifest("site", "a", {"v": 2}))
        await kat.wait_steady()
        assert metrics_of(kat.box("site")).reconcile_errors_total == failed_before + 1
        assert kat.status("site", "a")["lastChange"] == "spec"
