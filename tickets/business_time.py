"""Business-time arithmetic for SLA due times.

Pure functions over a `WorkingCalendar`: no models, no database, and no clock (callers pass
every instant in). Working time is real elapsed time inside each working day's local
window [day_start, day_end). A 09:00-17:00 day is therefore 8 hours on a DST change day
too, while a window that spans the change (say 00:00-06:00) is 5 or 7 hours, as long as
the wall clock really ran. Results are aware datetimes in UTC.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_lib

# Public holidays are materialised for one fixed span rather than "around today": this
# module must not read the clock, and the whole span costs a few ms once per country.
PUBLIC_HOLIDAY_YEARS = range(2000, 2100)

# A calendar whose working days are all declared holidays would otherwise spin forever.
_MAX_IDLE_DAYS = 3660

_ONE_DAY = timedelta(days=1)
_ONE_SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class WorkingCalendar:
    """When the SLA clock runs: local working hours on working days, minus holidays."""

    tz: ZoneInfo
    working_days: frozenset[int]  # 0 = Monday ... 6 = Sunday
    day_start: time  # local wall-clock start of the working day, e.g. time(9)
    day_end: time  # local end, e.g. time(17); day_end > day_start
    holidays: frozenset[date] = frozenset()  # local dates that are not worked

    def __post_init__(self) -> None:
        # Accept any iterables so a calendar built by hand still hashes and compares by value.
        object.__setattr__(self, "working_days", frozenset(self.working_days))
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        if not isinstance(self.tz, tzinfo):
            raise ValueError(f"tz must be a time zone, got {self.tz!r}")
        if not self.working_days:
            raise ValueError("a working calendar needs at least one working day")
        if not all(isinstance(day, int) and 0 <= day <= 6 for day in self.working_days):
            raise ValueError(f"working days are 0 (Monday) to 6 (Sunday), got {sorted(self.working_days)}")
        if not isinstance(self.day_start, time) or not isinstance(self.day_end, time):
            raise ValueError("day_start and day_end must be times")
        if self.day_start.tzinfo is not None or self.day_end.tzinfo is not None:
            raise ValueError("day_start and day_end are local wall-clock times without tzinfo")
        if self.day_end <= self.day_start:
            raise ValueError("day_end must be after day_start")

    @classmethod
    def build(
        cls,
        *,
        timezone: str,
        working_days: Iterable[int],
        day_start: time,
        day_end: time,
        holiday_country: str = "",
        holiday_subdivision: str = "",
        holidays: Iterable[date | str] = (),
    ) -> WorkingCalendar:
        """Public holidays of holiday_country (python-`holidays`, years in PUBLIC_HOLIDAY_YEARS,
        cached per country/subdivision) plus the custom `holidays` (dates or 'YYYY-MM-DD').
        Raises ValueError for an unknown time zone, country or subdivision, or bad dates."""
        closed = _public_holidays(_code(holiday_country).upper(), _code(holiday_subdivision))
        custom = frozenset(_as_date(value) for value in _iterable(holidays, "holidays"))
        return cls(
            tz=_zone(timezone),
            working_days=frozenset(_iterable(working_days, "working_days")),
            day_start=day_start,
            day_end=day_end,
            holidays=(closed | custom) if custom else closed,
        )


def add_business_seconds(start: datetime, seconds: int, calendar: WorkingCalendar | None) -> datetime:
    """The UTC instant when `seconds` of working time have passed after `start`.

    It is the earliest such instant, so filling a day exactly ends at day_end, not at the
    next day_start. A `start` outside working hours counts from the next working moment;
    seconds == 0 returns `start` itself (in UTC), even outside hours. calendar None counts
    around the clock. Raises ValueError for a naive `start` or negative `seconds`.
    """
    start_utc = _as_utc(start)
    seconds = operator.index(seconds)
    if seconds < 0:
        raise ValueError(f"seconds must not be negative, got {seconds}")
    remaining = timedelta(seconds=seconds)
    if calendar is None or not seconds:
        # In UTC, not in start's zone: aware + timedelta in a zone is wall-clock arithmetic.
        return start_utc + remaining
    cursor = start_utc
    for opens, closes in _working_windows(calendar, _local_day(start_utc, calendar) - _ONE_DAY):
        opens = max(opens, cursor)
        if opens >= closes:
            continue
        available = closes - opens
        if remaining <= available:
            return opens + remaining
        remaining -= available
        cursor = closes
    raise AssertionError("_working_windows never ends")


def add_business_minutes(start: datetime, minutes: int, calendar: WorkingCalendar | None) -> datetime:
    """`add_business_seconds` for targets configured in minutes."""
    return add_business_seconds(start, operator.index(minutes) * 60, calendar)


def business_seconds_between(start: datetime, end: datetime, calendar: WorkingCalendar | None) -> int:
    """Whole working seconds in [start, end), floored; 0 when end <= start.

    calendar None counts wall-clock (real elapsed) seconds. For any start,
    business_seconds_between(start, add_business_seconds(start, s, cal), cal) == s.
    """
    start_utc, end_utc = _as_utc(start), _as_utc(end)
    if end_utc <= start_utc:
        return 0
    if calendar is None:
        return (end_utc - start_utc) // _ONE_SECOND
    worked = timedelta(0)
    cursor = start_utc
    for opens, closes in _working_windows(calendar, _local_day(start_utc, calendar) - _ONE_DAY):
        if opens >= end_utc:
            break
        low, high = max(opens, cursor), min(closes, end_utc)
        if low < high:
            worked += high - low
            cursor = high
    # Floor the sum, not each window, so the result agrees with add_business_seconds.
    return worked // _ONE_SECOND


def _working_windows(calendar: WorkingCalendar, first_day: date) -> Iterator[tuple[datetime, datetime]]:
    """(opens, closes) in UTC for every working day from first_day on, in order, forever.

    Days are stepped one at a time, never minutes; a day's window is built from local
    wall-clock times so DST shifts it the way the office clock moves. Raises ValueError
    after _MAX_IDLE_DAYS days in a row without working time.
    """
    day = first_day
    idle_days = 0
    while True:
        if day.weekday() in calendar.working_days and day not in calendar.holidays:
            opens = datetime.combine(day, calendar.day_start, tzinfo=calendar.tz).astimezone(UTC)
            closes = datetime.combine(day, calendar.day_end, tzinfo=calendar.tz).astimezone(UTC)
            # Empty only when a DST gap swallows the whole window.
            if opens < closes:
                yield opens, closes
                idle_days = 0
                day += _ONE_DAY
                continue
        idle_days += 1
        if idle_days > _MAX_IDLE_DAYS:
            raise ValueError(f"the working calendar has no working time for {_MAX_IDLE_DAYS} days in a row")
        day += _ONE_DAY


def _local_day(instant: datetime, calendar: WorkingCalendar) -> date:
    return instant.astimezone(calendar.tz).date()


def _as_utc(value: datetime) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"expected an aware datetime, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def _zone(key: str) -> ZoneInfo:
    if not isinstance(key, str) or not key:
        raise ValueError(f"unknown time zone {key!r}")
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"unknown time zone {key!r}") from exc


def _code(value: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a holiday country or subdivision code, got {value!r}")
    return value.strip()


def _iterable(value: Iterable, name: str) -> list:
    # The settings come from JSON; a scalar or nested list there is bad input, not a crash.
    try:
        items = list(value)
        frozenset(items)
    except TypeError as exc:
        raise ValueError(f"{name} must be a list of plain values, got {value!r}") from exc
    return items


@functools.cache
def _public_holidays(country: str, subdivision: str) -> frozenset[date]:
    if not country:
        if subdivision:
            raise ValueError("holiday_subdivision needs a holiday_country")
        return frozenset()
    try:
        found = holidays_lib.country_holidays(country, subdiv=subdivision or None, years=PUBLIC_HOLIDAY_YEARS)
    except NotImplementedError as exc:  # how python-holidays reports an unknown country or subdivision
        raise ValueError(str(exc)) from exc
    return frozenset(found)


def _as_date(value: date | str) -> date:
    # datetime is a date subclass, but it would never equal the plain dates looked up here.
    if isinstance(value, datetime):
        raise ValueError(f"holidays are dates, not datetimes: {value!r}")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError as exc:
            raise ValueError(f"invalid holiday date {value!r}, expected YYYY-MM-DD") from exc
    raise ValueError(f"invalid holiday date {value!r}, expected YYYY-MM-DD")
