"""Holds ratings in the ingest agent until their partition's case events have caught up.

Ratings are ~5 % of the traffic, so after an outage the worker drains the rating topics long
before the case-event topic; a rating traced before its case's events arrive loses its
timeline (no step observations, weaker attribution). The agent therefore keeps each rating,
unacknowledged and in partition order, until the case events of the same partition number (the
topics are co-partitioned) are processed up to the rating's time or to the end of what Kafka
holds. Records stay in the agent, never paused in the consumer: pausing Faust partitions drops
records already fetched (docs/benchmarks.md).
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from streams.offsets import Partition

T = TypeVar("T")

MAX_HELD = 100_000  # ratings held at once; beyond it the oldest go on without waiting
MAX_HOLD_SECONDS = 300.0  # no rating waits longer than this (wall clock) for its case events


@dataclass(slots=True)
class _Held(Generic[T]):
    record: T
    offset: int
    rated_at: float
    since: float


@dataclass(slots=True)
class RatingHold(Generic[T]):
    """Per rating partition, a queue of held ratings; released head first, so offsets stay in order."""

    rating_topics: frozenset[str]
    locate: Callable[[T], tuple[str, int, int]]  # record -> (topic, partition, offset)
    value: Callable[[T], bytes]
    clock: Callable[[], float] = time.monotonic
    _queues: dict[Partition, deque[_Held[T]]] = field(default_factory=dict)
    _case_time: dict[int, float] = field(default_factory=dict)  # partition -> newest case-event time done
    held_total: int = 0
    released_early: int = 0  # let go by MAX_HELD or MAX_HOLD_SECONDS before their case events

    def take(self, records: Iterable[T], caught_up: Callable[[int], bool]) -> list[T]:
        """The records to process now, in their order.

        `caught_up(p)`: every case event of partition p that Kafka holds has been delivered.
        """
        ready: list[T] = []
        now = self.clock()
        for record in records:
            topic, partition, offset = self.locate(record)
            if topic in self.rating_topics:
                queue = self._queues.setdefault((topic, partition), deque())
                queue.append(_Held(record, offset, _rated_at(self.value(record)), now))
                self.held_total += 1
            else:
                ready.append(record)
        done: dict[int, bool] = {}
        for (_topic, partition), queue in self._queues.items():
            done_until = self._case_time.get(partition, float("-inf"))
            while queue:
                head = queue[0]
                if head.rated_at > done_until:
                    if partition not in done:
                        done[partition] = caught_up(partition)
                    if not done[partition]:
                        if self.held_total <= MAX_HELD and now - head.since <= MAX_HOLD_SECONDS:
                            break
                        self.released_early += 1
                ready.append(queue.popleft().record)
                self.held_total -= 1
        return ready

    def holds(self, record: T) -> bool:
        """Is this offset held (a rating partition's held offsets run from its queue's head on)?"""
        topic, partition, offset = self.locate(record)
        queue = self._queues.get((topic, partition))
        return queue is not None and len(queue) > 0 and offset >= queue[0].offset

    def processed(self, latest_case_at: dict[int, float]) -> None:
        """After a batch: how far in event time each partition's case events are processed."""
        for partition, at in latest_case_at.items():
            if at > self._case_time.get(partition, float("-inf")):
                self._case_time[partition] = at

    def release_all(self) -> tuple[dict[Partition, int], list[T]]:
        """On a rebalance: forget every held rating.

        Returns each partition's first held offset and the records given up. Faust seeks every
        partition back to its committed offset, so they come again.
        """
        first = {key: queue[0].offset for key, queue in self._queues.items() if queue}
        records = [held.record for queue in self._queues.values() for held in queue]
        self._queues.clear()
        self.held_total = 0
        return first, records


def _rated_at(value: bytes) -> float:
    """The rating's time, epoch seconds; -inf when unreadable (the core will dead-letter it)."""
    try:
        text = json.loads(value)["rated_at"]
        return datetime.fromisoformat(text).timestamp()
    except (ValueError, TypeError, KeyError, AttributeError):
        return float("-inf")
