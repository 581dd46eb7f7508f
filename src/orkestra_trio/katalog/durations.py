"""Durations as Katalog users write them: Go style (``30s``, ``1h30m``, ``500ms``).

A plain number means seconds. Durations become float seconds, the unit Trio
deadlines and sleeps take, so nothing downstream converts again.
"""

from __future__ import annotations

import math
import re

# Seconds per unit, as Go's time.ParseDuration knows them.
_UNITS: dict[str, float] = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}

#: Orkestra's longer units, for lifetimes (``validFor: 90d``, ``rotateAfter: 4w``).
_LONG_UNITS: dict[str, float] = {
    **_UNITS,
    "d": 86400.0,
    "w": 604800.0,
    "mo": 2592000.0,
    "y": 31536000.0,
}

_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+")
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_LONG_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|mo|s|m|h|d|w|y)")


class DurationError(ValueError):
    """The text is not a duration; the message says what is accepted."""


def parse_duration(value: object, *, long_units: bool = False) -> float:
    """Return ``value`` (``"1h30m"``, ``"500ms"``, ``45``, ``"45"``) in seconds.

    Negative durations are refused: every duration in a Katalog is a wait or
    a period, where a negative value can only be a typo. ``long_units`` also
    accepts Orkestra's ``d`` (24h), ``w`` (7d), ``mo`` (30d) and ``y`` (365d).
    """
    if isinstance(value, bool):
        raise DurationError(f"expected a duration like 30s, 2m or 1h30m, got {value!r}")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise DurationError(f"invalid duration {value!r}")
        if value < 0:
            raise DurationError(f"a duration cannot be negative, got {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise DurationError(f"expected a duration like 30s, 2m or 1h30m, got {value!r}")
    text = value.strip()
    if text.startswith("-"):
        raise DurationError(f"a duration cannot be negative, got {value!r}")
    text = text.removeprefix("+")
    if _NUMBER.fullmatch(text):
        return float(text)
    if text == "":
        raise DurationError("expected a duration like 30s, 2m or 1h30m, got an empty string")
    units, part = (_LONG_UNITS, _LONG_PART) if long_units else (_UNITS, _PART)
    total = 0.0
    position = 0
    for match in part.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * units[match.group(2)]
        position = match.end()
    if position != len(text):
        names = "ns, us, ms, s, m, h, d, w, mo, y" if long_units else "ns, us, ms, s, m, h"
        raise DurationError(
            f"invalid duration {value!r}: use a number with a unit "
            f"({names}), e.g. 30s, 2m, 1h30m, 500ms"
        )
    return total


def go_seconds(seconds: int) -> str:
    """Whole seconds as Go's ``Duration.String`` writes them: ``1h0m5s``, ``2m0s``, ``45s``."""
    sign = "-" if seconds < 0 else ""
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{sign}{minutes}m{secs}s"
    return f"{sign}{secs}s"


def format_duration(seconds: float) -> str:
    """Render seconds back in Go style (``90.0`` -> ``1m30s``), for summaries."""
    if seconds < 1:
        return f"{round(seconds * 1000, 3):g}ms"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    out = ""
    if hours:
        out += f"{int(hours)}h"
    if minutes:
        out += f"{int(minutes)}m"
    if secs or not out:
        out += f"{secs:g}s"
    return out
