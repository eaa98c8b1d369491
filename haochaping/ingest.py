"""One batch of Kafka records → rows for every table, attributions and dead letters (pure).

The Faust agent hands a batch from `stream.noack_take` to `Ingestor.process` with its
timeline table, and writes what comes back; `hcp trace` runs the same code on files.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from haochaping.catalog import Catalog
from haochaping.decoding import EventKind, Rejection, decode_event
from haochaping.events import CaseEvent, RatingEvent
from haochaping.holidays import official_calendar
from haochaping.observations import StepObservation, observe
from haochaping.rows import (
    Source,
    attribution_rows,
    case_event_row,
    case_step_row,
    dead_letter_row,
    observation_row,
    rating_row,
)
from haochaping.timeline import CaseTimeline, outside_calendar
from haochaping.tracing import trace
from haochaping.workdays import CalendarNotCovered, DateRange, WorkCalendar

if TYPE_CHECKING:
    from haochaping.parking import ParkedRating, Parking, Release


@dataclass(frozen=True, slots=True)
class Message:
    """A Kafka record as the core sees it: bytes plus where they came from.

    `value` is None for a tombstone; `key` may be None (a rating without a case has no key to carry).
    """

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None

    @property
    def source(self) -> Source:
        return Source(self.topic, self.partition, self.offset)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    message: Message
    reason: str


@dataclass(frozen=True, slots=True)
class TracedRating:
    """An attribution ready for the attributions topic: keyed like its rating."""

    key: bytes
    wire: dict[str, Any]

    def encode(self) -> bytes:
        return json.dumps(self.wire, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass(slots=True)
class IngestBatch:
    """What one batch produced: rows per table, attributions, and what was refused."""

    rows: dict[str, list[tuple[object, ...]]] = field(default_factory=dict)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    attributions: list[TracedRating] = field(default_factory=list)
    observations: list[StepObservation] = field(default_factory=list)
    observation_sources: list[Source] = field(default_factory=list)  # the rating message of each observation
    ratings: int = 0
    case_events: int = 0
    # Events stamped later than the ingestor's clock allows: stored, but left out of the watermarks.
    future_dated: int = 0
    # Newest case-event time per partition (epoch seconds): how far each partition's timelines have come.
    latest_case_at: dict[int, float] = field(default_factory=dict)
    # The same for parking, with future-dated events counted at the plausible limit: a portal or
    # office whose clock runs ahead must not leave every rating parked until its wait runs out.
    case_clock_at: dict[int, float] = field(default_factory=dict)
    # Newest rating time per partition: the alert detector's watermark is the slowest partition's.
    latest_rating_at: dict[int, float] = field(default_factory=dict)
    # Ratings parked in this batch (to put in the parked table) and released from it (to delete).
    parked: list[ParkedRating] = field(default_factory=list)
    released: list[Release] = field(default_factory=list)
    already_parked: int = 0  # records read again that are parked already: nothing to do
    # Completed steps and rated timelines measured partly on dates the holiday calendar does not
    # cover (counted Mon–Fri there), and the dates: the calendar package needs an upgrade.
    outside_calendar: int = 0
    outside_dates: DateRange | None = None

    @property
    def latest_event_at(self) -> float:
        """Newest case-event time in the batch, epoch seconds (0.0 without case events)."""
        return max(self.latest_case_at.values(), default=0.0)

    def add_row(self, table: str, row: tuple[object, ...]) -> None:
        self.rows.setdefault(table, []).append(row)


# Said in the attribution of a rating traced after the bounded wait, without all of its case's events.
WAITED_OUT_EVIDENCE = "timeline:traced before its case events were read (waited the maximum time)"


class PartitionedStore(Protocol):
    """A store told the Kafka partition a timeline's events came from (its changelog partition)."""

    def get(self, key: bytes, /) -> bytes | None: ...

    def put(self, key: bytes, value: bytes, partition: int, /) -> None: ...


# Encoded timelines by case id: a Faust table in the worker, a dict in the batch commands.
TimelineStore = PartitionedStore | MutableMapping[bytes, bytes]


