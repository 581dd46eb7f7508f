"""Orkestra's ``lifecycle`` block: a pattern's maturity, deprecation and compatibility.

Orkestra's runtime ignores the block and its tooling reads it; so do we.
``validate`` and ``run`` print what it implies, as warnings that never stop a
Katalog from loading:

* ``deprecation``: from ``timeline.from`` on (at once without a timeline) the
  Katalog is deprecated, with its ``message`` and ``migratedTo``; from
  ``timeline.to`` on it is past its end of life;
* ``maturity: deprecated`` says the same without dates;
* ``compatibility.kubernetes``: a version range, checked by ``run`` against
  the API server's version (:func:`kubernetes_mismatch`);
  ``compatibility.orkestra`` names Orkestra's versions and is only shown.

A Komposer decides about the Katalogs it imports (``imports.files``): a
deprecated one is an *error* unless the Komposer names it under
``lifecycle.accept.patterns`` (optionally for a version range of it); an
alpha or beta one is a warning, an error when below the Komposer's
``policy.lifecycle.minMaturity``, and nothing when accepted.

Everything here is pure: dates come in as ``today``.
"""

from __future__ import annotations

import datetime
from typing import Any, Literal

import attrs

from orkestra_trio.katalog import semver
from orkestra_trio.katalog.model import NOWHERE, Deprecation, Lifecycle, Location
from orkestra_trio.katalog.reading import DocumentReader
from orkestra_trio.katalog.yamlsource import KeyPath

MATURITIES = ("alpha", "beta", "stable", "deprecated")
_RANK = {"alpha": 0, "beta": 1, "stable": 2}
DeprecationState = Literal["none", "warning", "eol"]


@attrs.frozen
class AcceptedPattern:
    """A Komposer's ``lifecycle.accept.patterns[]``: an import whose state it accepts."""

    name: str
    author: str = ""
    #: A version range; "" accepts every version.
    version: str = ""
    location: Location = attrs.field(default=NOWHERE, eq=False)


@attrs.frozen
class ImportPolicy:
    """What a Komposer accepts of the Katalogs it imports."""

    accepted: tuple[AcceptedPattern, ...] = ()
    #: ``policy.lifecycle.minMaturity``: "" for none.
    min_maturity: str = ""


@attrs.frozen
class Pattern:
    """What the checks need to know of an imported Katalog."""

    name: str
    author: str
    version: str
    lifecycle: Lifecycle | None


# -- reading ---------------------------------------------------------------------


def read_lifecycle(
    reader: DocumentReader, top: dict[str, Any], *, komposer: bool = False
) -> Lifecycle | None:
    """The ``lifecycle`` block of ``top`` (a Katalog, or a Komposer: ``accept`` too)."""
    here: KeyPath = ("lifecycle",)
    keys = ("maturity", "deprecation", "compatibility", *(("accept",) if komposer else ()))
    refused = {} if komposer else {"accept": "accept is written in a Komposer, about its imports"}
    block = reader.section(top, (), "lifecycle", allowed=keys, refused=refused)
    if block is None:
        return None
    maturity = reader.string(block, here, "maturity") or ""
    if maturity and maturity not in MATURITIES:
        reader.report((*here, "maturity"), f"expected one of {', '.join(MATURITIES)}")
        maturity = ""
    deprecation = None
    dep = reader.section(block, here, "deprecation", allowed=("message", "migratedTo", "timeline"))
    if dep is not None:
        at = (*here, "deprecation")
        timeline = reader.section(dep, at, "timeline", allowed=("from", "to"))
        warn_from = end = None
        if timeline is not None:
            warn_from = _date(reader, timeline, (*at, "timeline"), "from")
            end = _date(reader, timeline, (*at, "timeline"), "to")
            if warn_from and end and end < warn_from:
                reader.report((*at, "timeline", "to"), "the end of life comes before 'from'")
        deprecation = Deprecation(
            message=reader.string(dep, at, "message") or "",
            migrated_to=reader.string(dep, at, "migratedTo") or "",
            warn_from=warn_from,
            end_of_life=end,
        )
    ranges = {"kubernetes": "", "orkestra": ""}
    compat = reader.section(block, here, "compatibility", allowed=tuple(ranges))
    if compat is not None:
        for key in ranges:
            value = reader.string(compat, (*here, "compatibility"), key) or ""
            if value and _range_error(value):
                reader.report((*here, "compatibility", key), _range_error(value))
                value = ""
            ranges[key] = value
    return Lifecycle(
        maturity=maturity,
        deprecation=deprecation,
        kubernetes=ranges["kubernetes"],
        orkestra=ranges["orkestra"],
        location=reader.location(here, at_key=True),
    )


