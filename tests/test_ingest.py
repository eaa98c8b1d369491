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
