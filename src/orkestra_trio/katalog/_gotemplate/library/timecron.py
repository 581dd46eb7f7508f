"""Time, cron expressions and Kubernetes quantities.

Times are RFC 3339 text (as Kubernetes writes them) in and out, UTC. Durations
are Go's (``1h30m``) plus Orkestra's extended units ``d`` (24h), ``w`` (7d),
``mo`` (30d) and ``y`` (365d). The clock is :func:`utc_now`, which tests replace.

A template that reads the clock renders differently over time: use such
values in conditions and status, not in children's specs (each change would
be written as drift).
"""

from __future__ import annotations

import datetime
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from orkestra_trio.katalog._gotemplate.errors import GoExecError
from orkestra_trio.katalog._gotemplate.functions import template_function
from orkestra_trio.katalog._gotemplate.library._common import integer, obj, text
from orkestra_trio.katalog._gotemplate.values import format_float, is_mapping
from orkestra_trio.katalog.cron import MACROS, CronError, CronSchedule, parse_cron
from orkestra_trio.katalog.durations import go_seconds


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


# -- durations ---------------------------------------------------------------------

_UNIT = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 604800.0,
    "mo": 2592000.0,
    "y": 31536000.0,
}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|mo|s|m|h|d|w|y)")


def parse_duration(value: Any, function: str) -> float:
    """Seconds of a duration (a bare number is seconds); GoExecError when invalid."""
    s = text(value).strip()
    sign = -1.0 if s.startswith("-") else 1.0
    s = s.lstrip("+-")
    if re.fullmatch(r"\d+(\.\d*)?", s):
        return sign * float(s)
    total, position = 0.0, 0
    for found in _PART.finditer(s):
        if found.start() != position:
            break
        total += float(found.group(1)) * _UNIT[found.group(2)]
        position = found.end()
    if not s or position != len(s):
        raise GoExecError(f"{function}: invalid duration {text(value)!r}")
    return sign * total


def go_duration(seconds: float) -> str:
    """Go's Duration.String for whole seconds and above (``1h2m3s``), ms below a second."""
    if seconds == 0:
        return "0s"
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    if seconds < 1:
        return f"{sign}{format_float(round(seconds * 1000, 6))}ms"
    return sign + go_seconds(round(seconds))


