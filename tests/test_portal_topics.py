"""A portal may only publish ratings for its own province: per-province rating topics (issue #7)."""

from __future__ import annotations

import pytest

from haochaping.catalog import default_catalog
from haochaping.codes import PROVINCES
from haochaping.ingest import Ingestor, Message
from haochaping.settings import Settings, SettingsError
from tests.wire import case_event, encode, rating

KEY = b"test-key"
KINDS = {"t.ratings": "rating", "t.case-events": "case", "t.ratings.110000": "rating", "t.ratings.340000": "rating"}
PORTALS = {"t.ratings.110000": "110000", "t.ratings.340000": "340000"}


def _ingest(*messages: Message) -> tuple[list[str], list[str]]:
    """(rating ids stored, dead-letter reasons)."""
    batch = Ingestor(KINDS, KEY, default_catalog(), province_of_topic=PORTALS).process(list(messages), {})
    return [row[0] for row in batch.rows.get("ratings", [])], [letter.reason for letter in batch.dead_letters]


def test_a_rating_for_another_province_is_dead_lettered_with_both_named() -> None:
    value = encode(rating(province="310000"))
    message = Message("t.ratings.110000", 1, 5, b"C-0001", value)
    batch = Ingestor(KINDS, KEY, default_catalog(), province_of_topic=PORTALS).process([message], {})
    assert [letter.reason for letter in batch.dead_letters] == [
        "province 310000 does not match portal topic t.ratings.110000 (110000)"
    ]
    assert batch.dead_letters[0].message.value == value  # the original bytes
    assert batch.rows["dead_letters"][0][1:] == (len(value), "t.ratings.110000", 1, 5)
    assert batch.ratings == 0 and "ratings" not in batch.rows and batch.attributions == []


def test_a_rating_on_its_own_province_topic_is_accepted() -> None:
    stored, reasons = _ingest(Message("t.ratings.340000", 0, 0, b"C-0001", encode(rating(province="340000"))))
    assert (stored, reasons) == (["R-0001"], [])


def test_the_shared_ratings_topic_is_not_checked() -> None:
    stored, reasons = _ingest(
        Message("t.ratings", 0, 0, b"C-0001", encode(rating(rating_id="R-1", province="310000"))),
        Message("t.ratings", 0, 1, b"C-0001", encode(rating(rating_id="R-2", province="110000"))),
    )
    assert (stored, reasons) == (["R-1", "R-2"], [])


def test_case_events_are_not_checked_against_portals() -> None:
    batch = Ingestor(KINDS, KEY, default_catalog(), province_of_topic=PORTALS).process(
        [Message("t.case-events", 0, 0, b"C-0001", encode(case_event()))], {}
    )
    assert batch.case_events == 1 and batch.dead_letters == []


def test_an_invalid_rating_on_a_portal_topic_keeps_its_validation_reason() -> None:
    _, reasons = _ingest(Message("t.ratings.110000", 0, 0, None, b'{"schema": "hcp.rating/1"'))
    assert reasons == ["not valid JSON: EOF while parsing an object at line 1 column 25"]


def test_without_portal_topics_nothing_is_checked() -> None:
    batch = Ingestor({"t.ratings.110000": "rating"}, KEY, default_catalog()).process(
        [Message("t.ratings.110000", 0, 0, b"C-0001", encode(rating(province="310000")))], {}
    )
    assert batch.ratings == 1 and batch.dead_letters == []


def test_settings_name_one_topic_per_province_and_list_every_source() -> None:
    settings = Settings(topic_prefix="x.")
    assert settings.province_topics["110000"] == "x.ratings.110000"
    assert set(settings.province_topics) == set(PROVINCES)
    assert settings.source_topics[:2] == ("x.ratings", "x.case-events")
    assert set(settings.source_topics[2:]) == set(settings.province_topics.values())
    assert settings.topics["ratings"] == "x.ratings"  # the shared topic stays


def test_portal_topics_can_be_turned_off() -> None:
    settings = Settings.from_env({"HCP_PORTAL_TOPICS": "0", "HCP_PSEUDONYM_KEY": "k"})
    assert settings.portal_topics is False
    assert settings.province_topics == {} and settings.source_topics == ("hcp.ratings", "hcp.case-events")
    assert Settings.from_env(settings.to_env()).portal_topics is False
    assert Settings.from_env({"HCP_PSEUDONYM_KEY": "k"}).portal_topics is True
    with pytest.raises(SettingsError, match="HCP_PORTAL_TOPICS"):
        Settings.from_env({"HCP_PORTAL_TOPICS": "maybe", "HCP_PSEUDONYM_KEY": "k"})
