"""Events → ClickHouse rows (pure), with their Kafka source coordinates as columns.

Column order matches sinks/migrations; a replayed message gives identical rows, and
its (topic, partition, offset) lets the sink recognise and drop it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from haochaping.events import CaseEvent, RatingEvent
from haochaping.observations import StepObservation
from haochaping.privacy import mask_personal_data, pseudonymise
from haochaping.timeline import StepRecord

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

CASE_STEP_COLUMNS = (
    "case_id",
    "matter_code",
    "mode",
    "step",
    "org_code",
    "org_name",
    "org_province",
    "org_role",
    "started_at",
    "completed_at",
    "working_days",
    "limit_days",
    "breached",
    "send_backs",
    "failed_checks",
    "handoff_from_province",
    "handoff_to_province",
    "handoff_transit_days",
    *SOURCE_COLUMNS,
)

ATTRIBUTION_COLUMNS = (
    "rating_id",
    "case_id",
    "matter_code",
    "mode",
    "province",
    "level",
    "rated_at",
    "step",
    "reason",
    "responsible_role",
    "responsible_province",
    "responsible_org",
    "confidence",
    "candidate_step",
    "candidate_reason",
    "weight",
    "is_primary",
    "evidence",
    *SOURCE_COLUMNS,
)


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


def dead_letter_row(reason: str, value: bytes | None, source: Source) -> tuple[object, ...]:
    """A refused message's row; a tombstone (null value) is 0 bytes."""
    size_bytes = 0 if value is None else len(value)
    return (reason, size_bytes, source.topic, source.partition, source.offset)


OBSERVATION_COLUMNS = (
    "rating_id",
    "rated_at",
    "province",
    "matter_code",
    "mode",
    "step",
    "role",
    "org_code",
    "level",
    "weight",
    "reason",
    *SOURCE_COLUMNS,
)


def observation_row(observation: StepObservation, source: Source) -> tuple[object, ...]:
    return (
        observation.rating_id,
        _utc(observation.at),
        observation.province,
        observation.matter_code,
        observation.mode,
        observation.step,
        observation.role,
        observation.org_code,
        observation.level,
        observation.weight,
        observation.reason,
        source.topic,
        source.partition,
        source.offset,
    )


def case_step_row(case_id: str, matter_code: str, mode: str, record: StepRecord, source: Source) -> tuple[object, ...]:
    """A completed step; `record.completed_at` must be set."""
    assert record.completed_at is not None
    handoff = record.handoff
    receiver = handoff.receiver if handoff is not None else None
    return (
        case_id,
        matter_code,
        mode,
        record.step.value,
        record.org.code,
        record.org.name,
        record.org.province,
        record.org.role.value,
        _utc(record.started_at),
        _utc(record.completed_at),
        record.working_days or 0.0,
        record.limit_days,
        1 if record.breached else 0,
        record.returns,
        record.fails,
        handoff.sender.province if handoff is not None else "",
        receiver.province if receiver is not None else "",
        handoff.transit_days if handoff is not None else None,
        source.topic,
        source.partition,
        source.offset,
    )


def attribution_rows(
    attribution: Mapping[str, Any], rating: RatingEvent, mode: str, source: Source
) -> list[tuple[object, ...]]:
    """One row per candidate step of a negative rating (the wire Attribution as input); none for positives."""
    if not attribution["negative"]:
        return []
    responsible = attribution["responsible"] or {}
    primary = attribution["step"]
    candidates = attribution["steps"] or [{"step": primary, "weight": 1.0, "reason": attribution["reason"]}]
    shared = (
        rating.rating_id,
        rating.case_id,
        rating.matter_code,
        mode,
        rating.province,
        rating.level,
        _utc(rating.rated_at),
        primary,
        attribution["reason"],
        responsible.get("role"),
        responsible.get("province"),
        responsible.get("org"),
        float(attribution["confidence"]),
    )
    evidence = list(attribution["evidence"])
    return [
        (
            *shared,
            candidate["step"],
            candidate.get("reason"),
            float(candidate["weight"]),
            1 if candidate["step"] == primary else 0,
            evidence,
            source.topic,
            source.partition,
            source.offset,
        )
        for candidate in candidates
    ]


# Table name → column order; the sink inserts by these and nothing else.
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "ratings": RATING_COLUMNS,
    "case_events": CASE_EVENT_COLUMNS,
    "dead_letters": DEAD_LETTER_COLUMNS,
    "case_steps": CASE_STEP_COLUMNS,
    "attributions": ATTRIBUTION_COLUMNS,
    "step_observations": OBSERVATION_COLUMNS,
}

# Table name → the column its monthly partitions are cut by (PARTITION BY toYYYYMM(column)
# in sinks/migrations), or None. The sink writes one month per insert, so that every
# insert is a single part: it lands whole or not at all.
PARTITION_COLUMNS: dict[str, str | None] = {
    "ratings": "rated_at",
    "case_events": "at",
    "dead_letters": None,
    "case_steps": "completed_at",
    "attributions": "rated_at",
    "step_observations": "rated_at",
}


def partition_month_reader(table: str) -> Callable[[Sequence[object]], int]:
    """A function giving a row of `table` its partition as toYYYYMM does (UTC); 0 if unpartitioned."""
    column = PARTITION_COLUMNS[table]
    if column is None:
        return lambda row: 0
    index = TABLE_COLUMNS[table].index(column)

    def month(row: Sequence[object]) -> int:
        moment = row[index]
        if not isinstance(moment, datetime):
            raise TypeError(f"{table}.{column} holds {moment!r}, not a datetime")
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
        return moment.year * 100 + moment.month

    return month
