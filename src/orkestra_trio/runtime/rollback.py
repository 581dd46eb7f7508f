"""What a box that rolls back remembers of its CRs between reconciles (katalog/rollback.py decides).

Only a box with ``rollBackOnError``/``rollback`` has one: the others keep nothing.
The failure times are kept in memory, as Orkestra keeps them: a restart starts
counting afresh, while the CRs' annotations (known-good spec, rolled-back
generation) carry what must survive it.
"""

from __future__ import annotations

from collections.abc import Callable

from orkestra_trio.katalog.model import Rollback

from .informer import ObjectKey


class RollbackTracker:
    """Per-CR failure times, the CRs rolled back now, and whose known-good spec is recorded."""

    def __init__(self, rollback: Rollback) -> None:
        self.rollback = rollback
        #: Told (rolled back now, put in rollback in total) on every change (the box's health).
        self.on_change: Callable[[int, int], None] | None = None
        self._failures: dict[ObjectKey, list[float]] = {}
        self._active: set[ObjectKey] = set()
        self.total = 0
        #: (uid, generation) per CR whose spec the annotation is known to hold: checked once.
        self._recorded: dict[ObjectKey, tuple[str, int]] = {}

    def failed(self, key: ObjectKey, now: float) -> list[float]:
        """One more failure of ``key`` at ``now``: its consecutive failure times, oldest first."""
        times = self._failures.setdefault(key, [])
        times.append(now)
        del times[: -self.rollback.failures]  # only the last N matter to the trigger
        return times

    def succeeded(self, key: ObjectKey) -> None:
        """An ordinary reconcile of ``key`` succeeded: its streak ends, and any rollback."""
        self._failures.pop(key, None)
        self._set_active(key, False)

    def rolled_back(self, key: ObjectKey, *, triggered: bool = False) -> None:
        """``key`` is rolled back (``triggered``: just now, by this runtime)."""
        if triggered:
            self.total += 1
            self._failures.pop(key, None)
        self._set_active(key, True, changed=triggered)

    def is_recorded(self, key: ObjectKey, stamp: tuple[str, int]) -> bool:
        return self._recorded.get(key) == stamp

    def recorded(self, key: ObjectKey, stamp: tuple[str, int]) -> None:
        self._recorded[key] = stamp

    def forget(self, key: ObjectKey) -> None:
        """``key`` is gone."""
        self._failures.pop(key, None)
        self._recorded.pop(key, None)
        self._set_active(key, False)

    def _set_active(self, key: ObjectKey, active: bool, *, changed: bool = False) -> None:
        if active and key not in self._active:
            self._active.add(key)
            changed = True
        elif not active and key in self._active:
            self._active.discard(key)
            changed = True
        if changed and self.on_change is not None:
            self.on_change(len(self._active), self.total)
