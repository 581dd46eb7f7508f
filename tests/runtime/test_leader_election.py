"""Leader election: of two replicas on one Katalog, only the Lease holder reconciles.

Both replicas run in the test's Trio loop against one embedded API server,
each with its own client; the autojump clock makes the client-go timings
(15 s lease, 10 s renew deadline, 2 s retry) cost no real time.
"""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import pytest
import trio
import trio.testing
from runtime_helpers import eventually

from orkestra_trio.apiserver import ApiServer, open_apiserver
from orkestra_trio.commands.run import configure
from orkestra_trio.katalog import load_katalogs
from orkestra_trio.kube import NotFound, open_asgi_transport, open_kube_client
from orkestra_trio.runtime.box import Box
from orkestra_trio.runtime.crdinstall import install_crds
from orkestra_trio.runtime.leader import LeaderElectionConfig, default_lease_name
from orkestra_trio.runtime.runtime import Runtime, open_runtime, start_boxes
from orkestra_trio.web.app import build_web_app
from orkestra_trio.web.view import RuntimeView

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: elect}
spec:
  crds:
    thing:
      apiTypes: {group: elect.example.com, version: v1, kind: Thing, plural: things}
      operatorBox:
        onReconcile:
          configMaps:
            - name: "{{ .metadata.name }}-cm"
"""

LEASE = ("coordination.k8s.io/v1", "Lease")


def thing(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "elect.example.com/v1",
        "kind": "Thing",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {},
    }


class Replica:
    """One runtime replica, run in its own task, and the reconciles its boxes ran."""

    def __init__(self, identity: str) -> None:
        self.identity = identity
        self.reconciles = 0
        self.runtime: Runtime | None = None
        self.scope = trio.CancelScope()
        self._stop = trio.Event()
        self._stopped = trio.Event()

    def box_factory(self, crd: Any, **kwargs: Any) -> Box:
        def wrap(reconcile: Any) -> Any:
            async def counted(key: Any) -> Any:
                self.reconciles += 1
                return await reconcile(key)

            return counted

        return Box(crd, wrap_reconcile=wrap, **kwargs)

    async def serve(
        self, server: ApiServer, katalogs: Any, *, task_status: trio.TaskStatus[None]
    ) -> None:
        with self.scope:
            async with (
                open_asgi_transport(server.app) as transport,
                open_kube_client(server.url, transport=transport) as kube,
                AsyncExitStack() as stack,
            ):
                self.runtime = await start_boxes(
                    stack,
                    kube,
                    katalogs,
                    apiserver=None,
                    kubeconfig_path=None,
                    server_url=server.url,
                    box_factory=self.box_factory,
                    election=LeaderElectionConfig(
                        lease_name=default_lease_name(katalogs), identity=self.identity
                    ),
                )
                task_status.started()
                try:
                    await self._stop.wait()
                finally:
                    await self.runtime.aclose(grace=1.0)
        self._stopped.set()

    @property
    def rt(self) -> Runtime:
        assert self.runtime is not None
        return self.runtime

    @property
    def box_state(self) -> str:
        return self.rt.box("thing").health.snapshot().state.value

    async def stop(self) -> None:
        """A clean shutdown (the leader releases the lease)."""
        self._stop.set()
        await self._stopped.wait()

    def crash(self) -> None:
        """Vanish without releasing the lease."""
        assert self.rt.election is not None
        self.rt.election.release = _no_release  # type: ignore[method-assign]
        self.scope.cancel()


async def _no_release() -> None:
    pass


@asynccontextmanager
async def cluster(tmp_path: Any) -> AsyncIterator[tuple[ApiServer, Any, Any, trio.Nursery]]:
    path = tmp_path / "elect.yaml"
    path.write_text(textwrap.dedent(KATALOG))
    katalogs = load_katalogs([path])
    async with (
        open_apiserver(workload_simulation=False) as server,
        open_asgi_transport(server.app) as transport,
        open_kube_client(server.url, transport=transport) as kube,
    ):
        await install_crds(kube, katalogs)
        async with trio.open_nursery() as nursery:
            yield server, katalogs, kube, nursery
            nursery.cancel_scope.cancel()


async def start_replica(
    nursery: trio.Nursery, server: ApiServer, katalogs: Any, identity: str
) -> Replica:
    replica = Replica(identity)
    await nursery.start(replica.serve, server, katalogs)
    return replica


async def probe(rt: Runtime, path: str) -> tuple[int, bool]:
    """(status, does the body say standby) of one of the runtime's probes."""
    view = RuntimeView(rt)
    await view.start()
    async with (
        open_asgi_transport(build_web_app(view)) as transport,
        httpx.AsyncClient(transport=transport, base_url="http://runtime") as http,
    ):
        response = await http.get(path)
    return response.status_code, "standby" in response.text


async def holder(kube: Any, katalogs: Any) -> str:
    lease = await kube.get(LEASE, default_lease_name(katalogs), namespace="default")
    return str(lease["spec"].get("holderIdentity") or "")


async def cm_exists(kube: Any, name: str) -> bool:
    try:
        await kube.get(("v1", "ConfigMap"), name, namespace="default")
    except NotFound:
        return False
    return True


