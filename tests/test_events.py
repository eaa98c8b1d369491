"""Strict decoding of the wire contracts: what is accepted, and how refusals name the field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from haochaping.codes import Reason, StepKind
from haochaping.decoding import MAX_MESSAGE_BYTES, Rejection, decode_event
from haochaping.events import CaseEvent, RatingEvent
from tests.wire import case_event, encode, rating


def test_valid_rating_decodes_with_every_field() -> None:
    event = decode_event(encode(rating(step="REVIEW", tags=["DELAY", "BUCK_PASSING"])))
    assert isinstance(event, RatingEvent)
    assert event.rating_id == "R-0001"
    assert event.level == 1 and event.negative is True
    assert event.tags == [Reason.DELAY, Reason.BUCK_PASSING]
    assert event.step is StepKind.REVIEW
    assert event.rated_at.astimezone(UTC) == datetime(2026, 11, 20, 7, 30, tzinfo=UTC)
    assert event.rater is not None and event.rater.id == "citizen-42"
    assert event.partition_key == "C-0001"


def test_hotline_rating_without_case_is_keyed_by_rating_id() -> None:
    event = decode_event(encode(rating(case_id=None, channel="hotline", rater=None, comment=None)))
    assert isinstance(event, RatingEvent)
    assert event.partition_key == "R-0001"


def test_valid_case_event_decodes() -> None:
    event = decode_event(encode(case_event()))
    assert isinstance(event, CaseEvent)
    assert event.org.role.value == "RECEIVING"
    assert event.note is None
    assert event.partition_key == "C-0001"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"level": 0}, "level: Input should be greater than or equal to 1 (got 0)"),
        ({"level": "1"}, "level: Input should be a valid integer (got '1')"),
        ({"level": True}, "level: Input should be a valid integer (got True)"),
        ({"channel": "fax"}, "channel: Input should be 'pc', 'app', 'mini_program', 'window', 'kiosk', 'hotline' or 'sms' (got 'fax')"),
        ({"province": "999999"}, "province: Value error, unknown province code '999999' (expected a GB/T 2260 province, e.g. 310000) (got '999999')"),
        ({"rated_at": "2026-11-20T15:30:00"}, "rated_at: Input should have timezone info (got '2026-11-20T15:30:00')"),
        ({"rated_at": "2016-01-01T00:00:00+08:00"}, "rated_at: Value error, timestamp 2016-01-01T00:00:00+08:00 is before 2019-01-01, when 好差评 began (got '2016-01-01T00:00:00+08:00')"),
        ({"rating_id": "r 1"}, "rating_id: String should match pattern '^[A-Za-z0-9._:-]{1,64}$' (got 'r 1')"),
        ({"tags": ["SLOW"]}, "tags.0: Input should be"),
        ({"step": "REVEIW"}, "step: Input should be"),
        ({"comment": "慢" * 2001}, "comment: String should have at most 2000 characters"),
        ({"portal": "x"}, "portal: Extra inputs are not permitted (got 'x')"),
        ({"rater": {"id": "u", "real_name": "yes"}}, "rater.real_name: Input should be a valid boolean (got 'yes')"),
    ],
)
def test_invalid_rating_names_field_and_value(changes: dict[str, object], expected: str) -> None:
    result = decode_event(encode(rating(**changes)))
    assert isinstance(result, Rejection)
    assert result.reason.startswith(expected)


def test_missing_field_is_named() -> None:
    event = rating()
    del event["comment"]
    result = decode_event(encode(event))
    assert result == Rejection("comment: Field required")


def test_unknown_schema_is_refused() -> None:
    result = decode_event(encode(rating(schema="hcp.rating/2")))
    assert isinstance(result, Rejection)
    assert "hcp.rating/2" in result.reason and "hcp.rating/1" in result.reason


def test_case_event_on_ratings_topic_is_refused() -> None:
    result = decode_event(encode(case_event()), expected="rating")
    assert result == Rejection("schema: a case event (hcp.case/1) on a topic for rating events")


def test_invalid_json_and_oversize_messages() -> None:
    truncated = decode_event(encode(rating())[:40])
    assert isinstance(truncated, Rejection) and truncated.reason.startswith("not valid JSON")
    huge = decode_event(b"{" + b" " * MAX_MESSAGE_BYTES + b"}")
    assert huge == Rejection(f"message is {MAX_MESSAGE_BYTES + 2} bytes, larger than the {MAX_MESSAGE_BYTES}-byte limit")
    assert decode_event(b"\xff\xfe\x00") == Rejection("not valid UTF-8 at byte 0")


def test_case_event_org_is_strict() -> None:
    bad = case_event(org={"code": "X", "name": "某窗口", "province": "340000", "role": "OFFICE"})
    result = decode_event(encode(bad))
    assert isinstance(result, Rejection)
    assert result.reason.startswith("org.role: Input should be 'RECEIVING'")
