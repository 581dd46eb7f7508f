"""When and how long to wait before repeating a failed API request.

A request is retried only when repeating it cannot do harm and may help:

- 429 Too Many Requests: the server refused the request before acting on it,
  so any verb may be repeated; its Retry-After is honoured.
- 5xx and a connection lost mid-request: only for idempotent requests (reads,
  replace, apply, merge patch), because a create or a JSON patch may already
  have taken effect.
- a connection that could not be opened (or no pooled connection became free):
  the request never left this process, so any verb may be repeated.

Waits grow exponentially with random jitter (so a hundred informers that lost
the same server do not come back in lockstep), and both the number of
attempts and the total time are bounded: a caller always gets an answer, a
typed error at worst, within ``max_elapsed`` plus one request.
"""

from __future__ import annotations

import random

import attrs


@attrs.frozen
class RetryPolicy:
    """Bounds and shape of the backoff between attempts of one request.

    ``max_attempts`` counts the first try; ``max_elapsed`` (seconds) bounds
    the time spent waiting between attempts, so a Retry-After longer than what
    is left surfaces as the error at once instead of a sleep that would
    overrun. Delay of retry n (1-based) is ``min(cap, base * 2**(n-1))``
    scaled by a random factor in ``[1 - jitter, 1]``.
    """

    max_attempts: int = 5
    max_elapsed: float = 30.0
    base: float = 0.1
    cap: float = 5.0
    jitter: float = 0.5

    def backoff(self, retry_number: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry ``retry_number`` (1 for the first retry)."""
        exp = max(0, retry_number - 1)
        raw = self.cap if exp >= 63 else min(self.cap, self.base * (2**exp))
        factor = 1.0 - self.jitter * (rng or _RNG).random()
        return raw * factor

    def next_delay(
        self,
        retry_number: int,
        elapsed: float,
        retry_after: float | None = None,
        rng: random.Random | None = None,
    ) -> float | None:
        """Delay before the next attempt, or None when the budget is spent.

        ``elapsed`` is the time already spent on this request. A server's
        Retry-After replaces the computed backoff (it knows its own load).
        """
        if retry_number >= self.max_attempts:
            return None
        delay = retry_after if retry_after is not None else self.backoff(retry_number, rng)
        if elapsed + delay > self.max_elapsed:
            return None
        return delay


DEFAULT_RETRY = RetryPolicy()
NO_RETRY = RetryPolicy(max_attempts=1)

_RNG = random.Random()


@attrs.define
class Backoff:
    """An open-ended backoff for loops that never give up (watch reconnects).

    ``next()`` returns growing jittered delays; ``reset()`` after progress.
    """

    base: float = 0.2
    cap: float = 30.0
    jitter: float = 0.5
    failures: int = 0

    def next(self) -> float:
        self.failures += 1
        policy = RetryPolicy(base=self.base, cap=self.cap, jitter=self.jitter)
        return policy.backoff(self.failures)

    def reset(self) -> None:
        self.failures = 0
