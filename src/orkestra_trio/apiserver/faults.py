"""Fault injection: make the embedded server misbehave on purpose, for client tests.

A client's retry, resume and watchdog logic is only trustworthy if it has been
seen working against a server that fails: 500s, 429 with Retry-After, 409s,
latency, cut and stalled watch streams, compacted history. This is a Python
API on the server object (``server.faults``), never reachable over HTTP, so a
test drives it directly and production use cannot trip it.

Some requests must stay out of the faults' reach: a test that makes the
operator's requests fail must still be able to act on the cluster itself
(apply the CR whose resource answers 500). ``exempt(predicate)`` is that
seam: a request for which the predicate is true is counted (in ``requests``
and ``exempt_requests``) but never failed or delayed. The predicate takes no
arguments and is asked inside the task that handles the request, so a
context variable set by an ASGI wrapper in front of the app (see
``orkestra_trio.testing.cluster``) tells one client's requests apart from
another's without the app knowing about clients. Stalled watch streams are
not request-level faults and stay stalled for everyone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import attrs
import trio

from orkestra_trio.apiserver.status import ApiError
from orkestra_trio.apiserver.watch import WatchHub


@attrs.define
class _Failure:
    remaining: int
    verb: str | None
    resource: str | None
    status: int
    retry_after: int | None
    message: str


@attrs.define
class _Latency:
    seconds: float
    verb: str | None
    resource: str | None


def _matches(rule_verb: str | None, rule_resource: str | None, verb: str, resource: str) -> bool:
    return (rule_verb is None or rule_verb == verb) and (
        rule_resource is None or rule_resource == resource
    )


class FaultInjector:
    """The fault-injection API (``server.faults``); also counts requests."""

    def __init__(self, hub: WatchHub, compact: Callable[[], None]) -> None:
        self._hub = hub
        self._compact = compact
        self._failures: list[_Failure] = []
        self._latencies: list[_Latency] = []
        self._stalled = False
        self._unstalled = trio.Event()
        self._unstalled.set()
        self._exempt: Callable[[], bool] | None = None
        #: Requests seen, by (verb, resource plural): tests assert "zero writes" with it.
        self.requests: Counter[tuple[str, str]] = Counter()
        #: The part of ``requests`` that the ``exempt`` predicate spared.
        self.exempt_requests: Counter[tuple[str, str]] = Counter()

    # -------------------------------------------------------------- the API

    def fail_next(
        self,
        n: int,
        *,
        verb: str | None = None,
        resource: str | None = None,
        status: int = 500,
        retry_after: int | None = None,
        message: str | None = None,
    ) -> None:
        """Answer the next ``n`` matching requests with ``status`` (a Status body)."""
        self._failures.append(
            _Failure(
                n, verb, resource, status, retry_after, message or f"injected failure ({status})"
            )
        )

    def add_latency(
        self, seconds: float, *, verb: str | None = None, resource: str | None = None
    ) -> None:
        """Delay every matching request by ``seconds`` before it is handled."""
        self._latencies.append(_Latency(seconds, verb, resource))

    def exempt(self, predicate: Callable[[], bool] | None) -> None:
        """Spare every request for which ``predicate()`` is true from failures and latency.

        The predicate is called with no arguments in the task that handles
        the request (so it can read a context variable set for that request);
        spared requests are still counted, also in ``exempt_requests``.
        ``None`` removes the exemption. ``clear()`` leaves it in place: it
        says who is never faulted, not which fault is injected.
        """
        self._exempt = predicate

    def cut_watches(self) -> int:
        """End every open watch stream now (clients must resume); returns how many."""
        return self._hub.end_all("cut")

    def stall_watches(self, on: bool) -> None:
        """Keep watch streams open but send nothing (no events, no bookmarks) while on."""
        if on and not self._stalled:
            self._stalled = True
            self._unstalled = trio.Event()
        elif not on and self._stalled:
            self._stalled = False
            self._unstalled.set()

    def compact_history(self) -> None:
        """Forget the change history: resuming from an older revision gets 410 Expired."""
        self._compact()

    def clear(self) -> None:
        """Remove every injected fault (counters stay)."""
        self._failures.clear()
        self._latencies.clear()
        self.stall_watches(False)

    # -------------------------------------------------------------- used by the app

    @property
    def stalled(self) -> bool:
        return self._stalled

    async def wait_unstalled(self) -> None:
        await self._unstalled.wait()

    def request_count(self, verb: str | None = None, resource: str | None = None) -> int:
        return sum(
            count for (v, r), count in self.requests.items() if _matches(verb, resource, v, r)
        )

    async def before(self, verb: str, resource: str) -> None:
        """Count the request, apply latency, raise an injected failure if one matches."""
        self.requests[(verb, resource)] += 1
        if self._exempt is not None and self._exempt():
            self.exempt_requests[(verb, resource)] += 1
            return
        if self._latencies:
            delay = sum(
                rule.seconds
                for rule in self._latencies
                if _matches(rule.verb, rule.resource, verb, resource)
            )
            if delay > 0:
                await trio.sleep(delay)
        if not self._failures:
            return
        for rule in self._failures:
            if rule.remaining > 0 and _matches(rule.verb, rule.resource, verb, resource):
                rule.remaining -= 1
                if rule.remaining == 0:
                    self._failures.remove(rule)
                headers = {}
                if rule.retry_after is not None:
                    headers["Retry-After"] = str(rule.retry_after)
                raise ApiError(
                    rule.status,
                    rule.message,
                    retry_after=rule.retry_after,
                    headers=headers,
                )
