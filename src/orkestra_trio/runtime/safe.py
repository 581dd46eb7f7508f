"""The panic domain of one reconcile: a cancel scope with a deadline, and failure capture.

The seed promises that "a panic in one operatorBox is recorded as a reconcile
failure and triggers a requeue". In Trio terms: every reconcile runs in its
own cancel scope with the box's timeout, and whatever it raises (an
``Exception``, an ``ExceptionGroup`` from nurseries inside it, or the deadline
firing) comes back as a :class:`ReconcileResult` describing a failure. It
never propagates into the worker, the box nursery or a sibling box.

Two things must still propagate, or shutdown would break: ``trio.Cancelled``
coming from an *outer* scope (the box or the runtime is stopping) and
non-``Exception`` base exceptions such as ``KeyboardInterrupt``.
"""

from __future__ import annotations

import enum
import logging
import math
import traceback
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

import attrs
import trio

from .informer import format_key

K = TypeVar("K", bound=Hashable)

logger = logging.getLogger(__name__)


@attrs.frozen
class Outcome:
    """What a successful reconcile may ask for.

    ``requeue_after``: reconcile this key again after so many seconds (the
    Katalog's ``requeue.after``). ``gated``: the box-level ``when`` held the
    work back (health shows ``gated``).
    """

    requeue_after: float | None = None
    gated: bool = False


#: A reconcile that returns nothing asked for nothing.
DONE = Outcome()

ReconcileFn = Callable[[K], Awaitable[Outcome | None]]


class FailureKind(enum.Enum):
    EXCEPTION = "exception"
    TIMEOUT = "timeout"


@attrs.frozen
class Failure:
    """Why a reconcile failed: ``error`` is a short text for health, events and logs."""

    kind: FailureKind
    error: str
    #: The formatted traceback, for debug logs: empty for a timeout, and unless asked
    #: for (formatting one costs more than many a failed reconcile itself).
    traceback: str = ""


@attrs.frozen
class ReconcileResult(Generic[K]):
    key: K
    duration: float
    outcome: Outcome = DONE
    failure: Failure | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


def describe_exception(exc: BaseException) -> str:
    """A short text naming every leaf exception: ``ValueError: boom`` or ``ExceptionGroup: a; b``."""
    if isinstance(exc, BaseExceptionGroup):
        leaves = [describe_exception(sub) for sub in exc.exceptions]
        return f"{type(exc).__name__}: " + "; ".join(leaves)
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def safe_reconcile(
    reconcile_fn: ReconcileFn[K],
    key: K,
    *,
    # A caller's cancel scope cannot do this job: the timeout must become a recorded failure.
    timeout: float | None,  # noqa: ASYNC109
    clock: Callable[[], float] = trio.current_time,
    with_traceback: bool = False,
) -> ReconcileResult[K]:
    """Run ``reconcile_fn(key)`` within ``timeout`` seconds; report a failure instead of raising.

    ``timeout`` None or infinite means no deadline. The deadline is on Trio's
    clock (virtual in tests); ``clock`` only measures the duration reported.
    ``with_traceback``: format the failure's traceback (the worker pool asks
    for it only when debug logging is on).
    """
    start = clock()
    deadline = math.inf if timeout is None else trio.current_time() + timeout
    outcome: Outcome | None = None
    try:
        with trio.CancelScope(deadline=deadline) as scope:
            outcome = await reconcile_fn(key)
    except Exception as exc:  # ExceptionGroup included: it subclasses Exception
        # If our own deadline fired while the reconcile was busy failing, the
        # exception is what the user sees: report it rather than the timeout.
        return ReconcileResult(
            key=key,
            duration=clock() - start,
            failure=Failure(
                FailureKind.EXCEPTION,
                describe_exception(exc),
                "".join(traceback.format_exception(exc)) if with_traceback else "",
            ),
        )
    except BaseExceptionGroup as group:
        # A group mixing ordinary failures with base exceptions (typically an
        # outer Cancelled reaching a nursery inside the reconcile): the base
        # exceptions must propagate; the ordinary ones can only be logged.
        # (The predicate also sees the groups themselves: let it recurse into them.)
        base_part, ordinary = group.split(
            lambda e: not isinstance(e, Exception | BaseExceptionGroup)
        )
        if ordinary is not None:
            logger.warning(
                "reconcile of %s failed while being cancelled: %s",
                format_key(key),
                describe_exception(ordinary),
            )
        if base_part is None:  # pragma: no cover - Python makes such a group an ExceptionGroup
            raise
        raise base_part from None
    if scope.cancelled_caught:
        # Our deadline fired. If an outer scope was cancelled at the same time,
        # the inner scope swallowed that Cancelled: let it surface now.
        await trio.lowlevel.checkpoint_if_cancelled()
        return ReconcileResult(
            key=key,
            duration=clock() - start,
            failure=Failure(FailureKind.TIMEOUT, f"reconcile timed out after {timeout:g}s"),
        )
    return ReconcileResult(key=key, duration=clock() - start, outcome=outcome or DONE)
