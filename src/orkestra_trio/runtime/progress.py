"""A periodic one-line summary while work is pending, so that a user sees something happen.

Every ``interval`` seconds, while some box has keys queued, being
reconciled or failing, one INFO line says for every box how many reconciles
succeeded so far, how many keys wait for one and how many keys are failing::

    progress: website 12 reconciled, 3 pending, 1 failing; db 4 reconciled, 0 pending, 0 failing

Once everything is done one last line says so (with zeros), then the log
stays quiet until work arrives again: a settled operator prints nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import attrs
import trio

if TYPE_CHECKING:
    from .box import Box

logger = logging.getLogger(__name__)

#: Seconds between two progress lines (``--progress-interval``).
DEFAULT_PROGRESS_INTERVAL = 10.0


@attrs.frozen
class BoxProgress:
    """One box's figures for the progress line."""

    name: str
    #: Reconciles that succeeded since the box started (requeue-afters included).
    reconciled: int
    #: Keys queued or in a worker's hands.
    pending: int
    #: Keys whose last reconcile failed and that wait for their retry.
    failing: int

    @property
    def busy(self) -> bool:
        return self.pending > 0 or self.failing > 0


def box_progress(box: Box) -> BoxProgress:
    """The figures of one running box (read from its queue and metrics, no I/O)."""
    totals = box.metrics.reconcile_total
    return BoxProgress(
        name=box.name,
        reconciled=totals["success"] + totals["requeue_after"],
        pending=box.queue.pending,
        failing=len(box.queue.backoff),
    )


def progress_line(boxes: Iterable[BoxProgress]) -> str:
    """``progress: <box> N reconciled, N pending, N failing; ...``."""
    parts = [
        f"{b.name} {b.reconciled} reconciled, {b.pending} pending, {b.failing} failing"
        for b in boxes
    ]
    return "progress: " + "; ".join(parts)


def should_report(current: Iterable[BoxProgress], was_busy: bool) -> bool:
    """Report while busy, and once more when work just finished."""
    return was_busy or any(b.busy for b in current)


async def log_progress(
    boxes: Mapping[str, Box], interval: float = DEFAULT_PROGRESS_INTERVAL
) -> None:
    """Log :func:`progress_line` every ``interval`` seconds while work is pending, until cancelled."""
    was_busy = False
    while True:
        await trio.sleep(interval)
        current = [box_progress(box) for box in boxes.values()]
        if should_report(current, was_busy):
            logger.info(progress_line(current), extra={"event": "progress"})
        was_busy = any(b.busy for b in current)
