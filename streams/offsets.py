"""Keeps the ingest agent's input contiguous per source partition, whatever a rebalance did.

Around a rebalance Faust clears the agent's queue and seeks to the committed offsets, while
records already taken into a batch stay there: a batch can then hold an offset twice, or skip
one. The writer's high-water mark assumes each partition arrives in order, so a skipped offset
that came later would be dropped as already stored. This guard admits each partition's offsets
strictly in order, reports duplicates (acknowledged, not processed) and gaps (neither: the
agent seeks the partition back to the first missing offset and the records come again).
An offset that never comes (a transaction marker: our producers write none) is given up on
after two minutes of seeking, with a warning, so a partition cannot stall on it forever.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Partition = tuple[str, int]  # (topic, partition)
T = TypeVar("T")


@dataclass(slots=True)
class Admission(Generic[T]):
    fresh: list[T] = field(default_factory=list)  # process and acknowledge
    duplicates: list[T] = field(default_factory=list)  # already processed: acknowledge only
    gaps: dict[Partition, int] = field(default_factory=dict)  # seek here; later records wait
    waiting: list[T] = field(default_factory=list)  # past a gap: neither processed nor acknowledged
    foreign: list[T] = field(default_factory=list)  # of partitions no longer assigned: dropped
    skipped: dict[Partition, tuple[int, int]] = field(default_factory=dict)  # given-up gaps: (from, to)


class OffsetGuard(Generic[T]):
    """The next offset the agent expects per partition, learned from what it processed."""

    def __init__(
        self, locate: Callable[[T], tuple[str, int, int]], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._locate = locate  # record -> (topic, partition, offset)
        self._clock = clock
        self._next: dict[Partition, int] = {}
        self._gap_seen: dict[Partition, tuple[int, float]] = {}  # partition -> (missing offset, since)

    GIVE_UP_SECONDS = 120.0

    def admit(
        self,
        records: Iterable[T],
        assigned: Collection[Partition] | None = None,
        committed: Callable[[Partition], int | None] | None = None,
    ) -> Admission[T]:
        """Sorts a batch; `assigned` (if known) are the partitions this worker owns now.

        `committed(key)` is where a partition the agent has not seen since its assignment must
        start: Faust seeks it there, but can drop the first records it fetches afterwards.
        """
        admission: Admission[T] = Admission()
        expected = self._next
        for record in records:
            topic, partition, offset = self._locate(record)
            key = (topic, partition)
            want = expected.get(key)
            if want is None and committed is not None:
                want = committed(key)
                if want is not None:
                    expected[key] = want
            if assigned is not None and key not in assigned:
                admission.foreign.append(record)
            elif key in admission.gaps:
                admission.waiting.append(record)  # comes again once the partition is sought back
            elif want is None or offset == want:
                # Without a committed offset the first record starts the partition.
                admission.fresh.append(record)
                expected[key] = offset + 1
                if self._gap_seen:
                    self._gap_seen.pop(key, None)
            elif offset < want:
                admission.duplicates.append(record)
            elif self._gap_age(key, want) > self.GIVE_UP_SECONDS:
                admission.skipped[key] = (want, offset)
                admission.fresh.append(record)
                expected[key] = offset + 1
                del self._gap_seen[key]
            else:
                admission.gaps[key] = want
                admission.waiting.append(record)
        return admission

    def _gap_age(self, key: Partition, want: int) -> float:
        missing, since = self._gap_seen.get(key, (want, self._clock()))
        if missing != want:
            since = self._clock()
        self._gap_seen[key] = (want, since)
        return self._clock() - since

    def gaps(self) -> dict[Partition, int]:
        """Partitions waiting for a missing offset (to seek again while it does not come)."""
        return {key: missing for key, (missing, _since) in self._gap_seen.items()}

    def expected(self, key: Partition) -> int | None:
        """The next offset of `key` to process; None if none was seen since it was assigned."""
        return self._next.get(key)

    def rewind(self, key: Partition, offset: int) -> None:
        """Records from `offset` on were taken but not processed (a hold gave them up)."""
        if offset < self._next.get(key, offset + 1):
            self._next[key] = offset

    def keep_only(self, assigned: Collection[Partition]) -> None:
        """After a rebalance: forget partitions that went elsewhere (they may come back later)."""
        for key in [key for key in self._next if key not in assigned]:
            del self._next[key]
            self._gap_seen.pop(key, None)
