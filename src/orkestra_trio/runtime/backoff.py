"""Backoff policies of the runtime: per-key retry delays and the supervisor's restart delays.

Two different needs, kept apart on purpose:

* A key whose reconcile fails is retried after an exponentially growing delay
  (5 ms doubling up to 1000 s) that resets when the key finally succeeds.
  The delay is deterministic so that tests and users can predict it, and it
  is tracked per key: one noisy key must not slow down the others, and no
  global rate limit lets one box's retries eat another box's budget.
* A box whose own machinery crashes is restarted after a jittered exponential
  delay. Jitter matters there: boxes that crash together (say, a shared API
  server restarted) should not all come back in the same instant.

Everything here is pure (no I/O, no clock); callers pass time and randomness in.
"""

from __future__ import annotations

import random
from collections.abc import Hashable
from typing import Generic, TypeVar

import attrs

K = TypeVar("K", bound=Hashable)

#: First retry delay of a failing key, in seconds.
DEFAULT_BASE_DELAY = 0.005
#: Longest retry delay of a failing key, in seconds.
DEFAULT_MAX_DELAY = 1000.0


def exponential_delay(failures: int, *, base: float, cap: float) -> float:
    """The delay before retry number ``failures`` (0 for the first retry): base * 2**failures, capped.

    Computed without overflowing for very large failure counts.
    """
    if failures < 0:
        raise ValueError(f"failures must be >= 0, got {failures}")
    # 2**1100 overflows a float; anything past ~1075 doublings is far beyond any cap.
    if failures > 1000:
        return cap
    return min(cap, base * (2.0**failures))


@attrs.define
class PerKeyBackoff(Generic[K]):
    """Exponential backoff tracked per key: each call to :meth:`next_delay` doubles that key's delay.

    :meth:`forget` resets a key (after a success), so a key that recovers
    starts again at ``base``. Only keys that have failed take memory.
    """

    base: float = DEFAULT_BASE_DELAY
    cap: float = DEFAULT_MAX_DELAY
    _failures: dict[K, int] = attrs.field(factory=dict, init=False)

    def __attrs_post_init__(self) -> None:
        if self.base <= 0 or self.cap < self.base:
            raise ValueError(f"need 0 < base <= cap, got base={self.base} cap={self.cap}")

    def next_delay(self, key: K) -> float:
        """Record one more failure of ``key`` and return how long to wait before retrying it."""
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        return exponential_delay(failures, base=self.base, cap=self.cap)

    def failures(self, key: K) -> int:
        """How many times ``key`` failed since it last succeeded (was forgotten)."""
        return self._failures.get(key, 0)

    def forget(self, key: K) -> None:
        """Reset ``key``: its next failure waits ``base`` again."""
        self._failures.pop(key, None)

    def __len__(self) -> int:
        return len(self._failures)


@attrs.frozen
class JitteredBackoff:
    """Restart delays for a supervisor: exponential growth with a random factor in ``[1 - jitter, 1]``.

    The jitter only shortens the delay, so ``cap`` stays a true upper bound.
    """

    base: float = 0.1
    cap: float = 30.0
    jitter: float = 0.5

    def __attrs_post_init__(self) -> None:
        if self.base <= 0 or self.cap < self.base:
            raise ValueError(f"need 0 < base <= cap, got base={self.base} cap={self.cap}")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"jitter must be within [0, 1], got {self.jitter}")

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """The delay before restart number ``attempt`` (0 for the first restart)."""
        ceiling = exponential_delay(attempt, base=self.base, cap=self.cap)
        draw = rng.random() if rng is not None else random.random()  # in [0, 1)
        return ceiling * (1.0 - self.jitter * draw)
