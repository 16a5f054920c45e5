"""Business-time calculator for SLA due times (docs/PRODUCT.md "SLA policies and business calendar"). Pure: no database, no clock."""

from __future__ import annotations

import time as perf
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tickets.business_time import (
    WorkingCalendar,
    add_business_minutes,
    add_business_seconds,
    business_seconds_between,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
HOUR = 3600

OFFICE = WorkingCalendar.build(timezone="Europe/Berlin", working_days=range(5), day_start=time(9), day_end=time(17))
EVERY_DAY = WorkingCalendar.build(timezone="Europe/Berlin", working_days=range(7), day_start=time(9), day_end=time(17))
EVERY_DAY_NY = WorkingCalendar.build(
    timezone="America/New_York", working_days=range(7), day_start=time(9), day_end=time(17)
)


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def new_york(*args: int) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- add_business_seconds / add_business_minutes ------------------------------------------


def test_within_one_working_day():
    due = add_business_minutes(berlin(2026, 3, 2, 10), 60, OFFICE)  # Monday
    assert due == berlin(2026, 3, 2, 11)
    assert due.tzinfo is UTC


def test_rolls_over_the_weekend():
    assert add_business_minutes(berlin(2026, 3, 6, 16, 30), 60, OFFICE) == berlin(2026, 3, 9, 9, 30)


def test_created_on_saturday_counts_from_monday_morning():
    assert add_business_minutes(berlin(2026, 3, 7, 11), 60, OFFICE) == berlin(2026, 3, 9, 10)


def test_created_in_the_evening_counts_from_next_morning():
    assert add_business_minutes(berlin(2026, 3, 3, 20), 60, OFFICE) == berlin(2026, 3, 4, 10)


def test_created_before_opening_counts_from_opening():
    assert add_business_minutes(berlin(2026, 3, 3, 7), 30, OFFICE) == berlin(2026, 3, 3, 9, 30)


def test_eight_business_hours_from_tuesday_afternoon():
    assert add_business_seconds(berlin(2026, 3, 3, 13), 8 * HOUR, OFFICE) == berlin(2026, 3, 4, 13)


def test_filling_a_day_exactly_ends_at_closing_time():
    assert add_business_seconds(berlin(2026, 3, 2, 9), 8 * HOUR, OFFICE) == berlin(2026, 3, 2, 17)


def test_zero_returns_start_even_outside_hours():
    saturday = berlin(2026, 3, 7, 23, 15, 30, 500)
    due = add_business_seconds(saturday, 0, OFFICE)
    assert due == saturday
    assert due.tzinfo is UTC


def test_start_in_another_zone():
    # 08:00 UTC is 09:00 in Berlin in winter.
    assert add_business_minutes(utc(2026, 3, 2, 8), 60, OFFICE) == utc(2026, 3, 2, 9)
    # 03:00 in New York is 09:00 in Berlin.
    assert add_business_minutes(new_york(2026, 3, 2, 3), 60, OFFICE) == berlin(2026, 3, 2, 10)


def test_custom_holiday_is_skipped():
    calendar = WorkingCalendar.build(
        timezone="Europe/Berlin",
        working_days=range(5),
        day_start=time(9),
        day_end=time(17),
        holidays=["2026-03-03", date(2026, 3, 4)],
    )
    assert add_business_seconds(berlin(2026, 3, 2, 16), 2 * HOUR, calendar) == berlin(2026, 3, 5, 10)


def test_german_public_holidays_are_skipped():
    calendar = WorkingCalendar.build(
        timezone="Europe/Berlin", working_days=range(5), day_start=time(9), day_end=time(17), holiday_country="DE"
    )
    assert {date(2026, 12, 25), date(2026, 12, 26)} <= calendar.holidays
    christmas_eve = berlin(2026, 12, 24, 16)  # Thursday; Friday 25th is a holiday
    assert add_business_seconds(christmas_eve, 2 * HOUR, OFFICE) == berlin(2026, 12, 25, 10)
    assert add_business_seconds(christmas_eve, 2 * HOUR, calendar) == berlin(2026, 12, 28, 10)


def test_subdivision_holidays():
    bavaria = WorkingCalendar.build(
        timezone="Europe/Berlin",
        working_days=range(5),
        day_start=time(9),
        day_end=time(17),
        holiday_country="de",
        holiday_subdivision="BY",
    )
    assert date(2026, 1, 6) in bavaria.holidays  # Epiphany, Bavaria only
    assert add_business_seconds(berlin(2026, 1, 5, 16), 2 * HOUR, bavaria) == berlin(2026, 1, 7, 10)


@pytest.mark.parametrize(
    ("calendar", "local", "sunday", "offset_before", "offset_after"),
    [
        (EVERY_DAY, berlin, (2026, 3, 29), 1, 2),  # spring forward
        (EVERY_DAY, berlin, (2026, 10, 25), 2, 1),  # fall back
        (EVERY_DAY_NY, new_york, (2026, 3, 8), -5, -4),
        (EVERY_DAY_NY, new_york, (2026, 11, 1), -4, -5),
    ],
)
def test_a_dst_day_still_has_eight_local_hours(calendar, local, sunday, offset_before, offset_after):
    opens, closes = local(*sunday, 9), local(*sunday, 17)
    assert business_seconds_between(opens, closes, calendar) == 8 * HOUR
    assert add_business_seconds(opens, 8 * HOUR, calendar) == closes
    # From Saturday 16:00 (old offset) one hour on Saturday, one on Sunday from 09:00 (new offset).
    saturday = local(*sunday, 16) - timedelta(days=1)
    due = add_business_seconds(saturday, 2 * HOUR, calendar)
    assert due == utc(*sunday, 10 - offset_after)
    assert saturday.utcoffset() == timedelta(hours=offset_before)


def test_weekday_calendar_across_the_dst_weekend():
    # Friday 16:00 CET (15:00 UTC) + 2 h = Monday 10:00 CEST (08:00 UTC), not 09:00 UTC.
    assert add_business_seconds(berlin(2026, 3, 27, 16), 2 * HOUR, OFFICE) == utc(2026, 3, 30, 8)
    assert add_business_seconds(berlin(2026, 10, 23, 16), 2 * HOUR, OFFICE) == utc(2026, 10, 26, 9)


def test_window_spanning_the_change_counts_real_hours():
    night = WorkingCalendar.build(timezone="Europe/Berlin", working_days=range(7), day_start=time(0), day_end=time(6))
    assert business_seconds_between(berlin(2026, 3, 29), berlin(2026, 3, 30), night) == 5 * HOUR
    assert business_seconds_between(berlin(2026, 10, 25), berlin(2026, 10, 26), night) == 7 * HOUR
    assert add_business_seconds(berlin(2026, 3, 29), 5 * HOUR, night) == berlin(2026, 3, 29, 6)


@pytest.mark.parametrize("start", [berlin(2026, 3, 28, 12), new_york(2026, 10, 31, 12), new_york(2026, 3, 7, 12)])
def test_around_the_clock_is_utc_arithmetic_across_dst(start):
    due = add_business_seconds(start, 24 * HOUR, None)
    assert due == start.astimezone(UTC) + timedelta(hours=24)
    assert due.tzinfo is UTC
    # Wall-clock arithmetic in the local zone would be an hour off on these days.
    assert due != start + timedelta(hours=24)
    assert business_seconds_between(start, due, None) == 24 * HOUR


def test_p5_target_is_fast():
    start = berlin(2026, 12, 18, 15, 17)
    rounds = 500
    began = perf.perf_counter()
    for _ in range(rounds):
        add_business_seconds(start, 80 * HOUR, OFFICE)
    assert (perf.perf_counter() - began) / rounds < 0.001


def test_a_long_target_skips_whole_days():
    # 2000 working days is about eight years; must not crawl through minutes.
    due = add_business_seconds(berlin(2026, 1, 5, 9), 2000 * 8 * HOUR, OFFICE)
    assert business_seconds_between(berlin(2026, 1, 5, 9), due, OFFICE) == 2000 * 8 * HOUR


# --- business_seconds_between -------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (berlin(2026, 3, 2, 10), berlin(2026, 3, 2, 12, 30), 2.5 * HOUR),  # same day
        (berlin(2026, 3, 6, 16), berlin(2026, 3, 9, 10), 2 * HOUR),  # across the weekend
        (berlin(2026, 3, 6, 20), berlin(2026, 3, 9, 8), 0),  # both outside hours
        (berlin(2026, 3, 7, 12), berlin(2026, 3, 10, 8), 8 * HOUR),  # Saturday to before Tuesday opening
        (berlin(2026, 3, 2, 7), berlin(2026, 3, 2, 20), 8 * HOUR),  # a whole day seen from outside
        (berlin(2026, 3, 2, 12), berlin(2026, 3, 2, 10), 0),  # reversed
        (berlin(2026, 3, 2, 12), berlin(2026, 3, 2, 12), 0),  # empty
        (utc(2026, 3, 2, 9), new_york(2026, 3, 2, 6), 2 * HOUR),  # mixed zones: 10:00-12:00 Berlin
    ],
)
def test_business_seconds_between(start, end, expected):
    assert business_seconds_between(start, end, OFFICE) == expected


