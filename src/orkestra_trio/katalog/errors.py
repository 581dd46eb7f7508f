"""Load errors of a Katalog: every problem found, each pinned to file:line:col.

A user fixing a Katalog wants the whole list at once, not one error per run, so
the loader collects :class:`KatalogIssue` values and raises a single
:class:`KatalogError` carrying all of them at the end.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

import attrs


@attrs.frozen(order=True)
class KatalogIssue:
    """One problem in a Katalog file.

    ``line`` and ``column`` are 1-based. A problem with a file as a whole
    (missing, a directory, unreadable) is placed at 1:1, so that every issue
    about a file prints as ``file:line:col:``, the one format the CLI uses;
    0 is left for the rare issue tied to no file ("no Katalog file given").
    ``path`` is the key path inside the document
    (``spec.crds.web.operatorBox.reconciler.workers``), "" for the document itself.
    """

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        # Only an issue tied to no file at all lacks a position.
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        if self.path:
            return f"{where}: {self.path}: {self.message}"
        return f"{where}: {self.message}"


class KatalogError(Exception):
    """A Katalog (or a set of them) failed to load; ``issues`` lists every problem."""

    def __init__(self, issues: Iterable[KatalogIssue]) -> None:
        self.issues: tuple[KatalogIssue, ...] = tuple(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))

    def __str__(self) -> str:
        return "\n".join(str(issue) for issue in self.issues)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'workers'?)`` naming the choice nearest to ``word``, or ""."""
    options = sorted(choices)
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if not close:
        # Case slips ("CrdFile") are common and difflib scores them low.
        close = [option for option in options if option.lower() == word.lower()]
    return f" (did you mean {close[0]!r}?)" if close else ""
