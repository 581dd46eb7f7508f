"""Orkestra's queue ``behaviour``: two-tier load shedding, decided before a key is queued.

``queue: {maxDepth: 1000, behaviour: {onThreshold: {value: 80, drop: true, when: [...]},
onLimit: {drop: true}}}``:

* from ``onThreshold.value`` percent of ``maxDepth`` on, a new key whose CR meets the
  tier's ``when``/``or`` is dropped (e.g. the low-priority ones);
* at ``maxDepth``, ``onLimit`` decides: a CR meeting its conditions is dropped, one that
  does not is queued beyond the limit (the point of a conditional drop); without
  ``onLimit`` the queue refuses every new key at its limit, as it always did.

A CR being deleted is never shed: its finalizer must come off. A key already in the
queue is never "new". Pure: the box calls :func:`admit` with the depth and the CR.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orkestra_trio.katalog.conditions import conditions_hold
from orkestra_trio.katalog.model import QueueSettings, ShedRule
from orkestra_trio.katalog.render import build_context

#: What :func:`admit` decides.
QUEUE = "queue"  # the usual add (refused at the limit when no onLimit applies)
DROP = "drop"  # shed: not queued, counted as dropped
BEYOND = "beyond"  # queued although the queue is at its limit


def admit(settings: QueueSettings, cr: Mapping[str, Any] | None, *, depth: int, limit: int) -> str:
    """Whether a new key enters the queue now (:data:`QUEUE`, :data:`DROP`, :data:`BEYOND`).

    ``limit``: the queue's max depth in force (autoscale may have moved it).
    """
    if not limit or cr is None or (cr.get("metadata") or {}).get("deletionTimestamp"):
        return QUEUE
    if depth >= limit and settings.on_limit is not None:
        return DROP if _meets(settings.on_limit, cr) else BEYOND
    threshold = settings.on_threshold
    if threshold is not None and depth >= limit * threshold.percent / 100.0:
        return DROP if _meets(threshold, cr) else QUEUE
    return QUEUE


def _meets(rule: ShedRule, cr: Mapping[str, Any]) -> bool:
    if not rule.drop:
        return False
    return conditions_hold(rule.when, rule.or_, build_context(cr))