def test_between_across_holiday():
    calendar = WorkingCalendar.build(
        timezone="Europe/Berlin", working_days=range(5), day_start=time(9), day_end=time(17), holiday_country="DE"
    )
    assert business_seconds_between(berlin(2026, 12, 24, 16), berlin(2026, 12, 28, 10), calendar) == 2 * HOUR
    assert business_seconds_between(berlin(2026, 12, 24, 16), berlin(2026, 12, 28, 10), OFFICE) == 10 * HOUR


def test_between_floors_partial_seconds():
    start = berlin(2026, 3, 2, 10, 0, 0, 600_000)
    assert business_seconds_between(start, berlin(2026, 3, 2, 10, 0, 2), OFFICE) == 1
    assert business_seconds_between(start, berlin(2026, 3, 2, 10, 0, 2), None) == 1


def test_between_around_the_clock_counts_real_seconds():
    assert business_seconds_between(berlin(2026, 3, 29), berlin(2026, 3, 30), None) == 23 * HOUR
    assert business_seconds_between(berlin(2026, 3, 30), berlin(2026, 3, 29), None) == 0


# --- bad input ----------------------------------------------------------------------------


def build(**overrides) -> WorkingCalendar:
    arguments = {"timezone": "Europe/Berlin", "working_days": range(5), "day_start": time(9), "day_end": time(17)}
    return WorkingCalendar.build(**(arguments | overrides))


