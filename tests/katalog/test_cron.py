"""katalog/cron.py: five-field cron expressions and the window of the ``cron`` condition."""

import datetime
import random

import pytest

from orkestra_trio.katalog.cron import CronError, check_cron, in_window, parse_cron

UTC = datetime.UTC


def at(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "field", "values"),
    [
        ("*/15 * * * *", "minutes", (0, 15, 30, 45)),
        ("5/20 * * * *", "minutes", (5, 25, 45)),
        ("0 9-17/4 * * *", "hours", (9, 13, 17)),
        ("0 0 1,15,31 * *", "days", (1, 15, 31)),
        ("0 0 * jan,MAR-may *", "months", (1, 3, 4, 5)),
        ("0 0 * * mon-fri", "weekdays", (1, 2, 3, 4, 5)),
        ("0 0 * * 7", "weekdays", (0,)),
        ("@hourly", "minutes", (0,)),
        ("@weekly", "weekdays", (0,)),
    ],
)
def test_fields_lists_ranges_steps_names_and_macros(expression, field, values):
    assert getattr(parse_cron(expression), field) == values


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("* * * *", "5 fields"),
        ("60 * * * *", "minute field"),
        ("* 24 * * *", "hour field"),
        ("* * 0 * *", "day-of-month field"),
        ("* * * foo *", "month field"),
        ("* * * * 8", "day-of-week field"),
        ("*/0 * * * *", "bad step"),
        ("5-1 * * * *", "backwards"),
    ],
)
def test_bad_expressions_say_which_field(expression, words):
    with pytest.raises(CronError, match=words):
        parse_cron(expression)


def test_a_schedule_that_never_fires_is_refused_but_a_leap_day_is_not():
    assert "never fires" in (check_cron("0 0 30 feb *") or "")
    assert check_cron("0 0 29 feb *") is None
    assert parse_cron("0 0 29 feb *").next_fire(at("2025-03-01T00:00:00")) == at(
        "2028-02-29T00:00:00"
    )


def test_both_day_fields_restricted_match_either_one_star_leaves_the_other():
    # 1st of the month OR a Monday (cron's rule); 2026-12-07 is a Monday.
    either = parse_cron("0 12 1 * mon")
    assert either.next_fire(at("2026-12-01T12:00:00")) == at("2026-12-07T12:00:00")
    # Day-of-month * : only Mondays.
    mondays = parse_cron("0 12 * * mon")
    assert mondays.next_fire(at("2026-11-30T12:00:00")) == at("2026-12-07T12:00:00")


def test_next_and_last_fire_across_month_and_year_ends():
    schedule = parse_cron("30 23 31 dec *")
    assert schedule.next_fire(at("2026-12-31T23:30:00")) == at("2027-12-31T23:30:00")
    assert schedule.last_fire(at("2026-12-31T23:30:59")) == at("2026-12-31T23:30:00")
    assert schedule.last_fire(at("2026-12-31T23:29:59")) == at("2025-12-31T23:30:00")


def _naive_fires(expression: str, start: datetime.datetime, minutes: int) -> list:
    """Every minute of the span that matches, by testing each minute (the slow, obvious way)."""
    s = parse_cron(expression)
    out = []
    for step in range(minutes):
        moment = start + datetime.timedelta(minutes=step)
        if (
            moment.minute in s.minutes
            and moment.hour in s.hours
            and moment.month in s.months
            and s.day_matches(moment)
        ):
            out.append(moment)
    return out


@pytest.mark.parametrize(
    "expression",
    ["*/7 * * * *", "13 */5 * * *", "0 0 */3 * 2", "0-10/3 9-11 * * sat,sun", "45 6 15 * *"],
)
def test_next_and_last_fire_agree_with_a_minute_by_minute_scan(expression):
    rng = random.Random(expression)
    start = at("2026-02-20T00:00:00")
    span = 60 * 24 * 40
    fires = _naive_fires(expression, start, span)
    schedule = parse_cron(expression)
    for _ in range(200):
        moment = start + datetime.timedelta(seconds=rng.randrange(3600, (span - 60 * 24 * 8) * 60))
        after = [f for f in fires if f > moment]
        before = [f for f in fires if f <= moment]
        if after:
            assert schedule.next_fire(moment) == after[0]
        if before:
            assert schedule.last_fire(moment) == before[-1]


def test_the_window_is_a_function_of_now():
    schedule = parse_cron("0 9 * * *")
    assert in_window(schedule, 3600, at("2026-12-04T09:00:00")) == (True, at("2026-12-04T10:00:00"))
    assert in_window(schedule, 3600, at("2026-12-04T09:59:59")) == (True, at("2026-12-04T10:00:00"))
    assert in_window(schedule, 3600, at("2026-12-04T10:00:00")) == (
        False,
        at("2026-12-05T09:00:00"),
    )
    assert in_window(schedule, 3600, at("2026-12-04T08:59:59")) == (
        False,
        at("2026-12-04T09:00:00"),
    )
