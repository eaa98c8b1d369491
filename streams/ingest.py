"""The ingest agent: Kafka batch → core (validate, park or trace, join timelines) → topics and ClickHouse → ack.

At-least-once from Kafka, exactly once in ClickHouse: every record handed over is acknowledged, in
partition order, only after what it produced is stored (rows, dead letters, attributions, parked
ratings); the writer drops replays. Only Faust's public stream and table interfaces are used.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence, Set
from dataclasses import dataclass, field
from typing import Any

import faust
from faust.types import TP, EventT, StreamT

from haochaping.dlq_guard import DeadLetterGuard, DeadLetterLimit, DeadLetterLimitExceeded
from haochaping.ingest import IngestBatch, Ingestor, Message
from haochaping.parking import CaseClock, ParkedRating, Parking, ParkingLot
from haochaping.settings import Settings
from haochaping.timeline import CaseTimeline
from producers.sources import SourcePartition, SourceReader
from sinks.writer import ClickHouseWriter
from streams.alerts import DetectorCounters, DetectorStage, ObservationRouter, register_detector
from streams.app import event_batches, every, on_signal
from streams.offsets import Admission, PartitionOrder
from streams.retry import until_written
from streams.tables import PartitionedTable, delivered, partition_of

log = logging.getLogger(__name__)

STALL_CHECK_SECONDS = 10.0  # a partition with lag and nothing delivered for this long is read again


@dataclass(slots=True)
class IngestCounters:
    """What the worker did since it started: the progress line and the metrics endpoint read these."""

    ratings: int = 0
    case_events: int = 0
    dead_letters: int = 0
    batches: int = 0
    duplicates: int = 0  # records handed over twice (around a rebalance): acknowledged, not processed
    gap_records: int = 0  # records Faust skipped, read from Kafka by the agent itself
    stalls: int = 0  # partitions Faust stopped delivering or committing, sought back
    parked_total: int = 0
    released_early: int = 0  # traced after the bounded wait, without all of their case's events
    future_dated: int = 0  # events beyond the allowed clock skew: stored, but not moving the watermark
    latest_event_at: float = 0.0  # event-time watermark (epoch seconds) for timeline expiry
    parked_now: int = 0
    detector: DetectorCounters = field(default_factory=DetectorCounters)

    def metrics(self) -> dict[str, float]:
        """Every counter by name, for the metrics endpoint."""
        values: dict[str, float] = {
            name: getattr(self, name) for name in self.__slots__ if name not in ("detector", "latest_event_at")
        }
        values["event_time_watermark_seconds"] = self.latest_event_at
        values.update({f"detector_{name}": getattr(self.detector, name) for name in self.detector.__slots__})
        return values


@dataclass(slots=True)
class Processed:
    """A batch as the core left it, with what must be on Kafka before its records are acknowledged."""

    batch: IngestBatch
    changelog: list[Awaitable[object]]  # timeline and parked-rating writes
    progress: dict[int, float | None]  # per owned partition, for the detectors' watermark


class StorePipeline:
    """Stores one batch while the next is processed; batches are stored and acknowledged strictly in order."""

    def __init__(self, store: Callable[[Processed], Awaitable[None]]) -> None:
        self._store = store
        self._pending: asyncio.Task[None] | None = None

    async def submit(self, processed: Processed, acknowledge: Callable[[], Awaitable[None]] | None = None) -> None:
        """Store `processed` in the background, then run `acknowledge`; waits for the previous batch first."""
        await self.drain()
        self._pending = asyncio.ensure_future(self._store_then(processed, acknowledge))

    async def _store_then(self, processed: Processed, acknowledge: Callable[[], Awaitable[None]] | None) -> None:
        await self._store(processed)
        if acknowledge is not None:
            await acknowledge()

    async def drain(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            await pending  # re-raises a failed store: the agent stops the worker


def register_ingest(app: faust.App, settings: Settings, ingestor: Ingestor, writer: ClickHouseWriter) -> IngestCounters:
    """Attach the ingest agent to `app`; returns the counters it keeps."""
    # Shared ratings, case events and every province's portal ratings: co-partitioned by case id,
    # so Faust gives partition p of all of them to the same worker (one agent, equal counts).
    source = app.topic(*settings.source_topics, value_type=bytes, key_type=bytes)
    deadletter = app.topic(settings.topics["deadletter"], value_type=bytes, key_type=bytes)
    attributions = app.topic(settings.topics["attributions"], value_type=bytes, key_type=bytes)
    # Keyed by case id like the source topics; each entry's changelog partition is its source
    # partition (streams/tables.py writes it explicitly), so a rebalance moves it with its records.
    case_timelines = _table(app, settings, "case_timelines", "encoded CaseTimeline by case id")
    parked_table = _table(app, settings, "parked_ratings", "ratings waiting for their case events, by source offset")
    counters = IngestCounters()
    router = ObservationRouter(app, settings)
    detector = register_detector(app, settings, writer)
    counters.detector = detector.counters
    guard = DeadLetterGuard(DeadLetterLimit(settings.dlq_max_ratio, settings.dlq_min_messages))
    order: PartitionOrder[EventT[bytes]] = PartitionOrder(_location)
    reader = SourceReader(settings)
    cases_topic = settings.topics["cases"]
    source_topics = frozenset(settings.source_topics)

    def case_events_caught_up(partition: int) -> bool:
        """Has the agent taken every case event of this partition that Kafka holds?"""
        return taken_all(TP(cases_topic, partition))

    parking = Parking(ParkingLot(settings.park_max_seconds), CaseClock(case_events_caught_up))

    traced_until: dict[int, float] = {}  # rating partition number -> newest rating time traced

    def source_progress(batch: IngestBatch) -> dict[int, float | None]:
        """How far each owned partition's ratings are traced, for the spike detectors' watermark.

        A partition with parked ratings holds the watermark at the oldest of them; one that has
        taken everything Kafka holds and parks nothing is idle (None) and holds nothing back.
        """
        for partition, at in batch.latest_rating_at.items():
            traced_until[partition] = max(traced_until.get(partition, at), at)
        owned: dict[int, list[TP]] = {}
        for tp in app.consumer.assignment():
            if tp.topic in source_topics:
                owned.setdefault(tp.partition, []).append(tp)
        progress: dict[int, float | None] = {}
        for partition, tps in owned.items():
            oldest = parking.lot.oldest(partition)
            if oldest is None and all(taken_all(tp) for tp in tps):
                progress[partition] = None
            else:
                traced = traced_until.get(partition, 0.0)
                progress[partition] = traced if oldest is None else min(traced, oldest)
        return progress

    def taken_all(tp: TP) -> bool:
        end = app.consumer.highwater(tp)
        taken = order.expected((tp.topic, tp.partition))
        return end is not None and taken is not None and taken >= end

    async def store(processed: Processed) -> None:
        batch = processed.batch
        await _send_dead_letters(deadletter, batch)
        await _publish_attributions(attributions, batch)
        await _write_until_stored(writer, batch)
        await router.send(batch, processed.progress)
        for released in batch.released:  # only now: until its rows are stored, it stays parked
            parked_table.delete(released.rating.key, released.rating.message.partition)
        await delivered([*processed.changelog, *parked_table.in_flight()])
        _count(counters, batch, parking.lot.released_early, parking.lot.parked)

    pipeline = StorePipeline(store)
    restore = _Restore()

    def process(messages: list[Message]) -> Processed:
        """The core's work on `messages`, and the changelog writes to be on Kafka before they are acknowledged."""
        batch = ingestor.process(messages, case_timelines, parking)
        for parked in batch.parked:
            parked_table.put(parked.key, parked.encode(), parked.message.partition)
        changelog = [*case_timelines.in_flight(), *parked_table.in_flight()]
        return Processed(batch, changelog, source_progress(batch))

    @app.agent(source, concurrency=1, name="ingest_events")
    async def ingest_events(stream: StreamT[bytes]) -> None:
        try:
            async for taken in event_batches(stream, settings.batch_max, settings.batch_seconds):
                await ingest_batch(taken, stream)
                del taken  # Faust's rebalance waits until every record it delivered is acknowledged or gone
            await pipeline.drain()
        except DeadLetterLimitExceeded as error:
            log.critical("dead-letter guard: %s", error)
            await app.crash(error)
        except Exception as error:
            # Faust would restart the agent, but the batch in hand would never come back
            # acknowledged: stop, so a restart resumes from the last committed offset instead.
            log.critical("ingest failed, stopping the worker: %r", error, exc_info=True)
            await app.crash(error)

    async def ingest_batch(taken: list[EventT[bytes]], stream: StreamT[bytes]) -> None:
        await restore_parked()
        watchdog.arrived(taken)
        await learn_starts({(event.message.topic, event.message.partition) for event in taken})
        admission = order.admit(taken)
        messages = await with_gaps_filled(admission)
        processed = process(messages)
        batch = processed.batch
        duplicates = len(admission.duplicates) + batch.already_parked
        if duplicates:
            counters.duplicates += duplicates
            log.info("skipped %d records handed over again (already processed or parked)", duplicates)
        guard.check(len(messages), len(batch.dead_letters))
        await pipeline.submit(processed, functools.partial(acknowledge, stream, taken))

    async def acknowledge(stream: StreamT[bytes], events: Sequence[EventT[bytes]]) -> None:
        for event in events:  # in the order taken: each partition's offsets ascend
            await stream.ack(event)
        watchdog.acknowledged(events)

    async def learn_starts(partitions: Set[SourcePartition]) -> None:
        """Where the group resumed the partitions new since the last assignment (and their case partitions)."""
        wanted = set(partitions) | {(cases_topic, partition) for _topic, partition in partitions}
        unknown = order.unknown(wanted)
        if not unknown:
            return
        committed = await until_read(functools.partial(reader.committed, unknown), "committed offsets")
        earliest = await app.consumer.earliest_offsets(*(TP(*key) for key in unknown))
        # Kafka resets a committed offset that retention has passed to the earliest one.
        order.start({key: max(committed[key] or 0, earliest.get(TP(*key), 0)) for key in unknown})

    async def with_gaps_filled(admission: Admission[EventT[bytes]]) -> list[Message]:
        messages: list[Message] = []
        for event, gap in admission.fresh:
            if gap is not None:
                found = await until_read(functools.partial(reader.read, gap.partition, gap.start, gap.stop), "a gap")
                log.warning(
                    "%s[%d]: Faust skipped offsets %d..%d; read %d records of them from Kafka",
                    *gap.partition,
                    gap.start,
                    gap.stop - 1,
                    len(found),
                )
                counters.gap_records += len(found)
                messages.extend(found)
            messages.append(_message(event))
        return messages

    async def release_parked() -> None:
        """Parked ratings whose case events are now read, with no new records to bring them along."""
        if parking.lot.parked and not app.rebalancing and not restore.needed:
            processed = process([])
            if processed.batch.released:
                await pipeline.submit(processed)

    async def finish_stores(sender: object, *args: object, **kwargs: object) -> None:
        # Another worker may write these partitions now: what this one took must be stored first,
        # and the writer's positions read again from ClickHouse.
        await pipeline.drain()
        writer.forget_positions()

    async def keep_owned(sender: object, assigned: Set[TP], *args: object, **kwargs: object) -> None:
        order.keep_only({(tp.topic, tp.partition) for tp in assigned})
        for partition in set(traced_until) - {tp.partition for tp in assigned}:
            del traced_until[partition]
        parking.lot.clear()
        restore.needed = True

    async def restore_parked() -> None:
        """The parked ratings of the partitions this worker owns now, from the recovered table.

        Before the first batch after an assignment: Faust hands over records only once its table
        recovery has completed, and no rating of a partition may be traced before its parked ones.
        """
        if not restore.needed:
            return
        await app.tables.wait_until_recovery_completed()
        owned = {(tp.topic, tp.partition) for tp in app.consumer.assignment()}
        parking.lot.clear()
        parking.lot.restore(
            rating
            for rating in map(ParkedRating.decode, (value for _key, value in parked_table.items()))
            if (rating.message.topic, rating.message.partition) in owned
        )
        restore.needed = False
        log.info("%d parked ratings restored for the partitions owned now", parking.lot.parked)

    watchdog = _StallWatchdog(app, order, reader, source_topics, counters)
    every(app, STALL_CHECK_SECONDS, watchdog.check)
    every(app, 1.0, release_parked)
    on_signal(app.on_partitions_revoked, finish_stores)
    on_signal(app.on_partitions_assigned, keep_owned)
    _register_housekeeping(app, settings, case_timelines, counters, parking, detector)
    return counters


