"""Working-day arithmetic for time limits (办结时限 are counted in working days).

Used by the case timeline to measure each step against its catalog limit; pure and O(log holidays).
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
class WorkCalendar:
    """Mon–Fri are working days, minus `holidays`, plus `extra_workdays` (调休 weekends worked)."""

    holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()
    # Ordinals that change the Mon–Fri rule: sets to test a day, sorted tuples to count a range.
    _off: frozenset[int] = field(init=False, repr=False, compare=False)
    _on: frozenset[int] = field(init=False, repr=False, compare=False)
    _off_sorted: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _on_sorted: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        off = {d.toordinal() for d in self.holidays if not _is_weekend(d.toordinal())}
        on = {
            d.toordinal()
            for d in self.extra_workdays
            if _is_weekend(d.toordinal()) and d not in self.holidays
        }
        object.__setattr__(self, "_off", frozenset(off))
        object.__setattr__(self, "_on", frozenset(on))
        object.__setattr__(self, "_off_sorted", tuple(sorted(off)))
        object.__setattr__(self, "_on_sorted", tuple(sorted(on)))

    def is_working_day(self, day: date) -> bool:
        return self._is_working(day.toordinal())

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
