"""One batch of Kafka records → rows for every table, plus the dead letters (pure).

The Faust agent hands a batch from `stream.noack_take` to `Ingestor.process` and
writes what comes back; `hcp` batch commands use the same code without Kafka.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from haochaping.decoding import EventKind, Rejection, decode_event
from haochaping.events import CaseEvent, RatingEvent
from haochaping.rows import Source, case_event_row, dead_letter_row, rating_row


@dataclass(frozen=True, slots=True)
class Message:
    """A Kafka record as the core sees it: bytes plus where they came from."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes

    @property
    def source(self) -> Source:
        return Source(self.topic, self.partition, self.offset)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    message: Message
    reason: str


@dataclass(slots=True)
class IngestBatch:
    """What one batch produced: rows per table, and what was refused."""

    rows: dict[str, list[tuple[object, ...]]] = field(default_factory=dict)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    ratings: int = 0
    case_events: int = 0

    def add_row(self, table: str, row: tuple[object, ...]) -> None:
        self.rows.setdefault(table, []).append(row)


class Ingestor:
    """Validates and converts batches; `kind_of_topic` says what each topic may carry."""

    def __init__(self, kind_of_topic: Mapping[str, EventKind], pseudonym_key: bytes) -> None:
        self._kind_of_topic = dict(kind_of_topic)
        self._pseudonym_key = pseudonym_key

    def process(self, messages: Sequence[Message]) -> IngestBatch:
        batch = IngestBatch()
        for message in messages:
            kind = self._kind_of_topic.get(message.topic)
            if kind is None:
                self._reject(batch, message, f"topic {message.topic!r} carries no known event kind")
                continue
            decoded = decode_event(message.value, kind)
            if isinstance(decoded, Rejection):
                self._reject(batch, message, decoded.reason)
            elif isinstance(decoded, RatingEvent):
                batch.ratings += 1
                batch.add_row("ratings", rating_row(decoded, message.source, self._pseudonym_key))
            elif isinstance(decoded, CaseEvent):
                batch.case_events += 1
                batch.add_row("case_events", case_event_row(decoded, message.source))
        return batch

    @staticmethod
    def _reject(batch: IngestBatch, message: Message, reason: str) -> None:
        batch.dead_letters.append(DeadLetter(message, reason))
        batch.add_row("dead_letters", dead_letter_row(reason, len(message.value), message.source))