class _StallWatchdog:
    """Puts Faust's consumer back on a partition it stopped delivering or committing (public seek only).

    Faust's fetcher can move its read position past records it never delivered (a fetch in flight
    while a rebalance seeks to the committed offsets), and then drops them as already read: the
    partition has lag but nothing arrives. And a commit that lands during that seek can leave Faust's
    own record of the committed offset behind the acknowledgements, after which it never commits the
    partition again. Both are seen from outside: no record of a partition with lag for a whole
    check interval, or a committed offset that stands still behind what the agent has processed.
    The agent then seeks the partition to where it must be read again; what comes twice is a
    duplicate, acknowledged and skipped.
    """

    def __init__(
        self,
        app: faust.App,
        order: PartitionOrder[EventT[bytes]],
        reader: SourceReader,
        source_topics: frozenset[str],
        counters: IngestCounters,
    ) -> None:
        self._app, self._order, self._reader = app, order, reader
        self._source_topics = source_topics
        self._counters = counters
        self._seen: set[SourcePartition] = set()  # partitions with a record since the last check
        self._acked: dict[SourcePartition, int] = {}  # next offset after the last one acknowledged
        self._committed_before: dict[SourcePartition, int | None] = {}

    def arrived(self, events: Sequence[EventT[bytes]]) -> None:
        self._seen.update((event.message.topic, event.message.partition) for event in events)

    def acknowledged(self, events: Sequence[EventT[bytes]]) -> None:
        for event in events:
            key = (event.message.topic, event.message.partition)
            self._acked[key] = max(self._acked.get(key, 0), event.message.offset + 1)

    async def check(self) -> None:
        app = self._app
        if app.rebalancing:
            self._committed_before.clear()
            self._acked.clear()  # acknowledgements before a rebalance may be discarded by it
            return
        owned = [tp for tp in app.consumer.assignment() if tp.topic in self._source_topics]
        keys = [(tp.topic, tp.partition) for tp in owned]
        committed = await until_read(functools.partial(self._reader.committed, keys), "committed offsets")
        seen, self._seen = self._seen, set()
        for tp, key in zip(owned, keys, strict=True):
            taken, end = self._order.expected(key), app.consumer.highwater(tp)
            if taken is None or end is None:
                continue
            before, now = self._committed_before.get(key), committed.get(key)
            if end > taken and key not in seen:
                log.warning("%s[%d]: %d records in Kafka after %d, none delivered; reading from there again",
                            *key, end - taken, taken)
                await self._seek(tp, taken)
            elif now is not None and now == before and now < self._acked.get(key, 0):
                # Faust commits acknowledged offsets every second; still here after a whole interval.
                log.warning("%s[%d]: commits stopped at %d, %d acknowledged; reading from there again",
                            *key, now, self._acked[key])
                await self._seek(tp, now)
        self._committed_before = committed

    async def _seek(self, tp: TP, offset: int) -> None:
        self._counters.stalls += 1
        await self._app.consumer.seek(tp, offset)


