"""Who read what: the index that turns a change of a read object into the CRs to reconcile.

A reconcile records what it read (cross targets, copied Secrets, enrichment
caches); a change of one of them re-enqueues its readers. Each reconcile
replaces its reader's previous reads, and a gone CR forgets them.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

R = TypeVar("R", bound=Hashable)
T = TypeVar("T", bound=Hashable)


class ReadIndex(Generic[R, T]):
    """Readers (``R``) by the targets (``T``) they last read, and back."""

    def __init__(self) -> None:
        self._readers: dict[T, set[R]] = {}
        self._reads_of: dict[R, frozenset[T]] = {}

    def record(self, reader: R, targets: Iterable[T]) -> None:
        """``reader`` read ``targets`` (replacing what it read before)."""
        targets = frozenset(targets)
        previous = self._reads_of.get(reader, frozenset())
        if previous == targets:
            return
        for target in previous - targets:
            readers = self._readers.get(target)
            if readers is not None:
                readers.discard(reader)
                if not readers:
                    del self._readers[target]
        for target in targets - previous:
            self._readers.setdefault(target, set()).add(reader)
        if targets:
            self._reads_of[reader] = targets
        else:
            self._reads_of.pop(reader, None)

    def add(self, reader: R, target: T) -> None:
        """``reader`` reads ``target`` too (kept until its next :meth:`record`)."""
        previous = self._reads_of.get(reader, frozenset())
        if target not in previous:
            self.record(reader, previous | {target})

    def forget(self, reader: R) -> None:
        """The reader is gone: it reads nothing any more."""
        self.record(reader, ())

    def readers_of(self, target: T) -> frozenset[R]:
        return frozenset(self._readers.get(target, ()))

    def reads_of(self, reader: R) -> frozenset[T]:
        return self._reads_of.get(reader, frozenset())
