"""The ingest agent: Kafka batch → core (validate, join timelines, trace) → topics and ClickHouse → ack.

At-least-once: offsets are acknowledged only after the batch's rows are in ClickHouse
and its dead letters and attributions are on their topics; the writer drops replays.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Iterable, Set
from dataclasses import dataclass, field

import faust
from faust.types import TP, ConsumerT, EventT, StreamT

from haochaping.dlq_guard import DeadLetterGuard, DeadLetterLimit, DeadLetterLimitExceeded
from haochaping.ingest import IngestBatch, Ingestor, Message
from haochaping.settings import Settings
from haochaping.timeline import CaseTimeline
from sinks.writer import ClickHouseWriter
from streams.alerts import register_alerts
from streams.alignment import RatingHold
from streams.offsets import Admission, OffsetGuard
from streams.retry import until_written
from streams.tables import PartitionedTable, partition_of

log = logging.getLogger(__name__)

STALL_SECONDS = 10.0  # nothing received this long while a partition has more: seek it back


@dataclass(slots=True)
class IngestCounters:
    ratings: int = 0
    case_events: int = 0
    dead_letters: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    latest_event_at: float = 0.0  # event-time watermark (epoch seconds) for timeline expiry


def register_ingest(app: faust.App, settings: Settings, ingestor: Ingestor, writer: ClickHouseWriter) -> IngestCounters:
    """Attach the ingest agent to `app`; returns the counters it keeps."""
    # Shared ratings, case events and every province's portal ratings: co-partitioned by case id,
    # so Faust gives partition p of all of them to the same worker (one agent, equal counts).
    source = app.topic(*settings.source_topics, value_type=bytes, key_type=bytes)
    deadletter = app.topic(settings.topics["deadletter"], value_type=bytes, key_type=bytes)
    attributions = app.topic(settings.topics["attributions"], value_type=bytes, key_type=bytes)
    # Keyed by case id like both source topics; each timeline's changelog partition is the
    # source partition of its case (streams/tables.py writes it explicitly).
    case_timelines = PartitionedTable(
        app.Table(
            "case_timelines",
            default=None,
            key_type=bytes,
            value_type=bytes,
            partitions=settings.partitions,
            help="encoded CaseTimeline by case id",
        )
    )
    counters = IngestCounters()
    alerts = register_alerts(app, settings, writer)
    guard = DeadLetterGuard(DeadLetterLimit(settings.dlq_max_ratio, settings.dlq_min_messages))
    offsets: OffsetGuard[EventT] = OffsetGuard(_location)
    cases_topic = settings.topics["cases"]
    source_topics = frozenset(settings.source_topics)
    progress = _Progress()
    hold: RatingHold[EventT] = RatingHold(
        frozenset(topic for topic in settings.source_topics if topic != cases_topic), _location, _value
    )

    async def unseen_case_positions() -> dict[int, int | None]:
        """Where the consumer reads the case-event partitions the agent has seen nothing of yet."""
        positions: dict[int, int | None] = {}
        for tp in app.consumer.assignment():
            if tp.topic == cases_topic and offsets.expected((cases_topic, tp.partition)) is None:
                positions[tp.partition] = await app.consumer.position(tp)
        return positions

    def case_events_caught_up(partition: int, positions: dict[int, int | None]) -> bool:
        """Has the agent taken every case event of this partition number that Kafka holds?"""
        end = app.consumer.highwater(TP(cases_topic, partition))
        taken = offsets.expected((cases_topic, partition))
        if taken is None:
            taken = positions.get(partition)
        return end is None or taken is None or taken >= end

    @app.agent(source, concurrency=1, name="ingest_events")
    async def ingest_events(stream: StreamT[bytes]) -> None:
        try:
            await _ingest(stream)
        except Exception as error:
            # Faust would restart the agent, but the batch in hand was taken from the stream
            # unacknowledged and would never come back: stop, so a restart resumes from the
            # last committed offset instead.
            log.critical("ingest failed, stopping the worker: %r", error, exc_info=True)
            await app.crash(error)

    async def _ingest(stream: StreamT[bytes]) -> None:
        _rewinds(app.consumer)  # before the first records: see there
        async for taken in stream.noack_take(settings.batch_max, within=settings.batch_seconds):
            progress.busy = True
            positions = await unseen_case_positions()
            starts = await uncommitted_starts(taken)
            # No await from here to hold.take: a rebalance in between would let the hold and
            # the offset guard disagree about which records were taken.
            admission = offsets.admit(taken, app.consumer.assignment(), functools.partial(start_of, starts=starts))
            events = hold.take(admission.fresh, functools.partial(case_events_caught_up, positions=positions))
            # A duplicate of a held rating is not acknowledged: the held one will be, once processed.
            duplicates: list[EventT] = []
            held_twice: list[EventT] = []
            for event in admission.duplicates:
                (held_twice if hold.holds(event) else duplicates).append(event)
            _let_go(app.consumer, [*admission.waiting, *admission.foreign, *held_twice])
            _seek_gaps(app, admission)
            batch = ingestor.process([_message(event) for event in events], case_timelines)
            hold.processed(batch.latest_case_at)
            try:
                guard.check(len(events), len(batch.dead_letters))
            except DeadLetterLimitExceeded as error:
                log.critical("dead-letter guard: %s", error)
                await app.crash(error)
                return
            await _send_dead_letters(deadletter, batch)
            await _publish_attributions(attributions, batch)
            await _write_until_stored(writer, batch)
            await alerts.process(batch)
            for event in events:
                await stream.ack(event)
            for event in duplicates:
                await stream.ack(event)
            _count(counters, batch)
            progress.busy, progress.last_batch_at = False, time.monotonic()
            # Faust's rebalance waits for every record it delivered to be acknowledged or gone:
            # drop this batch's references before waiting for the next one.
            del taken, admission, events, duplicates, held_twice, batch

    async def uncommitted_starts(taken: list[EventT]) -> dict[TP, int]:
        """Where the partitions of this batch that were never committed (and that the agent has
        seen nothing of since their assignment) begin: the first record that came is not
        necessarily their first (records fetched around a rebalance can be dropped)."""
        unseen = {TP(topic, partition) for topic, partition, _ in map(_location, taken)}
        unseen = {tp for tp in unseen if offsets.expected(tp) is None and committed_offset(tp) is None}
        return dict(await app.consumer.earliest_offsets(*unseen)) if unseen else {}

    def start_of(key: tuple[str, int], starts: dict[TP, int]) -> int | None:
        offset = committed_offset(key)
        return starts.get(TP(*key)) if offset is None else offset

    def committed_offset(key: tuple[str, int]) -> int | None:
        # Faust's own record of where it sought the partition on assignment (no public API).
        offset: int | None = getattr(app.consumer, "_committed_offset", {}).get(TP(*key))
        return offset

    def give_up_holds() -> None:
        """Forget held ratings, so a rebalance does not wait for them; they will come again."""
        first, records = hold.release_all()
        for key, offset in first.items():
            offsets.rewind(key, offset)
        _let_go(app.consumer, records)
        if records:
            log.info("rebalance: gave up %d held ratings; they are read again from the committed offsets", len(records))

    @app.timer(interval=0.25)
    async def release_holds_on_rebalance() -> None:
        if app.rebalancing and hold.held_total:
            give_up_holds()

    @app.on_partitions_revoked.connect
    async def forget_positions(sender: object, revoked: object, **kwargs: object) -> None:
        # Another worker may write these partitions now; re-read positions from ClickHouse.
        writer.forget_positions()

    @app.on_partitions_assigned.connect
    async def keep_owned_offsets(sender: object, assigned: Set[TP], **kwargs: object) -> None:
        # Held ratings are given up: Faust seeks every partition back to its committed offset,
        # so they come again, and the guard must take them as new.
        give_up_holds()
        offsets.keep_only(assigned)

    @app.timer(interval=settings.timeline_sweep_seconds)
    async def expire_timelines() -> None:
        """Forget cases whose last event is older than the retention, in event time."""
        horizon = counters.latest_event_at - settings.timeline_retention_days * 86_400
        if counters.latest_event_at == 0.0:
            return
        expired = []
        for scanned, (key, encoded) in enumerate(list(case_timelines.items()), start=1):
            if encoded is not None and last_event_epoch(encoded) < horizon:
                expired.append(key)
            if scanned % 5_000 == 0:
                await asyncio.sleep(0)  # let the stream run during a long sweep
        for key in expired:
            case_timelines.delete(key, partition_of(key, settings.partitions))
        if expired:
            log.info("expired %d case timelines older than %d days", len(expired), settings.timeline_retention_days)

    @app.timer(interval=5.0)
    async def unstick_partitions() -> None:
        """Seek back partitions that have records the agent never received.

        Around a rebalance Faust's fetcher can move its read position past records it never
        handed over (a fetch in flight while the partition is sought to its committed offset);
        it then drops them as already read. When nothing has reached the agent for a while but
        a partition ends beyond what it took, read that partition again from there.
        """
        if progress.busy or time.monotonic() - progress.last_batch_at < STALL_SECONDS:
            return
        if app.rebalancing or not app.tables.recovery.completed.is_set():
            return  # Faust seeks every partition to its committed offset at the end of recovery
        committed = getattr(app.consumer, "_committed_offset", {})
        for tp in app.consumer.assignment():
            if tp.topic not in source_topics:
                continue
            end = app.consumer.highwater(tp)
            want = offsets.expected((tp.topic, tp.partition))
            if want is None:
                # Nothing taken since the assignment: from the committed offset, or (none) the
                # start; Faust does not move a partition without one when it seeks to them.
                want = committed.get(tp) or 0
            if end is not None and want < end:
                log.warning("%s[%d] ends at %d but nothing came after %d; reading it again", *tp, end, want)
                _seek_back(app, tp, want)
        progress.last_batch_at = time.monotonic()  # give the seek time to deliver

    commits_behind: dict[TP, int] = {}

    @app.timer(interval=2.0)
    async def seek_gaps_again() -> None:
        """Records still in flight when the agent sought back can move Faust's read position past
        the missing offsets again; seek until they come."""
        assigned = app.consumer.assignment()
        for key, offset in offsets.gaps().items():
            if key in assigned:
                _seek_back(app, TP(*key), offset)
        # Faust commits a partition only while its first acknowledged offset follows the one it
        # last committed (Consumer._new_offset). A commit that lands while Faust seeks to the
        # committed offsets (end of a rebalance) leaves its record of it behind the
        # acknowledgements, and it never commits that partition again: read the records in
        # between again (acknowledged as duplicates). Asked only if seen twice in a row.
        committed = getattr(app.consumer, "_committed_offset", {})
        acked = getattr(app.consumer, "_acked", {})
        behind: dict[TP, int] = {}
        for tp in assigned:
            at, done = committed.get(tp), acked.get(tp)
            if tp.topic in source_topics and at is not None and done and min(done) > at + 1:
                behind[tp] = at
        for tp, at in list(behind.items()):
            if commits_behind.get(tp) == at:
                log.warning("%s[%d]: Faust's commits stopped at %d; reading from there again", *tp, at)
                _seek_back(app, tp, at)
                del behind[tp]  # give the records time to come
        commits_behind.clear()
        commits_behind.update(behind)

    @app.timer(interval=10.0)
    async def report_progress() -> None:
        if counters.batches:
            log.info(
                "ingested so far: %d ratings, %d case events, %d dead letters in %d batches; "
                "%d ratings waiting for their case events (%d let go early)",
                counters.ratings,
                counters.case_events,
                counters.dead_letters,
                counters.batches,
                hold.held_total,
                hold.released_early,
            )

    return counters


@dataclass(slots=True)
class _Progress:
    busy: bool = False  # inside a batch (e.g. waiting out a ClickHouse outage)
    last_batch_at: float = field(default_factory=time.monotonic)


def last_event_epoch(encoded: bytes) -> float:
    last = CaseTimeline.decode(encoded).last_event_at
    return last.timestamp() if last is not None else 0.0


def _location(event: EventT) -> tuple[str, int, int]:
    raw = event.message
    return raw.topic, raw.partition, raw.offset


def _seek_gaps(app: faust.App, admission: Admission[EventT]) -> None:
    if admission.foreign:
        log.info("dropped %d records of partitions assigned elsewhere since they were fetched", len(admission.foreign))
    if admission.duplicates:
        log.info("skipped %d records delivered twice around a rebalance", len(admission.duplicates))
    for (topic, partition), offset in admission.skipped.items():
        log.warning("offsets %d..%d of %s[%d] never arrived after repeated seeks; going on", *offset, topic, partition)
    for (topic, partition), offset in admission.gaps.items():
        # Faust skipped records of this partition (a rebalance cleared its queue): read them again.
        log.warning("gap in %s[%d] before offset %d; seeking back to it", topic, partition, offset)
        _seek_back(app, TP(topic, partition), offset)


def _seek_back(app: faust.App, tp: TP, offset: int) -> None:
    """Ask for `tp` to be read again from `offset`, just before Faust's next fetch (see `_rewinds`)."""
    pending = _rewinds(app.consumer)
    pending[tp] = min(offset, pending.get(tp, offset))  # the lowest asked for covers all