@dataclass(slots=True)
class _Restore:
    needed: bool = True  # parked ratings are read from the table before the next batch


def _register_housekeeping(
    app: faust.App,
    settings: Settings,
    case_timelines: PartitionedTable,
    counters: IngestCounters,
    parking: Parking,
    detector: DetectorStage,
) -> None:
    async def expire_timelines() -> None:
        """Forget cases whose last event is older than the retention, in event time."""
        if counters.latest_event_at == 0.0:
            return
        horizon = counters.latest_event_at - settings.timeline_retention_days * 86_400
        expired = []
        for scanned, (key, encoded) in enumerate(case_timelines.items(), start=1):
            if encoded is not None and last_event_epoch(encoded) < horizon:
                expired.append(key)
            if scanned % 5_000 == 0:
                await asyncio.sleep(0)  # let the stream run during a long sweep
        for key in expired:
            case_timelines.delete(key, partition_of(key, settings.partitions))
        if expired:
            log.info("expired %d case timelines older than %d days", len(expired), settings.timeline_retention_days)

    async def report_progress() -> None:
        if counters.batches:
            log.info(
                "ingested so far: %d ratings, %d case events, %d dead letters in %d batches; "
                "%d ratings parked for their case events (%d parked in all, %d traced after the maximum wait); "
                "%d duplicates skipped, %d skipped records read back, %d stalled partitions read again, "
                "%d late step observations, %d future-dated events",
                counters.ratings,
                counters.case_events,
                counters.dead_letters,
                counters.batches,
                parking.lot.parked,
                counters.parked_total,
                counters.released_early,
                counters.duplicates,
                counters.gap_records,
                counters.stalls,
                detector.counters.late,
                counters.future_dated,
            )

    every(app, settings.timeline_sweep_seconds, expire_timelines)
    every(app, 10.0, report_progress)