class Ingestor:
    """Validates, joins ratings with their case timelines, traces, and converts to rows.

    An event stamped more than `max_clock_skew_seconds` after `clock()` (epoch seconds) comes
    from a wrong clock: it is stored, but would close windows and expire timelines early if it
    moved the batch's watermarks, so it does not.

    Working days are counted on `calendar` (default: the official one, haochaping/holidays.py).
    Where a measurement leaves the dates it covers, they count Mon–Fri and the batch counts it
    (`outside_calendar`); with `strict_calendar` (the batch commands) process() raises
    CalendarNotCovered instead. The stream worker is never strict: one case must not stop it.
    """

    def __init__(
        self,
        kind_of_topic: Mapping[str, EventKind],
        pseudonym_key: bytes,
        catalog: Catalog,
        calendar: WorkCalendar | None = None,
        province_of_topic: Mapping[str, str] | None = None,
        max_clock_skew_seconds: float = 600.0,
        clock: Callable[[], float] = time.time,
        strict_calendar: bool = False,
    ) -> None:
        self._kind_of_topic = dict(kind_of_topic)
        self._pseudonym_key = pseudonym_key
        self._catalog = catalog
        self._calendar = calendar if calendar is not None else official_calendar()
        self._strict_calendar = strict_calendar
        # A province portal's rating topic -> the only province its ratings may carry.
        # Topics not listed (the shared ratings topic of the trusted relay) are not checked.
        self._province_of_topic = dict(province_of_topic or {})
        self._max_clock_skew = max_clock_skew_seconds
        self._clock = clock

    @property
    def calendar(self) -> WorkCalendar:
        """The calendar working days are counted on."""
        return self._calendar

    def process(
        self, messages: Sequence[Message], timelines: TimelineStore, parking: Parking | None = None
    ) -> IngestBatch:
        """Rows, attributions and dead letters of `messages`; `timelines` are read and updated.

        With `parking`, a rating whose partition's case events have not been read up to its time
        is parked instead of traced, and parked ratings whose time has come are traced first.
        """
        batch = IngestBatch()
        # One reading per batch: every event of the batch is judged against the same moment.
        latest_plausible = self._clock() + self._max_clock_skew
        ratings: list[tuple[RatingEvent, Message]] = []
        touched: dict[bytes, CaseTimeline] = {}  # decoded once per batch
        changed: dict[bytes, int] = {}  # timeline key -> partition of the events that changed it
        load = _loader(timelines, touched)
        for message in messages:
            if parking is not None and parking.lot.holds(message):
                batch.already_parked += 1
                continue
            kind = self._kind_of_topic.get(message.topic)
            if kind is None:
                self._reject(batch, message, f"topic {message.topic!r} carries no known event kind")
                continue
            decoded = decode_event(message.value, kind)
            if isinstance(decoded, Rejection):
                self._reject(batch, message, decoded.reason)
            elif isinstance(decoded, CaseEvent):
                key = self._add_case_event(batch, decoded, message, load, touched, latest_plausible)
                changed[key] = message.partition
            else:
                expected = self._province_of_topic.get(message.topic)
                if expected is not None and decoded.province != expected:
                    reason = f"province {decoded.province} does not match portal topic {message.topic} ({expected})"
                    self._reject(batch, message, reason)
                    continue
                ratings.append((decoded, message))
        # Case events of the batch first: a rating then sees every step its case reported so far.
        if parking is not None:
            ratings = self._park_or_release(batch, ratings, parking, load, latest_plausible)
        for rating, message in ratings:
            self._add_rating(batch, rating, message, load, latest_plausible)
        for key, partition in changed.items():
            if isinstance(timelines, MutableMapping):
                timelines[key] = touched[key].encode()
            else:
                timelines.put(key, touched[key].encode(), partition)
        return batch

    def _park_or_release(
        self,
        batch: IngestBatch,
        ratings: list[tuple[RatingEvent, Message]],
        parking: Parking,
        load: Callable[[bytes], CaseTimeline | None],
        latest_plausible: float,
    ) -> list[tuple[RatingEvent, Message]]:
        """Traces the parked ratings whose time has come; returns the fresh ratings to trace now."""
        parking.clock.advance(batch.case_clock_at)
        for release in parking.lot.release(parking.clock):
            batch.released.append(release)
            message = release.rating.message
            decoded = decode_event(message.value, "rating")
            if not isinstance(decoded, RatingEvent):  # validated when parked: only a changed contract
                self._reject(batch, message, str(decoded))
                continue
            note = WAITED_OUT_EVIDENCE if release.waited_out else None
            self._add_rating(batch, decoded, message, load, latest_plausible, note)
        now: list[tuple[RatingEvent, Message]] = []
        for rating, message in ratings:
            # Beyond the plausible limit times cannot be ordered: such a rating waits for that limit.
            at = min(rating.rated_at.timestamp(), latest_plausible)
            if parking.lot.must_park(message, at, parking.clock, has_case=rating.case_id is not None):
                batch.parked.append(parking.lot.park(message, at))
            else:
                now.append((rating, message))
        return now

    def _add_case_event(
        self,
        batch: IngestBatch,
        event: CaseEvent,
        message: Message,
        load: Callable[[bytes], CaseTimeline | None],
        touched: dict[bytes, CaseTimeline],
        latest_plausible: float,
    ) -> bytes:
        """Adds the event to its timeline; returns the timeline's key."""
        batch.case_events += 1
        at = event.at.timestamp()
        _advance(batch, batch.latest_case_at, message.partition, at, latest_plausible)
        clock_at = min(at, latest_plausible)
        batch.case_clock_at[message.partition] = max(batch.case_clock_at.get(message.partition, clock_at), clock_at)
        batch.add_row("case_events", case_event_row(event, message.source))
        key = event.case_id.encode()
        timeline = load(key)
        if timeline is None:
            timeline = CaseTimeline(event.case_id, event.matter_code, event.mode)
        timeline.add(event)  # a redelivered event is ignored by the timeline, but still yields its row
        touched[key] = timeline
        if event.action == "complete":
            record = timeline.step_record(event.step, self._catalog, self._calendar)
            if record is not None and record.completed_at is not None:
                span = (record.started_at.timestamp(), record.completed_at.timestamp())
                self._note_outside(batch, self._calendar.outside(*span))
                row = case_step_row(timeline.case_id, timeline.matter_code, timeline.mode.value, record, message.source)
                batch.add_row("case_steps", row)
        return key

    def _add_rating(
        self,
        batch: IngestBatch,
        rating: RatingEvent,
        message: Message,
        load: Callable[[bytes], CaseTimeline | None],
        latest_plausible: float,
        note: str | None = None,
    ) -> None:
        batch.ratings += 1
        _advance(batch, batch.latest_rating_at, message.partition, rating.rated_at.timestamp(), latest_plausible)
        batch.add_row("ratings", rating_row(rating, message.source, self._pseudonym_key))
        timeline = load(rating.case_id.encode()) if rating.case_id is not None else None
        attribution = trace(rating, timeline, self._catalog, self._calendar, strict_calendar=self._strict_calendar)
        wire = attribution.to_wire()
        if note is not None:
            wire["evidence"].append(note)
        mode = timeline.mode.value if timeline is not None else ""
        for row in attribution_rows(wire, rating, mode, message.source):
            batch.add_row("attributions", row)
        batch.attributions.append(TracedRating(rating.partition_key.encode(), wire))
        if timeline is not None:
            facts = timeline.step_facts(self._catalog, self._calendar, as_of=rating.rated_at)
            self._note_outside(batch, outside_calendar(facts, self._calendar))
            records = [fact.record() for fact in facts]
            for observation in observe(rating, attribution, records, mode):
                batch.observations.append(observation)
                batch.observation_sources.append(message.source)
                batch.add_row("step_observations", observation_row(observation, message.source))

    def _note_outside(self, batch: IngestBatch, dates: DateRange | None) -> None:
        """Counts a measurement on dates the calendar does not cover (strict: refuses it)."""
        if dates is not None:
            if self._strict_calendar:
                raise CalendarNotCovered(dates, self._calendar)
            batch.outside_calendar += 1
            batch.outside_dates = dates.union(batch.outside_dates)

    @staticmethod
    def _reject(batch: IngestBatch, message: Message, reason: str) -> None:
        batch.dead_letters.append(DeadLetter(message, reason))
        batch.add_row("dead_letters", dead_letter_row(reason, message.value, message.source))


def _advance(batch: IngestBatch, latest: dict[int, float], partition: int, at: float, latest_plausible: float) -> None:
    """Moves a partition's watermark to `at`, unless `at` is beyond what the clock allows."""
    if at > latest_plausible:
        batch.future_dated += 1
        return
    latest[partition] = max(latest.get(partition, at), at)


def _loader(timelines: TimelineStore, touched: dict[bytes, CaseTimeline]) -> Callable[[bytes], CaseTimeline | None]:
    def load(key: bytes) -> CaseTimeline | None:
        timeline = touched.get(key)
        if timeline is None:
            encoded = timelines.get(key)
            if encoded is not None:
                timeline = CaseTimeline.decode(encoded)
                touched[key] = timeline
        return timeline

    return load
