"""Autoscale: a box's worker count follows its ``autoscale`` conditions.

The Katalog says (KATALOG.md, the ONCOP seed)::

    autoscale:
      interval: 15s
      cooldown: 2m
      conditions:
        - when:
            - field: metrics.queueDepth          # the box's own metrics
              greaterThan: "50"
          override: {workers: 8}
        - when:
            - field: cross.loader.metrics.queueDepth   # another operator's
              greaterThan: "60"
              source: {host: "http://loader-runtime:8080", cacheFor: 10s}
          override: {workers: 10}

Every ``interval`` the :class:`Autoscaler` evaluates the conditions against a
context holding the box's own ONCOP metrics (``metrics.queueDepth``,
``metrics.workersBusyPercent``, ``metrics.errorRatePercent``...) and, under
``cross.<name>``, what a condition reads of another operator:

* a condition with its own ``source:`` reads that source, through the same
  cached reader as ``cross:`` entries;
* otherwise, when the box has a ``cross:`` entry named ``<name>``: a remote
  entry's source, or for a same-process entry the observed box's metrics
  (an in-memory read, like every same-process cross read).

While a condition holds, its override applies (the first holding one, in
Katalog order, as KATALOG.md says). Once none has held for ``cooldown``
seconds, the baseline (``reconciler.workers``) returns. Going up is
immediate, coming down waits: a backlog that flickers around the threshold
must not make the pool oscillate.

Resizing goes through :meth:`WorkerPool.resize`, which never drops or
duplicates an in-flight key; while ``dependsOn`` has paused the box (zero
workers) the new count is only remembered, and applies on resume.

Which remote object a condition reads: the name after ``cross.`` in its
field. When the box has a ``cross:`` entry of that name, its CRD (and a
literal ``selector``) are used; otherwise the name is the CRD key. Autoscale
is a decision about the whole box, not one CR, so a CR-scoped type (``cr``,
the default, or ``events``) without a literal selector name and namespace
(templates render per CR; the namespace defaults to the CR's) reads the observed CRD's summary (``/katalog/<crd>``, type ``metrics``),
which carries the same ``metrics`` object as a CR answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import trio

from orkestra_trio.katalog.conditions import Condition, ConditionError, conditions_hold
from orkestra_trio.katalog.edges import cross_name
from orkestra_trio.katalog.model import (
    Autoscale,
    AutoscaleCondition,
    AutoscaleOverride,
    CrossEntry,
    CrossSource,
)
from orkestra_trio.katalog.render import cross_answer

from .remote import SourceReader, unavailable_answer

logger = logging.getLogger(__name__)


@attrs.frozen
class RemoteRead:
    """Where a sourced condition reads: ``.cross.<as_>`` from ``crd`` over ``source``."""

    as_: str
    crd: str
    source: CrossSource
    name: str = ""
    namespace: str = ""


@attrs.frozen
class LocalRead:
    """A condition reading ``.cross.<as_>`` of a same-process box: its metrics, in memory."""

    as_: str
    crd: str


def plan_read(
    condition: Condition, entries: tuple[CrossEntry, ...]
) -> RemoteRead | LocalRead | None:
    """What a condition reads of another operator (module docstring), None when nothing."""
    as_ = cross_name(condition.field)
    if as_ is None:
        return None
    source = condition.source if isinstance(condition.source, CrossSource) else None
    crd, name, namespace = as_, "", ""
    for entry in entries:
        if entry.as_ == as_:
            if entry.label_selector is not None:
                return None  # a CR found by labels has no box-wide metrics to scale on
            crd = entry.crd
            if source is None and entry.source is None:
                return LocalRead(as_=as_, crd=crd)
            source = source or entry.source
            selector = entry.selector
            if selector.name is not None and not selector.name.is_template:
                name = selector.name.source
            if selector.namespace is not None and not selector.namespace.is_template:
                namespace = selector.namespace.source
            break
    if source is None:
        return None
    if source.host is not None and source.type in ("cr", "events") and not (name and namespace):
        source = attrs.evolve(source, type="metrics")
    return RemoteRead(as_=as_, crd=crd, source=source, name=name, namespace=namespace)


def _conditions(condition: AutoscaleCondition) -> tuple[Condition, ...]:
    return (*condition.when, *condition.or_)


class Autoscaler:
    """Keeps one box's worker count where its ``autoscale`` conditions say.

    ``metrics()`` returns the box's ONCOP metrics; ``apply(n)`` resizes the box
    (the box decides what a resize means while paused). ``reader`` reads
    remote sources; without one they see a not-found answer with an error.
    ``local_metrics(crd)`` returns a same-process box's ONCOP metrics (None:
    no such box).
    """

    def __init__(
        self,
        spec: Autoscale,
        *,
        baseline: int,
        metrics: Callable[[], Mapping[str, Any]],
        apply: Callable[[int], None],
        settle: Callable[[AutoscaleOverride | None], None] | None = None,
        reader: SourceReader | None = None,
        cross: tuple[CrossEntry, ...] = (),
        local_metrics: Callable[[str], Mapping[str, Any] | None] | None = None,
        name: str = "",
    ) -> None:
        self.spec = spec
        self.baseline = baseline
        self.current = baseline
        self._metrics = metrics
        self._apply = apply
        self._settle = settle
        #: The override in force (None: the box's own settings).
        self.active: AutoscaleOverride | None = None
        self.reader = reader
        self._local_metrics = local_metrics
        self.name = name
        self._reads: dict[int, list[RemoteRead | LocalRead]] = {
            index: [
                read
                for cond in _conditions(condition)
                if (read := plan_read(cond, cross)) is not None
            ]
            for index, condition in enumerate(spec.conditions)
        }
        #: Trio time a condition last held (None: never since start or since the baseline returned).
        self.last_held: float | None = None
        self.evaluations = 0

    async def run(self) -> None:
        """Evaluate every ``interval`` seconds, forever (in the box's nursery)."""
        while True:
            await self.evaluate()
            await trio.sleep(self.spec.interval)

    async def evaluate(self) -> int:
        """One evaluation: resize when due and return the worker count now in force."""
        self.evaluations += 1
        now = trio.current_time()
        wanted: AutoscaleOverride | None = None
        for index, condition in enumerate(self.spec.conditions):
            if await self._holds(index, condition):
                wanted = condition.override
                break
        if wanted is not None:
            self.last_held = now
            self._enter(wanted, "a condition holds")
        elif self.active is not None and (
            self.last_held is None or now - self.last_held >= self.spec.cooldown
        ):
            self.last_held = None
            self._enter(None, f"no condition held for {self.spec.cooldown:g}s")
        return self.current

    def _enter(self, override: AutoscaleOverride | None, why: str) -> None:
        """Put ``override`` in force (None: the baseline): workers, then the rest."""
        workers = override.workers if override is not None else None
        self._set(self.baseline if workers is None else workers, why)
        if override != self.active:
            self.active = override
            if self._settle is not None:
                self._settle(override)

    async def _holds(self, index: int, condition: AutoscaleCondition) -> bool:
        cross: dict[str, Any] = {}
        for read in self._reads[index]:
            if read.as_ not in cross:
                cross[read.as_] = await self._read(read)
        context = {"metrics": dict(self._metrics()), "cross": cross}
        try:
            return conditions_hold(condition.when, condition.or_, context)
        except (ConditionError, ValueError) as exc:
            # Load-time checks catch most of these; a condition that cannot be
            # evaluated never scales (it must not pass by accident).
            logger.warning("box %s: autoscale condition not evaluated: %s", self.name, exc)
            return False

    async def _read(self, read: RemoteRead | LocalRead) -> dict[str, Any]:
        if isinstance(read, LocalRead):
            metrics = self._local_metrics(read.crd) if self._local_metrics else None
            if metrics is None:
                return cross_answer(None)
            return {**cross_answer({"found": "true"}), "metrics": dict(metrics)}
        if self.reader is None:
            return unavailable_answer()
        answer, _ = await self.reader.read_source(
            read.crd, read.source, name=read.name, namespace=read.namespace, context={}
        )
        return cross_answer(answer)

    def _set(self, workers: int, why: str) -> None:
        if workers == self.current:
            return
        logger.info(
            "box %s: autoscale %d -> %d workers (%s)",
            self.name,
            self.current,
            workers,
            why,
            extra={"box": self.name, "event": "autoscale"},
        )
        self.current = workers
        self._apply(workers)
