"""The supervisor of one box: restart the box's nursery when the box itself breaks.

Reconcile failures never get here (``safe_reconcile`` turns them into
results). What reaches the supervisor is an exception escaping the box's own
machinery: a bug in a worker, a crash of the queue's timer task, a failure
while the box starts. The supervisor records it, waits a jittered
exponential delay and runs the box again. It catches ``Exception`` only, so
nothing of one box ever reaches the runtime nursery and its sibling boxes.

A crash of a kind the box expects (``expected``: its CRD not served yet,
the cluster unreachable) is a situation, not a bug: it is logged as one
line (cause and next restart), without a traceback, so that waiting for a
cluster or a CRD does not fill the terminal with stack dumps.

Cancellation (``trio.Cancelled``) and other base exceptions pass through: the
runtime stopping must stop the box, not restart it. A box function that
returns normally (its queue was shut down) ends the supervisor too.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable

import trio

from .backoff import JitteredBackoff
from .health import BoxHealth
from .metrics import BoxMetrics
from .safe import describe_exception

logger = logging.getLogger(__name__)


class Supervisor:
    """Runs ``run_box()`` until it returns or the supervisor is cancelled, restarting it after crashes.

    ``stable_after``: a box that ran at least this long before crashing is
    considered to have recovered, and its restart delay starts over from the base.
    """

    def __init__(
        self,
        name: str,
        run_box: Callable[[], Awaitable[None]],
        *,
        backoff: JitteredBackoff | None = None,
        stable_after: float = 60.0,
        health: BoxHealth | None = None,
        metrics: BoxMetrics | None = None,
        rng: random.Random | None = None,
        expected: tuple[type[Exception], ...] = (),
    ) -> None:
        self.name = name
        self.expected = expected
        self._run_box = run_box
        self.backoff = backoff if backoff is not None else JitteredBackoff()
        self.stable_after = stable_after
        self.health = health
        self.metrics = metrics
        self._rng = rng
        self.restarts = 0
        self.last_crash: str | None = None
        self.running = False

    async def run(self) -> None:
        attempt = 0
        while True:
            started_at = trio.current_time()
            self.running = True
            try:
                await self._run_box()
            except Exception as exc:  # an ExceptionGroup from the box nursery included
                known = self._expected_leaf(exc)
                crash = str(known) if known is not None else describe_exception(exc)
                if known is None:
                    logger.error(
                        "box %s crashed: %s",
                        self.name,
                        crash,
                        exc_info=exc,
                        extra={"box": self.name, "event": "crash"},
                    )
                else:  # the traceback is still there for whoever asks (--log-level debug)
                    logger.debug("box %s: %s", self.name, crash, exc_info=exc)
            else:
                logger.info("box %s stopped", self.name, extra={"box": self.name, "event": "stop"})
                return
            finally:
                self.running = False
            if trio.current_time() - started_at >= self.stable_after:
                attempt = 0
            delay = self.backoff.delay(attempt, self._rng)
            attempt += 1
            self.restarts += 1
            self.last_crash = crash
            if self.metrics is not None:
                self.metrics.restarts_total += 1
            if self.health is not None:
                self.health.record_crash(
                    f"box cannot run: {crash}" if known is not None else f"box crashed: {crash}"
                )
            if known is not None:
                logger.warning(
                    "box %s cannot run: %s; retry %d in %.3gs",
                    self.name,
                    crash,
                    self.restarts,
                    delay,
                    extra={"box": self.name, "event": "restart"},
                )
            else:
                logger.warning(
                    "box %s: restart %d in %.3gs",
                    self.name,
                    self.restarts,
                    delay,
                    extra={"box": self.name, "event": "restart"},
                )
            await trio.sleep(delay)

    def _expected_leaf(self, exc: BaseException) -> BaseException | None:
        """The one expected exception ``exc`` stands for (unwrapping lone groups), else None."""
        while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
            exc = exc.exceptions[0]
        return exc if self.expected and isinstance(exc, self.expected) else None
