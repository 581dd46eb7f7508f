"""open_test_cluster + run_katalog: apply, steady, read back, and box-level faults.

Everything runs under the autojump clock: the API server, the runtime and
the test share one Trio loop, so the virtual times asserted below are exact
consequences of the Katalog's settings (timeout 2s, failureThreshold 2).
"""

import pytest
import trio

from orkestra_trio.runtime.health import HealthState
from orkestra_trio.testing import (
    BoxFault,
    FakeRemoteSource,
    InjectedFault,
    NotSteady,
    open_test_cluster,
    run_katalog,
)
from orkestra_trio.testing.faults import ApiFault, ScheduledFault


async def test_apply_reconcile_and_read_back(autojump_clock, shop_katalog):
    async with open_test_cluster() as cluster, run_katalog(shop_katalog, cluster) as kat:
        assert kat.boxes == ["shop"]
        await kat.apply(kat.manifest("shop", "a", {"size": 3, "tier": "premium"}))
        await kat.wait_steady()
        assert kat.ready("shop", "a")
        assert kat.status("shop", "a")["size"] == 3
        [cm] = kat.children("shop", "a")
        assert cm["kind"] == "ConfigMap" and cm["data"] == {"size": "3", "tier": "premium"}
        assert kat.child("shop", "a", "ConfigMap", "a-cfg") == cm
        reasons = [event["reason"] for event in kat.events("shop", "a")]
        assert "ShopReconciled" in reasons
        # The operator wrote; the test's own writes are not counted as the operator's.
        assert cluster.write_count("configmaps") == 1
        assert cluster.requests(include_test=True)[("patch", "shops")] >= 1

        # Steady state: time passes, nothing is written.
        before = cluster.write_count()
        await kat.advance(120)
        assert cluster.write_count() == before

        await kat.apply(kat.manifest("shop", "a", {"size": 5}))
        await kat.wait_steady()
        assert kat.status("shop", "a")["size"] == 5
        await kat.delete("shop", "a")
        await kat.wait_steady()
        assert kat.cr("shop", "a") is None
        assert not kat.log.overlaps
        assert {r.result for r in kat.log.of("shop")} == {"ok"}


async def test_raise_degrades_and_lifting_recovers(autojump_clock, shop_katalog):
    async with open_test_cluster() as cluster, run_katalog(shop_katalog, cluster) as kat:
        await kat.apply(kat.manifest("shop", "a", {"size": 1}))
        await kat.wait_steady()
        kat.inject("shop", BoxFault.raises("boom"))
        await kat.apply(kat.manifest("shop", "a", {"size": 2}))
        snap = await kat.box("shop").health.wait_until(lambda s: s.state is HealthState.DEGRADED)
        assert "InjectedFault" in (snap.last_error or "") and "boom" in (snap.last_error or "")
        assert snap.consecutive_fails == 2  # failureThreshold
        assert kat.status("shop", "a")["size"] == 1  # nothing was applied meanwhile
        kat.lift("shop")
        await kat.box("shop").health.wait_until(lambda s: s.state is HealthState.HEALTHY)
        await kat.wait_steady()
        assert kat.status("shop", "a")["size"] == 2
        assert {r.result for r in kat.log.of("shop")} == {"ok", "error"}


async def test_hang_is_cut_by_the_box_timeout(autojump_clock, shop_katalog):
    async with open_test_cluster() as cluster, run_katalog(shop_katalog, cluster) as kat:
        kat.inject("shop", BoxFault.hangs())
        start = trio.current_time()
        await kat.apply(kat.manifest("shop", "a", {"size": 1}))
        snap = await kat.box("shop").health.wait_until(lambda s: s.state is HealthState.DEGRADED)
        # Two timeouts of 2 s (threshold 2) plus the 5 ms first backoff.
        assert 4.0 <= trio.current_time() - start < 4.5
        assert "timed out" in (snap.last_error or "")
        assert [r.result for r in kat.log.of("shop")] == ["cancelled", "cancelled"]
        kat.lift("shop")
        await kat.box("shop").health.wait_until(lambda s: s.state is HealthState.HEALTHY)
        assert kat.ready("shop", "a")


