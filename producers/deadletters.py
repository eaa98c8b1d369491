"""Reading the dead-letter topic back: list what was refused, and replay it after a fix.

Replay decodes each dead letter again with the current code; what is now valid goes
back to its source topic with its original bytes, the rest stays where it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from kafka import KafkaConsumer

from haochaping.decoding import Rejection, decode_event
from haochaping.settings import Settings
from producers.publisher import Publisher
from producers.security import kafka_client

REPLAY_GROUP_SUFFIX = "-dlq-replay"


@dataclass(frozen=True, slots=True)
class DeadLetterRecord:
    offset: int
    key: bytes | None
    value: bytes | None  # None: the source record was a tombstone
    reason: str
    source_topic: str
    source_partition: int
    source_offset: int


def _consumer(settings: Settings, group: str | None) -> KafkaConsumer:
    return kafka_client(
        KafkaConsumer,
        settings,
        settings.topics["deadletter"],
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=5_000,
    )


def read_dead_letters(settings: Settings, group: str | None = None) -> Iterator[DeadLetterRecord]:
    consumer = _consumer(settings, group)
    try:
        for record in consumer:
            headers = {name: value.decode("utf-8", "replace") for name, value in record.headers}
            yield DeadLetterRecord(
                offset=record.offset,
                key=record.key,
                value=record.value,
                reason=headers.get("hcp-reason", "?"),
                source_topic=headers.get("hcp-source-topic", ""),
                source_partition=int(headers.get("hcp-source-partition", "-1")),
                source_offset=int(headers.get("hcp-source-offset", "-1")),
            )
    finally:
        consumer.close()


@dataclass(slots=True)
class ReplayReport:
    replayed: int = 0
    still_invalid: int = 0


def replay_dead_letters(settings: Settings, dry_run: bool = False) -> tuple[ReplayReport, list[tuple[int, str]]]:
    """Send now-valid dead letters back to their source topic; each letter is replayed at most once.

    Progress is kept as the offsets of a dedicated consumer group, committed after the
    publisher has flushed, so running replay twice sends nothing twice.
    """
    report = ReplayReport()
    problems: list[tuple[int, str]] = []
    group = None if dry_run else settings.consumer_group + REPLAY_GROUP_SUFFIX
    consumer = _consumer(settings, group)
    publisher = None if dry_run else Publisher(settings, client_id="hcp-dlq-replay")
    try:
        for record in consumer:
            headers = dict(record.headers)
            source_topic = headers.get("hcp-source-topic", b"").decode("utf-8", "replace")
            decoded = decode_event(record.value)
            if isinstance(decoded, Rejection):
                report.still_invalid += 1
                problems.append((record.offset, decoded.reason))
                continue
            if source_topic not in settings.source_topics:
                report.still_invalid += 1
                problems.append((record.offset, f"source topic {source_topic!r} is not an input topic"))
                continue
            portal = {topic: code for code, topic in settings.province_topics.items()}.get(source_topic)
            if portal is not None and getattr(decoded, "province", portal) != portal:
                report.still_invalid += 1
                problems.append((record.offset, f"province does not match portal topic {source_topic} ({portal})"))
                continue
            report.replayed += 1
            if publisher is not None:
                publisher.send_unchecked(source_topic, decoded.partition_key.encode(), record.value)
        if publisher is not None:
            publisher.flush()
            consumer.commit()
    finally:
        if publisher is not None:
            publisher.close()
        consumer.close()
    return report, problems
