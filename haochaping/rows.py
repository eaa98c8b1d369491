"""Events → ClickHouse rows (pure), with their Kafka source coordinates as columns.

Column order matches sinks/migrations; a replayed message gives identical rows, and
its (topic, partition, offset) lets the sink recognise and drop it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from haochaping.events import CaseEvent, RatingEvent
from haochaping.privacy import mask_personal_data, pseudonymise

SOURCE_COLUMNS = ("src_topic", "src_partition", "src_offset")

RATING_COLUMNS = (
    "rating_id",
    "case_id",
    "matter_code",
    "province",
    "channel",
    "level",
    "negative",
    "tags",
    "comment",
    "step",
    "rated_at",
    "rater_pseudonym",
    "rater_real_name",
    *SOURCE_COLUMNS,
)

CASE_EVENT_COLUMNS = (
    "event_id",
    "case_id",
    "matter_code",
    "mode",
    "step",
    "action",
    "org_code",
    "org_name",
    "org_province",
    "org_role",
    "at",
    "note",
    *SOURCE_COLUMNS,
)

DEAD_LETTER_COLUMNS = ("reason", "size_bytes", *SOURCE_COLUMNS)


@dataclass(frozen=True, slots=True)
class Source:
    """Where a message came from: the identity a replay shares with the original."""

    topic: str
    partition: int
    offset: int


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def rating_row(event: RatingEvent, source: Source, pseudonym_key: bytes) -> tuple[object, ...]:
    rater = event.rater
    return (
        event.rating_id,
        event.case_id,
        event.matter_code,
        event.province,
        event.channel.value,
        event.level,
        1 if event.negative else 0,
        [tag.value for tag in event.tags],
        None if event.comment is None else mask_personal_data(event.comment),
        None if event.step is None else event.step.value,
        _utc(event.rated_at),
        "" if rater is None else pseudonymise(rater.id, pseudonym_key),
        None if rater is None else int(rater.real_name),
        source.topic,
        source.partition,
        source.offset,
    )


def case_event_row(event: CaseEvent, source: Source) -> tuple[object, ...]:
    org = event.org
    return (
        event.event_id,
        event.case_id,
        event.matter_code,
        event.mode.value,
        event.step.value,
        event.action.value,
        org.code,
        org.name,
        org.province,
        org.role.value,
        _utc(event.at),
        None if event.note is None else mask_personal_data(event.note),
        source.topic,
        source.partition,
        source.offset,
    )


def dead_letter_row(reason: str, size_bytes: int, source: Source) -> tuple[object, ...]:
    return (reason, size_bytes, source.topic, source.partition, source.offset)


# Table name → column order; the sink inserts by these and nothing else.
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "ratings": RATING_COLUMNS,
    "case_events": CASE_EVENT_COLUMNS,
    "dead_letters": DEAD_LETTER_COLUMNS,
}
