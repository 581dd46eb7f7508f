"""Per-box budgets: a token bucket, for the retries and the Events of one box.

A failing box must stay cheap for everyone else: its retries and its Events
each draw on a bucket of their own box (never a global one, which would let
one box's failures spend another box's budget). Pure: the caller passes the
time in.
"""

from __future__ import annotations

import attrs

#: Retries of one box: client-go's default controller bucket (10 per second, bursts of 100).
RETRY_RATE = 10.0
RETRY_BURST = 100
#: Warning Events of one box: enough for every CR's first failure of a burst, then a trickle.
EVENT_RATE = 5.0
EVENT_BURST = 50


@attrs.define
class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up; starts full."""

    rate: float
    burst: int
    _tokens: float = attrs.field(init=False)
    _at: float | None = attrs.field(init=False, default=None)

    def __attrs_post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError(f"need rate > 0 and burst >= 1, got {self.rate}, {self.burst}")
        self._tokens = float(self.burst)

    def _refill(self, now: float) -> None:
        if self._at is not None and now > self._at:
            self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.rate)
        if self._at is None or now > self._at:
            self._at = now

    def try_take(self, now: float) -> bool:
        """Take a token if one is there now (an Event is posted or dropped, never delayed)."""
        self._refill(now)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def reserve(self, now: float) -> float:
        """Take a token, borrowing from the future if need be: how long to wait for it (0 = now).

        Each reservation past the burst waits one more ``1 / rate``: a retry storm
        is spread out instead of dropped.
        """
        self._refill(now)
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    @property
    def tokens(self) -> float:
        return self._tokens
