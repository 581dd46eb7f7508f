"""``--leader-elect per-box``: replicas share the boxes, one Lease per box.

Each replica keeps a membership Lease alive and, every ``retry_period``,
lists the Leases of its group (one request): the live members give the
assignment (:func:`.sharding.assign`), the box Leases say who runs what
right now (shown in each box's health as ``holder``). Per box, a slot task
runs the box only while this replica both is assigned the box and holds its
Lease, renewing it as the single-leader election does (:mod:`.leader`):

* a replica that dies stops renewing; its membership Lease and box Leases
  expire after ``lease_duration``, the survivors' assignment moves the boxes,
  and the new owners acquire them on their next try: failover within
  ``lease_duration + retry_period`` (under 2x the lease duration);
* a replica that stops gracefully releases its box Leases as each box
  finishes, then its membership: the others take over at their next try;
* a new replica changes the assignment: holders cancel the boxes that moved
  and release their Leases, so the newcomer acquires them at once.

A box never runs without its Lease: losing it (a renewal showing another
holder, or none succeeding for ``renew_deadline``) cancels the box at once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

import attrs
import trio

from orkestra_trio.kube import KubeError
from orkestra_trio.kube.leases import LEASE, lease_expired

from .leader import LeaderElectionConfig, LeaderElector
from .sharding import (
    BOX_ROLE,
    GROUP_LABEL,
    MEMBER_ROLE,
    ROLE_LABEL,
    assign,
    box_lease_name,
    live_members,
    member_lease_name,
    shard_units,
)

if TYPE_CHECKING:
    from orkestra_trio.katalog import KatalogSet
    from orkestra_trio.kube import KubeClient

    from .box import Box

logger = logging.getLogger(__name__)


class PerBoxElection:
    """The membership of one replica and the Leases of its boxes."""

    def __init__(
        self,
        kube: KubeClient,
        config: LeaderElectionConfig,
        katalogs: KatalogSet,
        boxes: Mapping[str, Box],
    ) -> None:
        self.kube = kube
        self.config = config
        self.group = config.lease_name
        self.identity = config.identity
        self.boxes = boxes
        self.units = shard_units(katalogs, boxes)
        self.members: list[str] = [self.identity]
        self.assignment: dict[str, str] = assign(self.units, self.members)
        self._changed = trio.Event()

        def labels(role: str) -> tuple[tuple[str, str], ...]:
            return ((GROUP_LABEL, self.group), (ROLE_LABEL, role))

        self.member = LeaderElector(
            kube,
            attrs.evolve(
                config,
                lease_name=member_lease_name(self.group, self.identity),
                labels=labels(MEMBER_ROLE),
            ),
        )
        self.electors = {
            name: LeaderElector(
                kube,
                attrs.evolve(
                    config, lease_name=box_lease_name(self.group, name), labels=labels(BOX_ROLE)
                ),
            )
            for name in boxes
        }

    def assigned_here(self, box: str) -> bool:
        return self.assignment.get(box) == self.identity

    def held_here(self, box: str) -> bool:
        return self.electors[box].leading

    def describe(self) -> str:
        return (
            f"leader election per box: leases {self.config.namespace}/{self.group}-box-* "
            f"as {self.identity}"
        )

    # ------------------------------------------------------------ membership

    async def run_membership(self) -> None:
        """Renew our membership and recompute the assignment every ``retry_period``."""
        try:
            while True:
                try:
                    await self.member.attempt()
                    await self._look()
                except KubeError as exc:
                    logger.warning("per-box election: %s", exc)
                await trio.sleep(self.config.retry_period)
        finally:
            with trio.CancelScope(shield=True):
                await self._leave()

    async def _leave(self) -> None:
        """Delete our membership Lease (a restarted pod has a new identity: none piles up)."""
        self.member.leading = False
        config = self.member.config
        with trio.move_on_after(config.retry_period):
            try:
                await self.kube.delete(LEASE, config.lease_name, namespace=config.namespace)
                return
            except KubeError as exc:
                logger.warning("per-box election: leaving: %s", exc)
        await self.member.release()  # not allowed to delete: at least let it lapse now

    async def _look(self) -> None:
        leases = await self.kube.list(
            LEASE, namespace=self.config.namespace, label_selector=f"{GROUP_LABEL}={self.group}"
        )
        now = self.member.now()

        def expired(lease: Mapping[str, object]) -> bool:
            return lease_expired(dict(lease), now)

        members = live_members(leases.items, expired=expired, me=self.identity)
        holders: dict[str, str] = {}
        for lease in leases.items:
            spec = lease.get("spec") or {}
            holder = str(spec.get("holderIdentity") or "")
            if holder and not expired(lease):
                holders[str(lease["metadata"]["name"])] = holder
        for name, elector in self.electors.items():
            held_by = holders.get(elector.config.lease_name)
            self.boxes[name].health.set_holder(self.identity if elector.leading else held_by)
        assignment = assign(self.units, members)
        if members != self.members:
            logger.info("per-box election: live replicas %s", ", ".join(members))
        self.members = members
        if assignment != self.assignment:
            self.assignment = assignment
            self._changed.set()
            self._changed = trio.Event()

    # ------------------------------------------------------------ box slots

    async def run_slot(
        self,
        name: str,
        run_box: Callable[[], Awaitable[None]],
        stopping: Callable[[], bool],
    ) -> None:
        """Run box ``name`` whenever it is ours and its Lease is held, until ``stopping()``."""
        elector = self.electors[name]
        box = self.boxes[name]
        while not stopping():
            if not self.assigned_here(name):
                await self._changed.wait()
                continue
            try:
                held = await elector.attempt()
            except KubeError as exc:
                logger.warning("per-box election: box %s: %s", name, exc)
                held = False
            if not held or stopping():
                with trio.move_on_after(self.config.retry_period):
                    await self._changed.wait()
                continue
            elector.leading = True
            box.health.set_holder(self.identity)
            logger.info("per-box election: %s runs box %s", self.identity, name)
            try:
                async with trio.open_nursery() as term:
                    term.start_soon(elector.keep, term.cancel_scope.cancel)
                    term.start_soon(self._leave_when_moved, name, term.cancel_scope)
                    await run_box()
                    term.cancel_scope.cancel()
            finally:
                if elector.leading:
                    with trio.CancelScope(shield=True):
                        await elector.release()
                box.health.set_holder(None)

    async def _leave_when_moved(self, name: str, scope: trio.CancelScope) -> None:
        while self.assigned_here(name):
            await self._changed.wait()
        logger.info("per-box election: box %s moves to %s", name, self.assignment.get(name))
        scope.cancel()
