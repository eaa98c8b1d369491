"""Working-day arithmetic: weekends, holidays, 调休 days, the Beijing calendar, exact fractions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from haochaping.workdays import WorkCalendar, working_days_between

CST = timezone(timedelta(hours=8))


def at(day: int, hour: int = 9, minute: int = 0, month: int = 3) -> datetime:
    # March 2025: the 3rd is a Monday, the 8th/9th a weekend.
    return datetime(2025, month, day, hour, minute, tzinfo=CST)


def test_whole_working_days() -> None:
    assert working_days_between(at(3), at(5)) == pytest.approx(2.0, abs=1e-9)


def test_fractions_are_parts_of_24_hours() -> None:
    assert working_days_between(at(3, 9), at(3, 15)) == pytest.approx(0.25, abs=1e-9)


def test_weekend_does_not_count() -> None:
    # Fri 17:00 → Mon 09:00: 7 h of Friday and 9 h of Monday.
    assert working_days_between(at(7, 17), at(10, 9)) == pytest.approx(16 / 24, abs=1e-9)
    assert working_days_between(at(8, 10), at(9, 18)) == 0.0


def test_a_full_week_is_five_days() -> None:
    assert working_days_between(at(3), at(10)) == pytest.approx(5.0, abs=1e-9)


def test_holidays_are_skipped() -> None:
    holidays = frozenset({date(2025, 3, 4)})
    assert working_days_between(at(3), at(5), holidays) == pytest.approx(1.0, abs=1e-9)
    # A holiday on a weekend changes nothing.
    assert working_days_between(at(3), at(10), frozenset({date(2025, 3, 8)})) == pytest.approx(5.0)


def test_make_up_working_weekend_counts() -> None:
    assert working_days_between(at(8, 0), at(9, 0), extra_workdays=frozenset({date(2025, 3, 8)})) == (
        pytest.approx(1.0, abs=1e-9)
    )


def test_reversed_arguments_give_the_negative() -> None:
    assert working_days_between(at(5), at(3)) == pytest.approx(-2.0, abs=1e-9)


def test_read_on_the_beijing_calendar() -> None:
    # Friday 20:00 UTC is Saturday 04:00 in Beijing: no working time until Monday.
    friday_evening_utc = datetime(2025, 3, 7, 20, 0, tzinfo=UTC)
    monday_beijing = at(10, 0)
    assert working_days_between(friday_evening_utc, monday_beijing) == 0.0


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        working_days_between(datetime(2025, 3, 3), at(4))


def test_calendar_counts_whole_days_in_a_range() -> None:
    calendar = WorkCalendar(frozenset({date(2025, 3, 4)}))
    first, last = date(2025, 3, 3).toordinal(), date(2025, 3, 16).toordinal()
    assert calendar.working_days_in(first, last) == 9
    assert calendar.is_working_day(date(2025, 3, 3))
    assert not calendar.is_working_day(date(2025, 3, 4))
    assert not calendar.is_working_day(date(2025, 3, 8))


moments = st.integers(min_value=1_700_000_000, max_value=1_800_000_000).map(
    lambda seconds: datetime.fromtimestamp(seconds, CST)
)


@given(moments, moments, moments)
def test_additive_and_bounded(a: datetime, b: datetime, c: datetime) -> None:
    a, b, c = sorted((a, b, c))
    ab, bc, ac = working_days_between(a, b), working_days_between(b, c), working_days_between(a, c)
    assert ab + bc == pytest.approx(ac, abs=1e-6)
    assert 0.0 <= ac <= (c - a).total_seconds() / 86_400 + 1e-9
