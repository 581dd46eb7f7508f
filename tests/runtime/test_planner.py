"""A box whose plans are CPU-heavy plans in a process of its own (runtime/planner.py).

The process is real (``python -m orkestra_trio.runtime._planchild``); waits on
it are bounded and wait for observable conditions.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import trio
import trio.testing
from runtime_helpers import eventually, holds, ready_condition, running

from orkestra_trio.katalog import CrdEntry, load_katalogs
from orkestra_trio.katalog.plan import Observed, plan_outcome, plan_reconcile
from orkestra_trio.runtime import planner as planner_module
from orkestra_trio.runtime._planchild import answer
from orkestra_trio.runtime.metrics import BoxMetrics
from orkestra_trio.runtime.planner import HEAVY_PLAN, MIN_PLANS, Planner, is_heavy

# Two nested ranges over the CR's items: the plan's CPU grows with their square.
KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: planner}
spec:
  crds:
    heavy:
      apiTypes: {group: plan.example.com, version: v1, kind: Heavy, plural: heavies}
      operatorBox:
        onReconcile:
          configMaps:
            - name: "{{ .metadata.name }}-out"
              data: {value: "{{ .spec.value }}"}
        status:
          conditions: true
          fields:
            - path: work
              value: "{{ range .spec.items }}{{ range $.spec.items }}{{ $x := printf \\"%d\\" . }}{{ end }}{{ end }}{{ .spec.value }}"
            - path: size
              value: "{{ index .spec.items 100000 }}"
              when: [{field: spec.broken, equals: "yes"}]
"""


def heavy_crd(tmp_path: Path) -> CrdEntry:
    path = tmp_path / "katalog.yaml"
    path.write_text(KATALOG)
    return load_katalogs([path]).crds["heavy"]


def heavy_cr(name: str, *, items: int = 40, broken: bool = False) -> dict[str, object]:
    return {
        "apiVersion": "plan.example.com/v1",
        "kind": "Heavy",
        "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "generation": 1},
        "spec": {"value": name, "items": list(range(items)), "broken": "yes" if broken else "no"},
    }


def new_cr(name: str) -> dict[str, object]:
    """A CR to create on the server (the server sets uid and generation)."""
    cr = heavy_cr(name, items=5)
    cr["metadata"] = {"name": name, "namespace": "default"}
    return cr


def test_a_box_moves_only_once_its_average_plan_is_heavy() -> None:
    assert not is_heavy([HEAVY_PLAN * 10] * (MIN_PLANS - 1))  # too few plans to tell
    assert not is_heavy([HEAVY_PLAN] * MIN_PLANS)
    assert is_heavy([HEAVY_PLAN * 1.01] * MIN_PLANS)
    # A garbage collection (or a profiler) that makes a few plans slow moves nothing.
    light = [HEAVY_PLAN / 10] * 12
    assert not is_heavy([*light, 0.05, 0.08, 0.06])


def test_a_crd_entry_and_a_failed_plan_survive_the_pipe(tmp_path: Path) -> None:
    """The child compiles the box's templates again from their source, and a render
    error comes back with the text the runtime reports."""
    crd = heavy_crd(tmp_path)
    again = pickle.loads(pickle.dumps(crd))
    observed = Observed(heavy_cr("a", items=3, broken=True), now="2026-01-01T00:00:00Z")
    here = plan_reconcile(crd, observed)
    assert here.error is not None and "index out of range" in str(here.error)
    request_id, status, there = pickle.loads(answer(7, "reconcile", again, observed))
    assert (request_id, status) == (7, "ok")
    assert there.children == here.children and there.status == here.status
    assert type(there.error) is type(here.error) and str(there.error) == str(here.error)


async def test_heavy_plans_move_to_the_process_and_match_the_loop(tmp_path: Path) -> None:
    crd = heavy_crd(tmp_path)
    metrics = BoxMetrics()
    planner = Planner(crd, name="heavy", metrics=metrics)
    observed = Observed(heavy_cr("a"), now="2026-01-01T00:00:00Z")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(planner.run)
        in_loop = [await planner.reconcile(observed) for _ in range(MIN_PLANS)]
        assert is_heavy(planner.recent_costs)  # else the template is too light to test this
        await eventually(lambda: holds(planner.in_process), timeout=30, what="its process")
        timed = planner.plans_timed
        there = await planner.reconcile(observed)
        outcome = await planner.outcome(observed)
        early = await planner.reconcile(observed, outcome=False)
        assert planner.plans_timed == timed  # none was computed in the loop
        assert metrics.plans_in_process_total == 3 and metrics.planning_process
        assert there == in_loop[0]
        assert early == plan_reconcile(crd, observed, outcome=False)
        assert outcome == plan_outcome(crd, observed)
        nursery.cancel_scope.cancel()
    assert not planner.in_process and not metrics.planning_process


async def test_a_dead_process_costs_one_plan_in_the_loop_then_a_new_one(tmp_path: Path) -> None:
    crd = heavy_crd(tmp_path)
    planner = Planner(crd, name="heavy")
    observed = Observed(heavy_cr("a"), now="2026-01-01T00:00:00Z")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(planner.run)
        for _ in range(MIN_PLANS):
            await planner.reconcile(observed)
        first = await eventually(lambda: holds(planner._process), timeout=30, what="a process")
        first.process.kill()
        plan = await planner.reconcile(observed)  # answered in the loop, no error
        assert plan.error is None and plan.status is not None
        await eventually(
            lambda: holds(planner._process not in (None, first)), timeout=30, what="a new process"
        )
        assert (await planner.reconcile(observed)) == plan
        nursery.cancel_scope.cancel()


async def test_under_a_mock_clock_a_box_plans_in_the_loop(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    planner = Planner(heavy_crd(tmp_path), name="heavy")
    observed = Observed(heavy_cr("a"), now="2026-01-01T00:00:00Z")
    for _ in range(MIN_PLANS + 2):
        await planner.reconcile(observed)
    with trio.fail_after(1):
        await planner.run()  # returns at once: no process on virtual time
    assert not planner.in_process


async def test_a_box_planning_in_its_process_reconciles_on_a_real_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end: children and status as the loop would plan them, counted as process plans."""
    monkeypatch.setattr(planner_module, "HEAVY_PLAN", 0.0)  # every box is heavy
    async with running(tmp_path, KATALOG) as (rt, kube):
        box = rt.box("heavy")
        ref = await kube.resource(("plan.example.com/v1", "Heavy"))
        cms = await kube.resource(("v1", "ConfigMap"))
        for i in range(MIN_PLANS):
            await kube.create(new_cr(f"warm-{i}"))
        await eventually(lambda: holds(box.metrics.planning_process), timeout=30, what="process")
        await kube.create(new_cr("late"))

        async def ready() -> object:
            obj = await kube.get(ref, "late", namespace="default")
            condition = ready_condition(obj)
            return condition and condition["status"] == "True" and obj["status"].get("work")

        assert await eventually(ready, timeout=30, what="late Ready") == "late"
        child = await kube.get(cms, "late-out", namespace="default")
        assert child["data"] == {"value": "late"}
        assert box.metrics.plans_in_process_total >= 1


def test_every_shipped_katalog_can_plan_in_a_process() -> None:
    """A CRD entry that did not pickle would keep its box planning in the loop (a warning)."""
    root = Path(__file__).resolve().parents[2]
    paths = sorted((root / "katalogs").glob("*.yaml"))
    assert paths
    for path in paths:
        for key, crd in load_katalogs([path]).crds.items():
            assert pickle.loads(pickle.dumps(crd)) == crd, f"{path.name}: {key}"
