"""`reconcileGate.eventAware` (ORKESTRA-LANGUAGE 1.9, 2.3), on the embedded server: changes of
a CR made while its reconcile runs each get a reconcile of their own, where an ordinary box
collapses them into one."""

from pathlib import Path

from orkestra_trio.testing import BoxFault, open_test_cluster, run_katalog

BOX = """\
    {key}:
      apiTypes: {{group: aware.example.com, version: v1, kind: {kind}, plural: {plural}}}
      ignoreStatusPatch: true
      operatorBox:
        preReconcile:
          reconcileGate: {{eventAware: {aware}}}
"""
KATALOG = (
    "apiVersion: orkestra.orkspace.io/v1\nkind: Katalog\nmetadata: {name: aware}\nspec:\n  crds:\n"
    + BOX.format(key="aware", kind="Aware", plural="awares", aware="true")
    + BOX.format(key="plain", kind="Plain", plural="plains", aware="false")
)


async def test_event_aware_reconciles_each_change_where_a_plain_box_collapses_them(
    autojump_clock, tmp_path: Path
):
    path = tmp_path / "katalog.yaml"
    path.write_text(KATALOG)
    async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
        counts = {}
        for box in ("aware", "plain"):
            kat.inject(box, BoxFault.slow(10))  # each reconcile takes 10 s (virtual)
            await kat.apply(kat.manifest(box, "x", {"v": 0}))
        for box in ("aware", "plain"):
            before = kat.box(box).health.total_reconciles
            for v in (1, 2, 3):  # three changes while the first reconcile runs
                await kat.apply(kat.manifest(box, "x", {"v": v}))
            await kat.wait_steady()
            counts[box] = kat.box(box).health.total_reconciles - before
        # aware: the running one, then one per change; plain: the running one and one more.
        assert counts == {"aware": 4, "plain": 2}
