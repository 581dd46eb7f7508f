"""Work that runs a moment after a change, once per object however often it changes.

The simulated controllers (workload status, replication) react to a commit
after ``delay`` seconds, as a real controller's informer and queue would: a
burst of changes to one object is handled once, and watchers see the user's
write before the controller's answer to it.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

import trio

Key = TypeVar("Key", bound=Hashable)


class DelayedWork(Generic[Key]):
    """Keys due at a time on the Trio clock, and a way to sleep until the next one."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.due: dict[Key, float] = {}
        self._wake = trio.Event()

    def schedule(self, key: Key, delay: float | None = None) -> None:
        """Due ``delay`` (default: the queue's) from now; an earlier due time holds."""
        when = trio.current_time() + (self.delay if delay is None else delay)
        if when < self.due.get(key, float("inf")):
            self.due[key] = when
            self._wake.set()

    def cancel(self, key: Key) -> None:
        self.due.pop(key, None)

    def take_due(self) -> list[Key]:
        """The keys whose time has come, removed from the queue."""
        now = trio.current_time()
        ready = [key for key, when in self.due.items() if when <= now]
        for key in ready:
            del self.due[key]
        return ready

    async def wait(self) -> None:
        """Sleep until the next key is due or a new one is scheduled."""
        if self.due:
            with trio.move_on_at(min(self.due.values())):
                await self._wake.wait()
        else:
            await self._wake.wait()
        self._wake = trio.Event()