def _table(app: faust.App, settings: Settings, name: str, help_text: str) -> PartitionedTable:
    table = app.Table(
        name, default=None, key_type=bytes, value_type=bytes, partitions=settings.partitions, help=help_text
    )
    return PartitionedTable(table)


async def until_read(read: Any, what: str, attempts: int = 20) -> Any:
    """Run a blocking Kafka read in a thread, retrying failures with back-off; gives up by raising."""
    backoff = 0.5
    for attempt in range(1, attempts + 1):
        try:
            return await asyncio.to_thread(read)
        except Exception as error:
            if attempt == attempts:
                raise
            log.error("reading %s from Kafka failed (%r); retrying in %.1f s", what, error, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)


def last_event_epoch(encoded: bytes) -> float:
    last = CaseTimeline.decode(encoded).last_event_at
    return last.timestamp() if last is not None else 0.0


def _location(event: EventT[bytes]) -> tuple[str, int, int]:
    raw = event.message
    return raw.topic, raw.partition, raw.offset


def _message(event: EventT[bytes]) -> Message:
    raw = event.message
    return Message(raw.topic, raw.partition, raw.offset, raw.key, raw.value)


async def _send_dead_letters(deadletter: faust.TopicT, batch: IngestBatch) -> None:
    pending = []
    for letter in batch.dead_letters:
        message = letter.message
        log.warning("dead letter from %s[%d]@%d: %s", message.topic, message.partition, message.offset, letter.reason)
        headers = [
            ("hcp-reason", letter.reason.encode("utf-8")),
            ("hcp-source-topic", message.topic.encode()),
            ("hcp-source-partition", str(message.partition).encode()),
            ("hcp-source-offset", str(message.offset).encode()),
        ]
        pending.append(await deadletter.send(key=message.key, value=message.value, headers=headers))
    if pending:
        await asyncio.gather(*pending)  # delivered before the source offsets are acknowledged


async def _publish_attributions(topic: faust.TopicT, batch: IngestBatch) -> None:
    pending = [await topic.send(key=traced.key, value=traced.encode()) for traced in batch.attributions]
    if pending:
        await asyncio.gather(*pending)


async def _write_until_stored(writer: ClickHouseWriter, batch: IngestBatch) -> None:
    started = time.perf_counter()
    inserted = await until_written(functools.partial(writer.write, batch.rows), "the batch's rows")
    log.debug("wrote %s in %.0f ms", inserted, (time.perf_counter() - started) * 1000)


def _count(counters: IngestCounters, batch: IngestBatch, released_early: int, parked_now: int) -> None:
    counters.batches += 1
    counters.ratings += batch.ratings
    counters.case_events += batch.case_events
    counters.dead_letters += len(batch.dead_letters)
    counters.parked_total += len(batch.parked)
    counters.released_early = released_early
    counters.parked_now = parked_now
    counters.future_dated += batch.future_dated
    counters.latest_event_at = max(counters.latest_event_at, batch.latest_event_at)
