"""Checks that need every loaded Katalog at once: keys, references, cycles.

Each file is checked on its own while it is read (:mod:`.loader`); what one
file refers to may live in another, so references are resolved here, over the
whole set. The seeds ask for exactly this: an observed box that is removed
from the Katalog makes loading fail, not a reconcile in production.
"""

from __future__ import annotations

from collections.abc import Sequence

from orkestra_trio.katalog.crdfile import crd_file_issues
from orkestra_trio.katalog.errors import KatalogIssue, did_you_mean
from orkestra_trio.katalog.model import CrdEntry, Katalog, Location


def validate_katalogs(katalogs: Sequence[Katalog], *, complete: bool = True) -> list[KatalogIssue]:
    """Every cross-file problem of ``katalogs``.

    ``complete`` is False when some given file could not be read: references
    to unknown CRDs are then not reported, since that file may declare them.
    """
    issues: list[KatalogIssue] = []
    crds: dict[str, CrdEntry] = {}
    by_resource: dict[tuple[str, str], CrdEntry] = {}
    for katalog in katalogs:
        for key, crd in katalog.crds.items():
            first = crds.get(key)
            if first is not None:
                if first.location != crd.location:  # the same file given twice says nothing new
                    issues.append(
                        _issue(
                            crd.location,
                            f"duplicate CRD key {key!r}: already declared at {first.location}",
                        )
                    )
                continue
            crds[key] = crd
            resource = (crd.api_types.group, crd.api_types.plural)
            other = by_resource.get(resource)
            if other is not None and all(resource):
                issues.append(
                    _issue(
                        crd.location,
                        f"CRD {key!r} declares {crd.api_types.plural}.{crd.api_types.group}, "
                        f"which CRD {other.key!r} ({other.location}) declares already",
                    )
                )
            else:
                by_resource[resource] = crd
    for crd in crds.values():
        issues.extend(_reference_issues(crd, crds, complete=complete))
        issues.extend(crd_file_issues(crd))
    issues.extend(_cycle_issues(crds))
    return issues


def _issue(location: Location, message: str) -> KatalogIssue:
    return KatalogIssue(location.file, location.line, location.column, location.path, message)


def _reference_issues(
    crd: CrdEntry, crds: dict[str, CrdEntry], *, complete: bool
) -> list[KatalogIssue]:
    issues: list[KatalogIssue] = []
    known = sorted(crds)
    for dep in crd.depends_on:
        if dep.crd == crd.key:
            issues.append(_issue(dep.location, f"CRD {crd.key!r} cannot depend on itself"))
        elif dep.crd not in crds and complete:
            issues.append(
                _issue(
                    dep.location,
                    f"dependsOn names CRD {dep.crd!r}, which no loaded Katalog declares"
                    f"{did_you_mean(dep.crd, known)}",
                )
            )
    box = crd.operator_box
    if box is None:
        return issues
    for entry in box.cross:
        if entry.source is not None or entry.label_selector is not None:
            continue  # over HTTP (the other runtime answers), or any CRD by labels
        target = crds.get(entry.crd)
        if target is None and complete:
            issues.append(
                _issue(
                    entry.location,
                    f"cross entry {entry.as_!r} observes CRD {entry.crd!r}, which no loaded "
                    f"Katalog declares{did_you_mean(entry.crd, known)}; load the Katalog "
                    "that declares it, or add a source: to observe it over ONCOP",
                )
            )
    return issues


def cross_access_warnings(katalogs: Sequence[Katalog]) -> list[KatalogIssue]:
    """A same-process ``cross:`` entry that observes a CRD with ``crossAccess: false``.

    Orkestra loads it and the entry reads not-found at run time; so does this
    runtime, and loading says so at the entry.
    """
    crds = {key: crd for katalog in katalogs for key, crd in katalog.crds.items()}
    warnings = []
    for crd in crds.values():
        box = crd.operator_box
        if box is None:
            continue
        for entry in box.cross:
            if entry.source is not None or entry.label_selector is not None:
                continue
            target = crds.get(entry.crd)
            if target is not None and not target.cross_access and target.key != crd.key:
                warnings.append(
                    _issue(
                        entry.location,
                        f"cross entry {entry.as_!r} observes CRD {entry.crd!r}, which sets "
                        f"crossAccess: false ({target.location}): it always reads not found",
                    )
                )
    return warnings


def _cycle_issues(crds: dict[str, CrdEntry]) -> list[KatalogIssue]:
    """One issue per dependsOn cycle, naming it: ``a -> b -> a``."""
    edges = {
        key: [dep for dep in crd.depends_on if dep.crd in crds and dep.crd != key]
        for key, crd in crds.items()
    }
    issues: list[KatalogIssue] = []
    reported: set[tuple[str, ...]] = set()
    state: dict[str, int] = {}  # absent: unvisited, 1: on the current path, 2: done
    stack: list[str] = []

    def visit(key: str) -> None:
        state[key] = 1
        stack.append(key)
        for dep in edges[key]:
            if state.get(dep.crd) == 1:
                cycle = stack[stack.index(dep.crd) :]
                # Rotate so that the same cycle found from another start reads the same.
                start = cycle.index(min(cycle))
                canonical = tuple(cycle[start:] + cycle[:start])
                if canonical not in reported:
                    reported.add(canonical)
                    first = canonical[0]
                    second = canonical[1 % len(canonical)]
                    location = next(d.location for d in edges[first] if d.crd == second)
                    names = " -> ".join((*canonical, canonical[0]))
                    issues.append(_issue(location, f"dependency cycle: {names}"))
            elif dep.crd not in state:
                visit(dep.crd)
        stack.pop()
        state[key] = 2

    for key in crds:
        if key not in state:
            visit(key)
    return issues
