"""End to end on real parts: publish through the broker, the worker consumes, ClickHouse holds exact rows.

Also: malformed messages land in the dead-letter topic with their original bytes and
not in the tables, and a full replay by a second consumer group adds no duplicates.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

from kafka import KafkaConsumer

from haochaping.privacy import pseudonymise
from haochaping.settings import Settings
from producers.publisher import Publisher
from producers.topics import ensure_topics
from sinks.clickhouse import open_clickhouse
from tests.integration.conftest import WorkerProcess
from tests.wire import case_event, encode, rating

TRUNCATED = b'{"schema": "hcp.rating/1", "rating_id": "R-9'
WRONG_PROVINCE = encode(rating(rating_id="R-0003", province="999999"))
NOT_UTF8 = b"\xff\xfe{"
OVERSIZED = b" " * 70_000


def _publish_fixture_events(settings: Settings) -> None:
    ensure_topics(settings)
    with Publisher(settings) as publisher:
        for raw in (
            encode(case_event(event_id="E-0001", step="ACCEPT", action="complete")),
            encode(
                case_event(
                    event_id="E-0002",
                    step="TRANSFER",
                    action="transfer_out",
                    at="2026-11-04T10:00:00+08:00",
                    note="材料已寄出，联系人13812345678",
                )
            ),
            encode(rating(rating_id="R-0001")),
            encode(rating(rating_id="R-0002", case_id=None, level=5, tags=[], comment="很方便", rater=None)),
        ):
            assert not hasattr(publisher.publish(raw), "reason")
        publisher.send_unchecked(settings.topics["ratings"], b"C-0001", TRUNCATED)
        publisher.send_unchecked(settings.topics["ratings"], b"C-0001", WRONG_PROVINCE)
        # What no portal should send and the worker must survive: a tombstone, no key, too big.
        publisher.send_unchecked(settings.topics["ratings"], b"C-0001", None)
        publisher.send_unchecked(settings.topics["cases"], None, NOT_UTF8)
        publisher.send_unchecked(settings.topics["cases"], b"C-0001", OVERSIZED)


def _stored(settings: Settings) -> dict[str, list[tuple[object, ...]]]:
    with open_clickhouse(settings.clickhouse, owner="test") as client:
        return {
            "ratings": client.query(
                "SELECT rating_id, case_id, province, level, negative, tags, comment, rated_at, rater_pseudonym "
                "FROM ratings ORDER BY rating_id"
            ).result_rows,
            "case_events": client.query(
                "SELECT event_id, step, action, org_code, org_role, at, note FROM case_events ORDER BY event_id"
            ).result_rows,
            "dead_letters": client.query("SELECT reason, size_bytes FROM dead_letters ORDER BY reason").result_rows,
        }


def _dead_letter_topic(settings: Settings, expected: int) -> list[tuple[bytes, dict[str, bytes]]]:
    consumer = KafkaConsumer(
        settings.topics["deadletter"],
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=10_000,
    )
    try:
        received = []
        for record in consumer:
            received.append((record.value, dict(record.headers)))
            if len(received) >= expected:
                break
        return received
    finally:
        consumer.close()


def test_published_events_arrive_exactly_once(
    pipeline_settings: Settings, worker_factory: type[WorkerProcess], tmp_path: Path
) -> None:
    settings = pipeline_settings
    _publish_fixture_events(settings)

    worker = worker_factory(settings, tmp_path / "worker.log")
    worker.start()
    worker.wait_until_drained()
    assert worker.stop() == 0

    expected_ratings = [
        (
            "R-0001",
            "C-0001",
            "340000",
            1,
            1,
            ["DELAY"],
            "材料寄过去半个月了，审批一直没动静，电话[手机号]",
            datetime(2026, 11, 20, 7, 30),
            pseudonymise("citizen-42", settings.pseudonym_key),
        ),
        ("R-0002", None, "340000", 5, 0, [], "很方便", datetime(2026, 11, 20, 7, 30), ""),
    ]
    expected_case_events = [
        ("E-0001", "ACCEPT", "complete", "340100-ZWFW", "RECEIVING", datetime(2026, 11, 3, 1, 12), None),
        (
            "E-0002",
            "TRANSFER",
            "transfer_out",
            "340100-ZWFW",
            "RECEIVING",
            datetime(2026, 11, 4, 2, 0),
            "材料已寄出，联系人[手机号]",
        ),
    ]
    expected_dead = [
        ("message is 70000 bytes, larger than the 65536-byte limit", len(OVERSIZED)),
        ("not valid JSON: EOF while parsing a string at line 1 column 44", len(TRUNCATED)),
        ("not valid UTF-8 at byte 0", len(NOT_UTF8)),
        ("null value (a Kafka tombstone): no event to decode", 0),
        (
            "province: Value error, unknown province code '999999' (expected a GB/T 2260 province, e.g. 310000) "
            "(got '999999')",
            len(WRONG_PROVINCE),
        ),
    ]
    stored = _stored(settings)
    assert stored["ratings"] == expected_ratings
    assert stored["case_events"] == expected_case_events
    assert stored["dead_letters"] == expected_dead

    letters = _dead_letter_topic(settings, 5)
    by_reason = {headers["hcp-reason"].decode(): (value, headers["hcp-source-topic"].decode()) for value, headers in letters}
    ratings_topic, cases_topic = settings.topics["ratings"], settings.topics["cases"]
    assert by_reason == {  # the original bytes (a tombstone stays null) and where they came from
        expected_dead[0][0]: (OVERSIZED, cases_topic),
        expected_dead[1][0]: (TRUNCATED, ratings_topic),
        expected_dead[2][0]: (NOT_UTF8, cases_topic),
        expected_dead[3][0]: (None, ratings_topic),
        expected_dead[4][0]: (WRONG_PROVINCE, ratings_topic),
    }

    # A second consumer group replays every message into the same ClickHouse: nothing doubles.
    replay_settings = settings.with_changes(consumer_group=settings.consumer_group + "-replay")
    replay = worker_factory(replay_settings, tmp_path / "replay.log")
    replay.start()
    replay.wait_until_drained()
    assert replay.stop() == 0
    assert _stored(settings) == stored


def test_dead_letter_guard_stops_the_worker_on_a_misconfiguration(
    pipeline_settings: Settings, worker_factory: type[WorkerProcess], tmp_path: Path
) -> None:
    settings = pipeline_settings.with_changes(dlq_min_messages=50)
    ensure_topics(settings)
    with Publisher(settings) as publisher:
        for number in range(60):  # a portal sending a schema version the pipeline does not know
            publisher.send_unchecked(
                settings.topics["ratings"], None, encode(rating(rating_id=f"R-{number}", schema="hcp.rating/2"))
            )
    worker = worker_factory(settings, tmp_path / "worker.log")
    worker.start()
    deadline = time.monotonic() + 60
    while worker.running() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not worker.running(), "the worker kept running on 100% invalid input"
    assert worker.stop() != 0
    log = worker.log_tail(200)
    assert "dead-letter guard: 60 of the last 60 messages were invalid (100%, limit 50%)" in log
    with open_clickhouse(settings.clickhouse, owner="test") as client:
        # The batch that tripped the guard was neither stored nor dead-lettered.
        assert client.query("SELECT count() FROM dead_letters").result_rows == [(0,)]


def test_dead_letters_replay_once_after_a_fix(
    pipeline_settings: Settings, worker_factory: type[WorkerProcess], tmp_path: Path
) -> None:
    """A letter an older release refused (valid today) is replayed to its source topic exactly once."""
    from kafka import KafkaProducer

    from producers.deadletters import read_dead_letters, replay_dead_letters

    settings = pipeline_settings
    ensure_topics(settings)
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    headers = [
        ("hcp-reason", b"channel: unknown channel 'mini_program' (release 0.9)"),
        ("hcp-source-topic", settings.topics["ratings"].encode()),
        ("hcp-source-partition", b"1"),
        ("hcp-source-offset", b"17"),
    ]
    now_valid = encode(rating(rating_id="R-OLD-1", channel="mini_program"))
    producer.send(settings.topics["deadletter"], key=b"C-0001", value=now_valid, headers=headers)
    producer.send(settings.topics["deadletter"], key=None, value=TRUNCATED, headers=headers)
    producer.flush()
    producer.close()

    letters = list(read_dead_letters(settings))
    assert [(letter.value, letter.source_offset) for letter in letters] == [(now_valid, 17), (TRUNCATED, 17)]

    report, problems = replay_dead_letters(settings)
    assert (report.replayed, report.still_invalid) == (1, 1)
    assert problems == [(1, "not valid JSON: EOF while parsing a string at line 1 column 44")]
    again, _ = replay_dead_letters(settings)
    assert (again.replayed, again.still_invalid) == (0, 0)

    worker = worker_factory(settings, tmp_path / "worker.log")
    worker.start()
    worker.wait_until_drained()
    assert worker.stop() == 0
    with open_clickhouse(settings.clickhouse, owner="test") as client:
        assert client.query("SELECT rating_id, channel FROM ratings").result_rows == [("R-OLD-1", "mini_program")]