async def test_slow_and_template_faults(autojump_clock, shop_katalog):
    async with open_test_cluster() as cluster, run_katalog(shop_katalog, cluster) as kat:
        kat.inject("shop", BoxFault.slow(1.5))
        start = trio.current_time()
        await kat.apply(kat.manifest("shop", "a", {"size": 1}))
        await kat.wait_steady()
        assert trio.current_time() - start >= 1.5
        assert kat.ready("shop", "a") and kat.health("shop").state is HealthState.HEALTHY

        kat.inject("shop", BoxFault.template_error())
        await kat.apply(kat.manifest("shop", "a", {"size": 2}))
        snap = await kat.box("shop").health.wait_until(lambda s: s.state is HealthState.DEGRADED)
        assert "template failed" in (snap.last_error or "")
        kat.lift("shop")
        await kat.wait_steady()
        assert kat.fault("shop") is None


async def test_api_faults_hit_the_operator_not_the_test(autojump_clock, shop_katalog):
    async with open_test_cluster() as cluster, run_katalog(shop_katalog, cluster) as kat:
        plurals = await kat.inject_api_fault("shop", status=409)
        assert plurals == ["shops", "configmaps"]
        # The test's own write goes through although shops answer 409 to the operator.
        await kat.apply(kat.manifest("shop", "a", {"size": 1}))
        snap = await kat.box("shop").health.wait_until(lambda s: s.state is HealthState.DEGRADED)
        assert "409" in (snap.last_error or "")
        assert kat.children("shop", "a") == []
        kat.lift_api_faults()
        await kat.box("shop").health.wait_until(lambda s: s.state is HealthState.HEALTHY)
        await kat.wait_steady()
        assert kat.ready("shop", "a")


async def test_flood_and_schedule(autojump_clock, shop_katalog):
    async with open_test_cluster() as cluster, run_katalog(shop_katalog, cluster) as kat:
        assert kat.flood("shop", 500) == 500
        await kat.wait_steady()
        assert len(kat.log.of("shop")) == 500  # each a cache miss: nothing to do

        await kat.apply(kat.manifest("shop", "a", {"size": 1}))
        schedule = [
            ScheduledFault(at=0, box="shop", fault=BoxFault.raises(), duration=10),
            ScheduledFault(at=20, box="shop", fault=ApiFault(500), duration=10),
        ]
        start = trio.current_time()
        await kat.play(schedule)
        assert trio.current_time() - start == 30
        assert kat.fault("shop") is None
        await kat.apply(kat.manifest("shop", "a", {"size": 4}))
        await kat.wait_steady()
        assert kat.status("shop", "a")["size"] == 4
        assert kat.health("shop").state is HealthState.HEALTHY
        assert not kat.log.overlaps


def test_injected_fault_is_an_exception():
    assert issubclass(InjectedFault, Exception)
    assert BoxFault.slow(1).describe() == "slow(1s)" and not BoxFault.slow(1).fails
    assert BoxFault.hangs().fails


REMOTE_KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: remote}
spec:
  crds:
    reader:
      apiTypes: {group: kit.example.com, version: v1, kind: Reader, plural: readers}
      operatorBox:
        reconciler: {timeout: 1s, queue: {failureThreshold: 1}}
        cross:
          - crd: upstream
            selector: {name: "{{ .metadata.name }}"}
            as: up
            source: {host: "http://upstream.example.com:8080"}
        onReconcile:
          configMaps:
            - name: "{{ .metadata.name }}-up"
              data: {phase: "{{ .cross.up.status.phase | default \\"none\\" }}"}
