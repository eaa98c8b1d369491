"""Simulated time: POSIX seconds on the Beijing calendar, working days and office hours.

Used by the case timelines to place step events; the working-day rule is the one tracing
measures with (24-hour working days on the official holiday calendar, haochaping/holidays.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from haochaping.holidays import official_calendar

CHINA_TZ = timezone(timedelta(hours=8))
OFFSET = 8 * 3600
DAY = 86_400
OPEN = 9 * 3600  # offices open 09:00
CLOSE = 17 * 3600 + 1800  # and close 17:30
_CALENDAR = official_calendar()  # offices close for 国庆 and 春节 and open on 调休 weekends


def is_working_day(t: float) -> bool:
    return _CALENDAR.is_working_epoch_day(int((t + OFFSET) // DAY))


def second_of_day(t: int) -> int:
    return (t + OFFSET) % DAY


def day_start(t: int) -> int:
    """Local midnight of t's day, as POSIX seconds."""
    return t - second_of_day(t)


def to_datetime(t: int) -> datetime:
    return datetime.fromtimestamp(t, CHINA_TZ)


def to_epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def office_open(t: int, jitter: int = 0) -> int:
    """The earliest moment at or after t when a window is open; `jitter` delays a morning opening."""
    while True:
        sod = second_of_day(t)
        if is_working_day(t):
            if sod < OPEN:
                return day_start(t) + OPEN + jitter
            if sod < CLOSE:
                return t
        t = day_start(t) + DAY


def add_work(t: int, days: float) -> int:
    """t advanced by `days` × 24 hours of working-day time (weekends are skipped whole)."""
    remaining = days * DAY
    while True:
        if is_working_day(t):
            left_today = DAY - second_of_day(t)
            if remaining < left_today:
                return t + int(remaining)
            remaining -= left_today
        t = day_start(t) + DAY


def work_between(start: int, end: int) -> float:
    """Working days elapsed from start to end (the inverse of add_work)."""
    total = 0.0
    t = start
    while t < end:
        next_day = day_start(t) + DAY
        if is_working_day(t):
            total += min(end, next_day) - t
        t = next_day
    return total / DAY


def into_office_hours(t: int, jitter: int) -> int:
    """Move a completion time into office hours of its own day when it fell in the night.

    Evening times go back to just before closing, early-morning ones to just after opening, so a
    duration drawn in working days keeps roughly its length (within about 0.4 of a day).
    """
    if not is_working_day(t):
        return office_open(t, jitter)
    sod = second_of_day(t)
    if sod >= CLOSE:
        return day_start(t) + CLOSE - 60 - jitter
    if sod < OPEN:
        return day_start(t) + OPEN + jitter
    return t