@pytest.mark.parametrize(
    "overrides",
    [
        {"working_days": []},
        {"working_days": [7]},
        {"timezone": "Mars/Olympus_Mons"},
        {"timezone": ""},
        {"timezone": "../etc/passwd"},
        {"holiday_country": "XX"},
        {"holiday_country": "DE", "holiday_subdivision": "ZZ"},
        {"holiday_subdivision": "BY"},
        {"day_start": time(17), "day_end": time(9)},
        {"day_start": time(9), "day_end": time(9)},
        {"holidays": ["2026-13-01"]},
        {"holidays": [datetime(2026, 12, 24, tzinfo=UTC)]},
        {"holidays": [20261224]},
        {"holidays": 5},
        {"working_days": 5},
        {"working_days": [[1]]},
        {"working_days": ["1"]},
        {"holiday_country": None},
        {"day_start": "09:00"},
    ],
)
def test_build_rejects(overrides):
    with pytest.raises(ValueError):
        build(**overrides)


def test_constructor_rejects_no_working_days():
    with pytest.raises(ValueError):
        WorkingCalendar(tz=BERLIN, working_days=frozenset(), day_start=time(9), day_end=time(17))


def test_no_working_time_ever_raises_instead_of_looping():
    mondays = [date(2026, 1, 5) + timedelta(weeks=week) for week in range(52 * 12)]
    calendar = WorkingCalendar(
        tz=BERLIN, working_days=frozenset({0}), day_start=time(9), day_end=time(17), holidays=frozenset(mondays)
    )
    with pytest.raises(ValueError):
        add_business_seconds(berlin(2026, 1, 1), 60, calendar)


def test_rejects_naive_and_negative():
    with pytest.raises(ValueError):
        add_business_seconds(datetime(2026, 3, 2, 10), 60, OFFICE)
    with pytest.raises(ValueError):
        business_seconds_between(datetime(2026, 3, 2, 10), berlin(2026, 3, 2, 11), OFFICE)
    with pytest.raises(ValueError):
        add_business_seconds(berlin(2026, 3, 2, 10), -1, OFFICE)
    with pytest.raises(ValueError):
        add_business_seconds(berlin(2026, 3, 2, 10), -1, None)


# --- properties ---------------------------------------------------------------------------

