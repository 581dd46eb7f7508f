"""Five-field cron expressions: parsed once, then asked when they fire (UTC, minute steps).

``minute hour day-of-month month day-of-week``, each field ``*``, a number, a
name (``jan``..``dec``, ``sun``..``sat``), a range ``a-b``, a step ``*/n``,
``a-b/n`` or ``a/n`` (from ``a`` to the field's end), or a comma list of
those; ``?`` reads as ``*``, day-of-week ``7`` as Sunday, and the macros
``@hourly``, ``@daily``/``@midnight``, ``@weekly``, ``@monthly``,
``@yearly``/``@annually`` stand for their expressions. Days follow cron's
rule (the one Kubernetes CronJobs use): when both day fields are restricted a
day matches either; when one is ``*`` the other decides.

Everything is a pure function of the expression and the time given: the
``cron`` condition is true for ``duration`` after each fire, which is a
function of the current time alone (the most recent fire at or before now,
and now before that fire plus the duration).
"""

from __future__ import annotations

import bisect
import datetime
import functools

import attrs

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
FIELD_NAMES = ("minute", "hour", "day-of-month", "month", "day-of-week")
_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_NAMES: tuple[dict[str, int], ...] = (
    {},
    {},
    {},
    {name: number for number, name in enumerate(_MONTHS, 1)},
    {name: number for number, name in enumerate(_DAYS)},
)
#: How far a search for a fire looks: every valid day (29 February included) recurs within it.
SEARCH_YEARS = 8
_MINUTE = datetime.timedelta(minutes=1)


class CronError(ValueError):
    """The text is not a cron expression; the message names the field."""


@attrs.frozen
class CronSchedule:
    """A parsed expression: the sorted values of each field (day-of-week 0 = Sunday)."""

    expression: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: tuple[int, ...]
    months: tuple[int, ...]
    weekdays: tuple[int, ...]
    #: The day field is ``*`` (or ``?``): only the other day field restricts.
    any_day: bool
    any_weekday: bool

    def day_matches(self, moment: datetime.datetime) -> bool:
        in_days = moment.day in self.days
        in_weekdays = (moment.weekday() + 1) % 7 in self.weekdays
        if self.any_day or self.any_weekday:
            return in_days and in_weekdays
        return in_days or in_weekdays

    def next_fire(self, after: datetime.datetime) -> datetime.datetime | None:
        """The first fire strictly after ``after``; None if none within :data:`SEARCH_YEARS`."""
        moment = after.replace(second=0, microsecond=0) + _MINUTE
        limit = moment.year + SEARCH_YEARS
        while moment.year <= limit:
            if moment.month not in self.months:
                year, month = divmod(moment.month, 12)  # the first of the next month
                moment = moment.replace(year=moment.year + year, month=month + 1, day=1)
                moment = moment.replace(hour=0, minute=0)
            elif not self.day_matches(moment):
                moment = moment.replace(hour=0, minute=0) + datetime.timedelta(days=1)
            elif moment.hour not in self.hours:
                later = _at_or_after(self.hours, moment.hour)
                if later is None:
                    moment = moment.replace(hour=0, minute=0) + datetime.timedelta(days=1)
                else:
                    moment = moment.replace(hour=later, minute=0)
            else:
                later = _at_or_after(self.minutes, moment.minute)
                if later is not None:
                    return moment.replace(minute=later)
                moment = moment.replace(minute=0) + datetime.timedelta(hours=1)
        return None

    def last_fire(self, at: datetime.datetime) -> datetime.datetime | None:
        """The latest fire at or before ``at``; None if none within :data:`SEARCH_YEARS`."""
        moment = at.replace(second=0, microsecond=0)
        limit = moment.year - SEARCH_YEARS
        while moment.year >= limit:
            if moment.month not in self.months:
                moment = moment.replace(day=1, hour=0, minute=0) - _MINUTE
            elif not self.day_matches(moment):
                moment = moment.replace(hour=0, minute=0) - _MINUTE
            elif moment.hour not in self.hours:
                earlier = _at_or_before(self.hours, moment.hour)
                if earlier is None:
                    moment = moment.replace(hour=0, minute=0) - _MINUTE
                else:
                    moment = moment.replace(hour=earlier, minute=59)
            else:
                earlier = _at_or_before(self.minutes, moment.minute)
                if earlier is not None:
                    return moment.replace(minute=earlier)
                moment = moment.replace(minute=0) - _MINUTE
        return None


def _at_or_after(values: tuple[int, ...], value: int) -> int | None:
    index = bisect.bisect_left(values, value)
    return values[index] if index < len(values) else None


def _at_or_before(values: tuple[int, ...], value: int) -> int | None:
    index = bisect.bisect_right(values, value)
    return values[index - 1] if index else None


@functools.lru_cache(maxsize=256)
def parse_cron(text: str) -> CronSchedule:
    """The schedule of ``text``; :class:`CronError` says what is wrong with it."""
    expression = " ".join(text.split())
    expression = MACROS.get(expression.lower(), expression)
    fields = expression.split(" ") if expression else []
    if len(fields) != 5:
        raise CronError(
            f"a cron expression has 5 fields (minute hour day-of-month month day-of-week), "
            f"got {len(fields)} in {text!r}"
        )
    values = [_field(field, index) for index, field in enumerate(fields)]
    weekdays = tuple(sorted({day % 7 for day in values[4]}))
    return CronSchedule(
        expression=expression,
        minutes=values[0],
        hours=values[1],
        days=values[2],
        months=values[3],
        weekdays=weekdays,
        any_day=_is_any(fields[2]),
        any_weekday=_is_any(fields[4]),
    )


def _is_any(field: str) -> bool:
    return field in ("*", "?", "*/1")


def _field(field: str, index: int) -> tuple[int, ...]:
    low, high = _BOUNDS[index]
    name = FIELD_NAMES[index]
    found: set[int] = set()
    for part in field.split(","):
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"{name} field {field!r}: bad step in {part!r}")
            step = int(step_text)
        if base in ("*", "?"):
            start, end = low, high
        else:
            first, dash, second = base.partition("-")
            start = _number(first, index, field)
            end = _number(second, index, field) if dash else (high if slash else start)
        if start > end:
            raise CronError(f"{name} field {field!r}: range {part!r} runs backwards")
        found.update(range(start, end + 1, step))
    return tuple(sorted(found))


def _number(token: str, index: int, field: str) -> int:
    low, high = _BOUNDS[index]
    value = int(token) if token.isdigit() else _NAMES[index].get(token.lower())
    if value is None or not low <= value <= high:
        raise CronError(
            f"{FIELD_NAMES[index]} field {field!r}: {token!r} is not in {low}-{high}"
            + (" (or a name)" if _NAMES[index] else "")
        )
    return value


def check_cron(text: str) -> str | None:
    """A load-time problem with ``text`` (syntax, or a schedule that never fires), or None."""
    try:
        schedule = parse_cron(text)
    except CronError as exc:
        return str(exc)
    if schedule.next_fire(datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)) is None:
        return f"cron expression {text!r} never fires (no such day)"
    return None


def in_window(
    schedule: CronSchedule, duration: float, now: datetime.datetime
) -> tuple[bool, datetime.datetime | None]:
    """Is ``now`` within ``duration`` seconds after a fire, and when does that answer change?

    The second value is the next edge: the window's end while inside one, the
    next fire otherwise (None if it never fires again).
    """
    last = schedule.last_fire(now)
    if last is not None:
        end = last + datetime.timedelta(seconds=duration)
        if now < end:
            return True, end
    return False, schedule.next_fire(now)