def read_import_policy(reader: DocumentReader, top: dict[str, Any]) -> ImportPolicy:
    """A Komposer's ``lifecycle.accept.patterns`` and ``policy.lifecycle.minMaturity``."""
    accepted: list[AcceptedPattern] = []
    block = top.get("lifecycle")
    accept = block.get("accept") if isinstance(block, dict) else None
    if accept is not None:
        here: KeyPath = ("lifecycle", "accept")
        section = reader.mapping(accept, here, allowed=("patterns",))
        for index, item in enumerate(reader.items(section or {}, here, "patterns")):
            at = (*here, "patterns", index)
            entry = reader.mapping(
                item, at, allowed=("name", "author", "version"), required=("name",)
            )
            if entry is None:
                continue
            version = reader.string(entry, at, "version") or ""
            if version and _range_error(version):
                reader.report((*at, "version"), _range_error(version))
                version = ""
            accepted.append(
                AcceptedPattern(
                    name=reader.string(entry, at, "name", required=True) or "",
                    author=reader.string(entry, at, "author") or "",
                    version=version,
                    location=reader.location(at),
                )
            )
    min_maturity = ""
    policy = reader.section(top, (), "policy", allowed=("lifecycle",))
    if policy is not None:
        rules = reader.section(policy, ("policy",), "lifecycle", allowed=("minMaturity",))
        if rules is not None:
            min_maturity = reader.string(rules, ("policy", "lifecycle"), "minMaturity") or ""
            if min_maturity and min_maturity not in _RANK:
                reader.report(
                    ("policy", "lifecycle", "minMaturity"), f"expected one of {', '.join(_RANK)}"
                )
                min_maturity = ""
    return ImportPolicy(tuple(accepted), min_maturity)


def _date(
    reader: DocumentReader, parent: dict[str, Any], path: KeyPath, key: str
) -> datetime.date | None:
    value = parent.get(key)
    if value is None:
        return None
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return value  # YAML reads an unquoted 2027-01-31 as a date
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError:
        reader.report((*path, key), f"expected a date YYYY-MM-DD, got {value!r}")
        return None


def _range_error(value: str) -> str:
    try:
        semver.check_range(value)
    except ValueError as exc:
        return f"expected a version range such as '>=1.27, <1.34': {exc}"
    return ""


# -- decisions -------------------------------------------------------------------


def is_deprecated(lifecycle: Lifecycle | None) -> bool:
    return lifecycle is not None and (
        lifecycle.maturity == "deprecated" or lifecycle.deprecation is not None
    )


def deprecation_state(lifecycle: Lifecycle | None, today: datetime.date) -> DeprecationState:
    """Orkestra's three states: not (yet) deprecated, deprecated, past its end of life."""
    if not is_deprecated(lifecycle):
        return "none"
    assert lifecycle is not None
    dep = lifecycle.deprecation
    if dep is not None:
        if dep.warn_from is not None and today < dep.warn_from:
            return "none"
        if dep.end_of_life is not None and today >= dep.end_of_life:
            return "eol"
    return "warning"


def deprecation_text(what: str, lifecycle: Lifecycle, today: datetime.date) -> str:
    """``Katalog 'shop' is deprecated: <message>; migrate to <x>; end of life 2027-01-31``."""
    state = deprecation_state(lifecycle, today)
    dep = lifecycle.deprecation or Deprecation()
    parts = [f"{what} is past its end of life" if state == "eol" else f"{what} is deprecated"]
    if dep.message:
        parts[0] += f": {dep.message}"
    if dep.migrated_to:
        parts.append(f"migrate to {dep.migrated_to}")
    if dep.end_of_life is not None:
        days = (dep.end_of_life - today).days
        parts.append(
            f"end of life was {dep.end_of_life.isoformat()}"
            if days <= 0
            else f"end of life {dep.end_of_life.isoformat()} (in {days} day{'s' * (days != 1)})"
        )
    return "; ".join(parts)


