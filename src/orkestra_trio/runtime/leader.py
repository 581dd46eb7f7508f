"""Lease-based leader election: which of several runtime replicas runs the boxes.

Replicas of one Katalog set on one cluster must not reconcile the same
objects at once. They agree through a coordination.k8s.io/v1 Lease
(``kube.leases``): the holder renews it every ``retry_period``; a standby
retries acquiring every ``retry_period`` and wins only once the lease has
gone ``lease_duration`` without renewal (or was released). Timings default
to client-go's (15 s / 10 s / 2 s).

The safety rule: a leader that has not renewed successfully for
``renew_deadline`` steps down at once, before the lease can expire for the
others (renew deadline < lease duration), so two replicas never both
reconcile. Time comes from the Trio clock, anchored to the wall clock once,
so tests run it on virtual time.
"""

from __future__ import annotations

import datetime
import logging
import os
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs
import trio

from orkestra_trio.kube import KubeError
from orkestra_trio.kube.leases import get_lease, micro_time, try_acquire_lease

if TYPE_CHECKING:
    from orkestra_trio.katalog import KatalogSet
    from orkestra_trio.kube import KubeClient

logger = logging.getLogger(__name__)


def default_identity() -> str:
    """hostname + pid: unique per replica, readable in ``kubectl get lease``."""
    return f"{socket.gethostname()}_{os.getpid()}"


def default_lease_name(katalogs: KatalogSet) -> str:
    """A lease name derived from the Katalog names, so one Katalog set elects one leader."""
    names = sorted({katalog.name for katalog in katalogs.katalogs}) or ["runtime"]
    text = "orkestra-" + "-".join(names)
    cleaned = "".join(ch if ch.isalnum() or ch in "-." else "-" for ch in text.lower())
    return cleaned[:253].strip("-.") or "orkestra"


@attrs.frozen
class LeaderElectionConfig:
    """Where the lease lives, who we are, and the client-go timings (seconds)."""

    lease_name: str
    namespace: str = "default"
    identity: str = attrs.field(factory=default_identity)
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    #: Labels a created Lease carries (per-box election lists its Leases by them).
    labels: tuple[tuple[str, str], ...] = ()

    def __attrs_post_init__(self) -> None:
        if not self.retry_period < self.renew_deadline < self.lease_duration:
            raise ValueError(
                "leader election needs retry_period < renew_deadline < lease_duration "
                f"(got {self.retry_period}, {self.renew_deadline}, {self.lease_duration})"
            )


class LeaderElector:
    """Acquire, keep and release one Lease for one replica."""

    def __init__(self, kube: KubeClient, config: LeaderElectionConfig) -> None:
        self.kube = kube
        self.config = config
        self.leading = False
        # Wall time of Trio time zero: lease stamps follow the Trio clock.
        self._wall_anchor = datetime.datetime.now(datetime.UTC) - datetime.timedelta(
            seconds=trio.current_time()
        )

    def now(self) -> datetime.datetime:
        return self._wall_anchor + datetime.timedelta(seconds=trio.current_time())

    async def attempt(self) -> bool:
        """One acquire-or-renew round trip; True when we hold the lease afterwards."""
        return await self._attempt()

    async def _attempt(self) -> bool:
        """One acquire-or-renew round trip; True when we hold the lease afterwards."""
        state = await try_acquire_lease(
            self.kube,
            self.config.lease_name,
            self.config.identity,
            duration_seconds=max(1, round(self.config.lease_duration)),
            namespace=self.config.namespace,
            now=self.now(),
            labels=dict(self.config.labels),
        )
        return state.held

    async def acquire(self) -> None:
        """Return once we hold the lease, trying every ``retry_period``."""
        while True:
            try:
                if await self._attempt():
                    self.leading = True
                    logger.info(
                        "leader election: %s acquired lease %s/%s",
                        self.config.identity,
                        self.config.namespace,
                        self.config.lease_name,
                    )
                    return
            except KubeError as exc:
                logger.warning("leader election: acquiring failed: %s", exc)
            await trio.sleep(self.config.retry_period)

    async def keep(self, on_lost: Callable[[], None]) -> None:
        """Renew every ``retry_period``; call ``on_lost`` and return when leadership ends.

        Leadership ends when a renewal shows someone else holds the lease,
        or when no renewal succeeded for ``renew_deadline``.
        """
        last_renewed = trio.current_time()
        while True:
            await trio.sleep_until(last_renewed + self.config.retry_period)
            held: bool | None = None
            while held is None:
                deadline = last_renewed + self.config.renew_deadline
                with trio.move_on_at(deadline):
                    try:
                        held = await self._attempt()
                    except KubeError as exc:
                        logger.warning("leader election: renewal failed: %s", exc)
                if held is None:
                    if trio.current_time() >= deadline:
                        held = False
                    else:
                        await trio.sleep(
                            min(self.config.retry_period, deadline - trio.current_time())
                        )
            if not held:
                self.leading = False
                logger.warning(
                    "leader election: %s lost lease %s/%s; stopping the boxes",
                    self.config.identity,
                    self.config.namespace,
                    self.config.lease_name,
                )
                on_lost()
                return
            last_renewed = trio.current_time()

    async def release(self) -> None:
        """Clear holderIdentity so a standby takes over on its next try (best effort)."""
        self.leading = False
        with trio.move_on_after(self.config.retry_period):
            try:
                lease = await get_lease(
                    self.kube, self.config.lease_name, namespace=self.config.namespace
                )
                spec = (lease or {}).get("spec") or {}
                if lease is None or spec.get("holderIdentity") != self.config.identity:
                    return
                stamp = micro_time(self.now())
                released = {
                    **lease,
                    "spec": {
                        **spec,
                        "holderIdentity": "",
                        "renewTime": stamp,
                        "leaseDurationSeconds": 1,
                    },
                }
                await self.kube.replace(released)
                logger.info("leader election: %s released the lease", self.config.identity)
            except KubeError as exc:
                logger.warning("leader election: releasing failed: %s", exc)


__all__ = [
    "LeaderElectionConfig",
    "LeaderElector",
    "default_identity",
    "default_lease_name",
]