def _rewinds(consumer: ConsumerT) -> dict[TP, int]:
    """Partitions to seek back just before Faust's next fetch, where each must start again.

    A seek at any other moment does not bring the records again. Faust's fetch loop drops each
    record below its read offset for the partition ("DROPPED MESSAGE ROFF"); `Consumer.seek`
    lowers that offset, but the loop then goes on delivering the rest of the fetch it holds
    (records past the gap), which raises it again: the records read again from the sought
    offset are dropped, the agent sees the gap again and seeks again, for as long as the agent
    is the bottleneck. Between two fetches the loop holds no records. (seek_wait moves the
    aiokafka consumer in its own thread; seek() does it from this one, racing a fetch.)

    Faust's own "gaps" (offsets it jumped over, assumed compacted away and committed over as if
    processed) are not kept: they would commit records never processed, and once merged into
    the acknowledged offsets they duplicate the real acknowledgements of the records read
    again, after which each commit advances only to the next duplicate (lag that never ends).
    """
    pending: dict[TP, int] | None = getattr(consumer, "_hcp_rewinds", None)
    if pending is None:
        pending = {}
        fetch = consumer._getmany  # type: ignore[attr-defined]  # private: the fetch loop's one fetch
        gaps = consumer._gap  # type: ignore[attr-defined]

        async def seek_then_fetch(active_partitions: Set[TP] | None, timeout: float) -> object:
            assert pending is not None
            due = {tp: offset for tp, offset in pending.items() if tp in consumer.assignment()} if pending else {}
            pending.clear()
            if due:
                try:
                    await consumer.seek_wait(due)
                except Exception as error:  # the agent asks again while the gap stays
                    log.warning("seeking back %s failed: %r", due, error)
            return await fetch(active_partitions=active_partitions, timeout=timeout)

        async def no_gap(tp: TP, offset_from: int, offset_to: int) -> None:
            return None

        gaps.clear()
        setattr(consumer, "_getmany", seek_then_fetch)  # noqa: B010
        setattr(consumer, "_add_gap", no_gap)  # noqa: B010
        setattr(consumer, "_hcp_rewinds", pending)  # noqa: B010
    return pending


def _let_go(consumer: ConsumerT, records: Iterable[EventT]) -> None:
    """Records the agent will neither process nor acknowledge: Faust must not wait for them.

    Faust's rebalance waits until every record it delivered is acknowledged or garbage (its
    set of unacknowledged messages holds them weakly). A record past a gap, delivered just
    before Faust paused the stream, stayed referenced inside Faust and stalled a rebalance
    forever (seen in the two-worker join test). They come again after the seek.
    """
    unacked = getattr(consumer, "_unacked_messages", None)  # private: what wait_empty waits on
    if unacked is not None:
        for record in records:
            unacked.discard(record.message)


def _value(event: EventT) -> bytes:
    value: bytes = event.message.value
    return value


def _message(event: EventT) -> Message:
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


def _count(counters: IngestCounters, batch: IngestBatch) -> None:
    counters.batches += 1
    counters.ratings += batch.ratings
    counters.case_events += batch.case_events
    counters.dead_letters += len(batch.dead_letters)
    counters.latest_event_at = max(counters.latest_event_at, batch.latest_event_at)
