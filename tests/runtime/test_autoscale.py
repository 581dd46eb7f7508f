"""Autoscale: the worker count follows the conditions, with interval and cooldown (MockClock)."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from orkestra_trio.katalog import load_katalog
from orkestra_trio.katalog.model import CrossSource, OperatorBox
from orkestra_trio.runtime.autoscale import Autoscaler, LocalRead, RemoteRead, cross_name, plan_read

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata:
  name: scaled
spec:
  crds:
    processor:
      apiTypes: {group: demo.example.com, version: v1, kind: Processor, plural: processors}
      operatorBox:
        reconciler:
          workers: 3
"""


def load_box(tmp_path: Path, body: str) -> OperatorBox:
    path = tmp_path / "katalog.yaml"
    path.write_text(KATALOG + textwrap.indent(textwrap.dedent(body), " " * 8))
    box = load_katalog(path).crds["processor"].operator_box
    assert box is not None and box.autoscale is not None
    return box


OWN = """\
autoscale:
  interval: 10s
  cooldown: 60s
  conditions:
    - when:
        - field: metrics.queueDepth
          greaterThan: "50"
      override:
        workers: 8
    - when:
        - field: metrics.errorRatePercent
          greaterThan: "20"
      override:
        workers: 5
"""

REMOTE = """\
cross:
  - crd: loader
    selector:
      name: "{{ .metadata.name }}-loader"
    source:
      host: "http://127.0.0.1:9"
      cacheFor: 10s
    as: loader
autoscale:
  interval: 5s
  cooldown: 20s
  conditions:
    - when:
        - field: cross.loader.metrics.queueDepth
          greaterThan: "60"
          source:
            host: "http://127.0.0.1:9"
            cacheFor: 10s
      override:
        workers: 10
"""


class FakeReader:
    """Answers sourced reads with whatever ``metrics`` the test sets; records the calls."""

    def __init__(self) -> None:
        self.metrics: dict[str, Any] = {"queueDepth": 0}
        self.calls: list[tuple[str, str, str, str]] = []

    async def read_source(
        self,
        crd: str,
        source: CrossSource,
        *,
        name: str = "",
        namespace: str = "",
        context: Mapping[str, Any],
    ) -> tuple[dict[str, Any], str | None]:
        self.calls.append((crd, source.type, name, namespace))
        return {"found": "true", "metrics": dict(self.metrics)}, f"{source.type}:{crd}"


class Box:
    """What the Autoscaler drives: metrics to read, a resize to call."""

    def __init__(self) -> None:
        self.metrics: dict[str, Any] = {"queueDepth": 0, "errorRatePercent": 0.0}
        self.resizes: list[tuple[float, int]] = []

    def apply(self, workers: int) -> None:
        self.resizes.append((trio.current_time(), workers))


def scaler(box_model: OperatorBox, box: Box, reader: FakeReader | None = None) -> Autoscaler:
    assert box_model.autoscale is not None
    return Autoscaler(
        box_model.autoscale,
        baseline=box_model.reconciler.workers,
        metrics=lambda: box.metrics,
        apply=box.apply,
        reader=reader,
        cross=box_model.cross,
        name="processor",
    )


