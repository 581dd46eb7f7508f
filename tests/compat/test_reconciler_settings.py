"""reconciler `workers`, `resync` and `queue.maxDepth` on the embedded server (ORKESTRA-LANGUAGE 1.4, 2.3).

The defaults are this runtime's: 1 worker (Orkestra's DEFAULT_WORKERS is 3)
and no resync (Orkestra's is 15-30 s; here child watches correct drift).
"""

from pathlib import Path

import trio

from orkestra_trio.testing import BoxFault, open_test_cluster, run_katalog

BOX = """\
        onReconcile:
          configMaps:
            - name: "{{ .metadata.name }}-cm"
              data: {v: "{{ .spec.v }}"}
              sleep: 5s
"""

KATALOG = f"""\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {{name: reconciler-settings}}
spec:
  crds:
    busy:
      apiTypes: {{group: settings.example.com, version: v1, kind: Busy, plural: busies}}
      operatorBox:
        reconciler:
          workers: 3
          resync: 30s
{BOX}
    plain:
      apiTypes: {{group: settings.example.com, version: v1, kind: Plain, plural: plains}}
      operatorBox:
{BOX}
    capped:
      apiTypes: {{group: settings.example.com, version: v1, kind: Capped, plural: cappeds}}
      operatorBox:
        reconciler:
          queue: {{maxDepth: 2}}
{BOX}
"""


def _most_at_once(records) -> int:
    """The most reconciles that ran at the same time (intervals [start, end))."""
    edges = sorted([(r.start, 1) for r in records] + [(r.end, -1) for r in records])
    running = most = 0
    for _, step in edges:
        running += step
        most = max(most, running)
    return most


async def test_workers_and_resync_as_the_box_sets_them(autojump_clock, tmp_path: Path):
    path = tmp_path / "katalog.yaml"
    path.write_text(KATALOG)
    async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
        for box in ("busy", "plain"):
            for i in range(4):
                await kat.apply(kat.manifest(box, f"{box}{i}", {"v": "1"}))
        await kat.wait_steady()
        # Each first reconcile writes and then sleeps 5 s: three of Busy's run
        # together (workers: 3), Plain's one at a time (the default, 1).
        assert _most_at_once(kat.log.of("busy")) == 3
        assert _most_at_once(kat.log.of("plain")) == 1
        assert all(
            len(kat.children(box, f"{box}{i}")) == 1 for box in ("busy", "plain") for i in range(4)
        )

        # Nothing changes for 65 s: every Busy CR is reconciled again at each
        # 30 s resync, 30 s apart; a Plain CR, without resync, is not.
        start = trio.current_time()
        plain_before = len(kat.log.of("plain"))
        await trio.sleep(65)
        for i in range(4):
            again = [
                r.start for r in kat.log.of("busy", ("default", f"busy{i}")) if r.start >= start
            ]
            assert len(again) == 2
            assert abs(again[1] - again[0] - 30.0) < 0.5
        assert len(kat.log.of("plain")) == plain_before


async def test_max_depth_refuses_new_keys_at_its_limit(autojump_clock, tmp_path: Path):
    path = tmp_path / "katalog.yaml"
    path.write_text(KATALOG)
    async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
        box = kat.box("capped")
        kat.inject("capped", BoxFault.hangs())

        async def create(name: str) -> None:
            await kat.apply(kat.manifest("capped", name, {"v": "1"}))
            with trio.fail_after(30):
                while box.cr_informer.get("default", name) is None:
                    await trio.sleep(0.01)

        await create("c0")  # the one worker takes it and hangs
        with trio.fail_after(30):
            while box.pool.busy == 0:
                await trio.sleep(0.01)
        for i in range(1, 5):
            await create(f"c{i}")
        waiting = {f"c{i}" for i in range(1, 5) if ("default", f"c{i}") in box.queue}
        # Two fit (maxDepth: 2); without queue.behaviour the rest are refused and counted.
        assert waiting == {"c1", "c2"}
        assert box.metrics.queue_dropped_total == 2
