"""Several ``status.fields`` entries for one path: which one applies (pure decisions).

Orkestra's idiom writes one status path several times, each with its own
conditions::

    - {path: phase, value: Pending}
    - {path: phase, value: Running, when: [...]}
    - {path: phase, value: Degraded, when: [...]}

The rule (ORKESTRA-LANGUAGE.md, "Later entries for the same path win"): of
the fields of one path, the **last whose conditions hold** is written. While
none holds, the path is removed if any of them says ``clearOnFalse``, else it
keeps its value. The loader rejects a field that can never apply because a
later one of the same path holds whenever it does (:func:`shadows`).
"""

from __future__ import annotations

from collections.abc import Sequence

from orkestra_trio.katalog.model import StatusField


def shadows(later: StatusField, earlier: StatusField) -> bool:
    """Does ``later`` hold whenever ``earlier`` does, so that ``earlier`` never applies?

    True when ``later`` is unconditional, or when its ``when`` is a part of
    ``earlier``'s and its ``or`` is absent or the same list. Both are provable
    from the Katalog alone; anything subtler is left to the author.
    """
    if later.path != earlier.path:
        return False
    if not set(later.when) <= set(earlier.when):
        return False
    return not later.or_ or later.or_ == earlier.or_


def decide(fields: Sequence[StatusField], holds: Sequence[bool]) -> list[str]:
    """What to do with each field, given whether its conditions hold.

    One word per field: ``"write"`` for the last holding field of its path,
    ``"clear"`` for the first ``clearOnFalse`` field of a path where none
    holds, ``""`` for the rest (overridden, or nothing to do).
    """
    winner: dict[str, int] = {}
    for index, field in enumerate(fields):
        if holds[index]:
            winner[field.path] = index
    cleared: set[str] = set()
    actions: list[str] = []
    for index, field in enumerate(fields):
        if winner.get(field.path) == index:
            actions.append("write")
        elif field.path not in winner and field.clear_on_false and field.path not in cleared:
            cleared.add(field.path)
            actions.append("clear")
        else:
            actions.append("")
    return actions
