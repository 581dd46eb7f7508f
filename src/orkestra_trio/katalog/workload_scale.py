"""A workload entry's own ``autoscale``: its replicas, decided at each reconcile.

Orkestra evaluates ``autoscale{min, max, cooldown, scaleUp, scaleDown}`` on a
deployment entry during the reconcile and stops correcting replica drift while
it is active. Here the decision is a pure function of the CR's context and the
child as the box's informer holds it (no request):

* the starting point is the child's current ``spec.replicas`` (the entry's own
  ``replicas`` when the child does not exist yet, else ``min``);
* when scaleUp's conditions hold, add ``increment`` (or go to ``target``);
  otherwise, when scaleDown's hold, remove ``decrement`` (or go to ``target``);
* the result stays within [min, max];
* within ``cooldown`` of the last change (the child's
  ``orkestra.orkspace.io/scaled-at`` annotation) the replicas stay as they are.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from orkestra_trio.katalog.conditions import conditions_hold
from orkestra_trio.katalog.model import ScaleStep, WorkloadAutoscale
from orkestra_trio.katalog.template import number_from_text

SCALED_AT_ANNOTATION = "orkestra.orkspace.io/scaled-at"


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    number = number_from_text(str(value)) if value is not None else None
    return int(number) if number is not None else None


def _holds(step: ScaleStep | None, context: Mapping[str, Any]) -> bool:
    return step is not None and conditions_hold(step.when, step.or_, context)


def scaled_replicas(
    autoscale: WorkloadAutoscale,
    *,
    declared: Any,
    current: Mapping[str, Any] | None,
    context: Mapping[str, Any],
    now: datetime.datetime,
) -> tuple[int, bool]:
    """(replicas, changed): what the child's ``spec.replicas`` should be now."""
    existing = _int(((current or {}).get("spec") or {}).get("replicas")) if current else None
    start = existing if existing is not None else _int(declared)
    if start is None:
        start = autoscale.minimum
    wanted = start
    if not _cooling_down(autoscale, current, now):
        if _holds(autoscale.up, context):
            assert autoscale.up is not None
            step = autoscale.up
            wanted = step.target if step.target is not None else start + step.step
        elif _holds(autoscale.down, context):
            assert autoscale.down is not None
            step = autoscale.down
            wanted = step.target if step.target is not None else start - step.step
    wanted = max(autoscale.minimum, min(autoscale.maximum, wanted))
    return wanted, existing is not None and wanted != existing


def _cooling_down(
    autoscale: WorkloadAutoscale, current: Mapping[str, Any] | None, now: datetime.datetime
) -> bool:
    if not autoscale.cooldown or not current:
        return False
    notes = (current.get("metadata") or {}).get("annotations") or {}
    stamp = str(notes.get(SCALED_AT_ANNOTATION) or "")
    try:
        last = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return False
    return (now - last).total_seconds() < autoscale.cooldown
