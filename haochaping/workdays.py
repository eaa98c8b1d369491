"""Working-day arithmetic for time limits (办结时限 are counted in working days).

Used by the case timeline to measure each step against its catalog limit; pure and O(log holidays).
The official holidays and 调休 workdays come from haochaping/holidays.py.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache

# Time limits are counted on the Beijing calendar, whatever offset an office system stamps.
CHINA_TZ = timezone(timedelta(hours=8), "CST")
SECONDS_PER_DAY = 86_400.0
_CHINA_OFFSET_SECONDS = 8 * 3600
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def _weekdays_up_to(ordinal: int) -> int:
    """Mondays..Fridays among date ordinals 1..ordinal (ordinal 1, 0001-01-01, is a Monday)."""
    weeks, rest = divmod(ordinal, 7)
    return weeks * 5 + min(rest, 5)


def _is_weekend(ordinal: int) -> bool:
    return (ordinal - 1) % 7 >= 5


@dataclass(frozen=True, slots=True)
class DateRange:
    """Beijing calendar dates first..last inclusive."""

    first: date
    last: date

    def __str__(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first} to {self.last}"

    @property
    def years(self) -> str:
        first, last = self.first.year, self.last.year
        return str(first) if first == last else f"{first}–{last}"

    def union(self, other: DateRange | None) -> DateRange:
        """The smallest range holding both (other None: this one)."""
        if other is None:
            return self
        return DateRange(min(self.first, other.first), max(self.last, other.last))


class CalendarNotCovered(ValueError):
    """A time was measured on dates whose holidays and 调休 workdays the calendar does not know."""

    def __init__(self, dates: DateRange, calendar: WorkCalendar) -> None:
        covers = calendar.covers
        assert covers is not None
        source = f", {calendar.source}" if calendar.source else ""
        super().__init__(
            f"{dates} is outside the {calendar.name} ({covers.years}{source}): "
            "holidays and 调休 workdays there are not known"
        )
        self.dates = dates
        self.covers = covers


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    """Mon–Fri are working days, minus `holidays`, plus `extra_workdays` (调休 weekends worked).

    `covers` is the range of dates the holiday lists are known for (None: the lists are all there
    is, as for plain Mon–Fri). Outside it the Mon–Fri rule applies; `outside()` tells a caller
    that measured there, which then notes it or raises CalendarNotCovered.
    """

    holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()
    covers: DateRange | None = None
    name: str = field(default="working-day calendar", compare=False)
    source: str = field(default="", compare=False)  # where the lists come from, for messages
    # Ordinals that change the Mon–Fri rule: sets to test a day, sorted tuples to count a range.
    _off: frozenset[int] = field(init=False, repr=False, compare=False)
    _on: frozenset[int] = field(init=False, repr=False, compare=False)
    _off_sorted: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _on_sorted: tuple[int, ...] = field(init=False, repr=False, compare=False)
    # The covered range as POSIX seconds: Beijing midnight of its first day and after its last.
    _covered_from: float = field(init=False, repr=False, compare=False)
    _covered_until: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        covered_from, covered_until = -math.inf, math.inf
        if self.covers is not None:
            covered_from = _midnight(self.covers.first.toordinal())
            covered_until = _midnight(self.covers.last.toordinal() + 1)
        object.__setattr__(self, "_covered_from", covered_from)
        object.__setattr__(self, "_covered_until", covered_until)
        off = {d.toordinal() for d in self.holidays if not _is_weekend(d.toordinal())}
        on = {d.toordinal() for d in self.extra_workdays if _is_weekend(d.toordinal()) and d not in self.holidays}
        object.__setattr__(self, "_off", frozenset(off))
        object.__setattr__(self, "_on", frozenset(on))
        object.__setattr__(self, "_off_sorted", tuple(sorted(off)))
        object.__setattr__(self, "_on_sorted", tuple(sorted(on)))

    def is_working_day(self, day: date) -> bool:
        return self._is_working(day.toordinal())

    def is_working_epoch_day(self, day: int) -> bool:
        """is_working_day() of the Beijing date `day` days after 1970-01-01 (the simulator's clock)."""
        return self._is_working(day + _EPOCH_ORDINAL)

    def outside(self, start: float, end: float) -> DateRange | None:
        """The dates of the span start..end (POSIX seconds) that lie outside `covers`, or None.

        Only days the span has time on count: a span ending at midnight does not reach the next day.
        """
        if end < start:
            start, end = end, start
        if self._covered_from <= start and end <= self._covered_until:
            return None
        first = math.floor((start + _CHINA_OFFSET_SECONDS) / SECONDS_PER_DAY) + _EPOCH_ORDINAL
        last = math.ceil((end + _CHINA_OFFSET_SECONDS) / SECONDS_PER_DAY) - 1 + _EPOCH_ORDINAL
        last = max(first, last)
        covers = self.covers
        assert covers is not None  # covered everywhere otherwise
        low, high = covers.first.toordinal(), covers.last.toordinal()
        # Before the covered range, after it, or (a span of decades) both: from the first day outside to the last.
        begin = first if first < low else max(first, high + 1)
        finish = last if last > high else min(last, low - 1)
        return DateRange(date.fromordinal(begin), date.fromordinal(finish))

    def _is_working(self, ordinal: int) -> bool:
        if (ordinal - 1) % 7 >= 5:
            return ordinal in self._on
        return ordinal not in self._off

    def working_days_in(self, first: int, last: int) -> int:
        """Whole working days among date ordinals first..last inclusive (0 when empty)."""
        if last < first:
            return 0
        count = _weekdays_up_to(last) - _weekdays_up_to(first - 1)
        if self._off_sorted:
            count -= bisect_right(self._off_sorted, last) - bisect_left(self._off_sorted, first)
        if self._on_sorted:
            count += bisect_right(self._on_sorted, last) - bisect_left(self._on_sorted, first)
        return count

    def between(self, start: datetime, end: datetime) -> float:
        """Elapsed time from start to end that falls on working days, in days of 24 hours.

        Both instants are read on the Beijing calendar (UTC+8). Each working day contributes
        the part of its 24 hours that lies inside [start, end); weekends and holidays
        contribute nothing. So Fri 17:00 → Mon 09:00 is 7 h + 9 h = 0.6667 days, and
        Mon 09:00 → Wed 09:00 is exactly 2.0. Reversed arguments give the negative value.
        """
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("working-day arithmetic needs timezone-aware datetimes")
        return self.between_epoch(start.timestamp(), end.timestamp())

    def between_epoch(self, start: float, end: float) -> float:
        """The same as between(), on POSIX timestamps in seconds (the timeline's hot path)."""
        if end < start:
            return -self.between_epoch(end, start)
        # Days since 1970-01-01 on the Beijing calendar, with the time of day as the fraction
        # (small numbers keep the fraction exact to ~1e-11 days).
        first_day = (start + _CHINA_OFFSET_SECONDS) / SECONDS_PER_DAY
        last_day = (end + _CHINA_OFFSET_SECONDS) / SECONDS_PER_DAY
        first = math.floor(first_day)
        last = math.floor(last_day)
        if first == last:
            return last_day - first_day if self._is_working(first + _EPOCH_ORDINAL) else 0.0
        total = 0.0
        if self._is_working(first + _EPOCH_ORDINAL):
            total += first + 1 - first_day
        if self._is_working(last + _EPOCH_ORDINAL):
            total += last_day - last
        if last - first > 1:
            total += self.working_days_in(first + 1 + _EPOCH_ORDINAL, last - 1 + _EPOCH_ORDINAL)
        return total


def _midnight(ordinal: int) -> float:
    """POSIX seconds of Beijing midnight at the start of date ordinal `ordinal`."""
    return (ordinal - _EPOCH_ORDINAL) * SECONDS_PER_DAY - _CHINA_OFFSET_SECONDS


# Mon–Fri only: what every time limit was counted on before the official calendar (HCP_HOLIDAY_CALENDAR=none).
WEEKDAYS = WorkCalendar(name="Mon–Fri calendar")


@lru_cache(maxsize=32)
def calendar_for(holidays: frozenset[date], extra_workdays: frozenset[date] = frozenset()) -> WorkCalendar:
    """Calendars are immutable, so callers passing the same holiday set share one."""
    return WorkCalendar(holidays, extra_workdays)


def working_days_between(
    start: datetime,
    end: datetime,
    holidays: frozenset[date] = frozenset(),
    extra_workdays: frozenset[date] = frozenset(),
) -> float:
    """Working days elapsed from start to end; see WorkCalendar.between for the exact rule."""
    return calendar_for(holidays, extra_workdays).between(start, end)
