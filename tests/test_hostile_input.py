"""Hostile input: every message a portal, an office system or an attacker can send is either a
valid event or a Rejection whose reason names the field; nothing raises (pure, no Kafka).

A hand-written corpus first, then hypothesis: decode_event never raises on arbitrary bytes
or arbitrary JSON, and whatever it accepts the Ingestor turns into rows without raising;
whatever record the Ingestor gets (tombstones and null keys too), it never raises.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from haochaping.catalog import default_catalog
from haochaping.codes import Reason
from haochaping.decoding import MAX_MESSAGE_BYTES, Rejection, decode_event
from haochaping.events import CaseEvent, RatingEvent
from haochaping.ingest import DeadLetter, Ingestor, Message
from haochaping.privacy import mask_personal_data
from tests.wire import case_event, encode, rating


def _without(event: dict[str, Any], *path: str) -> dict[str, Any]:
    copy = json.loads(json.dumps(event))
    target = copy
    for part in path[:-1]:
        target = target[part]
    del target[path[-1]]
    return copy


def _with(event: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(event))
    target = copy
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return copy


def _raw(event: dict[str, Any]) -> bytes:
    return encode(event)


R, C = rating(), case_event()
# A reason is one line for a log, a Kafka header and a ClickHouse cell, not a dump of the message;
# three refusals listing every reason code come to about 1,100 characters.
MAX_REASON_CHARS = 2_000

# (bytes, the start of the reason): every one of these must be refused, naming what is wrong.
REFUSED: list[Any] = [
    # Not JSON, or JSON that is not an object.
    pytest.param(b"", "empty value (0 bytes)", id="empty"),
    pytest.param(b"{", "not valid JSON", id="truncated object"),
    pytest.param(_raw(R)[:-1], "not valid JSON", id="truncated event"),
    pytest.param(b"{'schema': 'hcp.rating/1'}", "not valid JSON", id="python quotes"),
    pytest.param(b"\xef\xbb\xbf" + _raw(R), "not valid JSON", id="byte order mark"),
    pytest.param(b"null", "message: Input should be an object", id="null"),
    pytest.param(b"[]", "message: Input should be an object", id="array"),
    pytest.param(b"42", "message: Input should be an object", id="number"),
    pytest.param(b'"hcp.rating/1"', "message: Input should be an object", id="string"),
    pytest.param(b"{}", "schema: missing", id="empty object"),
    pytest.param(b"[" * 30_000 + b"]" * 30_000, "not valid JSON: recursion limit", id="deep nesting"),
    # Not UTF-8.
    pytest.param(b"\xff\xfe{}", "not valid UTF-8 at byte 0", id="utf-16 bytes"),
    pytest.param(_raw(R).replace("电话".encode(), b"\xe7\x94"), "not valid UTF-8 at byte", id="cut multibyte char"),
    pytest.param(_raw(R).replace(b"R-0001", b"R-\xc0\xaf1"), "not valid UTF-8 at byte", id="overlong encoding"),
    pytest.param(
        json.dumps(R).replace('"comment": "', '"comment": "\\ud800', 1).encode(),
        "not valid JSON: lone leading surrogate",
        id="lone surrogate",
    ),
    # Wrong types.
    pytest.param(_raw(_with(R, ("level",), "1")), "level: Input should be a valid integer", id="level string"),
    pytest.param(_raw(_with(R, ("level",), 1.5)), "level: Input should be a valid integer", id="level float"),
    pytest.param(_raw(_with(R, ("level",), True)), "level: Input should be a valid integer", id="level bool"),
    pytest.param(
        _raw(_with(R, ("level",), 10**100)), "level: Input should be less than or equal to 5", id="level huge"
    ),
    pytest.param(_raw(_with(R, ("tags",), "DELAY")), "tags: Input should be a valid array", id="tags string"),
    pytest.param(_raw(_with(R, ("tags",), None)), "tags: Input should be a valid array", id="tags null"),
    pytest.param(_raw(_with(R, ("rater",), "citizen-42")), "rater: Input should be an object", id="rater string"),
    pytest.param(_raw(_with(R, ("comment",), ["a"])), "comment: Input should be a valid string", id="comment list"),
    pytest.param(_raw(_with(C, ("org",), [])), "org: Input should be an object", id="org list"),
    pytest.param(_raw(_with(C, ("at",), 1763600000)), "at: Input should be a valid datetime", id="epoch number"),
    # Missing and extra fields.
    pytest.param(_raw(_without(R, "rating_id")), "rating_id: Field required", id="no rating_id"),
    pytest.param(_raw(_without(R, "rated_at")), "rated_at: Field required", id="no rated_at"),
    pytest.param(_raw(_without(R, "rater", "real_name")), "rater.real_name: Field required", id="no real_name"),
    pytest.param(_raw(_without(C, "org", "province")), "org.province: Field required", id="no org province"),
    pytest.param(_raw(_without(R, "schema")), "schema: missing", id="no schema"),
    pytest.param(_raw(_with(R, ("portal",), "x")), "portal: Extra inputs are not permitted", id="extra field"),
    pytest.param(
        _raw(_with(R, ("rater", "phone"), "x")), "rater.phone: Extra inputs are not permitted", id="extra nested"
    ),
    pytest.param(_raw(_with(C, ("org", "x"), 1)), "org.x: Extra inputs are not permitted", id="extra in org"),
    # Oversize.
    pytest.param(
        _raw(_with(R, ("comment",), "差" * 2001)), "comment: String should have at most 2000", id="comment 2001"
    ),
    pytest.param(_raw(_with(C, ("note",), "慢" * 501)), "note: String should have at most 500", id="note 501"),
    pytest.param(
        _raw(_with(R, ("tags",), [reason.value for reason in Reason] + ["DELAY"])),
        f"tags: List should have at most {len(Reason)} items",
        id="too many tags",
    ),
    pytest.param(_raw(_with(R, ("rating_id",), "R" * 65)), "rating_id: String should match pattern", id="long id"),
    pytest.param(
        _raw(_with(R, ("rater", "id"), "u" * 129)), "rater.id: String should have at most 128", id="long rater id"
    ),
    pytest.param(
        _raw(_with(C, ("org", "name"), "局" * 101)), "org.name: String should have at most 100", id="long org name"
    ),
    pytest.param(b" " * (MAX_MESSAGE_BYTES + 1), "message is 65537 bytes", id="just over the limit"),
    # Unknown codes.
    pytest.param(
        _raw(_with(R, ("schema",), "hcp.rating/2")),
        "message: Input tag 'hcp.rating/2' found using 'schema_' | 'schema'",
        id="schema v2",
    ),
    pytest.param(_raw(_with(R, ("channel",), "fax")), "channel: Input should be", id="channel"),
    pytest.param(_raw(_with(R, ("step",), "COFFEE")), "step: Input should be", id="step"),
    pytest.param(_raw(_with(R, ("tags",), ["DELAY", "SLOW"])), "tags.1: Input should be", id="tag"),
    pytest.param(_raw(_with(R, ("province",), "999999")), "province: Value error, unknown province", id="province"),
    pytest.param(_raw(_with(R, ("province",), 340000)), "province: Input should be a valid string", id="province int"),
    pytest.param(_raw(_with(C, ("mode",), "teleport")), "mode: Input should be", id="mode"),
    pytest.param(_raw(_with(C, ("action",), "undo")), "action: Input should be", id="action"),
    pytest.param(_raw(_with(C, ("org", "role"), "OWNER")), "org.role: Input should be", id="role"),
    pytest.param(_raw(_with(R, ("step",), "JOURNEY")), "step: Input should be", id="label, not a step"),
    # Timestamps.
    pytest.param(_raw(_with(R, ("rated_at",), "1970-01-01T00:00:00+00:00")), "rated_at: Value error", id="epoch 0"),
    pytest.param(_raw(_with(R, ("rated_at",), "2018-12-31T23:59:59+08:00")), "rated_at: Value error", id="before 2019"),
    pytest.param(_raw(_with(C, ("at",), "0001-01-01T00:00:00+14:00")), "at: Value error", id="year 1"),
    pytest.param(
        _raw(_with(R, ("rated_at",), "2026-11-20T15:30:00")), "rated_at: Input should have timezone", id="naive"
    ),
    pytest.param(
        _raw(_with(R, ("rated_at",), "2026-02-30T10:00:00+08:00")),
        "rated_at: Input should be a valid datetime",
        id="feb 30",
    ),
    pytest.param(_raw(_with(R, ("rated_at",), "yesterday")), "rated_at: Input should be a valid datetime", id="words"),
    pytest.param(
        _raw(_with(R, ("rated_at",), "10000-01-01T00:00:00+08:00")),
        "rated_at: Input should be a valid datetime",
        id="year 10000",
    ),
]


@pytest.mark.parametrize(("raw", "reason"), REFUSED)
def test_hostile_message_is_refused_with_a_reason_naming_the_field(raw: bytes, reason: str) -> None:
    decoded = decode_event(raw)
    assert isinstance(decoded, Rejection), f"accepted: {decoded!r}"[:300]
    assert decoded.reason.startswith(reason), decoded.reason
    assert len(decoded.reason) < MAX_REASON_CHARS


def test_ten_megabyte_message_is_refused_without_being_parsed() -> None:
    huge = _raw(_with(R, ("comment",), "差" * (10 * 1024 * 1024 // 3)))
    assert len(huge) > 10_000_000
    started = time.perf_counter()
    decoded = decode_event(huge)
    assert decoded == Rejection(f"message is {len(huge)} bytes, larger than the {MAX_MESSAGE_BYTES}-byte limit")
    assert time.perf_counter() - started < 0.5


# Valid however odd: these are accepted, and stored as sent (comments are only masked of personal data).
ACCEPTED: list[Any] = [
    pytest.param(_with(R, ("comment",), "'); DROP TABLE ratings; --"), id="sql in comment"),
    pytest.param(_with(R, ("comment",), "<script>alert(1)</script><img src=x onerror=alert(2)>"), id="html in comment"),
    pytest.param(_with(R, ("comment",), "{settings} {sql:String} %s $1 \\N \t\n\r"), id="placeholders in comment"),
    pytest.param(_with(R, ("comment",), "a\u0000b\u202eevil\u200b"), id="control and bidi characters"),
    pytest.param(_with(R, ("comment",), "😡" * 2000), id="2000 emoji"),
    pytest.param(_with(R, ("comment",), "差" * 2000), id="comment at the limit"),
    pytest.param(_with(R, ("tags",), [reason.value for reason in Reason]), id="every tag"),
    pytest.param(_with(R, ("tags",), ["DELAY", "DELAY"]), id="repeated tag"),
    pytest.param(_with(C, ("note",), "<b>退回</b>' OR 1=1 --"), id="sql and html in note"),
    pytest.param(_with(R, ("rated_at",), "2019-01-01T00:00:00+00:00"), id="first moment allowed"),
    pytest.param(_with(R, ("rated_at",), "2026-11-20T15:30:00.123456789+08:00"), id="nanoseconds"),
    pytest.param(_with(R, ("rated_at",), "2026-11-20T07:30:00Z"), id="zulu"),
    pytest.param(_with(R, ("rating_id",), "R" * 64), id="longest id"),
    pytest.param(_with(R, ("rater",), None), id="anonymous"),
]


@pytest.mark.parametrize("event", ACCEPTED)
def test_odd_but_valid_events_are_accepted_and_stored_verbatim(event: dict[str, Any]) -> None:
    raw = _raw(event)
    decoded = decode_event(raw)
    assert isinstance(decoded, (RatingEvent, CaseEvent)), decoded
    batch = _ingest(raw)
    assert batch.dead_letters == []
    if isinstance(decoded, RatingEvent):
        (row,) = batch.rows["ratings"]
        assert row[8] == mask_personal_data(event["comment"])  # masked of personal data, otherwise verbatim
    else:
        (row,) = batch.rows["case_events"]
        assert row[11] == mask_personal_data(event["note"])


def test_duplicate_ids_are_separate_messages() -> None:
    """The contract makes rating_id unique per portal, but the pipeline's exactly-once is per Kafka
    message: the same rating sent twice is two messages and two rows (see docs/operations.md)."""
    raw = _raw(R)
    batch = _ingest(raw, raw)
    assert [row[0] for row in batch.rows["ratings"]] == ["R-0001", "R-0001"]


def test_duplicate_json_keys_keep_the_last_value() -> None:
    raw = _raw(R).replace(b'"level": 1', b'"level": 1, "level": 5')
    decoded = decode_event(raw)
    assert isinstance(decoded, RatingEvent) and decoded.level == 5


def test_reason_is_bounded_even_for_a_huge_unknown_field_name() -> None:
    decoded = decode_event(_raw(_with(R, ("k" * 60_000,), 1)))
    assert isinstance(decoded, Rejection)
    assert len(decoded.reason) < MAX_REASON_CHARS


@pytest.mark.parametrize(
    "moment", ["2100-01-01T00:00:00+00:00", "2999-01-01T00:00:00+08:00", "9999-12-31T23:59:59-12:00"]
)
def test_far_future_timestamps_are_refused_naming_the_field_and_value(moment: str) -> None:
    decoded = decode_event(_raw(_with(C, ("at",), moment)))
    assert decoded == Rejection(
        f"at: Value error, timestamp {moment} is in 2100 or later (UTC): a clock error (got '{moment}')"
    )


@pytest.mark.parametrize("moment", ["1970-01-01T00:00:00+00:00", "2019-01-01T07:59:59+08:00"])
def test_far_past_timestamps_are_refused_naming_the_field_and_value(moment: str) -> None:
    decoded = decode_event(_raw(_with(R, ("rated_at",), moment)))
    assert decoded == Rejection(
        f"rated_at: Value error, timestamp {moment} is before 2019-01-01, when 好差评 began (got '{moment}')"
    )


LATEST_TIME = "9999-12-31T23:59:59-12:00"  # beyond datetime.max once in UTC

# (topic, value, the whole reason): records that must not stop the worker, each refused saying why.
UNUSABLE: list[Any] = [
    pytest.param("ratings", None, "null value (a Kafka tombstone): no event to decode", id="tombstone"),
    pytest.param("cases", b"", "empty value (0 bytes): no event to decode", id="empty"),
    pytest.param("ratings", b'{"x": "\xff"}', "not valid UTF-8 at byte 7", id="not utf-8"),
    pytest.param(
        "ratings",
        b" " * (MAX_MESSAGE_BYTES + 1),
        f"message is {MAX_MESSAGE_BYTES + 1} bytes, larger than the {MAX_MESSAGE_BYTES}-byte limit",
        id="over the limit",
    ),
    pytest.param("ratings", b"not json", "not valid JSON: expected ident at line 1 column 2", id="not json"),
    pytest.param("cases", b"[]", "message: Input should be an object (got [])", id="array"),
    pytest.param("ratings", b"null", "message: Input should be an object (got None)", id="json null"),
    pytest.param(
        "ratings",
        _raw(_with(R, ("rated_at",), "2999-01-01T00:00:00+08:00")),
        "rated_at: Value error, timestamp 2999-01-01T00:00:00+08:00 is in 2100 or later (UTC): a clock error"
        " (got '2999-01-01T00:00:00+08:00')",
        id="rated in 2999",
    ),
    pytest.param(
        "cases",
        _raw(_with(C, ("at",), "2018-12-31T23:59:59+08:00")),
        "at: Value error, timestamp 2018-12-31T23:59:59+08:00 is before 2019-01-01, when 好差评 began"
        " (got '2018-12-31T23:59:59+08:00')",
        id="case event before 2019",
    ),
    pytest.param(
        "cases",
        _raw(_with(C, ("at",), LATEST_TIME)),
        f"at: Value error, timestamp {LATEST_TIME} is in 2100 or later (UTC): a clock error (got '{LATEST_TIME}')",
        id="latest representable time",
    ),
]


@pytest.mark.parametrize(("topic", "value", "reason"), UNUSABLE)
def test_unusable_record_is_one_dead_letter_and_nothing_else(topic: str, value: bytes | None, reason: str) -> None:
    message = Message(topic, 3, 41, None, value)
    batch = _ingestor().process([message], {})
    assert batch.dead_letters == [DeadLetter(message, reason)]
    assert batch.rows == {"dead_letters": [(reason, 0 if value is None else len(value), topic, 3, 41)]}
    assert (batch.ratings, batch.case_events, batch.attributions, batch.observations) == (0, 0, [], [])
    assert (batch.latest_case_at, batch.latest_rating_at, batch.future_dated) == ({}, {}, 0)


def test_null_keys_are_fine() -> None:
    """Only the value matters: a hotline rating without a case has no key, and a case event may lack one."""
    hotline = Message("ratings", 0, 0, None, _raw(_with(R, ("case_id",), None)))
    case = Message("cases", 0, 1, None, _raw(C))
    batch = _ingestor().process([hotline, case], {})
    assert batch.dead_letters == []
    assert (batch.ratings, batch.case_events) == (1, 1)
    assert [row[:2] for row in batch.rows["ratings"]] == [("R-0001", None)]
    assert [row[:2] for row in batch.rows["case_events"]] == [("E-0001", "C-0001")]
    assert [traced.key for traced in batch.attributions] == [b"R-0001"]  # keyed by the rating itself


def _ingestor() -> Ingestor:
    return Ingestor({"ratings": "rating", "cases": "case"}, b"k", default_catalog())


def _ingest(*raw: bytes) -> Any:
    messages = [
        Message("ratings" if b"hcp.rating/1" in value else "cases", 0, offset, None, value)
        for offset, value in enumerate(raw)
    ]
    return _ingestor().process(messages, {})


# --- hypothesis -------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=25,
)
FIELD_PATHS = [
    ("schema",), ("rating_id",), ("case_id",), ("matter_code",), ("province",), ("channel",), ("level",),
    ("tags",), ("comment",), ("step",), ("rated_at",), ("rater",), ("rater", "id"), ("rater", "real_name"),
]  # fmt: skip
CASE_PATHS = [
    ("schema",), ("event_id",), ("case_id",), ("mode",), ("step",), ("action",), ("org",), ("org", "code"),
    ("org", "name"), ("org", "province"), ("org", "role"), ("at",), ("note",),
]  # fmt: skip
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _names(reason: str, path: tuple[str, ...]) -> bool:
    """A refusal of a message with `path` replaced names that field (the schema tag reads 'message: Input tag')."""
    return reason.startswith((".".join(path), path[0], "not valid", "schema", "message: Input tag"))


def _judged(raw: bytes) -> RatingEvent | CaseEvent | Rejection:
    decoded = decode_event(raw)
    assert isinstance(decoded, (RatingEvent, CaseEvent, Rejection))
    if isinstance(decoded, Rejection):
        assert decoded.reason and len(decoded.reason) < MAX_REASON_CHARS
    return decoded


@FUZZ
@given(st.binary(max_size=2_000))
@example(b"\x00")
@example(b"\xc3\x28")
@example(b'{"schema":"hcp.rating/1"')
def test_decode_never_raises_on_arbitrary_bytes(raw: bytes) -> None:
    _judged(raw)
    for kind in ("rating", "case"):
        assert isinstance(decode_event(raw, kind), (RatingEvent, CaseEvent, Rejection))  # type: ignore[arg-type]


@FUZZ
@given(
    st.sampled_from(["ratings", "cases", "elsewhere"]),
    st.none() | st.binary(max_size=64),
    st.none() | st.binary(max_size=2_000),
)
def test_ingestor_never_raises_on_arbitrary_records(topic: str, key: bytes | None, value: bytes | None) -> None:
    batch = _ingestor().process([Message(topic, 0, 0, key, value)], {})
    assert batch.ratings + batch.case_events + len(batch.dead_letters) == 1


@FUZZ
@given(json_values)
def test_decode_never_raises_on_arbitrary_json(value: Any) -> None:
    _judged(json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass"))


@FUZZ
@given(st.sampled_from(FIELD_PATHS), json_values)
def test_a_rating_with_one_field_replaced_is_judged_and_ingested(path: tuple[str, ...], value: Any) -> None:
    raw = json.dumps(_with(R, path, value), ensure_ascii=False).encode("utf-8", "surrogatepass")
    decoded = _judged(raw)
    if isinstance(decoded, Rejection):
        assert _names(decoded.reason, path), decoded.reason
    batch = _ingest(raw)
    assert batch.ratings + len(batch.dead_letters) == 1


@FUZZ
@given(st.sampled_from(CASE_PATHS), json_values)
def test_a_case_event_with_one_field_replaced_is_judged_and_ingested(path: tuple[str, ...], value: Any) -> None:
    raw = json.dumps(_with(C, path, value), ensure_ascii=False).encode("utf-8", "surrogatepass")
    decoded = _judged(raw)
    if isinstance(decoded, Rejection):
        assert _names(decoded.reason, path), decoded.reason
    batch = _ingest(raw)
    assert batch.case_events + len(batch.dead_letters) == 1


@FUZZ
@given(st.text(max_size=2_000), st.datetimes(timezones=st.timezones()))
def test_any_comment_and_any_plausible_time_are_ingested(comment: str, moment: Any) -> None:
    if moment.year >= 9999:  # see UNUSABLE, "latest representable time"
        return
    raw = json.dumps(_with(R, ("comment",), comment) | {"rated_at": moment.isoformat()}, ensure_ascii=False).encode(
        "utf-8", "surrogatepass"
    )
    decoded = _judged(raw)
    batch = _ingest(raw)
    assert batch.ratings + len(batch.dead_letters) == 1
    if isinstance(decoded, RatingEvent):
        assert batch.rows["ratings"][0][8] is not None
