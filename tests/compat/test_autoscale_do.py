"""Runtime autoscale's `do: {workers, queueDepth, resync}` (ORKESTRA-LANGUAGE 1.11), on the
embedded server under a mock clock: while the condition holds, the workers, the queue's
depth and the resync period are the override's; after the cooldown, the Katalog's again."""

from pathlib import Path

import trio

from orkestra_trio.testing import BoxFault, open_test_cluster, run_katalog

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: autoscale-do}
spec:
  crds:
    job:
      apiTypes: {group: scale.example.com, version: v1, kind: Work, plural: works}
      operatorBox:
        reconciler: {workers: 2, queue: {maxDepth: 50}}
        runtime:
          autoscale:
            interval: 1s
            cooldown: 5s
            conditions:
              when: [{field: cross.switch.metrics.queueDepth, greaterThan: "5"}]
            do: {workers: 4, queueDepth: 500, resync: 10s}
        observe:
          cross: [{crd: switch, as: switch}]
        status:
          fields:
            - {path: phase, value: Seen}
    switch:
      apiTypes: {group: scale.example.com, version: v1, kind: Switch, plural: switches}
      operatorBox:
        reconciler: {workers: 1, timeout: 600s}
"""


async def test_autoscale_do_moves_queue_depth_and_resync_and_restores_them(
    autojump_clock, tmp_path: Path
):
    path = tmp_path / "katalog.yaml"
    path.write_text(KATALOG)
    async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
        await kat.apply(kat.manifest("job", "w"))
        await kat.wait_steady()
        box = kat.box("job")
        assert (box.workers, box.queue.max_depth, box.resync_period) == (2, 50, None)
        before = box.health.total_reconciles
        await trio.sleep(30)
        assert box.health.total_reconciles == before  # no resync of its own

        # The observed box falls behind: its queue holds the flood while a reconcile hangs.
        kat.inject("switch", BoxFault.hangs())
        assert kat.flood("switch", 20) == 20
        await trio.sleep(2)
        assert (box.workers, box.queue.max_depth, box.resync_period) == (4, 500, 10.0)
        before = box.health.total_reconciles
        await trio.sleep(35)
        assert box.health.total_reconciles - before in (3, 4)  # a resync every 10 s

        kat.lift("switch")  # it drains; 5 s later the Katalog's settings return
        await trio.sleep(620)  # the hung reconcile times out at 600 s
        assert (box.workers, box.queue.max_depth, box.resync_period) == (2, 50, None)
        before = box.health.total_reconciles
        await trio.sleep(30)
        assert box.health.total_reconciles == before
