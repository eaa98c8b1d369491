"""The official calendar of holidays and 调休 workdays that every time limit is counted on.

Built once from the chinese-calendar package (the State Council's yearly arrangements); the stream
worker, `hcp trace`, `hcp backtest` and the simulator all measure working days on it.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import chinese_calendar

from haochaping.workdays import WEEKDAYS, DateRange, WorkCalendar

# HCP_HOLIDAY_CALENDAR: the official arrangements, or Mon–Fri only.
CALENDAR_NAMES = ("official", "none")
OFFICIAL_NAME = "official holiday calendar"
# What to do when a date is outside the calendar: the package lists the years published so far.
UPGRADE_HINT = "upgrade chinese-calendar once the State Council has published that year's arrangement"


@lru_cache(maxsize=1)
def official_calendar() -> WorkCalendar:
    """Holidays and 调休 workdays of every year chinese-calendar covers, Mon–Fri outside them.

    The covered years are those the package lists holidays or 调休 workdays for (its own rule for
    what it supports): whole years, from 1 January of the first to 31 December of the last.
    Outside them the stream counts Mon–Fri and says so; the batch commands stop (docs/tracing.md).
    """
    holidays: dict[date, str] = chinese_calendar.holidays
    workdays: dict[date, str] = chinese_calendar.workdays
    years = [day.year for day in (*holidays, *workdays)]
    covers = DateRange(date(min(years), 1, 1), date(max(years), 12, 31))
    return WorkCalendar(
        frozenset(holidays),
        frozenset(workdays),
        covers=covers,
        name=OFFICIAL_NAME,
        source=f"chinese-calendar {chinese_calendar.__version__}",
    )


def work_calendar(name: str) -> WorkCalendar:
    """The calendar HCP_HOLIDAY_CALENDAR names: "official" (the default) or "none" (Mon–Fri)."""
    if name == "official":
        return official_calendar()
    if name == "none":
        return WEEKDAYS
    raise ValueError(f"unknown holiday calendar {name!r} (use one of {', '.join(CALENDAR_NAMES)})")
