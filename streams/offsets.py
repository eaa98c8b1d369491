"""Keeps the ingest agent's input contiguous per source partition, whatever Faust's fetcher did.

Around a rebalance Faust's fetcher can hand over records past offsets it skipped (a fetch in
flight while the partition was sought to its committed offset; it then drops the re-read ones as
already read, and marks the skipped range to be committed over), or hand a record over twice.
The agent takes each partition strictly in order: a record below the next expected offset is a
duplicate (acknowledged, not processed); a record past it opens a gap that the agent reads from
Kafka itself before it (producers/sources.py), so Faust's commit over the range is then true.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

SourcePartition = tuple[str, int]  # (topic, partition)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Gap:
    partition: SourcePartition
    start: int  # first missing offset
    stop: int  # the offset of the record that arrived instead (exclusive)


@dataclass(slots=True)
class Admission(Generic[T]):
    """A batch sorted: records to process in order, each with the gap to fill before it, and duplicates."""

    fresh: list[tuple[T, Gap | None]] = field(default_factory=list)
    duplicates: list[T] = field(default_factory=list)

    @property
    def gaps(self) -> list[Gap]:
        return [gap for _record, gap in self.fresh if gap is not None]


class PartitionOrder(Generic[T]):
    """The next offset the agent expects per partition: where the group resumed it, then what it processed."""

    def __init__(self, locate: Callable[[T], tuple[str, int, int]]) -> None:
        self._locate = locate  # record -> (topic, partition, offset)
        self._next: dict[SourcePartition, int] = {}

    def unknown(self, partitions: Iterable[SourcePartition]) -> set[SourcePartition]:
        """Which of these partitions the agent has no start for yet (new since the last assignment)."""
        return {key for key in partitions if key not in self._next}

    def start(self, starts: dict[SourcePartition, int]) -> None:
        """Where the group resumes newly assigned partitions (committed offset, else the earliest)."""
        for key, offset in starts.items():
            self._next.setdefault(key, offset)

    def admit(self, records: Iterable[T]) -> Admission[T]:
        """Sorts a batch; every partition in it must have a start (see `unknown`)."""
        admission: Admission[T] = Admission()
        expected = self._next
        for record in records:
            topic, partition, offset = self._locate(record)
            key = (topic, partition)
            want = expected[key]
            if offset < want:
                admission.duplicates.append(record)
                continue
            gap = Gap(key, want, offset) if offset > want else None
            admission.fresh.append((record, gap))
            expected[key] = offset + 1
        return admission

    def expected(self, key: SourcePartition) -> int | None:
        """The next offset of `key` to process; None before the partition's start is known."""
        return self._next.get(key)

    def keep_only(self, assigned: Collection[SourcePartition]) -> None:
        """After a rebalance: forget partitions that went elsewhere (they may come back later)."""
        for key in [key for key in self._next if key not in assigned]:
            del self._next[key]
