"""Parking ratings that came before their case's events: order, release, bounded wait, replays, restore."""

from __future__ import annotations

from datetime import UTC, datetime

from haochaping.catalog import default_catalog
from haochaping.ingest import WAITED_OUT_EVIDENCE, Ingestor, Message
from haochaping.parking import CaseClock, ParkedRating, Parking, ParkingLot
from tests.wire import case_event, encode, rating

TOPICS = {"t.ratings": "rating", "t.cases": "case"}
RATED = datetime(2026, 11, 20, 7, 30, tzinfo=UTC).timestamp()  # tests.wire's rating


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _parking(caught_up: bool = False, max_wait: float = 300.0) -> tuple[Parking, Clock]:
    clock = Clock()
    return Parking(ParkingLot(max_wait, clock), CaseClock(lambda partition: caught_up)), clock


def _rating(offset: int, **fields: object) -> Message:
    return Message("t.ratings", 2, offset, b"C-0001", encode(rating(rating_id=f"R-{offset}", **fields)))


def test_a_rating_before_its_case_events_is_parked_then_traced_when_they_pass_its_time() -> None:
    parking, _clock = _parking()
    ingestor = Ingestor(TOPICS, b"k", default_catalog())
    timelines: dict[bytes, bytes] = {}
    first = ingestor.process([_rating(7)], timelines, parking)
    assert [parked.message.offset for parked in first.parked] == [7]
    assert first.ratings == 0 and "ratings" not in first.rows and parking.lot.parked == 1
    late_case = case_event(at="2026-11-20T08:00:00+00:00")  # after the rating: the partition has passed it
    second = ingestor.process([Message("t.cases", 2, 10, b"C-0001", encode(late_case))], timelines, parking)
    assert [release.rating.message.offset for release in second.released] == [7]
    assert [release.waited_out for release in second.released] == [False]
    assert second.ratings == 1 and second.rows["ratings"][0][0] == "R-7"
    assert WAITED_OUT_EVIDENCE not in second.attributions[0].wire["evidence"]
    assert parking.lot.parked == 0


def test_later_ratings_of_a_partition_park_behind_the_first_so_offsets_stay_in_order() -> None:
    parking, _clock = _parking()
    ingestor = Ingestor(TOPICS, b"k", default_catalog())
    early = _rating(7)
    old = _rating(8, rated_at="2026-11-01T00:00:00+00:00")  # its partition has passed it, but 7 waits
    batch = ingestor.process([early, old], {}, parking)
    assert [parked.message.offset for parked in batch.parked] == [7, 8]


def test_a_rating_without_a_case_parks_behind_a_parked_one_of_its_partition() -> None:
    parking, _clock = _parking()
    ingestor = Ingestor(TOPICS, b"k", default_catalog())
    hotline = Message("t.ratings", 2, 8, None, encode(rating(rating_id="R-8", case_id=None, channel="hotline")))
    assert [parked.message.offset for parked in ingestor.process([_rating(7), hotline], {}, parking).parked] == [7, 8]
    alone = Message("t.ratings", 3, 0, None, encode(rating(rating_id="R-9", case_id=None, channel="hotline")))
    assert ingestor.process([alone], {}, parking).ratings == 1  # nothing parked in its partition: traced now


def test_caught_up_partitions_trace_at_once() -> None:
    parking, _clock = _parking(caught_up=True)
    batch = Ingestor(TOPICS, b"k", default_catalog()).process([_rating(7)], {}, parking)
    assert batch.parked == [] and batch.ratings == 1


def test_the_bounded_wait_releases_and_the_attribution_says_so() -> None:
    parking, clock = _parking(max_wait=300.0)
    ingestor = Ingestor(TOPICS, b"k", default_catalog())
    ingestor.process([_rating(7)], {}, parking)
    clock.now += 299.0
    assert ingestor.process([], {}, parking).released == []
    clock.now += 2.0
    batch = ingestor.process([], {}, parking)
    assert [release.waited_out for release in batch.released] == [True]
    assert batch.attributions[0].wire["evidence"][-1] == WAITED_OUT_EVIDENCE
    assert parking.lot.released_early == 1


def test_a_parked_record_read_again_is_skipped() -> None:
    parking, _clock = _parking()
    ingestor = Ingestor(TOPICS, b"k", default_catalog())
    ingestor.process([_rating(7)], {}, parking)
    again = ingestor.process([_rating(7)], {}, parking)
    assert again.parked == [] and again.already_parked == 1 and parking.lot.parked == 1


def test_restored_entries_keep_their_order_and_park_time() -> None:
    parking, clock = _parking()
    entries = [ParkedRating(_rating(offset), RATED, 900.0) for offset in (9, 7, 8)]
    decoded = [ParkedRating.decode(entry.encode()) for entry in entries]
    assert decoded == entries
    parking.lot.restore(decoded)
    clock.now = 1_250.0  # 350 s after they were parked: over the wait
    released = parking.lot.release(parking.clock)
    assert [release.rating.message.offset for release in released] == [7, 8, 9]


def test_with_clocks_running_ahead_a_future_dated_rating_is_released_by_future_dated_case_events() -> None:
    # The ingestor's clock is an hour behind the portal's and the office's: both are "future-dated".
    behind = RATED - 3_600
    parking, _clock = _parking()
    ingestor = Ingestor(TOPICS, b"k", default_catalog(), max_clock_skew_seconds=600, clock=lambda: behind)
    timelines: dict[bytes, bytes] = {}
    first = ingestor.process([_rating(7)], timelines, parking)
    assert [parked.message.offset for parked in first.parked] == [7]
    assert first.parked[0].rated_at == behind + 600  # parked at the plausible limit
    later = case_event(at="2026-11-20T08:00:00+00:00")  # after the rating, also beyond the limit
    second = ingestor.process([Message("t.cases", 2, 10, b"C-0001", encode(later))], timelines, parking)
    assert [(release.rating.message.offset, release.waited_out) for release in second.released] == [(7, False)]
    assert second.future_dated == 2  # the case event and the rating: neither moved a watermark
    assert second.latest_case_at == {} and second.latest_rating_at == {}