def parse_time(value: Any, function: str) -> datetime.datetime:
    s = text(value).strip()
    try:
        parsed = datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise GoExecError(f"{function}: not an RFC 3339 time: {s!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed.astimezone(datetime.UTC)


def rfc3339(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@template_function("now")
def now() -> str:
    return rfc3339(utc_now())


@template_function("durationValid")
def duration_valid(value: Any) -> bool:
    try:
        parse_duration(value, "durationValid")
    except GoExecError:
        return False
    return True


@template_function("durationSeconds")
def duration_seconds(value: Any) -> int | float:
    seconds = parse_duration(value, "durationSeconds")
    return int(seconds) if float(seconds).is_integer() else seconds


@template_function("durationAdd")
def duration_add(duration: Any, moment: Any) -> str:
    """``.metadata.creationTimestamp | durationAdd "24h"``."""
    delta = datetime.timedelta(seconds=parse_duration(duration, "durationAdd"))
    return rfc3339(parse_time(moment, "durationAdd") + delta)


@template_function("timeSince")
def time_since(moment: Any) -> str:
    return go_duration((utc_now() - parse_time(moment, "timeSince")).total_seconds())


@template_function("timeUntil")
def time_until(moment: Any) -> str:
    return go_duration((parse_time(moment, "timeUntil") - utc_now()).total_seconds())


@template_function("timeAgo")
def time_ago(moment: Any) -> str:
    """A short human form: ``45s ago``, ``5m ago``, ``3h ago``, ``2d ago``."""
    seconds = max(0.0, (utc_now() - parse_time(moment, "timeAgo")).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return f"{int(seconds)}s ago"


@template_function("isExpired")
def is_expired(moment: Any, *ttl: Any) -> bool:
    """The time has passed (``isExpired .ts "24h"``: ``ts + 24h`` has passed)."""
    if not text(moment).strip():
        return False
    extra = parse_duration(ttl[0], "isExpired") if ttl else 0.0
    return parse_time(moment, "isExpired") + datetime.timedelta(seconds=extra) <= utc_now()


_GO_LAYOUT = [
    ("January", "%B"),
    ("Monday", "%A"),
    ("2006", "%Y"),
    ("Z07:00", "Z"),
    ("-0700", "%z"),
    ("Jan", "%b"),
    ("Mon", "%a"),
    ("MST", "UTC"),
    ("01", "%m"),
    ("02", "%d"),
    ("06", "%y"),
    ("15", "%H"),
    ("03", "%I"),
    ("04", "%M"),
    ("05", "%S"),
    ("PM", "%p"),
]
_NAMED_LAYOUTS = {
    "RFC3339": "2006-01-02T15:04:05Z07:00",
    "DateTime": "2006-01-02 15:04:05",
    "DateOnly": "2006-01-02",
    "TimeOnly": "15:04:05",
    "Kitchen": "3:04PM",
}


@template_function("timeFormat")
def time_format(layout: Any, moment: Any) -> str:
    """Go's reference-time layouts: ``timeFormat "2006-01-02" .ts``."""
    source = _NAMED_LAYOUTS.get(text(layout), text(layout))
    pattern = "|".join(re.escape(token) for token, _ in _GO_LAYOUT)
    table = dict(_GO_LAYOUT)
    fmt = re.sub(pattern, lambda m: table[m.group(0)], source.replace("%", "%%"))
    fmt = fmt.replace("3:", "%-I:") if "3:04" in source and "03" not in source else fmt
    return parse_time(moment, "timeFormat").strftime(fmt)


def _minutes(value: Any, function: str) -> int:
    found = re.fullmatch(r"(\d{1,2}):(\d{2})", text(value).strip())
    if found is None or int(found.group(1)) > 23 or int(found.group(2)) > 59:
        raise GoExecError(f"{function}: expected HH:MM, got {text(value)!r}")
    return int(found.group(1)) * 60 + int(found.group(2))


@template_function("timeInWindow")
def time_in_window(start: Any, end: Any) -> bool:
    """Now (UTC) is within [start, end) (HH:MM); a window may cross midnight."""
    a, b = _minutes(start, "timeInWindow"), _minutes(end, "timeInWindow")
    current = utc_now()
    minute = current.hour * 60 + current.minute
    return a <= minute < b if a <= b else minute >= a or minute < b


@template_function("timeNotInWindow")
def time_not_in_window(start: Any, end: Any) -> bool:
    return not time_in_window(start, end)


@template_function("weekend")
def weekend() -> bool:
    return utc_now().weekday() >= 5


@template_function("weekday")
def weekday() -> bool:
    """Monday to Friday (UTC). ``weekdayName`` gives the day's name."""
    return utc_now().weekday() < 5


@template_function("weekdayName")
def weekday_name() -> str:
    return utc_now().strftime("%A")


# -- cron ---------------------------------------------------------------------------

_FIELDS = ("minute", "hour", "dom", "month", "dow")


def _cron_fields(expression: Any) -> list[str]:
    s = " ".join(text(expression).split())
    s = MACROS.get(s.lower(), s)
    fields = s.split(" ")
    if len(fields) != 5:
        raise GoExecError(f"cron: expected 5 fields, got {len(fields)} in {text(expression)!r}")
    return fields


def _cron_sets(expression: Any) -> CronSchedule:
    """The parsed schedule (katalog/cron.py, shared with the ``cron`` condition)."""
    try:
        return parse_cron(text(expression))
    except CronError as exc:
        raise GoExecError(f"cron: {exc}") from None


@template_function("cronValid")
def cron_valid(expression: Any) -> bool:
    try:
        _cron_sets(expression)
    except (GoExecError, ValueError):
        return False
    return True


@template_function("cronNormalize")
def cron_normalize(expression: Any) -> str:
    """Macros expanded, whitespace collapsed: ``@daily`` -> ``0 0 * * *``."""
    fields = _cron_fields(expression)
    _cron_sets(expression)
    return " ".join(fields)


@template_function("cronField")
def cron_field(expression: Any, which: Any) -> str:
    """One field, by name (minute, hour, dom, month, dow) or index 0-4."""
    fields = _cron_fields(expression)
    key = text(which)
    index = _FIELDS.index(key) if key in _FIELDS else integer(which, "cronField")
    if not 0 <= index < 5:
        raise GoExecError("cronField: index out of range 0-4")
    return fields[index]


def _field_reader(function: str, index: int) -> None:
    def read(expression: Any) -> str:
        return _cron_fields(expression)[index]

    read.__doc__ = f"The {_FIELDS[index]} field of a cron expression."
    template_function(function)(read)


for _index, _function in enumerate(("cronMinute", "cronHour", "cronDom", "cronMonth", "cronDow")):
    _field_reader(_function, _index)


@template_function("cronToMap")
def cron_to_map(expression: Any) -> dict[str, str]:
    return dict(zip(_FIELDS, _cron_fields(expression), strict=True))


@template_function("cronFromMap")
def cron_from_map(value: Any) -> str:
    fields = obj(value)
    expression = " ".join(text(fields.get(key) or "*") for key in _FIELDS)
    _cron_sets(expression)
    return expression


@template_function("cronFromAny")
def cron_from_any(value: Any) -> str:
    return cron_from_map(value) if is_mapping(value) else cron_normalize(value)


@template_function("cronExpr")
def cron_expr(minute: Any, hour: Any, dom: Any, month: Any, dow: Any) -> str:
    return cron_from_map({"minute": minute, "hour": hour, "dom": dom, "month": month, "dow": dow})


_DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


@template_function("cronDescribe")
def cron_describe(expression: Any) -> str:
    """A short English description: ``At 02:30, on Monday``, ``Every 5 minutes``."""
    minute, hour, dom, month, dow = _cron_fields(expression)
    _cron_sets(expression)
    if (minute, hour, dom, month, dow) == ("*", "*", "*", "*", "*"):
        return "Every minute"
    if minute.startswith("*/") and (hour, dom, month, dow) == ("*", "*", "*", "*"):
        return f"Every {minute[2:]} minutes"
    if minute.isdigit() and hour == "*":
        text_ = f"At minute {minute} of every hour"
    elif minute.isdigit() and hour.isdigit():
        text_ = f"At {int(hour):02d}:{int(minute):02d}"
    else:
        text_ = f"At minute {minute}, hour {hour}"
    if dom != "*":
        text_ += f", on day {dom} of the month"
    if month != "*":
        text_ += f", in month {month}"
    if dow != "*":
        days = _cron_sets(expression).weekdays
        text_ += ", on " + ", ".join(_DAY_NAMES[d] for d in days)
    return text_


def next_cron(expression: Any, after: datetime.datetime) -> datetime.datetime:
    fire = _cron_sets(expression).next_fire(after)
    if fire is None:
        raise GoExecError(f"nextCron: {text(expression)!r} never fires")
    return fire


@template_function("nextCron")
def next_cron_text(expression: Any) -> str:
    return rfc3339(next_cron(expression, utc_now()))


@template_function("cronJobNextScheduleTime")
def cron_job_next_schedule_time(cron_job: Any) -> str:
    schedule = obj(obj(cron_job).get("spec")).get("schedule")
    return rfc3339(next_cron(schedule, utc_now())) if schedule else ""


# -- quantities ---------------------------------------------------------------------

_SUFFIX = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}
_QUANTITY = re.compile(
    r"([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?)"
)


def _quantity(value: Any, function: str) -> tuple[Decimal, str]:
    found = _QUANTITY.fullmatch(text(value).strip())
    if found is None:
        raise GoExecError(f"{function}: not a quantity: {text(value)!r}")
    try:
        return Decimal(found.group(1)) * _SUFFIX[found.group(2)], found.group(2)
    except InvalidOperation:
        raise GoExecError(f"{function}: not a quantity: {text(value)!r}") from None


def _plain(number: Decimal) -> int | float:
    return int(number) if number == number.to_integral_value() else float(number)


@template_function("parseQuantity")
def parse_quantity(value: Any) -> int | float:
    """``"500m"`` -> 0.5, ``"128Mi"`` -> 134217728, ``"2G"`` -> 2000000000."""
    return _plain(_quantity(value, "parseQuantity")[0])


def _format(number: Decimal, suffix: str) -> str:
    scaled = number / _SUFFIX[suffix]
    if scaled != scaled.to_integral_value():
        scaled = scaled.quantize(Decimal("0.001")).normalize()
    return (
        f"{scaled:f}".rstrip("0").rstrip(".") + suffix
        if "." in f"{scaled:f}"
        else f"{scaled:f}" + suffix
    )


@template_function("formatQuantity")
def format_quantity(value: Any, *unit: Any) -> str:
    """A number in a unit: ``formatQuantity 134217728 "Mi"`` -> ``128Mi``."""
    suffix = text(unit[0]) if unit else ""
    if suffix not in _SUFFIX:
        raise GoExecError(f"formatQuantity: unknown unit {suffix!r}")
    number, _ = _quantity(value, "formatQuantity")
    if not math.isfinite(float(number)):
        raise GoExecError("formatQuantity: not finite")
    return _format(number, suffix)


@template_function("sumQuantity")
def sum_quantity(*values: Any) -> str:
    """The sum, in the first value's unit: ``sumQuantity "500m" "1"`` -> ``1500m``."""
    if not values:
        return "0"
    parsed = [_quantity(v, "sumQuantity") for v in values]
    return _format(sum((n for n, _ in parsed), Decimal(0)), parsed[0][1])


@template_function("subtractQuantity")
def subtract_quantity(left: Any, right: Any) -> str:
    a, unit = _quantity(left, "subtractQuantity")
    b, _ = _quantity(right, "subtractQuantity")
    return _format(a - b, unit)
