"""Which replica runs which box (``--leader-elect per-box``): pure decisions.

Every replica holds a membership Lease (``<group>-member-<identity>``) and
renews it; the live members are those whose membership Lease has not
expired. From the same live set every replica computes the same assignment,
:func:`assign`: boxes tied by ``dependsOn`` stay together (a box waits for
its dependency's health, which only a box running in the same process has),
units are dealt out greedily, largest first, each to the least loaded
replica, ties broken by a hash of (unit, replica) so that the answer is
stable and spread, not "all on the first". A replica runs a box only while
it holds that box's own Lease, so two replicas that briefly disagree about
the assignment still never run one box twice: the holder lets go (and
releases the Lease) when the assignment moves the box away, and the new
owner acquires it then, or once it expired if the holder died.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence

from orkestra_trio.katalog import KatalogSet

#: Labels on every Lease of one sharded runtime: listed in one request.
GROUP_LABEL = "orkestra.orkspace.io/lease-group"
ROLE_LABEL = "orkestra.orkspace.io/lease-role"
MEMBER_ROLE = "member"
BOX_ROLE = "box"


def _dns_name(text: str, limit: int = 253) -> str:
    cleaned = re.sub(r"[^a-z0-9.-]+", "-", text.lower())
    return cleaned[:limit].strip("-.") or "orkestra"


def box_lease_name(group: str, box: str) -> str:
    return _dns_name(f"{group}-box-{box}")


def member_lease_name(group: str, identity: str) -> str:
    # Identities hold characters a name may not ('_', ':'): a short digest keeps them apart.
    digest = hashlib.sha256(identity.encode()).hexdigest()[:8]
    return _dns_name(f"{group}-member-{identity}"[:200] + f"-{digest}")


def shard_units(katalogs: KatalogSet, boxes: Iterable[str]) -> list[tuple[str, ...]]:
    """Boxes grouped so that ``dependsOn`` partners share a unit (connected components)."""
    names = list(boxes)
    parent = {name: name for name in names}

    def root(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    for name in names:
        for dependency in katalogs.crds[name].depends_on:
            if dependency.crd in parent:
                parent[root(dependency.crd)] = root(name)
    units: dict[str, list[str]] = {}
    for name in names:
        units.setdefault(root(name), []).append(name)
    return sorted((tuple(sorted(unit)) for unit in units.values()), key=lambda u: u[0])


def _score(unit: Sequence[str], member: str) -> str:
    return hashlib.sha256(("\0".join(unit) + "\0\0" + member).encode()).hexdigest()


def assign(units: Sequence[Sequence[str]], members: Iterable[str]) -> dict[str, str]:
    """Box name -> the member that should run it; empty when there is no member."""
    live = sorted(set(members))
    if not live:
        return {}
    load = dict.fromkeys(live, 0)
    out: dict[str, str] = {}
    for unit in sorted(units, key=lambda u: (-len(u), u[0] if u else "")):
        chosen = min(live, key=lambda m: (load[m], _score(unit, m)))
        load[chosen] += len(unit)
        for box in unit:
            out[box] = chosen
    return out


def live_members(
    leases: Iterable[Mapping[str, object]],
    *,
    expired: Callable[[Mapping[str, object]], bool],
    me: str,
) -> list[str]:
    """Holders of membership Leases that have not ``expired``, and always ``me``."""
    found = {me}
    for lease in leases:
        metadata = lease.get("metadata")
        labels = (metadata.get("labels") if isinstance(metadata, Mapping) else None) or {}
        if not isinstance(labels, Mapping) or labels.get(ROLE_LABEL) != MEMBER_ROLE:
            continue
        spec = lease.get("spec")
        holder = spec.get("holderIdentity") if isinstance(spec, Mapping) else None
        if holder and not expired(lease):
            found.add(str(holder))
    return sorted(found)