async def test_only_the_lease_holder_reconciles_and_the_other_takes_over(
    tmp_path: Any, autojump_clock: trio.testing.MockClock
) -> None:
    async with cluster(tmp_path) as (server, katalogs, kube, nursery):
        a = await start_replica(nursery, server, katalogs, "replica-a")
        await eventually(lambda: holder(kube, katalogs), what="a lease holder")
        b = await start_replica(nursery, server, katalogs, "replica-b")
        try:
            await kube.create(thing("one"), namespace="default")
            await eventually(lambda: cm_exists(kube, "one-cm"), what="one-cm")
            await trio.sleep(30)  # several lease durations: the standby stays standby
            assert await holder(kube, katalogs) == "replica-a"
            assert a.reconciles >= 1 and not a.rt.standby
            assert b.reconciles == 0 and b.rt.standby
            assert b.box_state == "not started"
            assert await probe(b.rt, "/health") == (200, False)
            assert await probe(b.rt, "/ready") == (503, True)
            assert await probe(a.rt, "/ready") == (200, False)

            # A crash (no release): b waits out the lease, then takes over.
            stopped_at = trio.current_time()
            a.crash()
            await eventually(
                lambda: _holds(kube, katalogs, "replica-b"), timeout=60, what="takeover"
            )
            took = trio.current_time() - stopped_at
            assert took <= 15 + 2 + 1, took
            await kube.create(thing("two"), namespace="default")
            await eventually(lambda: cm_exists(kube, "two-cm"), what="two-cm by b")
            assert b.reconciles >= 1 and not b.rt.standby
        finally:
            await b.stop()


async def _holds(kube: Any, katalogs: Any, identity: str) -> bool:
    return await holder(kube, katalogs) == identity


async def test_a_clean_release_makes_takeover_immediate(
    tmp_path: Any, autojump_clock: trio.testing.MockClock
) -> None:
    async with cluster(tmp_path) as (server, katalogs, kube, nursery):
        a = await start_replica(nursery, server, katalogs, "replica-a")
        await eventually(lambda: _holds(kube, katalogs, "replica-a"), what="a leads")
        b = await start_replica(nursery, server, katalogs, "replica-b")
        try:
            await trio.sleep(5)
            assert b.rt.standby
            released_at = trio.current_time()
            await a.stop()
            lease = await kube.get(LEASE, default_lease_name(katalogs), namespace="default")
            assert lease["spec"]["holderIdentity"] in ("", "replica-b")
            await eventually(
                lambda: _holds(kube, katalogs, "replica-b"), timeout=30, what="takeover"
            )
            # Within one retry period, not a lease duration.
            assert trio.current_time() - released_at <= 2 + 0.5
            await kube.create(thing("three"), namespace="default")
            await eventually(lambda: cm_exists(kube, "three-cm"), what="three-cm by b")
        finally:
            await b.stop()


async def test_a_leader_that_cannot_renew_stops_its_boxes_within_the_renew_deadline(
    tmp_path: Any, autojump_clock: trio.testing.MockClock
) -> None:
    async with cluster(tmp_path) as (server, katalogs, kube, nursery):
        a = await start_replica(nursery, server, katalogs, "replica-a")
        try:
            await eventually(lambda: _holds(kube, katalogs, "replica-a"), what="a leads")
            await kube.create(thing("four"), namespace="default")
            await eventually(lambda: cm_exists(kube, "four-cm"), what="four-cm")
            assert not a.rt.standby
            failing_from = trio.current_time()
            server.faults.fail_next(1000, verb="update", resource="leases")
            await eventually(lambda: _true(a.rt.standby), timeout=30, what="step down")
            assert trio.current_time() - failing_from <= 10 + 0.5
            await eventually(
                lambda: _true(a.box_state == "not started"), timeout=1, what="box stopped"
            )
            # Never reconciling without the lease: a new CR stays untouched.
            before = a.reconciles
            await kube.create(thing("five"), namespace="default")
            await trio.sleep(5)
            assert a.reconciles == before
            assert not await cm_exists(kube, "five-cm")
            # Renewals work again: the replica wins the lease back and catches up.
            server.faults.clear()
            await eventually(lambda: cm_exists(kube, "five-cm"), timeout=30, what="five-cm")
            assert not a.rt.standby
        finally:
            await a.stop()


async def _true(value: bool) -> bool:
    return value


@pytest.mark.parametrize("lease_duration", [5.0])
def test_timings_must_nest(lease_duration: float) -> None:
    with pytest.raises(ValueError, match="retry_period < renew_deadline < lease_duration"):
        LeaderElectionConfig(lease_name="x", lease_duration=lease_duration, renew_deadline=10.0)


async def test_open_runtime_with_leader_elect_leads_alone(
    tmp_path: Any, autojump_clock: trio.testing.MockClock
) -> None:
    path = tmp_path / "elect.yaml"
    path.write_text(textwrap.dedent(KATALOG))
    async with open_runtime(
        path, embedded=True, leader_elect=True, leader_elect_identity="only"
    ) as rt:
        with trio.fail_after(30):
            await rt.wait_ready()
        assert not rt.standby
        assert await holder(rt.kube, rt.katalogs) == "only"
        assert "leader election: lease default/orkestra-elect as only" in rt.describe()


def test_the_run_command_takes_the_leader_election_flags() -> None:
    parser = argparse.ArgumentParser()
    configure(parser)
    args = parser.parse_args(["k.yaml", "--leader-elect", "--leader-elect-lease", "ops"])
    assert args.leader_elect and args.leader_elect_lease == "ops"
    assert not parser.parse_args(["k.yaml"]).leader_elect
