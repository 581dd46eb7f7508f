"""``--leader-elect per-box``: replicas share the boxes and take over a dead one's.

The assignment is a pure function (checked alone); the behaviour is checked
with three real runtime processes against one embedded API server: the
boxes spread over them, a killed replica's boxes move within twice the lease
duration, a replica stopped with SIGTERM hands its boxes over at once, and
/katalog says which replica runs which box.
"""

from __future__ import annotations

import datetime
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from runtime_helpers import eventually

from orkestra_trio.apiserver import open_apiserver
from orkestra_trio.katalog import load_katalogs
from orkestra_trio.kube import open_kube_client
from orkestra_trio.kube.leases import LEASE, lease_expired
from orkestra_trio.runtime.crdinstall import install_crds
from orkestra_trio.runtime.sharding import (
    BOX_ROLE,
    GROUP_LABEL,
    ROLE_LABEL,
    assign,
    shard_units,
)

BOXES = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]
LEASE_SECONDS = 3.0
GROUP = "orkestra-shard"


def _katalog(with_dependency: bool = False) -> str:
    crds = []
    for name in BOXES:
        depends = (
            "      dependsOn: {alpha: started}\n" if with_dependency and name == "bravo" else ""
        )
        crds.append(
            f"    {name}:\n"
            f"      apiTypes: {{group: shard.example.com, version: v1, kind: {name.title()}, "
            f"plural: {name}s}}\n"
            f"{depends}"
            "      operatorBox:\n"
            "        onReconcile:\n"
            "          configMaps:\n"
            f'            - name: "{{{{ .metadata.name }}}}-{name}"\n'
        )
    return "metadata: {name: shard}\nspec:\n  crds:\n" + "".join(crds)


def test_assignment_spreads_and_is_stable(tmp_path: Path) -> None:
    path = tmp_path / "k.yaml"
    path.write_text(_katalog())
    units = shard_units(load_katalogs([path]), BOXES)
    assert len(units) == 6
    three = assign(units, ["r0", "r1", "r2"])
    counts = sorted([list(three.values()).count(r) for r in ("r0", "r1", "r2")])
    assert counts == [2, 2, 2]
    # Every replica computes the same answer, whatever order it lists members in.
    assert assign(units, ["r2", "r0", "r1"]) == three
    two = assign(units, ["r0", "r2"])
    assert set(two.values()) == {"r0", "r2"}
    assert assign(units, []) == {}


def test_depends_on_partners_share_a_replica(tmp_path: Path) -> None:
    path = tmp_path / "k.yaml"
    path.write_text(_katalog(with_dependency=True))
    units = shard_units(load_katalogs([path]), BOXES)
    assert ("alpha", "bravo") in units
    for members in (["r0", "r1"], ["r0", "r1", "r2"], ["x", "y", "z", "w"]):
        placed = assign(units, members)
        assert placed["alpha"] == placed["bravo"]


class Replica:
    def __init__(self, identity: str, process: trio.Process, url: str) -> None:
        self.identity = identity
        self.process = process
        self.url = url


async def _start(tmp_path: Path, katalog: Path, kubeconfig: Path, identity: str) -> Replica:
    stderr = (tmp_path / f"{identity}.stderr").open("wb")
    process = await trio.lowlevel.open_process(
        [
            sys.executable,
            "-m",
            "orkestra_trio",
            "run",
            str(katalog),
            "--kubeconfig",
            str(kubeconfig),
            "--listen",
            "127.0.0.1:0",
            "--leader-elect",
            "per-box",
            "--leader-elect-lease",
            GROUP,
            "--leader-elect-identity",
            identity,
            "--leader-elect-lease-duration",
            str(LEASE_SECONDS),
        ],
        stdout=subprocess.PIPE,
        stderr=stderr,
        cwd=tmp_path,
    )
    stderr.close()
    assert process.stdout is not None
    buffer = b""
    with trio.fail_after(30):
        while True:
            chunk = await process.stdout.receive_some(4096)
            if not chunk:
                raise AssertionError((tmp_path / f"{identity}.stderr").read_text()[-3000:])
            buffer += chunk
            for line in buffer.decode().splitlines():
                if line.startswith("http: "):
                    return Replica(
                        identity, process, "http://" + line.split()[1].removeprefix("http://")
                    )


async def _holders(kube: Any) -> dict[str, str]:
    """Box name -> holder of its live Lease (boxes without one are left out)."""
    listed = await kube.list(LEASE, namespace="default", label_selector=f"{GROUP_LABEL}={GROUP}")
    now = datetime.datetime.now(datetime.UTC)
    out = {}
    for lease in listed.items:
        if lease["metadata"]["labels"].get(ROLE_LABEL) != BOX_ROLE:
            continue
        holder = lease["spec"].get("holderIdentity")
        if holder and not lease_expired(lease, now):
            out[lease["metadata"]["name"].rsplit("-box-", 1)[1]] = holder
    return out


