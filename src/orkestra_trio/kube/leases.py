"""coordination.k8s.io/v1 Lease helpers: the building block of leader election.

Several replicas of a runtime agree on one leader through a Lease object: the
holder renews ``renewTime`` periodically; another replica takes over only
when the lease has not been renewed for ``leaseDurationSeconds``. Every
write goes through a PUT carrying the resourceVersion that was read, so two
replicas racing for the same lease cannot both win: the loser gets Conflict.
The election loop itself (timing, stepping down) belongs to the runtime.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from .errors import AlreadyExists, Conflict, NotFound

if TYPE_CHECKING:
    from .client import KubeClient

JSON = dict[str, Any]
LEASE = ("coordination.k8s.io/v1", "Lease")


def micro_time(when: datetime.datetime | None = None) -> str:
    """metav1.MicroTime: RFC 3339 with microseconds, UTC."""
    when = when or datetime.datetime.now(datetime.UTC)
    return when.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime.datetime:
    value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)


@attrs.frozen
class LeaseState:
    """The outcome of an acquire attempt: do we hold it, who does, the object."""

    held: bool
    holder: str
    lease: JSON


def lease_expired(lease: JSON, now: datetime.datetime) -> bool:
    spec = lease.get("spec") or {}
    renew = spec.get("renewTime") or spec.get("acquireTime")
    duration = spec.get("leaseDurationSeconds")
    if not renew or not duration:
        return True
    return parse_time(str(renew)) + datetime.timedelta(seconds=float(duration)) < now


def _held_spec(holder: str, duration_seconds: int, stamp: str, transitions: int) -> JSON:
    return {
        "holderIdentity": holder,
        "leaseDurationSeconds": duration_seconds,
        "acquireTime": stamp,
        "renewTime": stamp,
        "leaseTransitions": transitions,
    }


async def get_lease(kube: KubeClient, name: str, *, namespace: str | None = None) -> JSON | None:
    try:
        return await kube.get(LEASE, name, namespace=namespace)
    except NotFound:
        return None


async def create_lease(
    kube: KubeClient,
    name: str,
    holder: str,
    *,
    duration_seconds: int = 15,
    namespace: str | None = None,
    now: datetime.datetime | None = None,
    labels: Mapping[str, str] | None = None,
) -> JSON:
    metadata: JSON = {"name": name}
    if labels:
        metadata["labels"] = dict(labels)
    body: JSON = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": metadata,
        "spec": _held_spec(holder, duration_seconds, micro_time(now), 0),
    }
    return await kube.create(body, namespace=namespace)


async def renew_lease(
    kube: KubeClient, lease: JSON, *, now: datetime.datetime | None = None
) -> JSON:
    """Bump renewTime of a lease we hold; Conflict if it changed since we read it."""
    updated = {**lease, "spec": {**(lease.get("spec") or {}), "renewTime": micro_time(now)}}
    return await kube.replace(updated)


async def try_acquire_lease(
    kube: KubeClient,
    name: str,
    holder: str,
    *,
    duration_seconds: int = 15,
    namespace: str | None = None,
    now: datetime.datetime | None = None,
    labels: Mapping[str, str] | None = None,
) -> LeaseState:
    """Create (with ``labels``), renew or take over the lease if we may; report who holds it."""
    now = now or datetime.datetime.now(datetime.UTC)
    lease = await get_lease(kube, name, namespace=namespace)
    if lease is None:
        try:
            created = await create_lease(
                kube,
                name,
                holder,
                duration_seconds=duration_seconds,
                namespace=namespace,
                now=now,
                labels=labels,
            )
        except AlreadyExists:
            lease = await get_lease(kube, name, namespace=namespace) or {}
            return LeaseState(
                False, str((lease.get("spec") or {}).get("holderIdentity", "")), lease
            )
        return LeaseState(True, holder, created)
    spec = lease.get("spec") or {}
    current = str(spec.get("holderIdentity") or "")
    try:
        if current == holder:
            return LeaseState(True, holder, await renew_lease(kube, lease, now=now))
        if current and not lease_expired(lease, now):
            return LeaseState(False, current, lease)
        transitions = int(spec.get("leaseTransitions") or 0) + 1
        taken = {
            **lease,
            "spec": {**spec, **_held_spec(holder, duration_seconds, micro_time(now), transitions)},
        }
        return LeaseState(True, holder, await kube.replace(taken))
    except Conflict:
        # Someone else wrote it between our read and our write: they won.
        fresh = await get_lease(kube, name, namespace=namespace) or {}
        return LeaseState(False, str((fresh.get("spec") or {}).get("holderIdentity", "")), fresh)
