"""The ingest agent: Kafka batch → core (validate, park or trace, join timelines) → topics and ClickHouse → ack.

At-least-once from Kafka, exactly once in ClickHouse: the agent takes each partition strictly in
order and commits its own positions (streams/positions.py) only after what a batch produced is
stored (rows, dead letters, attributions, parked ratings); the writer drops replays. Only Faust's
public stream, consumer and table interfaces are used.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Set
from dataclasses import dataclass, field

import faust
from faust.types import TP, EventT, StreamT

from haochaping.dlq_guard import DeadLetterGuard, DeadLetterLimit, DeadLetterLimitExceeded
from haochaping.holidays import UPGRADE_HINT
from haochaping.ingest import IngestBatch, Ingestor, Message
from haochaping.parking import CaseClock, ParkedRating, Parking, ParkingLot
from haochaping.settings import Settings
from haochaping.timeline import CaseTimeline
from producers.sources import PositionStore
from sinks.writer import ClickHouseWriter
from streams.alerts import DetectorCounters, DetectorStage, ObservationRouter, register_detector
from streams.app import event_batches, every, on_signal
from streams.positions import AgentPositions, PositionCounters
from streams.repair import PartitionRepair, RepairCounters, Sorted
from streams.store import Processed, StorePipeline, publish_attributions, send_dead_letters, write_until_stored
from streams.tables import PartitionedTable, delivered, partition_of
from streams.watchdog import CHECK_SECONDS, StallWatchdog

log = logging.getLogger(__name__)


@dataclass(slots=True)
class IngestCounters:
    """What the worker did since it started: the progress line and the metrics endpoint read these."""

    ratings: int = 0
    case_events: int = 0
    dead_letters: int = 0
    batches: int = 0
    duplicates: int = 0  # records handed over twice (around a rebalance) or already parked: not processed
    stalls: int = 0  # times the worker sat idle with lag that did not move: Faust sought to its positions
    parked_total: int = 0
    released_early: int = 0  # traced after the bounded wait, without all of their case's events
    future_dated: int = 0  # events beyond the allowed clock skew: stored, but not moving the watermark
    # Steps and rated timelines measured on dates the holiday calendar does not cover (counted Mon–Fri).
    outside_calendar: int = 0
    latest_event_at: float = 0.0  # event-time watermark (epoch seconds) for timeline expiry
    parked_now: int = 0
    detector: DetectorCounters = field(default_factory=DetectorCounters)
    positions: PositionCounters = field(default_factory=PositionCounters)
    repair: RepairCounters = field(default_factory=RepairCounters)

    def metrics(self) -> dict[str, float]:
        """Every counter by name, for the metrics endpoint."""
        nested = ("detector", "positions", "repair", "latest_event_at")
        values: dict[str, float] = {name: getattr(self, name) for name in self.__slots__ if name not in nested}
        values["event_time_watermark_seconds"] = self.latest_event_at
        values.update({f"detector_{name}": getattr(self.detector, name) for name in self.detector.__slots__})
        values.update({f"source_{name}": getattr(self.positions, name) for name in self.positions.__slots__})
        values.update(self.repair.metrics())
        return values


class IngestAgent:
    """The `ingest_events` agent and its timers: one per worker process (concurrency 1, issue #606)."""

    def __init__(self, app: faust.App, settings: Settings, ingestor: Ingestor, writer: ClickHouseWriter) -> None:
        self.app, self.settings, self.ingestor, self.writer = app, settings, ingestor, writer
        # Shared ratings, case events and every province's portal ratings: co-partitioned by case id,
        # so Faust gives partition p of all of them to the same worker (one agent, equal counts).
        # acks=False: Faust's commit tracker stays off these topics; the agent commits its own positions.
        self.source = app.topic(*settings.source_topics, value_type=bytes, key_type=bytes, acks=False)
        self.deadletter = app.topic(settings.topics["deadletter"], value_type=bytes, key_type=bytes)
        self.attributions = app.topic(settings.topics["attributions"], value_type=bytes, key_type=bytes)
        # Keyed by case id like the source topics; each entry's changelog partition is its source
        # partition (streams/tables.py writes it explicitly), so a rebalance moves it with its records.
        self.timelines = _table(app, settings, "case_timelines", "encoded CaseTimeline by case id")
        self.parked = _table(app, settings, "parked_ratings", "ratings waiting for their case events, by offset")
        self.counters = IngestCounters()
        copies = _table(app, settings, "repaired_copies", "per partition and origin partition: last copy taken")
        self.repair = PartitionRepair(app, settings, copies)
        self.repaired = copies
        self.counters.repair = self.repair.counters
        self.router = ObservationRouter(app, settings)
        self.detector = register_detector(app, settings, writer)
        self.counters.detector = self.detector.counters
        self.guard = DeadLetterGuard(DeadLetterLimit(settings.dlq_max_ratio, settings.dlq_min_messages))
        self.positions = AgentPositions(app, PositionStore(settings), "ingest")
        self.counters.positions = self.positions.counters
        self.cases_topic = settings.topics["cases"]
        self.source_topics = frozenset(settings.source_topics)
        self.parking = Parking(ParkingLot(settings.park_max_seconds), CaseClock(self._case_events_caught_up))
        self.traced_until: dict[int, float] = {}  # rating partition number -> newest rating time traced
        self.pipeline = StorePipeline(self._store)
        self.restore_needed = True  # parked ratings are read from the table before the next batch
        self.watchdog = StallWatchdog(
            app, self.positions, self.source_topics, self._count_stall, lambda: self.pipeline.storing
        )

    def register(self) -> IngestCounters:
        app = self.app
        app.agent(self.source, concurrency=1, name="ingest_events")(self._consume)
        every(app, CHECK_SECONDS, self.watchdog.check)
        every(app, 1.0, self._release_parked)
        on_signal(app.on_partitions_revoked, self._finish_stores)
        on_signal(app.on_partitions_assigned, self._keep_owned)
        _register_housekeeping(
            app, self.settings, self.timelines, self.counters, self.parking, self.detector, self.repair
        )
        return self.counters

    # -- the stream ----------------------------------------------------------------------------

    async def _consume(self, stream: StreamT[bytes]) -> None:
        try:
            async for taken in event_batches(stream, self.settings.batch_max, self.settings.batch_seconds):
                await self._ingest_batch(taken)
                del taken  # no batch outlives its turn (a rebalance may come next)
            await self.pipeline.drain()
        except DeadLetterLimitExceeded as error:
            log.critical("dead-letter guard: %s", error)
            await self.app.crash(error)
        except Exception as error:
            # Faust would restart the agent, but the batch in hand would never come back
            # acknowledged: stop, so a restart resumes from the last committed offset instead.
            log.critical("ingest failed, stopping the worker: %r", error, exc_info=True)
            await self.app.crash(error)

    async def _ingest_batch(self, taken: list[EventT[bytes]]) -> None:
        await self._restore_parked()
        self.watchdog.arrived(taken)
        # The case partitions' positions too: a rating parks until its case events are read.
        cases = {(self.cases_topic, event.message.partition) for event in taken}
        admission = await self.positions.admit(taken, also=cases)
        # Records on the wrong partition for their key go to the right one (streams/repair.py).
        repairs = self.repair.sort(admission.fresh)
        messages = [_message(event) for event in repairs.take]
        processed = self._process(messages, repairs)
        batch = processed.batch
        duplicates = admission.duplicates + batch.already_parked + repairs.copies_seen
        if duplicates:
            self.counters.duplicates += duplicates
            log.info("skipped %d records handed over again (already processed or parked)", duplicates)
        self.guard.check(len(messages), len(batch.dead_letters))
        positions = self.positions.taken(taken)
        await self.pipeline.submit(processed, functools.partial(self.positions.commit, positions))

    def _process(self, messages: list[Message], repairs: Sorted | None = None) -> Processed:
        """The core's work on `messages`, and the changelog writes to be on Kafka before the positions move."""
        batch = self.ingestor.process(messages, self.timelines, self.parking)
        for parked in batch.parked:
            self.parked.put(parked.key, parked.encode(), parked.message.partition)
        changelog = [*self.timelines.in_flight(), *self.parked.in_flight()]
        return Processed(batch, changelog, self._source_progress(batch), repairs or Sorted())

    async def _store(self, processed: Processed) -> None:
        batch = processed.batch
        await send_dead_letters(self.deadletter, batch)
        await self.repair.resend(processed.repairs.resend)
        await publish_attributions(self.attributions, batch)
        await write_until_stored(self.writer, batch)
        await self.router.send(batch, processed.progress)
        for released in batch.released:  # only now: until its rows are stored, it stays parked
            self.parked.delete(released.rating.key, released.rating.message.partition)
        self.repair.save_marks(processed.repairs.marks)  # only now: until its rows are stored, a copy is new
        await delivered([*processed.changelog, *self.parked.in_flight(), *self.repaired.in_flight()])
        if batch.outside_calendar and not self.counters.outside_calendar:
            # Once per process: every case near those dates would repeat it; the counter keeps counting.
            calendar = self.ingestor.calendar
            log.warning(
                "working days on %s were counted Mon–Fri: outside the %s (%s, %s); %s "
                "(logged once; the outside_calendar counter goes on)",
                batch.outside_dates,
                calendar.name,
                calendar.covers.years if calendar.covers is not None else "",
                calendar.source,
                UPGRADE_HINT,
            )
        _count(self.counters, batch, self.parking.lot.released_early, self.parking.lot.parked)

    # -- progress ------------------------------------------------------------------------------

    def _source_progress(self, batch: IngestBatch) -> dict[int, float | None]:
        """How far each owned partition's ratings are traced, for the spike detectors' watermark.

        A partition with parked ratings holds the watermark at the oldest of them; one that has
        taken everything Kafka holds and parks nothing is idle (None) and holds nothing back.
        """
        traced_until = self.traced_until
        for partition, at in batch.latest_rating_at.items():
            traced_until[partition] = max(traced_until.get(partition, at), at)
        owned: dict[int, list[TP]] = {}
        for tp in self.app.consumer.assignment():
            if tp.topic in self.source_topics:
                owned.setdefault(tp.partition, []).append(tp)
        progress: dict[int, float | None] = {}
        for partition, tps in owned.items():
            oldest = self.parking.lot.oldest(partition)
            if oldest is None and all(self._taken_all(tp) for tp in tps):
                progress[partition] = None
            else:
                traced = traced_until.get(partition, 0.0)
                progress[partition] = traced if oldest is None else min(traced, oldest)
        return progress

    def _taken_all(self, tp: TP) -> bool:
        """Has the agent taken every record of `tp` that Kafka holds?"""
        consumer = self.app.consumer
        if tp not in consumer.assignment():  # revoked while its batch is processed: not known here
            return False
        try:
            end = consumer.highwater(tp)
        except AssertionError:  # aiokafka asserts the assignment, which its thread may change meanwhile
            return False
        taken = self.positions.order.expected((tp.topic, tp.partition))
        return end is not None and taken is not None and taken >= end

    def _case_events_caught_up(self, partition: int) -> bool:
        return self._taken_all(TP(self.cases_topic, partition))

    def _count_stall(self) -> None:
        self.counters.stalls += 1

    # -- parked ratings and rebalances ---------------------------------------------------------

    async def _release_parked(self) -> None:
        """Parked ratings whose case events are now read, with no new records to bring them along."""
        if self.parking.lot.parked and not self.app.rebalancing and not self.restore_needed:
            processed = self._process([])
            if processed.batch.released:
                await self.pipeline.submit(processed)

    async def _finish_stores(self, sender: object, *args: object, **kwargs: object) -> None:
        # Another worker may write these partitions now: what this one took must be stored first,
        # and the writer's positions read again from ClickHouse.
        await self.pipeline.drain()
        self.writer.forget_positions()
        self.repair.forget()

    async def _keep_owned(self, sender: object, assigned: Set[TP], *args: object, **kwargs: object) -> None:
        self.positions.keep_only(assigned)
        for partition in set(self.traced_until) - {tp.partition for tp in assigned}:
            del self.traced_until[partition]
        self.parking.lot.clear()
        self.restore_needed = True

    async def _restore_parked(self) -> None:
        """The parked ratings of the partitions this worker owns now, from the recovered table.

        Before the first batch after an assignment: Faust hands over records only once its table
        recovery has completed, and no rating of a partition may be traced before its parked ones.
        """
        if not self.restore_needed:
            return
        await self.app.tables.wait_until_recovery_completed()
        owned = {(tp.topic, tp.partition) for tp in self.app.consumer.assignment()}
        lot = self.parking.lot
        lot.clear()
        lot.restore(
            rating
            for rating in map(ParkedRating.decode, (value for _key, value in self.parked.items()))
            if (rating.message.topic, rating.message.partition) in owned
        )
        self.restore_needed = False
        log.info("%d parked ratings restored for the partitions owned now", lot.parked)


def register_ingest(app: faust.App, settings: Settings, ingestor: Ingestor, writer: ClickHouseWriter) -> IngestCounters:
    """Attach the ingest agent to `app`; returns the counters it keeps."""
    return IngestAgent(app, settings, ingestor, writer).register()


def _register_housekeeping(
    app: faust.App,
    settings: Settings,
    case_timelines: PartitionedTable,
    counters: IngestCounters,
    parking: Parking,
    detector: DetectorStage,
    repair: PartitionRepair,
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
        repair.report()
        if counters.batches:
            log.info(
                "ingested so far: %d ratings, %d case events, %d dead letters in %d batches; "
                "%d ratings parked for their case events (%d parked in all, %d traced after the maximum wait); "
                "%d duplicates skipped, %d records handed over out of place, %d seeks to the agent's positions "
                "(%d when stalled), %d offsets not in Kafka, "
                "%d records on the wrong partition for their key re-sent, "
                "%d late step observations, %d future-dated events, "
                "%d measurements outside the holiday calendar (counted Mon–Fri)",
                counters.ratings,
                counters.case_events,
                counters.dead_letters,
                counters.batches,
                parking.lot.parked,
                counters.parked_total,
                counters.released_early,
                counters.duplicates,
                counters.positions.misplaced,
                counters.positions.seeks,
                counters.stalls,
                counters.positions.absent,
                counters.repair.resent,
                detector.counters.late,
                counters.future_dated,
                counters.outside_calendar,
            )

    every(app, settings.timeline_sweep_seconds, expire_timelines)
    every(app, 10.0, report_progress)


def _table(app: faust.App, settings: Settings, name: str, help_text: str) -> PartitionedTable:
    table = app.Table(
        name, default=None, key_type=bytes, value_type=bytes, partitions=settings.partitions, help=help_text
    )
    return PartitionedTable(table)


def last_event_epoch(encoded: bytes) -> float:
    last = CaseTimeline.decode(encoded).last_event_at
    return last.timestamp() if last is not None else 0.0


def _message(event: EventT[bytes]) -> Message:
    raw = event.message
    return Message(raw.topic, raw.partition, raw.offset, raw.key, raw.value)


def _count(counters: IngestCounters, batch: IngestBatch, released_early: int, parked_now: int) -> None:
    counters.batches += 1
    counters.ratings += batch.ratings
    counters.case_events += batch.case_events
    counters.dead_letters += len(batch.dead_letters)
    counters.parked_total += len(batch.parked)
    counters.released_early = released_early
    counters.parked_now = parked_now
    counters.future_dated += batch.future_dated
    counters.outside_calendar += batch.outside_calendar
    counters.latest_event_at = max(counters.latest_event_at, batch.latest_event_at)
