"""Ratings that arrived before their case's events, parked in offset order until those events are read.

Pure core: the worker keeps the parked entries in a changelogged table (streams/parking.py) and
acknowledges the Kafka records at once; `Ingestor.process` decides what to park and what to release.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from haochaping.ingest import Message

SourcePartition = tuple[str, int]  # (topic, partition)
DEFAULT_MAX_WAIT_SECONDS = 300.0


class CaseProgress(Protocol):
    """How far the case events of a partition number have been read (the topics are co-partitioned)."""

    def covers(self, partition: int, rated_at: float) -> bool:
        """Have the case events of `partition` been processed up to `rated_at`, or to the end of what Kafka holds?"""
        ...


@dataclass(frozen=True, slots=True)
class ParkedRating:
    """A rating record kept whole (its original bytes and place), with when it was rated and parked."""

    message: Message
    rated_at: float  # epoch seconds, from the rating
    parked_at: float  # wall clock, epoch seconds: the bounded wait survives a restart

    @property
    def key(self) -> bytes:
        """The table key: unique per source record, so a replayed record parks once."""
        return parked_key(self.message.topic, self.message.partition, self.message.offset)

    def encode(self) -> bytes:
        message = self.message
        header = {
            "topic": message.topic,
            "partition": message.partition,
            "offset": message.offset,
            "key": message.key.hex() if message.key is not None else None,
            "rated_at": self.rated_at,
            "parked_at": self.parked_at,
        }
        return json.dumps(header, separators=(",", ":")).encode() + b"\n" + (message.value or b"")

    @classmethod
    def decode(cls, data: bytes) -> ParkedRating:
        head, _, value = data.partition(b"\n")
        header = json.loads(head)
        key = bytes.fromhex(header["key"]) if header["key"] is not None else None
        message = Message(header["topic"], int(header["partition"]), int(header["offset"]), key, value)
        return cls(message, float(header["rated_at"]), float(header["parked_at"]))


def parked_key(topic: str, partition: int, offset: int) -> bytes:
    return f"{topic}/{partition}/{offset}".encode()


@dataclass(frozen=True, slots=True)
class Release:
    rating: ParkedRating
    waited_out: bool  # released by the bounded wait, before its case events were read


@dataclass(slots=True)
class ParkingLot:
    """Per rating partition, a queue of parked ratings in offset order; released head first.

    Once a partition has a parked rating, every later rating of that partition parks behind it:
    the writer de-duplicates by the highest stored offset per partition, so a partition's
    ratings must be stored in offset order.
    """

    max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS
    clock: Callable[[], float] = time.time
    _queues: dict[SourcePartition, deque[ParkedRating]] = field(default_factory=dict)
    _keys: set[bytes] = field(default_factory=set)
    released_early: int = 0  # let go by the bounded wait, since start

    @property
    def parked(self) -> int:
        return len(self._keys)

    def holds(self, message: Message) -> bool:
        """Is this record parked already (read again after a crash, before its park was committed)?"""
        return bool(self._keys) and parked_key(message.topic, message.partition, message.offset) in self._keys

    def oldest(self, partition: int) -> float | None:
        """The rating time of the oldest parked rating of this partition number (heads of its queues)."""
        heads = [queue[0].rated_at for (_topic, number), queue in self._queues.items() if number == partition and queue]
        return min(heads, default=None)

    def must_park(self, message: Message, rated_at: float, progress: CaseProgress, has_case: bool = True) -> bool:
        """Behind an earlier parked rating of its partition always (even one without a case, such as
        a 12345 hotline rating: stored first, it would make the writer drop the earlier ones as
        replays); otherwise when its case's events have not been read up to its time."""
        queue = self._queues.get((message.topic, message.partition))
        return bool(queue) or (has_case and not progress.covers(message.partition, rated_at))

    def park(self, message: Message, rated_at: float) -> ParkedRating:
        rating = ParkedRating(message, rated_at, self.clock())
        self._add(rating)
        return rating

    def release(self, progress: CaseProgress) -> list[Release]:
        """The parked ratings whose case events have now been read (or that waited long enough), in order."""
        released: list[Release] = []
        now = self.clock()
        for (_topic, partition), queue in self._queues.items():
            while queue:
                head = queue[0]
                waited_out = False
                if not progress.covers(partition, head.rated_at):
                    if now - head.parked_at < self.max_wait_seconds:
                        break
                    waited_out = True
                    self.released_early += 1
                queue.popleft()
                self._keys.discard(head.key)
                released.append(Release(head, waited_out))
        return released

    def restore(self, ratings: Iterable[ParkedRating]) -> None:
        """Rebuild the queues from the table (after a restart or a rebalance), in offset order."""
        for rating in sorted(ratings, key=lambda parked: parked.message.offset):
            if rating.key not in self._keys:
                self._add(rating)

    def clear(self) -> None:
        self._queues.clear()
        self._keys.clear()

    def _add(self, rating: ParkedRating) -> None:
        self._queues.setdefault((rating.message.topic, rating.message.partition), deque()).append(rating)
        self._keys.add(rating.key)


@dataclass(slots=True)
class CaseClock:
    """Per partition, the newest case-event time processed; with Kafka's view of whether all are read.

    `caught_up(p)` comes from the worker: every case event of partition p that Kafka holds has been
    taken. Future-dated events reach `advance` at the plausible limit (now + the allowed clock skew),
    and a future-dated rating is parked at that limit: beyond it times cannot be ordered.
    """

    caught_up: Callable[[int], bool]
    _times: dict[int, float] = field(default_factory=dict)

    def advance(self, latest_case_at: dict[int, float]) -> None:
        for partition, at in latest_case_at.items():
            if at > self._times.get(partition, float("-inf")):
                self._times[partition] = at

    def covers(self, partition: int, rated_at: float) -> bool:
        return rated_at <= self._times.get(partition, float("-inf")) or self.caught_up(partition)


@dataclass(slots=True)
class Parking:
    """What `Ingestor.process` needs to park ratings: the lot and the case clock."""

    lot: ParkingLot
    clock: CaseClock