@asynccontextmanager
async def three_replicas(tmp_path: Path) -> AsyncIterator[tuple[Any, list[Replica]]]:
    katalog = tmp_path / "shard.yaml"
    katalog.write_text(_katalog())
    async with AsyncExitStack() as stack:
        server = await stack.enter_async_context(open_apiserver(workload_simulation=False))
        kubeconfig = server.write_kubeconfig(tmp_path / "kc")
        kube = await stack.enter_async_context(open_kube_client(server.url))
        await install_crds(kube, load_katalogs([katalog]))
        replicas = []
        try:
            for i in range(3):
                replicas.append(await _start(tmp_path, katalog, kubeconfig, f"r{i}"))
            yield kube, replicas
        finally:
            for replica in replicas:
                if replica.process.returncode is None:
                    replica.process.kill()
                await replica.process.wait()


async def _spread(kube: Any, alive: set[str], *, balanced: bool = False) -> dict[str, str] | None:
    """The holders once every box is held and every live replica holds one (evenly if asked)."""
    holders = await _holders(kube)
    if set(holders) != set(BOXES) or set(holders.values()) != alive:
        return None
    counts = [list(holders.values()).count(replica) for replica in alive]
    if balanced and max(counts) - min(counts) > 0:
        return None
    return holders


@pytest.mark.slow
async def test_three_replicas_share_the_boxes_and_survive_losing_one(tmp_path: Path) -> None:
    async with three_replicas(tmp_path) as (kube, replicas):
        alive = {r.identity for r in replicas}
        # Replicas join one after another, so the first may hold more than its share for
        # a while: the property is that they settle on an even spread, not when.
        holders = await eventually(
            lambda: _spread(kube, alive, balanced=True),
            timeout=30,
            what="every box held, two on each of the three replicas",
        )

        # /katalog names the replica that runs each box (as of its last look at the Leases).
        async def shown() -> bool:
            async with httpx.AsyncClient(base_url=replicas[0].url, timeout=5) as http:
                listed = (await http.get("/katalog")).json()
            return {entry["name"]: entry.get("holder") for entry in listed["crds"]} == holders

        await eventually(shown, timeout=10, what="/katalog naming each box's replica")
        # A replica that does not run a box sends ONCOP readers to the one that does.
        other = next(box for box, holder in holders.items() if holder != replicas[0].identity)
        async with httpx.AsyncClient(base_url=replicas[0].url, timeout=5) as http:
            refused = await http.get(f"/katalog/{other}")
        assert refused.status_code == 503
        assert refused.json()["holder"] == holders[other]

        # kill -9 one replica: its boxes move to the others within 2x the lease duration.
        victim = replicas[0]
        lost = sorted(box for box, holder in holders.items() if holder == victim.identity)
        killed_at = trio.current_time()
        victim.process.kill()
        await victim.process.wait()
        alive.discard(victim.identity)
        moved = await eventually(
            lambda: _spread(kube, alive),
            timeout=4 * LEASE_SECONDS,
            what="the dead replica's boxes moved",
        )
        failover = trio.current_time() - killed_at
        print(
            f"\nfailover after kill -9: {failover:.2f}s (lease {LEASE_SECONDS:g}s) {lost} -> {moved}"
        )
        assert failover < 2 * LEASE_SECONDS

        # A moved box reconciles on its new replica.
        box = lost[0]
        await kube.create(
            {
                "apiVersion": "shard.example.com/v1",
                "kind": box.title(),
                "metadata": {"name": "after", "namespace": "default"},
            },
            namespace="default",
        )
        await eventually(
            lambda: kube.get(("v1", "ConfigMap"), f"after-{box}", namespace="default"),
            timeout=10,
            what=f"box {box} reconciling on its new replica",
        )

        # SIGTERM another: it hands its boxes over at once (well within one lease duration).
        leaving = replicas[1]
        stopped_at = trio.current_time()
        leaving.process.send_signal(signal.SIGTERM)
        alive.discard(leaving.identity)
        await eventually(
            lambda: _spread(kube, alive),
            timeout=4 * LEASE_SECONDS,
            what="the stopped replica's boxes moved",
        )
        handover = trio.current_time() - stopped_at
        print(f"handover after SIGTERM: {handover:.2f}s")
        with trio.fail_after(30):
            assert await leaving.process.wait() == 0
        # It left no membership Lease behind (a killed replica's stays, expired).
        members = await kube.list(
            LEASE, namespace="default", label_selector=f"{ROLE_LABEL}=member,{GROUP_LABEL}={GROUP}"
        )
        holders_left = {lease["spec"].get("holderIdentity") for lease in members.items}
        assert leaving.identity not in holders_left and victim.identity in holders_left
        # Released at once: the others only wait for their next look (retry period), not
        # for the lease to expire; the bound leaves room for a loaded machine.
        assert handover < 2 * LEASE_SECONDS