"""


async def test_a_fake_remote_source_serves_and_fails(autojump_clock, tmp_path):
    path = tmp_path / "remote.yaml"
    path.write_text(REMOTE_KATALOG)
    remote = FakeRemoteSource()
    remote.put("upstream", {"metadata": {"name": "r"}, "status": {"phase": "Ready"}})
    async with (
        open_test_cluster() as cluster,
        run_katalog(path, cluster, remote=remote) as kat,
    ):
        assert kat.remote is remote
        await kat.apply(kat.manifest("reader", "r", {}))
        await kat.wait_steady()
        assert kat.child("reader", "r", "ConfigMap", "r-up")["data"] == {"phase": "Ready"}

        remote.down = True
        await kat.apply(kat.manifest("reader", "r", {"touch": 1}))
        snap = await kat.box("reader").health.wait_until(lambda s: s.state is HealthState.DEGRADED)
        assert "remote source http://upstream.example.com:8080 is down" in (snap.last_error or "")
        remote.down = False
        remote.delay = 5.0  # beyond the 1 s timeout
        snap = await kat.box("reader").health.wait_until(
            lambda s: "timed out" in (s.last_error or "")
        )
        remote.delay = 0.0
        remote.put("upstream", {"metadata": {"name": "r"}, "status": {"phase": "Gone"}})
        await kat.box("reader").health.wait_until(lambda s: s.state is HealthState.HEALTHY)
        await kat.wait_steady()
        assert kat.child("reader", "r", "ConfigMap", "r-up")["data"] == {"phase": "Gone"}
        assert remote.reads >= 3


async def test_wait_steady_says_what_is_still_busy(autojump_clock, shop_katalog):
    async with open_test_cluster() as cluster, run_katalog(shop_katalog, cluster) as kat:
        kat.inject("shop", BoxFault.slow(30))
        await kat.apply(kat.manifest("shop", "a", {"size": 1}))
        with pytest.raises(NotSteady, match=r"not steady after 5s: shop \(queued 0, running 1\)"):
            await kat.wait_steady(within=5)
        kat.lift("shop")  # the waiting reconcile is cut by the 2 s timeout; the retry runs clean
        took = await kat.wait_steady()
        assert took < 3
        assert kat.ready("shop", "a")


DEPENDENT = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: deps}
spec:
  crds:
    base:
      apiTypes: {group: kit.example.com, version: v1, kind: Base, plural: bases}
      operatorBox:
        onReconcile:
          configMaps: [{name: "{{ .metadata.name }}-base"}]
    follower:
      apiTypes: {group: kit.example.com, version: v1, kind: Follower, plural: followers}
      dependsOn: {base: healthy}
      operatorBox:
        onReconcile:
          configMaps: [{name: "{{ .metadata.name }}-follower"}]
"""


async def test_a_box_waiting_for_a_healthy_dependency_does_not_hold_the_kit_up(
    autojump_clock, tmp_path
):
    # The base has no CR yet, so the follower cannot start: run_katalog and
    # wait_steady still return (its keys wait, like a paused box's), and the
    # follower works once the base has reconciled something.
    path = tmp_path / "deps.yaml"
    path.write_text(DEPENDENT)
    with trio.fail_after(60):
        async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
            await kat.apply(kat.manifest("follower", "f", {}))
            await kat.wait_steady()
            assert kat.box("follower").health.snapshot().state is HealthState.NOT_STARTED
            assert kat.children("follower", "f") == []
            await kat.apply(kat.manifest("base", "b", {}))
            await kat.wait_steady()
            assert kat.ready("base", "b") and kat.ready("follower", "f")


POLLER = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: poll}
spec:
  crds:
    poller:
      apiTypes: {group: poll.example.com, version: v1, kind: Poller, plural: pollers}
      operatorBox:
        requeue: {after: 200ms}
        status:
          fields:
            - {path: seen, value: "yes"}
"""


async def test_wait_steady_says_what_kept_arriving(autojump_clock, tmp_path):
    # Nothing is queued or running between two requeues, yet work never stops
    # arriving: the error names its source (here the box's own queue adds).
    path = tmp_path / "katalog.yaml"
    path.write_text(POLLER)
    async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
        await kat.apply(kat.manifest("poller", "p", {}))
        with pytest.raises(NotSteady, match=r"work kept arriving \(queue adds of poller \+\d+\)"):
            await kat.wait_steady(within=5)
