"""The pure batch step: rows with source coordinates, dead letters with reasons, replays identical."""

from __future__ import annotations

from datetime import UTC, datetime

from haochaping.catalog import default_catalog
from haochaping.ingest import Ingestor, Message
from haochaping.privacy import pseudonymise
from tests.wire import case_event, encode, rating

KEY = b"test-key"
TOPICS = {"t.ratings": "rating", "t.cases": "case"}


def _batch() -> list[Message]:
    return [
        Message("t.cases", 2, 10, b"C-0001", encode(case_event())),
        Message("t.ratings", 2, 7, b"C-0001", encode(rating())),
        Message("t.ratings", 0, 3, None, b'{"schema": "hcp.rating/1"'),
        Message("t.other", 0, 0, None, encode(rating())),
    ]


def test_rows_and_dead_letters() -> None:
    timelines: dict[bytes, bytes] = {}
    batch = Ingestor(TOPICS, KEY, default_catalog()).process(_batch(), timelines)
    assert batch.ratings == 1 and batch.case_events == 1
    assert batch.rows["ratings"] == [
        (
            "R-0001",
            "C-0001",
            "HCP-TEST",
            "340000",
            "window",
            1,
            1,
            ["DELAY"],
            "材料寄过去半个月了，审批一直没动静，电话[手机号]",
            None,
            datetime(2026, 11, 20, 7, 30, tzinfo=UTC),
            pseudonymise("citizen-42", KEY),
            1,
            "t.ratings",
            2,
            7,
        )
    ]
    assert batch.rows["case_events"] == [
        (
            "E-0001",
            "C-0001",
            "HCP-TEST",
            "proxy",
            "ACCEPT",
            "complete",
            "340100-ZWFW",
            "合肥市政务服务中心",
            "340000",
            "RECEIVING",
            datetime(2026, 11, 3, 1, 12, tzinfo=UTC),
            None,
            "t.cases",
            2,
            10,
        )
    ]
    assert [letter.reason for letter in batch.dead_letters] == [
        "not valid JSON: EOF while parsing an object at line 1 column 25",
        "topic 't.other' carries no known event kind",
    ]
    assert batch.dead_letters[0].message.value == b'{"schema": "hcp.rating/1"'
    assert batch.rows["dead_letters"][0][1:] == (25, "t.ratings", 0, 3)


def test_replayed_batch_gives_identical_rows() -> None:
    ingestor = Ingestor(TOPICS, KEY, default_catalog())
    timelines: dict[bytes, bytes] = {}
    first = ingestor.process(_batch(), timelines)
    state = dict(timelines)
    second = ingestor.process(_batch(), timelines)
    assert second.rows == first.rows
    assert timelines == state  # the timeline ignored the redelivered case event


NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC).timestamp()


def _at(seconds_from_now: float) -> str:
    return datetime.fromtimestamp(NOW + seconds_from_now, UTC).isoformat()


def test_events_beyond_the_clock_skew_are_stored_but_do_not_move_the_watermarks() -> None:
    messages = [
        Message("t.cases", 0, 0, b"C-1", encode(case_event(event_id="E-1", case_id="C-1", at=_at(600)))),
        Message("t.cases", 0, 1, b"C-2", encode(case_event(event_id="E-2", case_id="C-2", at=_at(601)))),
        Message("t.cases", 1, 0, b"C-3", encode(case_event(event_id="E-3", case_id="C-3", at=_at(86_400 * 365)))),
        Message("t.ratings", 0, 0, b"C-1", encode(rating(rating_id="R-1", case_id="C-1", rated_at=_at(-1_800)))),
        Message("t.ratings", 0, 1, b"C-2", encode(rating(rating_id="R-2", case_id="C-2", rated_at=_at(3_600)))),
        Message("t.ratings", 1, 0, None, encode(rating(rating_id="R-3", case_id=None, rated_at=_at(601)))),
    ]
    ingestor = Ingestor(TOPICS, KEY, default_catalog(), max_clock_skew_seconds=600.0, clock=lambda: NOW)
    batch = ingestor.process(messages, {})
    assert batch.dead_letters == []
    assert (batch.case_events, batch.ratings, batch.future_dated) == (3, 3, 4)
    assert [row[0] for row in batch.rows["case_events"]] == ["E-1", "E-2", "E-3"]
    assert [row[0] for row in batch.rows["ratings"]] == ["R-1", "R-2", "R-3"]
    assert [traced.wire["rating_id"] for traced in batch.attributions] == ["R-1", "R-2", "R-3"]
    assert batch.latest_case_at == {0: NOW + 600}  # at the limit still counts; partition 1 had only the future
    assert batch.latest_rating_at == {0: NOW - 1_800}
    assert batch.latest_event_at == NOW + 600


def test_the_clock_is_read_once_per_batch_and_the_skew_is_a_parameter() -> None:
    readings = iter([NOW, NOW + 60])
    ingestor = Ingestor(TOPICS, KEY, default_catalog(), max_clock_skew_seconds=0.0, clock=lambda: next(readings))
    ahead = [Message("t.ratings", 0, 0, b"C-1", encode(rating(rated_at=_at(30))))]
    first = ingestor.process(ahead * 2, {})
    assert (first.ratings, first.future_dated, first.latest_rating_at) == (2, 2, {})
    second = ingestor.process(ahead, {})  # the clock has caught up with the rating
    assert (second.ratings, second.future_dated, second.latest_rating_at) == (1, 0, {0: NOW + 30})