async def test_own_metrics_scale_up_at_once_and_down_only_after_cooldown(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    box = Box()
    autoscaler = scaler(load_box(tmp_path, OWN), box)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(autoscaler.run)
        await trio.sleep(25)  # evaluations at 0, 10, 20: nothing holds
        assert box.resizes == [] and autoscaler.current == 3
        start = trio.current_time()
        box.metrics["queueDepth"] = 51
        await trio.sleep(10)  # the evaluation at 30 sees it
        assert box.resizes == [(start + 5, 8)]
        box.metrics["queueDepth"] = 10  # at 35: nothing holds any more
        await trio.sleep(50)  # evaluations at 40..80: within 60 s of the last hold (30)
        assert autoscaler.current == 8 and len(box.resizes) == 1
        await trio.sleep(10)  # at 90: 60 s since it last held
        assert box.resizes[-1] == (start + 65, 3)
        assert autoscaler.current == 3
        nursery.cancel_scope.cancel()


async def test_the_first_holding_condition_wins(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    box = Box()
    autoscaler = scaler(load_box(tmp_path, OWN), box)
    box.metrics["errorRatePercent"] = 50.0
    assert await autoscaler.evaluate() == 5
    box.metrics["queueDepth"] = 100
    assert await autoscaler.evaluate() == 8  # listed first
    box.metrics["queueDepth"] = 0
    # The error-rate condition still holds: its override applies (no cooldown wait,
    # the cooldown is about returning to the baseline when nothing holds).
    assert await autoscaler.evaluate() == 5
    assert [workers for _, workers in box.resizes] == [5, 8, 5]


async def test_a_holding_condition_keeps_the_override_past_the_cooldown(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    box = Box()
    autoscaler = scaler(load_box(tmp_path, OWN), box)
    box.metrics["queueDepth"] = 70
    async with trio.open_nursery() as nursery:
        nursery.start_soon(autoscaler.run)
        await trio.sleep(305)
        assert box.resizes == [(box.resizes[0][0], 8)]
        assert autoscaler.evaluations == 31  # at 0, 10, ..., 300
        nursery.cancel_scope.cancel()


async def test_a_sourced_condition_reads_the_remote_crd_summary_and_scales(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    box = Box()
    reader = FakeReader()
    autoscaler = scaler(load_box(tmp_path, REMOTE), box, reader)
    assert await autoscaler.evaluate() == 3
    # The cross entry's selector is a per-CR template: the box-wide read is /katalog/loader.
    assert reader.calls == [("loader", "metrics", "", "")]
    reader.metrics["queueDepth"] = 61
    await trio.sleep(5)
    assert await autoscaler.evaluate() == 10
    reader.metrics["queueDepth"] = 0
    await trio.sleep(19)
    assert await autoscaler.evaluate() == 10  # 19 s < cooldown 20 s
    await trio.sleep(1)
    assert await autoscaler.evaluate() == 3
    assert [workers for _, workers in box.resizes] == [10, 3]


async def test_without_a_reader_a_sourced_condition_never_holds(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    box = Box()
    autoscaler = scaler(load_box(tmp_path, REMOTE), box, None)
    assert await autoscaler.evaluate() == 3
    assert box.resizes == []


def test_remote_read_uses_the_cross_entry_crd_and_a_literal_selector(tmp_path: Path) -> None:
    model = load_box(
        tmp_path,
        REMOTE.replace(
            'name: "{{ .metadata.name }}-loader"', "name: main-loader\n      namespace: ingest"
        ).replace("- crd: loader", "- crd: bulkloader"),
    )
    assert model.autoscale is not None
    condition = model.autoscale.conditions[0].when[0]
    read = plan_read(condition, model.cross)
    assert isinstance(read, RemoteRead)
    assert (read.as_, read.crd, read.source.type, read.name, read.namespace) == (
        "loader",
        "bulkloader",
        "cr",
        "main-loader",
        "ingest",
    )


@pytest.mark.parametrize(
    ("field", "name"),
    [
        ("cross.loader.metrics.queueDepth", "loader"),
        ("{{ .cross.db.status.phase }}", "db"),
        ("metrics.queueDepth", None),
        ("spec.crossover", None),
    ],
)
def test_cross_name(field: str, name: str | None) -> None:
    assert cross_name(field) == name


SAME_PROCESS = """\
cross:
  - crd: processor
    selector: {name: "{{ .metadata.name }}"}
    as: peer
  - crd: processor
    selector: {name: "{{ .metadata.name }}"}
    source: {host: "http://127.0.0.1:9"}
    as: far
autoscale:
  interval: 5s
  cooldown: 20s
  conditions:
    - when:
        - field: cross.peer.metrics.queueDepth
          greaterThan: "10"
      override:
        workers: 6
    - when:
        - field: cross.far.metrics.queueDepth
          greaterThan: "10"
      override:
        workers: 9
"""


async def test_conditions_without_source_read_the_boxs_cross_entries(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    model = load_box(tmp_path, SAME_PROCESS)
    assert model.autoscale is not None
    first, second = (c.when[0] for c in model.autoscale.conditions)
    assert plan_read(first, model.cross) == LocalRead(as_="peer", crd="processor")
    far = plan_read(second, model.cross)
    assert isinstance(far, RemoteRead) and far.source.type == "metrics"

    box = Box()
    reader = FakeReader()
    peers: dict[str, dict[str, Any]] = {"processor": {"queueDepth": 0}}
    autoscaler = Autoscaler(
        model.autoscale,
        baseline=3,
        metrics=lambda: box.metrics,
        apply=box.apply,
        reader=reader,
        cross=model.cross,
        local_metrics=peers.get,
    )
    assert await autoscaler.evaluate() == 3
    peers["processor"]["queueDepth"] = 11
    assert await autoscaler.evaluate() == 6
    peers["processor"]["queueDepth"] = 0
    reader.metrics["queueDepth"] = 11
    assert await autoscaler.evaluate() == 9
    assert reader.calls[-1] == ("processor", "metrics", "", "")


QUEUE_AND_RESYNC = """\
autoscale:
  interval: 10s
  cooldown: 30s
  conditions:
    - when:
        - field: metrics.queueDepth
          greaterThan: "50"
      override: {queueDepth: 900, resync: 5s}
"""


async def test_an_override_without_workers_settles_queue_and_resync_and_restores(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    box = Box()
    settled: list[Any] = []
    spec = load_box(tmp_path, QUEUE_AND_RESYNC).autoscale
    assert spec is not None
    autoscaler = Autoscaler(
        spec,
        baseline=3,
        metrics=lambda: box.metrics,
        apply=box.apply,
        settle=settled.append,
        name="processor",
    )
    box.metrics["queueDepth"] = 60
    assert await autoscaler.evaluate() == 3  # workers untouched
    [override] = settled
    assert (override.workers, override.queue_depth, override.resync) == (None, 900, 5.0)
    assert await autoscaler.evaluate() == 3 and len(settled) == 1  # settled once
    box.metrics["queueDepth"] = 0
    await trio.sleep(29)
    await autoscaler.evaluate()
    assert len(settled) == 1  # within the cooldown
    await trio.sleep(1)
    await autoscaler.evaluate()
    assert settled[-1] is None and box.resizes == []
