"""Ratings partitions wait for their case events in a backlog, never in live traffic, never forever."""

from __future__ import annotations

from haochaping.alignment import EventTimeAlignment


def test_live_traffic_is_never_held() -> None:
    alignment = EventTimeAlignment()
    assert alignment.hold_ratings(0, cases_caught_up=True, now=0.0) is False
    alignment.saw_ratings(0, 2_000.0)
    alignment.saw_case_events(0, 1_000.0)
    assert alignment.hold_ratings(0, cases_caught_up=True, now=1.0) is False


def test_backlog_drains_case_events_first() -> None:
    alignment = EventTimeAlignment()
    assert alignment.hold_ratings(0, cases_caught_up=False, now=0.0) is True
    alignment.saw_case_events(0, 1_000.0)
    assert alignment.hold_ratings(0, cases_caught_up=False, now=1.0) is True  # no rating seen yet
    assert alignment.hold_ratings(0, cases_caught_up=True, now=2.0) is False


def test_ratings_wait_only_while_case_events_are_older() -> None:
    alignment = EventTimeAlignment()
    alignment.saw_ratings(3, 5_000.0)
    alignment.saw_case_events(3, 4_000.0)
    assert alignment.hold_ratings(3, cases_caught_up=False, now=0.0) is True
    alignment.saw_case_events(3, 5_000.0)
    assert alignment.hold_ratings(3, cases_caught_up=False, now=1.0) is False
    assert alignment.hold_ratings(2, cases_caught_up=False, now=1.0) is True  # partitions are independent


def test_a_stuck_partition_releases_ratings_after_the_limit() -> None:
    alignment = EventTimeAlignment(max_hold_seconds=30.0)
    assert alignment.hold_ratings(0, cases_caught_up=False, now=100.0) is True
    assert alignment.hold_ratings(0, cases_caught_up=False, now=129.9) is True
    assert alignment.hold_ratings(0, cases_caught_up=False, now=130.0) is False
