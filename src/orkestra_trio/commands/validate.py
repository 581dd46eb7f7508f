"""``validate``: check Katalog files offline, the way the runtime would load them.

Users run this in CI and before a deploy, so it prints every problem at once
as ``file:line:col: path: message`` and never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orkestra_trio.katalog import Katalog, KatalogIssue

HELP = "Check Katalog files (all at once, as one set) and summarise each one."


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "katalogs",
        nargs="+",
        metavar="KATALOG.yaml",
        help="Katalog files; several are loaded together (CRD keys unique across them)",
    )


def run(args: argparse.Namespace) -> int:
    from orkestra_trio.katalog import KatalogError, load_katalogs

    try:
        katalogs = load_katalogs(args.katalogs)
    except KatalogError as exc:
        print_issues(exc.issues)
        return 1
    for katalog in katalogs.katalogs:
        print(summary(katalog))
    for warning in katalogs.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def print_issues(issues: Sequence[KatalogIssue]) -> None:
    """Every issue as ``file:line:col: path: message`` on stderr, then the count."""
    for issue in issues:
        print(issue, file=sys.stderr)
    count = len(issues)
    print(f"{count} error{'s' if count != 1 else ''} found", file=sys.stderr)


def summary(katalog: Katalog) -> str:
    """One line: the Katalog's name, its CRDs, boxes and cross edges (autoscale sources included)."""
    from orkestra_trio.katalog.edges import katalog_edges

    crds = list(katalog.crds)
    edges = katalog_edges(katalog.crds.values())
    remote = sum(1 for edge in edges if edge.remote)
    autoscale = sum(1 for edge in edges if edge.via == "autoscale")
    detail = f"{len(edges) - remote} in-process, {remote} remote"
    if autoscale:
        detail += f"; {autoscale} for autoscale"
    parts = [
        f"{_count(len(crds), 'CRD')} ({', '.join(crds)})",
        _count(len(katalog.boxes), "box", "boxes"),
        _count(len(edges), "cross edge") + (f" ({detail})" if edges else ""),
    ]
    return f"{katalog.source_file}: Katalog {katalog.name!r}: " + ", ".join(parts)


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else plural or singular + 's'}"