# Zones with 1 h, 30 min and midnight DST changes, and none at all.
ZONES = [BERLIN, NEW_YORK, ZoneInfo("Asia/Kolkata"), ZoneInfo("Australia/Lord_Howe"), ZoneInfo("America/Santiago"), UTC]
GERMAN_OFFICE = build(holiday_country="DE")
PROPERTY = settings(max_examples=300, deadline=None, database=None)


def minutes_to_time(minutes: int) -> time:
    return time(*divmod(minutes, 60))


@st.composite
def calendars(draw: st.DrawFn, zones: list = ZONES, avoid_dst_hours: bool = False) -> WorkingCalendar:
    # avoid_dst_hours keeps day_start/day_end out of 02:00-03:00, where the wall clock skips or repeats.
    minute = st.integers(0, 24 * 60 - 1)
    if avoid_dst_hours:
        minute = minute.filter(lambda m: not 120 <= m < 180)
    start, end = sorted(draw(st.lists(minute, min_size=2, max_size=2, unique=True)))
    return WorkingCalendar(
        tz=draw(st.sampled_from(zones)),
        working_days=draw(st.frozensets(st.integers(0, 6), min_size=1)),
        day_start=minutes_to_time(start),
        day_end=minutes_to_time(end),
        holidays=draw(st.frozensets(st.dates(date(2025, 12, 1), date(2027, 3, 1)), max_size=40)),
    )


any_calendar = st.one_of(st.just(OFFICE), st.just(GERMAN_OFFICE), calendars())
instants = st.datetimes(
    min_value=datetime(2025, 12, 1), max_value=datetime(2027, 1, 1), timezones=st.sampled_from(ZONES)
)
durations = st.integers(0, 300 * HOUR)


@PROPERTY
@given(any_calendar, instants, durations)
def test_due_is_never_before_start(calendar, start, seconds):
    due = add_business_seconds(start, seconds, calendar)
    assert due >= start
    # In UTC: == between zones is always False for a wall time in a DST gap or fold (PEP 495).
    assert (due == start.astimezone(UTC)) == (seconds == 0)
    assert due.tzinfo is UTC


@PROPERTY
@given(any_calendar, instants, durations, durations)
def test_adding_in_two_steps_equals_adding_once(calendar, start, first, second):
    in_steps = add_business_seconds(add_business_seconds(start, first, calendar), second, calendar)
    assert in_steps == add_business_seconds(start, first + second, calendar)


@PROPERTY
@given(any_calendar, instants, durations)
def test_between_inverts_add(calendar, start, seconds):
    assert business_seconds_between(start, add_business_seconds(start, seconds, calendar), calendar) == seconds


@PROPERTY
@given(any_calendar, instants, durations, durations)
def test_more_seconds_never_due_earlier(calendar, start, first, second):
    fewer, more = sorted((first, second))
    assert add_business_seconds(start, fewer, calendar) <= add_business_seconds(start, more, calendar)


@PROPERTY
@given(instants, st.integers(0, 10**9))
def test_around_the_clock_is_plain_timedelta(start, seconds):
    due = add_business_seconds(start, seconds, None)
    assert due == start.astimezone(UTC) + timedelta(seconds=seconds)
    assert business_seconds_between(start, due, None) == seconds


@PROPERTY
@given(instants, instants, any_calendar)
def test_between_is_zero_or_positive_and_bounded(start, end, calendar):
    worked = business_seconds_between(start, end, calendar)
    assert 0 <= worked <= business_seconds_between(start, end, None)


@settings(max_examples=100, deadline=None, database=None)
@given(
    calendars(zones=[BERLIN, NEW_YORK, ZoneInfo("Asia/Kolkata"), UTC], avoid_dst_hours=True),
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31)),
    st.integers(0, 4 * 24 * 60),
)
def test_between_matches_a_minute_by_minute_count(calendar, start, span_minutes):
    """An independent oracle: walk UTC minutes and ask the local wall clock if it is working time."""
    start = start.replace(second=0, microsecond=0, tzinfo=UTC)
    working_minutes = 0
    for minute in range(span_minutes):
        local = (start + timedelta(minutes=minute)).astimezone(calendar.tz)
        if (
            local.weekday() in calendar.working_days
            and local.date() not in calendar.holidays
            and calendar.day_start <= local.time() < calendar.day_end
        ):
            working_minutes += 1
    end = start + timedelta(minutes=span_minutes)
    assert business_seconds_between(start, end, calendar) == working_minutes * 60