def own_warnings(name: str, lifecycle: Lifecycle | None, today: datetime.date) -> list[str]:
    """What a Katalog's own lifecycle says to whoever loads it."""
    if lifecycle is None or deprecation_state(lifecycle, today) == "none":
        return []
    return [deprecation_text(f"Katalog {name!r}", lifecycle, today)]


def _accepts(policy: ImportPolicy, pattern: Pattern) -> tuple[bool, str]:
    """(accepted, warning): a matching entry whose version range no longer holds warns."""
    for entry in policy.accepted:
        if entry.name != pattern.name:
            continue
        if entry.author and pattern.author and entry.author != pattern.author:
            continue
        if entry.version and pattern.version:
            try:
                holds = semver.satisfies(entry.version, semver.parse(pattern.version))
            except ValueError:
                holds = False
            if not holds:
                return True, (
                    f"the acceptance of {pattern.name!r} names versions {entry.version}, "
                    f"but version {pattern.version} is imported: is it still accepted?"
                )
        return True, ""
    return False, ""


def import_findings(
    policy: ImportPolicy, pattern: Pattern, today: datetime.date
) -> tuple[list[str], list[str]]:
    """(errors, warnings) a Komposer's import of ``pattern`` gives."""
    errors: list[str] = []
    warnings: list[str] = []
    accepted, stale = _accepts(policy, pattern)
    if stale:
        warnings.append(stale)
    lifecycle = pattern.lifecycle
    what = f"imported Katalog {pattern.name!r}"
    hint = f" (accept it under lifecycle.accept.patterns: [{{name: {pattern.name}}}])"
    if deprecation_state(lifecycle, today) != "none" and lifecycle is not None and not accepted:
        # Accepted, it is said once: by the Katalog's own warning (:func:`own_warnings`).
        errors.append(deprecation_text(what, lifecycle, today) + hint)
    maturity = lifecycle.maturity if lifecycle is not None else ""
    if maturity in ("alpha", "beta") and not accepted:
        floor = policy.min_maturity
        if floor and _RANK[maturity] < _RANK[floor]:
            errors.append(f"{what} is {maturity}, below the policy's minMaturity {floor}{hint}")
        else:
            warnings.append(f"{what} is {maturity}, not yet stable")
    return errors, warnings


def kubernetes_mismatch(lifecycle: Lifecycle | None, server_version: str) -> str | None:
    """A warning when the API server's version (``v1.31.2``) lies outside
    ``compatibility.kubernetes``; None when it fits, or either is unknown."""
    if lifecycle is None or not lifecycle.kubernetes:
        return None
    try:
        version = semver.parse(server_version.split("+")[0])
        fits = semver.satisfies(lifecycle.kubernetes, (*version[:3], ""))
    except ValueError:
        return None
    if fits:
        return None
    return (
        f"the API server runs Kubernetes {server_version}, outside the range "
        f"{lifecycle.kubernetes!r} this Katalog's lifecycle.compatibility.kubernetes names"
    )


def lifecycle_json(lifecycle: Lifecycle, today: datetime.date) -> dict[str, Any]:
    """The block as ``/katalog`` shows it, with the deprecation state of ``today``."""
    out: dict[str, Any] = {"deprecationState": deprecation_state(lifecycle, today)}
    if lifecycle.maturity:
        out["maturity"] = lifecycle.maturity
    dep = lifecycle.deprecation
    if dep is not None:
        timeline = {
            key: day.isoformat()
            for key, day in (("from", dep.warn_from), ("to", dep.end_of_life))
            if day is not None
        }
        out["deprecation"] = {
            key: value
            for key, value in (
                ("message", dep.message),
                ("migratedTo", dep.migrated_to),
                ("timeline", timeline),
            )
            if value
        }
    compat = {"kubernetes": lifecycle.kubernetes, "orkestra": lifecycle.orkestra}
    if any(compat.values()):
        out["compatibility"] = {key: value for key, value in compat.items() if value}
    return out
