"""`queue.behaviour` (ORKESTRA-LANGUAGE 2.3): two-tier load shedding on the embedded server.

The box's one worker hangs on its first CR, so later keys stay in the queue:
from 50 % of maxDepth on, `onThreshold` drops the low-priority CRs; at maxDepth,
`onLimit` drops all but the critical ones, which are queued beyond the limit."""

from pathlib import Path

import pytest
import trio

from orkestra_trio.katalog import KatalogError, load_katalogs
from orkestra_trio.katalog.shedding import BEYOND, DROP, QUEUE, admit
from orkestra_trio.testing import BoxFault, open_test_cluster, run_katalog

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: shedding}
spec:
  crds:
    job:
      apiTypes: {group: shed.example.com, version: v1, kind: Job, plural: jobs}
      operatorBox:
        reconciler:
          workers: 1
          timeout: 3600s
          queue:
            maxDepth: 4
            behaviour:
              onThreshold:
                value: 50
                drop: true
                when: [{field: metadata.labels.priority, equals: low}]
              onLimit:
                drop: true
                when: [{field: metadata.labels.priority, notEquals: critical}]
        status:
          fields:
            - {path: phase, value: Seen}
"""


async def test_queue_behaviour_sheds_in_two_tiers(autojump_clock, tmp_path: Path):
    path = tmp_path / "katalog.yaml"
    path.write_text(KATALOG)
    async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
        box = kat.box("job")
        kat.inject("job", BoxFault.hangs())

        async def create(name: str, priority: str) -> None:
            await kat.apply(kat.manifest("job", name, labels={"priority": priority}))
            with trio.fail_after(30):
                while box.cr_informer.get("default", name) is None:
                    await trio.sleep(0.01)

        await create("c0", "normal")  # the worker takes it and hangs
        with trio.fail_after(30):
            while box.pool.busy == 0:
                await trio.sleep(0.01)
        for name, priority in [
            ("c1", "normal"),  # depth 0 -> 1
            ("c2", "low"),  # 1 < 2 (50 %): queued
            ("c3", "low"),  # 2 >= 2: onThreshold drops low
            ("c4", "normal"),  # onThreshold keeps normal: 3
            ("c5", "normal"),  # 4
            ("c6", "normal"),  # at maxDepth: onLimit drops non-critical
            ("c7", "critical"),  # queued beyond the limit: 5
        ]:
            await create(name, priority)
        waiting = {
            name for name in [f"c{i}" for i in range(1, 8)] if ("default", name) in box.queue
        }
        assert waiting == {"c1", "c2", "c4", "c5", "c7"}
        assert box.metrics.queue_dropped_total == 2


def test_shedding_never_drops_a_deletion_and_needs_a_limit(tmp_path: Path):
    path = tmp_path / "katalog.yaml"
    path.write_text(KATALOG)
    settings = load_katalogs([path]).crds["job"].operator_box.reconciler.queue
    low = {"metadata": {"labels": {"priority": "low"}}}
    assert admit(settings, low, depth=3, limit=4) == DROP
    assert admit(settings, low, depth=1, limit=4) == QUEUE
    critical = {"metadata": {"labels": {"priority": "critical"}}}
    assert admit(settings, critical, depth=4, limit=4) == BEYOND
    deleting = {
        "metadata": {"labels": {"priority": "low"}, "deletionTimestamp": "2026-01-01T00:00:00Z"}
    }
    assert admit(settings, deleting, depth=9, limit=4) == QUEUE
    assert admit(settings, low, depth=9, limit=0) == QUEUE  # no limit: nothing to shed

    path.write_text(KATALOG.replace("            maxDepth: 4\n", ""))
    with pytest.raises(KatalogError) as caught:
        load_katalogs([path])
    assert any("maxDepth" in str(issue) for issue in caught.value.issues)
