"""Ratings held until their partition's case events caught up (streams/alignment.py): pure."""

from __future__ import annotations

import json

from streams.alignment import MAX_HOLD_SECONDS, RatingHold

Record = tuple[str, int, int, bytes]


def rating(partition: int, offset: int, rated_at: str) -> Record:
    return ("ratings", partition, offset, json.dumps({"rated_at": rated_at}).encode())


def case(partition: int, offset: int) -> Record:
    return ("cases", partition, offset, b"{}")


def hold(clock: list[float] | None = None) -> RatingHold[Record]:
    now = clock or [0.0]
    return RatingHold(frozenset({"ratings"}), lambda r: (r[0], r[1], r[2]), lambda r: r[3], clock=lambda: now[0])


NOT_CAUGHT_UP = {0: False, 1: False}.__getitem__
CAUGHT_UP = {0: True, 1: True}.__getitem__
T10 = "2026-11-20T10:00:00+08:00"
T11 = "2026-11-20T11:00:00+08:00"
EPOCH_T10 = 1795140000.0  # 2026-11-20T02:00:00Z


def test_case_events_pass_and_ratings_wait_while_their_case_events_lag() -> None:
    h = hold()
    ready = h.take([case(0, 5), rating(0, 1, T10), case(1, 9)], NOT_CAUGHT_UP)
    assert ready == [case(0, 5), case(1, 9)]
    assert h.held_total == 1


def test_ratings_go_once_case_events_of_their_partition_pass_their_time_in_order() -> None:
    h = hold()
    h.take([rating(0, 1, T10), rating(0, 2, T11), rating(1, 1, T10)], NOT_CAUGHT_UP)
    h.processed({0: EPOCH_T10})  # partition 0's case events are done up to 10:00
    ready = h.take([], NOT_CAUGHT_UP)
    assert ready == [rating(0, 1, T10)]  # 11:00 waits, and so would anything behind it
    assert h.held_total == 2


def test_everything_goes_when_the_case_partition_has_nothing_more() -> None:
    h = hold()
    h.take([rating(0, 1, T11)], NOT_CAUGHT_UP)
    assert h.take([rating(0, 2, T10)], CAUGHT_UP) == [rating(0, 1, T11), rating(0, 2, T10)]
    assert h.held_total == 0 and h.released_early == 0


def test_no_rating_waits_longer_than_the_limit() -> None:
    clock = [0.0]
    h = hold(clock)
    h.take([rating(0, 1, T11)], NOT_CAUGHT_UP)
    clock[0] = MAX_HOLD_SECONDS + 1
    assert h.take([], NOT_CAUGHT_UP) == [rating(0, 1, T11)]
    assert h.released_early == 1


def test_unreadable_ratings_are_not_held() -> None:
    h = hold()
    assert h.take([("ratings", 0, 1, b"not json")], NOT_CAUGHT_UP) == [("ratings", 0, 1, b"not json")]


def test_a_rebalance_gives_up_held_ratings_and_says_where_each_partition_resumes() -> None:
    h = hold()
    h.take([rating(0, 7, T10), rating(0, 8, T10), rating(1, 3, T11)], NOT_CAUGHT_UP)
    first, records = h.release_all()
    assert first == {("ratings", 0): 7, ("ratings", 1): 3}
    assert records == [rating(0, 7, T10), rating(0, 8, T10), rating(1, 3, T11)]
    assert h.held_total == 0 and h.take([], NOT_CAUGHT_UP) == []


def test_a_held_offset_and_everything_after_it_count_as_held() -> None:
    h = hold()
    h.take([rating(0, 7, T10), rating(0, 8, T10)], NOT_CAUGHT_UP)
    assert h.holds(rating(0, 7, T10)) and h.holds(rating(0, 8, T10))
    assert not h.holds(rating(0, 6, T10)) and not h.holds(rating(1, 7, T10))
