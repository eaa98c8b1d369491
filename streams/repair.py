"""Source records on the wrong partition for their key: re-sent to the right one, and their copies taken once.

The timeline join needs a case's ratings and events on the same partition number, which holds
only if portals partition by the contract's partitioner (murmur2 of the UTF-8 key, as the Java
client and kafka-python do; docs/contracts.md). A client with another default (librdkafka's CRC32,
sarama's FNV-1a) puts records elsewhere. The ingest agent does not process such a record: it
re-sends it, with its headers and a `hcp-repaired-from` header naming where it was, to the right
partition of the same topic (so the province check and every other rule apply to the copy
unchanged), and commits past it only once the copy is on Kafka. A crash before that commit sends
the copy again; copies from one partition reach another in order, so the taker keeps, per origin
partition, the highest origin offset it has taken (a changelogged table co-partitioned with the
copies, written once the copy's rows are stored) and skips copies at or below it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import faust
from faust.types import EventT

from haochaping.settings import Settings
from streams.tables import PartitionedTable, partition_of

log = logging.getLogger(__name__)

REPAIRED_FROM = "hcp-repaired-from"  # header on a copy: "<partition>/<offset>" of the record it repairs
WARN_EVERY_SECONDS = 60.0
PRODUCER_SETTINGS = (
    "partition by murmur2 of the UTF-8 key (Java client and kafka-python: the default; "
    "librdkafka clients such as kcat, confluent-kafka and Confluent.Kafka: partitioner=murmur2_random; "
    "sarama: NewMurmur2Partitioner (v1.50.0+); see docs/contracts.md)"
)


@dataclass(frozen=True, slots=True)
class Misplaced:
    event: EventT[bytes]
    partition: int  # the partition its key belongs to


@dataclass(slots=True)
class Sorted:
    """An admitted batch after the partition check."""

    take: list[EventT[bytes]] = field(default_factory=list)  # to process here
    resend: list[Misplaced] = field(default_factory=list)  # to copy to their right partition
    copies_seen: int = 0  # copies taken before (their origin was sent again after a crash)
    marks: dict[bytes, tuple[int, int]] = field(default_factory=dict)  # mark key -> (origin offset, partition)


@dataclass(slots=True)
class RepairCounters:
    misplaced: Counter[str] = field(default_factory=Counter)  # per source topic: records on the wrong partition
    resent: int = 0  # copies on Kafka
    copies_taken: int = 0
    copies_seen: int = 0

    def metrics(self) -> dict[str, float]:
        values: dict[str, float] = {
            f'misplaced_records{{topic="{topic}"}}': count for topic, count in sorted(self.misplaced.items())
        }
        values.update(repaired_copies_sent=self.resent, repaired_copies_taken=self.copies_taken)
        values["repaired_copies_seen_before"] = self.copies_seen
        return values


class PartitionRepair:
    def __init__(self, app: faust.App, settings: Settings, table: PartitionedTable) -> None:
        self._partitions = settings.partitions
        self._senders = {topic: app.topic(topic, value_type=bytes, key_type=bytes) for topic in settings.source_topics}
        self._taken = table  # "<topic>/<copy partition>/<origin partition>" -> highest origin offset taken
        self._highest: dict[bytes, int] = {}  # the same, including batches not yet stored
        self.counters = RepairCounters()
        self._unreported: Counter[str] = Counter()
        self._reported_at = 0.0

    def sort(self, events: Iterable[EventT[bytes]]) -> Sorted:
        """Which of the admitted events to process here; which to re-send; which copies were taken before."""
        result = Sorted()
        for event in events:
            message = event.message
            key = message.key
            if key is None:  # nothing to place it by: processed where it is
                result.take.append(event)
                continue
            belongs = partition_of(key, self._partitions)
            if belongs != message.partition:
                result.resend.append(Misplaced(event, belongs))
                self.counters.misplaced[message.topic] += 1
                self._unreported[message.topic] += 1
            elif self._is_copy_seen_before(event, result):
                result.copies_seen += 1
            else:
                result.take.append(event)
        self.counters.copies_seen += result.copies_seen
        self.report()
        return result

    def save_marks(self, marks: dict[bytes, tuple[int, int]]) -> None:
        """Once the copies' rows are stored: the highest origin offsets taken, into the table."""
        for key, (offset, partition) in marks.items():
            self._taken.put(key, str(offset).encode(), partition)

    def forget(self) -> None:
        """After a rebalance: the table is read again (another worker may have taken copies meanwhile)."""
        self._highest.clear()

    async def resend(self, misplaced: list[Misplaced]) -> None:
        """Copies on their right partitions, delivered (before the originals' positions are committed)."""
        pending = []
        for item in misplaced:
            message = item.event.message
            headers = [*_headers(item.event), (REPAIRED_FROM, f"{message.partition}/{message.offset}".encode())]
            sender = self._senders[message.topic]
            pending.append(
                await sender.send(
                    key=message.key,
                    value=message.value,
                    partition=item.partition,
                    headers=headers,
                    timestamp=message.timestamp,
                )
            )
        if pending:
            await asyncio.gather(*pending)
            self.counters.resent += len(pending)

    def _is_copy_seen_before(self, event: EventT[bytes], result: Sorted) -> bool:
        origin = _origin(event)
        if origin is None:
            return False
        origin_partition, origin_offset = origin
        message = event.message
        key = f"{message.topic}/{message.partition}/{origin_partition}".encode()
        highest = self._highest.get(key)
        if highest is None:
            stored = self._taken.get(key)
            highest = int(stored) if stored is not None else -1
        if origin_offset <= highest:
            self._highest[key] = highest
            return True
        self._highest[key] = origin_offset
        result.marks[key] = (origin_offset, message.partition)
        self.counters.copies_taken += 1
        return False

    def report(self) -> None:
        """The rate-limited warning: per topic, how many records were misplaced since the last one."""
        now = time.monotonic()
        if not self._unreported or now - self._reported_at < WARN_EVERY_SECONDS:
            return
        for topic, count in sorted(self._unreported.items()):
            log.warning(
                "%s: %d records on the wrong partition for their key since the last report (%d in all), "
                "re-sent to the right partition; the producer writing this topic must %s",
                topic,
                count,
                self.counters.misplaced[topic],
                PRODUCER_SETTINGS,
            )
        self._unreported.clear()
        self._reported_at = now


def _all_headers(event: EventT[bytes]) -> list[tuple[str, bytes]]:
    headers = event.message.headers
    if not headers:
        return []
    return list(headers.items()) if isinstance(headers, Mapping) else list(headers)


def _headers(event: EventT[bytes]) -> list[tuple[str, bytes]]:
    """The record's own headers, to go with its copy (a copy's origin header is replaced)."""
    return [(name, value) for name, value in _all_headers(event) if name != REPAIRED_FROM]


def _origin(event: EventT[bytes]) -> tuple[int, int] | None:
    """(partition, offset) of the record this one is a copy of; None if it is no copy."""
    for name, value in _all_headers(event):
        if name == REPAIRED_FROM:
            partition, _, offset = value.decode("ascii", "replace").partition("/")
            if partition.isdigit() and offset.isdigit():
                return int(partition), int(offset)
    return None
